//! What authenticator extensions share with the components that use them:
//! the `auth: {authenticator: <id>}` setting, the server- and client-side
//! traits (found through the [`super::Host`]), and [`Secret`], a string that
//! never shows in `Debug` output or messages.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::capability::{Capability, ExtensionRef};

/// A secret from the config (token, password, private key): its `Debug` is
/// redacted, so printing a config never shows it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself; only for the code that sends or checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret(v.to_owned()))
            }
            // YAML reads `token: 12345` as a number; it is still the secret
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("expected a string; quote the value"))
            }
        }
        d.deserialize_any(V)
    }
}

/// `auth:` on a receiver protocol or an exporter, as in otelcol.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// the id of an authenticator extension listed in `service.extensions`
    pub authenticator: String,
}

impl AuthSettings {
    /// The reference to the authenticator, for an `auth` section at `path`.
    pub fn reference(&self, path: &str) -> ExtensionRef {
        ExtensionRef {
            path: format!("{path}.authenticator"),
            id: self.authenticator.clone(),
            needs: Capability::Authenticator,
        }
    }
}

/// Checks the credentials of an incoming request from its headers alone, so
/// receivers refuse before reading the body.
pub trait ServerAuth: Send + Sync {
    /// `Err` carries a message safe to send back: it never holds a secret.
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String>;
}

/// Gives the header an exporter adds to each request.
pub trait ClientAuth: Send + Sync {
    /// Called per request, so a token file that changed is picked up; the
    /// value is marked sensitive.
    fn header(&self) -> anyhow::Result<(http::HeaderName, http::HeaderValue)>;
}

/// What one authenticator extension can do.
#[derive(Clone, Default)]
pub struct Authenticator {
    pub server: Option<Arc<dyn ServerAuth>>,
    pub client: Option<Arc<dyn ClientAuth>>,
}

/// Compares in constant time, so timing does not reveal how much matched.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A header value that HTTP/2 encoders and our logs treat as sensitive.
pub fn sensitive_value(value: &str) -> anyhow::Result<http::HeaderValue> {
    let mut v = http::HeaderValue::from_str(value)
        .map_err(|_| anyhow::anyhow!("the credential holds characters not allowed in an HTTP header"))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s: Secret = serde_json::from_value(serde_json::json!("hunter2")).unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        let n: Secret = serde_json::from_value(serde_json::json!(12345)).unwrap();
        assert_eq!(n.expose(), "12345");
    }

    #[test]
    fn constant_time_compare() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
