//! Which `include`/`exclude` properties each signal takes, with upstream's
//! messages (filterconfig's `ValidateForSpans` / `ValidateForLogs`).

use super::MatchProperties;
use crate::component::Invalid;
use crate::signal::Signal;

const SPAN_KINDS: [&str; 5] =
    ["SPAN_KIND_CLIENT", "SPAN_KIND_CONSUMER", "SPAN_KIND_INTERNAL", "SPAN_KIND_PRODUCER", "SPAN_KIND_SERVER"];

impl MatchProperties {
    /// Whether these properties suit `signal`, with upstream's messages
    /// (`ValidateForSpans`, `ValidateForLogs`; for metrics, where upstream
    /// reads only `metric_names` and `resources`, the others are refused
    /// rather than silently ignored).
    pub fn check_signal(&self, signal: Signal) -> Result<(), Invalid> {
        let p = self;
        match signal {
            Signal::Traces => {
                let refused = [
                    ("log_bodies", !p.log_bodies.is_empty()),
                    ("log_severity_texts", !p.log_severity_texts.is_empty()),
                    ("log_severity_number", p.log_severity_number.is_some()),
                    ("metric_names", !p.metric_names.is_empty()),
                ];
                if let Some((key, _)) = refused.iter().find(|(_, given)| *given) {
                    return Err(Invalid::at(*key, format!("{key} should not be specified for trace spans")));
                }
                if p.services.is_empty()
                    && p.span_names.is_empty()
                    && p.attributes.is_empty()
                    && p.libraries.is_empty()
                    && p.resources.is_empty()
                    && p.span_kinds.is_empty()
                {
                    return Err(Invalid::at(
                        "",
                        r#"at least one of "services", "span_names", "span_kinds", "attributes", "libraries" or "resources" field must be specified"#,
                    ));
                }
                if p.match_type.as_deref() == Some("strict") {
                    if let Some(i) = p.span_kinds.iter().position(|k| !SPAN_KINDS.contains(&k.as_str())) {
                        return Err(Invalid::at(
                            format!("span_kinds.{i}"),
                            format!(
                                "span_kinds string must match one of the standard span kinds when match_type=strict: [{}]",
                                SPAN_KINDS.join(" ")
                            ),
                        ));
                    }
                }
            }
            Signal::Logs => {
                if !p.span_names.is_empty() || !p.services.is_empty() || !p.span_kinds.is_empty() {
                    return Err(Invalid::at("", "services, span_names, and span_kinds are not valid for log records"));
                }
                if !p.metric_names.is_empty() {
                    return Err(Invalid::at("metric_names", "metric_names should not be specified for log records"));
                }
                if p.attributes.is_empty()
                    && p.libraries.is_empty()
                    && p.resources.is_empty()
                    && p.log_bodies.is_empty()
                    && p.log_severity_texts.is_empty()
                    && p.log_severity_number.is_none()
                {
                    return Err(Invalid::at(
                        "",
                        r#"at least one of "attributes", "libraries", "resources", "log_bodies", "log_severity_texts" or "log_severity_number" field must be specified"#,
                    ));
                }
            }
            Signal::Metrics => {
                let refused = [
                    ("services", !p.services.is_empty()),
                    ("span_names", !p.span_names.is_empty()),
                    ("span_kinds", !p.span_kinds.is_empty()),
                    ("log_bodies", !p.log_bodies.is_empty()),
                    ("log_severity_texts", !p.log_severity_texts.is_empty()),
                    ("log_severity_number", p.log_severity_number.is_some()),
                    ("attributes", !p.attributes.is_empty()),
                    ("libraries", !p.libraries.is_empty()),
                ];
                if let Some((key, _)) = refused.iter().find(|(_, given)| *given) {
                    return Err(Invalid::at(
                        *key,
                        format!(
                            "{key} should not be specified for metrics; metrics match on metric_names and resources"
                        ),
                    ));
                }
                if p.metric_names.is_empty() && p.resources.is_empty() {
                    return Err(Invalid::at(
                        "",
                        r#"at least one of "metric_names" or "resources" field must be specified"#,
                    ));
                }
            }
        }
        Ok(())
    }
}
