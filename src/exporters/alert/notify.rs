//! What the alert exporter sends and how: the Alertmanager v2 alert list,
//! the generic webhook body and the Slack incoming-webhook body (documented
//! in the README), and the sender task that posts them with retries on
//! 5xx, 429 and connection errors.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::groups::{Notification, Status};
use crate::exporters::client::parse_retry_after;
use crate::exporters::helper::RetryConfig;
use crate::telemetry::ExporterMetrics;

/// The link template placeholders: `{{trace_id}}`, `{{span_id}}`, `{{service}}`.
pub fn trace_url(template: &str, n: &Notification) -> Option<String> {
    if template.is_empty() || n.trace_id.is_empty() {
        return None;
    }
    Some(
        template
            .replace("{{trace_id}}", &n.trace_id)
            .replace("{{span_id}}", &n.span_id)
            .replace("{{service}}", &percent_encode(&n.key.service)),
    )
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Turns notifications into labels, annotations and bodies.
#[derive(Debug, Clone)]
pub struct Render {
    pub receiver: String,
    pub alert_name: String,
    pub labels: BTreeMap<String, String>,
    pub trace_url_template: String,
    /// how long past "now" a firing alert posted to Alertmanager stays
    /// active if the collector stops updating it
    pub firing_ttl: Duration,
}

impl Render {
    pub fn labels(&self, n: &Notification) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert("alertname".into(), self.alert_name.clone());
        l.insert("service".into(), n.key.service.clone());
        l.insert("operation".into(), n.key.operation.clone());
        l.insert("error_type".into(), n.key.error_type.clone());
        l
    }

    pub fn summary(&self, n: &Notification) -> String {
        let times = if n.count == 1 { "once".to_owned() } else { format!("{} times", n.count) };
        match n.status {
            Status::Firing => {
                format!("{} {} failed with {} ({times})", n.key.service, n.key.operation, n.key.error_type)
            }
            Status::Resolved => {
                format!(
                    "{} {}: no {} since {} ({times} in all)",
                    n.key.service,
                    n.key.operation,
                    n.key.error_type,
                    rfc3339(n.last_seen)
                )
            }
        }
    }

    pub fn annotations(&self, n: &Notification) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        a.insert("summary".into(), self.summary(n));
        a.insert("description".into(), n.message.clone());
        a.insert("count".into(), n.count.to_string());
        if !n.trace_id.is_empty() {
            a.insert("trace_id".into(), n.trace_id.clone());
        }
        if let Some(url) = trace_url(&self.trace_url_template, n) {
            a.insert("trace_url".into(), url);
        }
        a
    }

    /// `POST /api/v2/alerts` body: a firing alert ends `firing_ttl` from
    /// now unless updated; a resolved one ends now.
    pub fn alertmanager(&self, ns: &[Notification], now: SystemTime) -> Value {
        let alerts: Vec<Value> = ns
            .iter()
            .map(|n| {
                let ends = match n.status {
                    Status::Firing => now + self.firing_ttl,
                    Status::Resolved => now,
                };
                let mut a = json!({
                    "labels": self.labels(n),
                    "annotations": self.annotations(n),
                    "startsAt": rfc3339(n.starts_at),
                    "endsAt": rfc3339(ends),
                });
                if let Some(url) = trace_url(&self.trace_url_template, n) {
                    a["generatorURL"] = Value::String(url);
                }
                a
            })
            .collect();
        Value::Array(alerts)
    }

    /// The generic webhook body, one per group notification.
    pub fn webhook(&self, n: &Notification, now: SystemTime) -> Value {
        json!({
            "version": "1",
            "receiver": self.receiver,
            "status": n.status.as_str(),
            "group_key": format!("{}|{}|{}", n.key.service, n.key.operation, n.key.error_type),
            "labels": self.labels(n),
            "annotations": self.annotations(n),
            "count": n.count,
            "new": n.new,
            "starts_at": rfc3339(n.starts_at),
            "last_seen": rfc3339(n.last_seen),
            "ends_at": match n.status { Status::Resolved => Value::String(rfc3339(now)), Status::Firing => Value::Null },
            "message": n.message,
            "trace_id": n.trace_id,
            "span_id": n.span_id,
            "trace_url": trace_url(&self.trace_url_template, n),
        })
    }

    /// A Slack incoming-webhook body (`text` with mrkdwn link syntax).
    pub fn slack(&self, n: &Notification) -> Value {
        let head = match n.status {
            Status::Firing => ":red_circle: *[FIRING]*",
            Status::Resolved => ":white_check_mark: *[RESOLVED]*",
        };
        let mut text = format!("{head} {}", self.summary(n));
        if n.status == Status::Firing && !n.message.is_empty() {
            text.push_str(&format!("\n> {}", n.message.chars().take(500).collect::<String>()));
        }
        if let Some(url) = trace_url(&self.trace_url_template, n) {
            text.push_str(&format!("\n<{url}|trace {}>", n.trace_id));
        }
        json!({ "text": text })
    }
}

