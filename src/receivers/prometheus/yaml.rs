//! YAML text to a JSON value, for the files the receiver reads itself
//! (file_sd target groups, `scrape_config_files`).

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::Value;

/// Parses the first YAML document; an empty document is null.
pub fn to_json(text: &str) -> Result<Value, String> {
    let docs = Yaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        format!("invalid YAML at line {} column {}: {}", m.line(), m.col() + 1, e.info())
    })?;
    docs.first().map_or(Ok(Value::Null), convert)
}

fn convert(y: &Yaml<'_>) -> Result<Value, String> {
    Ok(match y {
        Yaml::Value(s) => scalar(s),
        Yaml::Representation(text, _, _) => Value::String(text.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::Value(Scalar::Null) => String::new(),
                    Yaml::Value(Scalar::String(s)) => s.to_string(),
                    Yaml::Value(s) => match scalar(s) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    },
                    _ => return Err("mapping keys must be scalars".into()),
                };
                out.insert(key, convert(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => convert(inner)?,
        Yaml::Alias(_) => return Err("YAML aliases are not supported here".into()),
        Yaml::BadValue => return Err("invalid YAML value".into()),
    })
}

fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => serde_json::Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}
