//! The stack's query APIs as `workshop verify` reads them: Prometheus
//! instant queries (`/api/v1/query`), Tempo TraceQL search (`/api/search`),
//! Jaeger's HTTP JSON API (`/api/traces`), Alertmanager (`/api/v2/alerts`)
//! and SQL on MariaDB. The response parsers are pure functions, tested
//! against recorded responses in `testdata/` (sources cited there).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// One series of a Prometheus instant vector: labels and value.
pub type Sample = (BTreeMap<String, String>, f64);

/// A trace found by Tempo or Jaeger.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceHit {
    pub trace_id: String,
    pub root_service: String,
    pub root_name: String,
}

/// An alert as Alertmanager holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub name: String,
    pub state: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET returning the JSON body; errors say which URL failed and how.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let r = client.get(url).timeout(Duration::from_secs(10)).send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = r.status();
    let body = r.text().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {}", body.chars().take(300).collect::<String>()));
    }
    serde_json::from_str(&body).map_err(|e| format!("{url}: not JSON ({e})"))
}

/// The samples of a Prometheus `/api/v1/query` answer of type vector.
pub fn parse_vector(doc: &Value) -> Result<Vec<Sample>, String> {
    if doc["status"] != "success" {
        return Err(format!("Prometheus: {}", doc["error"].as_str().unwrap_or("query failed")));
    }
    let result = doc["data"]["result"].as_array().ok_or("Prometheus: no data.result in the answer")?;
    Ok(result
        .iter()
        .filter_map(|s| {
            let labels = s["metric"]
                .as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            let value = s["value"][1].as_str()?.parse::<f64>().ok()?;
            Some((labels, value))
        })
        .collect())
}

pub async fn promql(client: &reqwest::Client, base: &str, query: &str) -> Result<Vec<Sample>, String> {
    parse_vector(&get_json(client, &format!("{base}/api/v1/query?query={}", encode(query))).await?)
}

/// Traces of a Tempo `/api/search` answer (TraceQL or tags search).
pub fn parse_tempo_search(doc: &Value) -> Result<Vec<TraceHit>, String> {
    let traces = doc["traces"].as_array().ok_or("Tempo: no `traces` in the search answer")?;
    Ok(traces
        .iter()
        .map(|t| TraceHit {
            trace_id: t["traceID"].as_str().unwrap_or_default().to_owned(),
            root_service: t["rootServiceName"].as_str().unwrap_or_default().to_owned(),
            root_name: t["rootTraceName"].as_str().unwrap_or_default().to_owned(),
        })
        .collect())
}

pub async fn tempo_search(client: &reqwest::Client, base: &str, traceql: &str) -> Result<Vec<TraceHit>, String> {
    let url = format!("{base}/api/search?q={}&limit=20", encode(traceql));
    parse_tempo_search(&get_json(client, &url).await?)
}

/// Traces of a Jaeger `/api/traces` answer: the root span is the one
/// without a parent reference; its process names the service.
pub fn parse_jaeger_traces(doc: &Value) -> Result<Vec<TraceHit>, String> {
    let data = doc["data"].as_array().ok_or("Jaeger: no `data` in the answer")?;
    Ok(data
        .iter()
        .map(|t| {
            let spans = t["spans"].as_array().cloned().unwrap_or_default();
            let root = spans
                .iter()
                .find(|s| s["references"].as_array().is_none_or(|r| r.is_empty()))
                .or(spans.first())
                .cloned()
                .unwrap_or(Value::Null);
            let process = root["processID"].as_str().unwrap_or_default();
            TraceHit {
                trace_id: t["traceID"].as_str().unwrap_or_default().to_owned(),
                root_service: t["processes"][process]["serviceName"].as_str().unwrap_or_default().to_owned(),
                root_name: root["operationName"].as_str().unwrap_or_default().to_owned(),
            }
        })
        .collect())
}

pub async fn jaeger_errors(client: &reqwest::Client, base: &str, service: &str) -> Result<Vec<TraceHit>, String> {
    let url = format!(
        "{base}/api/traces?service={}&tags={}&lookback=5m&limit=20",
        encode(service),
        encode(r#"{"error":"true"}"#)
    );
    parse_jaeger_traces(&get_json(client, &url).await?)
}

/// Alerts of an Alertmanager `/api/v2/alerts` answer.
pub fn parse_alerts(doc: &Value) -> Result<Vec<Alert>, String> {
    let list = doc.as_array().ok_or("Alertmanager: the answer is not a list of alerts")?;
    let map = |v: &Value| -> BTreeMap<String, String> {
        v.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default()
    };
    Ok(list
        .iter()
        .map(|a| {
            let labels = map(&a["labels"]);
            Alert {
                name: labels.get("alertname").cloned().unwrap_or_default(),
                state: a["status"]["state"].as_str().unwrap_or_default().to_owned(),
                annotations: map(&a["annotations"]),
                labels,
            }
        })
        .collect())
}

pub async fn alerts(client: &reqwest::Client, base: &str) -> Result<Vec<Alert>, String> {
    parse_alerts(&get_json(client, &format!("{base}/api/v2/alerts?active=true")).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/src/cli/stackctl/workshop/verify/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn reads_a_prometheus_vector() {
        let v = parse_vector(&fixture("prometheus-query.json")).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].0["service_name"], "payments");
        assert_eq!(v[0].1, 0.35);
        assert_eq!(v[1].0["service_name"], "orders");
        let e = parse_vector(&serde_json::json!({"status": "error", "error": "parse error at char 3"})).unwrap_err();
        assert!(e.contains("parse error at char 3"), "{e}");
    }

    #[test]
    fn reads_a_tempo_traceql_search() {
        let hits = parse_tempo_search(&fixture("tempo-search.json")).unwrap();
        assert_eq!(
            hits,
            vec![TraceHit {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                root_service: "web".into(),
                root_name: "POST /checkout".into()
            }]
        );
        assert!(parse_tempo_search(&serde_json::json!({"error": "x"})).is_err());
    }

    #[test]
    fn reads_jaeger_traces_and_finds_the_root() {
        let hits = parse_jaeger_traces(&fixture("jaeger-traces.json")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!((hits[0].root_service.as_str(), hits[0].root_name.as_str()), ("web", "POST /checkout"));
    }

    #[test]
    fn reads_alertmanager_alerts() {
        let a = parse_alerts(&fixture("alertmanager-alerts.json")).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].state, "active");
        assert_eq!(a[0].labels["service"], "payments");
        assert!(a[0].annotations["trace_url"].contains("4bf92f3577b34da6a3ce929d0e0e4736"));
    }

    #[test]
    fn encodes_query_parameters() {
        assert_eq!(encode(r#"{ status = error }"#), "%7B%20status%20%3D%20error%20%7D");
        assert_eq!(encode("rate(x[1m])"), "rate%28x%5B1m%5D%29");
    }
}