/// Posts bodies one at a time, retrying 5xx, 429 and connection errors
/// with the exporter's `retry_on_failure` backoff.
pub struct Poster {
    pub name: String,
    pub client: reqwest::Client,
    pub url: String,
    pub retry: RetryConfig,
    pub timeout: Duration,
    pub metrics: ExporterMetrics,
}

impl Poster {
    pub async fn post(&self, body: &Value, items: u64) {
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            let (err, retry_after, retryable) = match self.attempt(body).await {
                Ok(()) => {
                    self.metrics.sent.inc_by(items);
                    return;
                }
                Err(e) => e,
            };
            let wait = retry_after.unwrap_or_else(|| backoff(&self.retry, attempt));
            let max = self.retry.max_elapsed_time.0;
            if !retryable || !self.retry.enabled || (!max.is_zero() && started.elapsed() + wait > max) {
                tracing::error!(exporter = %self.name, error = %err, "alert notification dropped");
                self.metrics.send_failed.inc_by(items);
                return;
            }
            tracing::info!(exporter = %self.name, error = %err, ?wait, "alert notification failed; will retry");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, body: &Value) -> Result<(), (String, Option<Duration>, bool)> {
        let resp = self
            .client
            .post(&self.url)
            .timeout(self.timeout)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default())
            .send()
            .await
            .map_err(|e| (format!("{}: {e}", self.url), None, true))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let text = resp.text().await.unwrap_or_default();
        let message = format!("HTTP {status} from {}: {}", self.url, text.trim().chars().take(300).collect::<String>());
        Err((message, retry_after, status.is_server_error() || status.as_u16() == 429))
    }
}

/// Exponential backoff with jitter, as the exporter helper computes it.
fn backoff(r: &RetryConfig, n: u32) -> Duration {
    let base = (r.initial_interval.0.as_secs_f64() * r.multiplier.powi(n as i32)).min(r.max_interval.0.as_secs_f64());
    let jitter = r.randomization_factor * base;
    Duration::from_secs_f64((base - jitter).max(0.0) + fastrand::f64() * 2.0 * jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporters::alert::groups::GroupKey;

    fn notification(status: Status) -> Notification {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Notification {
            status,
            key: GroupKey {
                service: "check out".into(),
                operation: "POST /pay".into(),
                error_type: "ValueError".into(),
            },
            count: 3,
            new: 3,
            starts_at: t,
            last_seen: t,
            message: "card declined".into(),
            trace_id: "ab".repeat(16),
            span_id: "cd".repeat(8),
        }
    }

    fn render() -> Render {
        Render {
            receiver: "alert".into(),
            alert_name: "FailedOperation".into(),
            labels: [("severity".to_string(), "page".to_string())].into(),
            trace_url_template: "http://localhost:16686/trace/{{trace_id}}?svc={{service}}".into(),
            firing_ttl: Duration::from_secs(600),
        }
    }

    #[test]
    fn alertmanager_alerts_carry_labels_annotations_and_link() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        let v = render().alertmanager(&[notification(Status::Firing)], now);
        let a = &v[0];
        assert_eq!(a["labels"]["alertname"], "FailedOperation");
        assert_eq!(a["labels"]["service"], "check out");
        assert_eq!(a["labels"]["severity"], "page");
        assert_eq!(a["annotations"]["count"], "3");
        assert_eq!(a["generatorURL"], format!("http://localhost:16686/trace/{}?svc=check%20out", "ab".repeat(16)));
        assert_eq!(a["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(a["endsAt"], "2023-11-14T22:25:00.000Z");
        let r = render().alertmanager(&[notification(Status::Resolved)], now);
        assert_eq!(r[0]["endsAt"], "2023-11-14T22:15:00.000Z");
    }

    #[test]
    fn webhook_and_slack_bodies() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        let w = render().webhook(&notification(Status::Resolved), now);
        assert_eq!(w["status"], "resolved");
        assert_eq!(w["group_key"], "check out|POST /pay|ValueError");
        assert_eq!(w["count"], 3);
        let s = render().slack(&notification(Status::Firing));
        let text = s["text"].as_str().unwrap();
        assert!(
            text.starts_with(":red_circle: *[FIRING]* check out POST /pay failed with ValueError (3 times)"),
            "{text}"
        );
        assert!(text.contains("|trace abab"));
    }
}
