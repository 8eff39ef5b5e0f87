//! Configuration errors that name the key path and where it was written, and
//! suggest the closest valid key for a typo.

use std::fmt;

use super::node::Pos;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// dotted key path, e.g. `exporters.otlp.tls.insecur`
    pub path: String,
    pub pos: Option<Pos>,
    pub message: String,
}

impl ConfigError {
    pub fn plain(message: impl Into<String>) -> ConfigError {
        ConfigError { path: String::new(), pos: None, message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(pos) = &self.pos {
            write!(f, " (at {pos})")?;
        }
        Ok(())
    }
}

/// Every error found in one config, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn one(e: ConfigError) -> ConfigErrors {
        ConfigErrors(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The closest candidate to `word`, if one is close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Rewrites serde's messages into shorter sentences with a suggestion:
/// "unknown field `insecur`, expected one of `insecure`, ..." becomes
/// "unknown field; did you mean 'insecure'?".
pub fn humanize_serde(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, tail)) = rest.split_once('`') {
            let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            return match suggest(field, expected.iter().copied()) {
                Some(s) => format!("unknown field; did you mean '{s}'?"),
                None if expected.is_empty() => "unknown field; this section takes no options".to_owned(),
                None => format!("unknown field; valid keys are: {}", expected.join(", ")),
            };
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((variant, tail)) = rest.split_once('`') {
            let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            return match suggest(variant, expected.iter().copied()) {
                Some(s) => format!("unknown value '{variant}'; did you mean '{s}'?"),
                None => format!("unknown value '{variant}'; use one of: {}", expected.join(", ")),
            };
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_key() {
        let m = "unknown field `insecur`, expected one of `insecure`, `insecure_skip_verify`, `ca_file`";
        assert_eq!(humanize_serde(m), "unknown field; did you mean 'insecure'?");
        let m = "unknown field `zzz`, expected `a` or `b`";
        assert_eq!(humanize_serde(m), "unknown field; valid keys are: a, b");
        let m = "unknown variant `detaild`, expected one of `basic`, `normal`, `detailed`";
        assert_eq!(humanize_serde(m), "unknown value 'detaild'; did you mean 'detailed'?");
        assert_eq!(
            humanize_serde("invalid type: string \"x\", expected u64"),
            "invalid type: string \"x\", expected u64"
        );
    }
}
