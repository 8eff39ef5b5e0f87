//! The severities `log_severity_number.min` accepts: a number or plog's
//! severity names (`INFO`, `warn2`), case-insensitive.

use serde_json::Value;

use crate::component::Invalid;

const SEVERITIES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// `min` as a number or as a severity name (`INFO`, `warn3`), as plog's names.
pub(super) fn severity_number(v: &Value) -> Result<i32, Invalid> {
    let bad = || {
        Invalid::at(
            "log_severity_number.min",
            format!("invalid severity {v}: use a number from 1 to 24 or a name such as INFO, WARN2 or ERROR"),
        )
    };
    match v {
        Value::Number(n) => n.as_i64().filter(|n| (0..=24).contains(n)).map(|n| n as i32).ok_or_else(bad),
        Value::String(s) => {
            let upper = s.trim().to_ascii_uppercase();
            let (name, step) = match upper.char_indices().find(|(_, c)| c.is_ascii_digit()) {
                Some((at, _)) => (&upper[..at], upper[at..].parse::<i32>().map_err(|_| bad())?),
                None => (upper.as_str(), 1),
            };
            let base = SEVERITIES.iter().position(|n| *n == name).ok_or_else(bad)? as i32;
            if !(1..=4).contains(&step) {
                return Err(bad());
            }
            Ok(base * 4 + step)
        }
        _ => Err(bad()),
    }
}
