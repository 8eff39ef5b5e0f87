//! A parser for the Prometheus text exposition format (0.0.4) and the parts
//! of OpenMetrics 1.0 that share its syntax (`# UNIT`, `# EOF`, exemplars
//! after `#`, which are skipped). Owned here rather than taken from a crate:
//! the maintained crates parse only one of the two formats.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// A metric family: the samples under one `# TYPE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: MetricType,
    pub help: String,
    pub unit: String,
    pub samples: Vec<Sample>,
}

/// Parses a scrape body. Lines that cannot be parsed are errors that name
/// the line, like Prometheus's own scraper.
pub fn parse(text: &str) -> Result<Vec<Family>, String> {
    let mut families: Vec<Family> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let mut parts = rest.trim_start().splitn(3, ' ');
            let (kw, name, value) =
                (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if matches!(kw, "TYPE" | "HELP" | "UNIT") && !name.is_empty() {
                let i = *index.entry(name.to_owned()).or_insert_with(|| {
                    families.push(Family {
                        name: name.to_owned(),
                        kind: MetricType::Untyped,
                        help: String::new(),
                        unit: String::new(),
                        samples: Vec::new(),
                    });
                    families.len() - 1
                });
                match kw {
                    "TYPE" => {
                        families[i].kind = match value.trim() {
                            "counter" => MetricType::Counter,
                            "gauge" => MetricType::Gauge,
                            "histogram" | "gaugehistogram" => MetricType::Histogram,
                            "summary" => MetricType::Summary,
                            _ => MetricType::Untyped,
                        }
                    }
                    "HELP" => families[i].help = unescape(value),
                    _ => families[i].unit = value.trim().to_owned(),
                }
            }
            continue;
        }
        let sample = parse_sample(line).map_err(|e| format!("line {}: {e}: {raw:?}", n + 1))?;
        let family = family_of(&sample.name, &index, &families);
        let i = match family {
            Some(i) => i,
            None => {
                families.push(Family {
                    name: sample.name.clone(),
                    kind: MetricType::Untyped,
                    help: String::new(),
                    unit: String::new(),
                    samples: Vec::new(),
                });
                index.insert(sample.name.clone(), families.len() - 1);
                families.len() - 1
            }
        };
        families[i].samples.push(sample);
    }
    Ok(families)
}

/// The family a sample belongs to: its own name, or the name without a
/// histogram/summary/counter suffix.
fn family_of(name: &str, index: &BTreeMap<String, usize>, families: &[Family]) -> Option<usize> {
    if let Some(i) = index.get(name) {
        return Some(*i);
    }
    for suffix in ["_bucket", "_sum", "_count", "_total", "_created", "_gcount", "_gsum"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(i) = index.get(base) {
                if families[*i].kind != MetricType::Untyped || suffix == "_total" {
                    return Some(*i);
                }
            }
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace()).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        loop {
            while chars.peek().is_some_and(|(_, c)| c.is_whitespace() || *c == ',') {
                chars.next();
            }
            match chars.peek() {
                Some((i, '}')) => {
                    end = Some(*i);
                    break;
                }
                None => break,
                _ => {}
            }
            let mut key = String::new();
            while let Some((_, c)) = chars.peek().copied() {
                if c == '=' || c.is_whitespace() {
                    break;
                }
                key.push(c);
                chars.next();
            }
            while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('=') || chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key:?} needs =\"value\""));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err("unterminated label value".into()),
                    },
                    Some((_, '"')) => break,
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                }
            }
            labels.insert(key, value);
        }
        let end = end.ok_or("unterminated label set")?;
        rest = &body[end + 1..];
    }
    // OpenMetrics exemplars follow " # "
    let rest = rest.split(" # ").next().unwrap_or("");
    let mut fields = rest.split_whitespace();
    let value = parse_float(fields.next().ok_or("missing value")?)?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(if t.contains('.') {
            (t.parse::<f64>().map_err(|_| format!("invalid timestamp {t:?}"))? * 1000.0) as i64
        } else {
            t.parse::<i64>().map_err(|_| format!("invalid timestamp {t:?}"))?
        }),
    };
    Ok(Sample { name: name.to_owned(), labels, value, timestamp_ms })
}

fn parse_float(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("invalid value {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
# A normal comment
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
# TYPE rpc_duration_seconds histogram
rpc_duration_seconds_bucket{le="0.05"} 24054
rpc_duration_seconds_bucket{le="+Inf"} 144320
rpc_duration_seconds_sum 53423
rpc_duration_seconds_count 144320
# TYPE rpc_quantiles summary
rpc_quantiles{quantile="0.5"} 4773
rpc_quantiles_sum 1.7560473e+07
rpc_quantiles_count 2693
# TYPE foo gauge
foo{a="b"} 1.5 # {trace_id="abc"} 1.0
# EOF
"#;

    #[test]
    fn parses_the_exposition_format_examples() {
        let fams = parse(TEXT).unwrap();
        let by = |n: &str| fams.iter().find(|f| f.name == n).unwrap();
        let reqs = by("http_requests_total");
        assert_eq!(reqs.kind, MetricType::Counter);
        assert_eq!(reqs.help, "The total number of HTTP requests.");
        assert_eq!(reqs.samples.len(), 2);
        assert_eq!(reqs.samples[1].value, 3.0);
        assert_eq!(reqs.samples[0].timestamp_ms, Some(1395066363000));
        assert_eq!(reqs.samples[0].labels["code"], "200");
        let ms = by("msdos_file_access_time_seconds");
        assert_eq!(ms.samples[0].labels["path"], r"C:\DIR\FILE.TXT");
        assert_eq!(ms.samples[0].labels["error"], "Cannot find file:\n\"FILE.TXT\"");
        let h = by("rpc_duration_seconds");
        assert_eq!(h.kind, MetricType::Histogram);
        assert_eq!(h.samples.len(), 4);
        assert_eq!(h.samples[1].value, f64::INFINITY.min(144320.0));
        assert_eq!(by("rpc_quantiles").samples.len(), 3);
        assert_eq!(by("foo").samples[0].value, 1.5, "the exemplar is skipped");
    }

    #[test]
    fn bad_lines_name_the_line() {
        assert!(parse("ok 1\nbad{a=1} 2\n").unwrap_err().starts_with("line 2:"));
        assert!(parse("x abc\n").unwrap_err().contains("invalid value"));
    }
}
