//! otelcol's `--feature-gates` flag, accepted so that launchers written for
//! otelcol (the OpenTelemetry Operator adds `--feature-gates=-gate` to its
//! collectors' arguments) can start otelstack-collector unchanged.
//!
//! otelstack has no feature gates of its own: every gate named is reported
//! as a warning that names it, never as a failure.

/// One `gate`, `+gate` or `-gate` entry of a `--feature-gates` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSetting {
    pub id: String,
    pub enable: bool,
}

/// Parses every `--feature-gates` value the way otelcol's flag does: each
/// value is a comma-separated list, an entry may carry a `+` (enable, the
/// default) or `-` (disable) prefix, blanks around entries are ignored, and
/// a repeated flag adds its entries after the earlier ones.
pub fn parse(values: &[String]) -> Result<Vec<GateSetting>, String> {
    let mut out = Vec::new();
    for value in values {
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (enable, id) = match entry.as_bytes()[0] {
                b'-' => (false, &entry[1..]),
                b'+' => (true, &entry[1..]),
                _ => (true, entry),
            };
            if id.is_empty() {
                return Err(format!(
                    "--feature-gates entry {entry:?} has no gate name: write the gate's id after the + or -, \
                     e.g. --feature-gates=-component.UseLocalHostAsDefaultHost"
                ));
            }
            out.push(GateSetting { id: id.to_owned(), enable });
        }
    }
    Ok(out)
}

/// A warning sentence per gate setting: otelstack implements none of them.
pub fn warnings(settings: &[GateSetting]) -> Vec<String> {
    settings
        .iter()
        .map(|g| {
            let action = if g.enable { "enable" } else { "disable" };
            let mut w = format!(
                "feature gate {:?} is not known to otelstack-collector; the request to {action} it is ignored",
                g.id
            );
            if g.id == "component.UseLocalHostAsDefaultHost" {
                w.push_str(
                    " (otelstack's receivers default to localhost, as otelcol does since 0.110: \
                     set their endpoints to 0.0.0.0:PORT to listen on the pod's address)",
                );
            }
            w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(id: &str, enable: bool) -> GateSetting {
        GateSetting { id: id.into(), enable }
    }

    #[test]
    fn prefixes_commas_and_repeated_flags() {
        let values = vec!["-component.UseLocalHostAsDefaultHost,+a.b".to_owned(), " c , -d".to_owned(), String::new()];
        assert_eq!(
            parse(&values).unwrap(),
            vec![
                gate("component.UseLocalHostAsDefaultHost", false),
                gate("a.b", true),
                gate("c", true),
                gate("d", false)
            ]
        );
    }

    #[test]
    fn a_prefix_without_a_name_is_an_error_that_says_what_to_write() {
        let err = parse(&["a,-".to_owned()]).unwrap_err();
        assert!(err.contains("\"-\" has no gate name"), "{err}");
    }

    #[test]
    fn every_gate_gets_a_warning_naming_it() {
        let w = warnings(&[gate("confmap.unifyEnvVarExpansion", false), gate("x.y", true)]);
        assert_eq!(w.len(), 2);
        assert!(w[0].contains("\"confmap.unifyEnvVarExpansion\"") && w[0].contains("disable"), "{}", w[0]);
        assert!(w[1].contains("\"x.y\"") && w[1].contains("enable"), "{}", w[1]);
    }

    #[test]
    fn the_localhost_gate_says_how_to_listen_on_the_pod() {
        let w = warnings(&[gate("component.UseLocalHostAsDefaultHost", false)]);
        assert!(w[0].contains("0.0.0.0:PORT"), "{}", w[0]);
    }
}
