//! Prometheus text exposition (format 0.0.4) of the store.

use std::fmt::Write;

use super::store::{Kind, Store, Value};

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        v.to_string()
    }
}

fn labels(base: &[(String, String)], extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = base.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{}\"", escape(v)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// Renders every family; `timestamps` appends each point's time in ms.
pub fn text(store: &Store, timestamps: bool) -> String {
    let mut out = String::new();
    if !store.targets.is_empty() {
        out.push_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n");
        for (key, (info, _)) in &store.targets {
            let mut all = key.clone();
            all.extend(info.iter().cloned());
            all.sort();
            let _ = writeln!(out, "target_info{} 1", labels(&all, None));
        }
    }
    for (name, family) in &store.families {
        let help = if family.help.is_empty() { name.as_str() } else { family.help.as_str() };
        let _ = writeln!(out, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
        for (ls, series) in &family.series {
            let ts = if timestamps { format!(" {}", series.timestamp_ms) } else { String::new() };
            match (&series.value, family.kind) {
                (Value::Number(v), Kind::Gauge | Kind::Counter) => {
                    let _ = writeln!(out, "{name}{} {}{ts}", labels(ls, None), float(*v));
                }
                (Value::Histogram { bounds, counts, sum, count }, _) => {
                    let mut cumulative = 0u64;
                    for (i, bound) in bounds.iter().enumerate() {
                        cumulative += counts.get(i).copied().unwrap_or(0);
                        let _ =
                            writeln!(out, "{name}_bucket{} {cumulative}{ts}", labels(ls, Some(("le", &float(*bound)))));
                    }
                    let _ = writeln!(out, "{name}_bucket{} {count}{ts}", labels(ls, Some(("le", "+Inf"))));
                    let _ = writeln!(out, "{name}_sum{} {}{ts}", labels(ls, None), float(*sum));
                    let _ = writeln!(out, "{name}_count{} {count}{ts}", labels(ls, None));
                }
                (Value::Summary { quantiles, sum, count }, _) => {
                    for (q, v) in quantiles {
                        let _ = writeln!(out, "{name}{} {}{ts}", labels(ls, Some(("quantile", &float(*q)))), float(*v));
                    }
                    let _ = writeln!(out, "{name}_sum{} {}{ts}", labels(ls, None), float(*sum));
                    let _ = writeln!(out, "{name}_count{} {count}{ts}", labels(ls, None));
                }
                _ => {}
            }
        }
    }
    out
}
