//! The `bearertokenauth` extension (otelcol-contrib): on receivers it accepts
//! requests whose `header` (default `authorization`) is `<scheme> <token>`;
//! on exporters it adds that header. The token comes from `token`, `tokens`
//! (receivers accept any of them) or `filename`, re-read when the file changes.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures::future::BoxFuture;
use serde::Deserialize;

use crate::component::{
    parse_section, BuildContext, BuildResult, ExtensionConfig, Factory, Invalid, NeededFile, NothingRunning, Running,
    Validate,
};
use crate::runtime::auth::{same, sensitive_value, Authenticator, ClientAuth, Secret, ServerAuth};
use crate::runtime::Capability;
use crate::runtime::Health;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BearerTokenAuthConfig {
    pub scheme: String,
    pub token: Option<Secret>,
    pub tokens: Vec<Secret>,
    pub filename: Option<String>,
    pub header: String,
}

impl Default for BearerTokenAuthConfig {
    fn default() -> Self {
        BearerTokenAuthConfig {
            scheme: "Bearer".into(),
            token: None,
            tokens: Vec::new(),
            filename: None,
            header: "authorization".into(),
        }
    }
}

pub fn factory() -> Factory<dyn ExtensionConfig> {
    Factory {
        type_name: "bearertokenauth",
        signals: &[],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<BearerTokenAuthConfig>(v)?)),
    }
}

impl Validate for BearerTokenAuthConfig {
    fn validate(&self) -> Result<(), Invalid> {
        let sources = usize::from(self.token.is_some())
            + usize::from(!self.tokens.is_empty())
            + usize::from(self.filename.is_some());
        if sources == 0 {
            return Err(Invalid::at("", "set the token: token, tokens or filename"));
        }
        if sources > 1 {
            return Err(Invalid::at("", "token, tokens and filename exclude each other; keep one"));
        }
        http::HeaderName::from_bytes(self.header.as_bytes())
            .map_err(|_| Invalid::at("header", "is not a valid HTTP header name"))?;
        Ok(())
    }

    fn needed_files(&self) -> Vec<NeededFile> {
        self.filename.iter().map(|p| NeededFile::file("filename", p)).collect()
    }
}

impl ExtensionConfig for BearerTokenAuthConfig {
    fn offers(&self) -> &'static [Capability] {
        &[Capability::Authenticator]
    }

    fn start(&self, _ctx: BuildContext, _health: Health) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async { Ok(Box::new(NothingRunning) as Box<dyn Running>) })
    }

    fn authenticator(&self) -> BuildResult<Option<Authenticator>> {
        let header = http::HeaderName::from_bytes(self.header.to_ascii_lowercase().as_bytes())?;
        let source = match (&self.filename, &self.token) {
            (Some(path), _) => {
                let token = read_token(path).map_err(anyhow::Error::msg)?;
                TokenSource::File { path: path.clone(), cache: Mutex::new((modified(path), token)) }
            }
            (None, Some(token)) => TokenSource::Fixed(vec![token.clone()]),
            (None, None) => TokenSource::Fixed(self.tokens.clone()),
        };
        let auth = Arc::new(BearerToken { scheme: self.scheme.clone(), header, source });
        Ok(Some(Authenticator { server: Some(auth.clone()), client: Some(auth) }))
    }
}

fn read_token(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the token file {path:?}: {e}"))?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(format!("the token file {path:?} is empty; write the token into it"));
    }
    Ok(token)
}

fn modified(path: &str) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

enum TokenSource {
    Fixed(Vec<Secret>),
    /// the file's modification time and the token read then
    File {
        path: String,
        cache: Mutex<(Option<SystemTime>, String)>,
    },
}

struct BearerToken {
    scheme: String,
    header: http::HeaderName,
    source: TokenSource,
}

impl BearerToken {
    fn tokens(&self) -> Vec<Secret> {
        match &self.source {
            TokenSource::Fixed(t) => t.clone(),
            TokenSource::File { path, cache } => {
                let mut cache = cache.lock().expect("lock");
                let now = modified(path);
                if now != cache.0 {
                    match read_token(path) {
                        Ok(t) => *cache = (now, t),
                        Err(e) => tracing::warn!("bearertokenauth: keeping the previous token: {e}"),
                    }
                }
                vec![Secret::new(cache.1.clone())]
            }
        }
    }

    fn value(&self, token: &Secret) -> String {
        if self.scheme.is_empty() {
            token.expose().to_owned()
        } else {
            format!("{} {}", self.scheme, token.expose())
        }
    }
}

impl ServerAuth for BearerToken {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String> {
        let Some(got) = headers.get(&self.header) else {
            return Err(format!("missing {} header with a bearer token", self.header));
        };
        if self.tokens().iter().any(|t| same(got.as_bytes(), self.value(t).as_bytes())) {
            Ok(())
        } else {
            Err("invalid bearer token".into())
        }
    }
}

impl ClientAuth for BearerToken {
    fn header(&self) -> anyhow::Result<(http::HeaderName, http::HeaderValue)> {
        let token = self.tokens().into_iter().next().ok_or_else(|| anyhow::anyhow!("bearertokenauth has no token"))?;
        Ok((self.header.clone(), sensitive_value(&self.value(&token))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> BearerTokenAuthConfig {
        parse_section(v).unwrap()
    }

    #[test]
    fn token_checks_and_debug_hides_it() {
        let cfg = parse(serde_json::json!({"token": "s3cr3t-value"}));
        cfg.validate().unwrap();
        assert!(!format!("{cfg:?}").contains("s3cr3t-value"));
        let a = cfg.authenticator().unwrap().unwrap();
        let (name, value) = a.client.unwrap().header().unwrap();
        assert_eq!(name, "authorization");
        assert_eq!(value, "Bearer s3cr3t-value");
        assert!(value.is_sensitive());
        let server = a.server.unwrap();
        let mut h = http::HeaderMap::new();
        assert!(server.authenticate(&h).is_err());
        h.insert("authorization", "Bearer wrong".parse().unwrap());
        let err = server.authenticate(&h).unwrap_err();
        assert!(!err.contains("s3cr3t"));
        h.insert("authorization", "Bearer s3cr3t-value".parse().unwrap());
        server.authenticate(&h).unwrap();
    }

    #[test]
    fn validation() {
        assert!(parse(serde_json::json!({})).validate().is_err());
        assert!(parse(serde_json::json!({"token": "a", "filename": "/x"})).validate().is_err());
        let missing = parse(serde_json::json!({"filename": "/nonexistent/token"}));
        missing.validate().unwrap();
        assert_eq!(missing.needed_files(), vec![NeededFile::file("filename", "/nonexistent/token")]);
        assert!(parse_section::<BearerTokenAuthConfig>(serde_json::json!({"tokn": "a"})).is_err());
    }

    #[test]
    fn token_file_is_reread_when_it_changes() {
        let dir = std::env::temp_dir().join(format!("otelstack-bearer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "first\n").unwrap();
        let cfg = parse(serde_json::json!({"filename": path.to_str().unwrap(), "scheme": ""}));
        cfg.validate().unwrap();
        let client = cfg.authenticator().unwrap().unwrap().client.unwrap();
        assert_eq!(client.header().unwrap().1, "first");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "second").unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(2);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
        assert_eq!(client.header().unwrap().1, "second");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
