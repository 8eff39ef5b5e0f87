//! The `basicauth` extension (otelcol-contrib): HTTP Basic authentication.
//! `htpasswd` (`file` and/or `inline`) checks incoming requests on receivers;
//! `client_auth` (`username`, `password`) is what exporters send. htpasswd
//! lines may hold bcrypt (`$2y$`, `$2b$`, `$2a$`, as `htpasswd -B` writes),
//! SHA-1 (`{SHA}`) or plain passwords; other hashes are refused at validation.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine;
use futures::future::BoxFuture;
use serde::Deserialize;
use sha2::Digest;

use crate::component::{
    parse_section, BuildContext, BuildResult, ExtensionConfig, Factory, Invalid, NeededFile, NothingRunning, Running,
    Validate,
};
use crate::runtime::auth::{same, sensitive_value, Authenticator, ClientAuth, Secret, ServerAuth};
use crate::runtime::Capability;
use crate::runtime::Health;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuthConfig {
    pub htpasswd: Option<Htpasswd>,
    pub client_auth: Option<ClientCredentials>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Htpasswd {
    pub file: Option<String>,
    pub inline: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentials {
    pub username: String,
    pub password: Secret,
}

pub fn factory() -> Factory<dyn ExtensionConfig> {
    Factory {
        type_name: "basicauth",
        signals: &[],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<BasicAuthConfig>(v)?)),
    }
}

impl Validate for BasicAuthConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.htpasswd.is_none() && self.client_auth.is_none() {
            return Err(Invalid::at("", "set htpasswd (to check receivers' clients) or client_auth (for exporters)"));
        }
        if self.htpasswd.is_some() && self.client_auth.is_some() {
            // as upstream's errMultipleAuthenticators
            return Err(Invalid::at(
                "client_auth",
                "only one of htpasswd or client_auth can be specified, as in otelcol-contrib; \
                 configure two basicauth extensions (basicauth/server, basicauth/client) instead",
            ));
        }
        if let Some(h) = &self.htpasswd {
            if h.file.is_none() && h.inline.is_none() {
                return Err(Invalid::at("htpasswd", "set file or inline"));
            }
            // the file is the deployment's: read at start (`needed_files`)
            if let Some(inline) = &h.inline {
                parse_lines(inline.expose(), &mut BTreeMap::new()).map_err(|m| Invalid::at("htpasswd.inline", m))?;
            }
        }
        if let Some(c) = &self.client_auth {
            if c.username.contains(':') {
                return Err(Invalid::at("client_auth.username", "must not contain ':'"));
            }
        }
        Ok(())
    }

    fn needed_files(&self) -> Vec<NeededFile> {
        let file = self.htpasswd.as_ref().and_then(|h| h.file.as_ref());
        file.map(|f| NeededFile::file("htpasswd.file", f)).into_iter().collect()
    }
}

/// A stored password as an htpasswd line holds it.
enum Stored {
    Bcrypt(String),
    Sha1(Vec<u8>),
    Plain(Secret),
}

impl Htpasswd {
    /// Every user from `file` then `inline` (a later line wins); errors name
    /// the line but never its content.
    fn users(&self) -> Result<BTreeMap<String, Stored>, Invalid> {
        let mut users = BTreeMap::new();
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Invalid::at("htpasswd.file", format!("cannot read {path:?}: {e}")))?;
            parse_lines(&text, &mut users).map_err(|m| Invalid::at("htpasswd.file", m))?;
        }
        if let Some(inline) = &self.inline {
            parse_lines(inline.expose(), &mut users).map_err(|m| Invalid::at("htpasswd.inline", m))?;
        }
        Ok(users)
    }
}

fn parse_lines(text: &str, users: &mut BTreeMap<String, Stored>) -> Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, stored)) = line.split_once(':') else {
            return Err(format!("line {} is not user:password", i + 1));
        };
        let stored = if stored.starts_with("$2y$") || stored.starts_with("$2b$") || stored.starts_with("$2a$") {
            Stored::Bcrypt(stored.to_owned())
        } else if let Some(b64) = stored.strip_prefix("{SHA}") {
            let digest = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| format!("line {} ({user}): the {{SHA}} hash is not valid base64", i + 1))?;
            Stored::Sha1(digest)
        } else if stored.starts_with('$') || stored.starts_with("{SSHA}") {
            return Err(format!(
                "line {} ({user}): this hash type is not supported; use bcrypt (htpasswd -B), {{SHA}} (htpasswd -s) or a plain password",
                i + 1
            ));
        } else {
            Stored::Plain(Secret::new(stored))
        };
        users.insert(user.to_owned(), stored);
    }
    Ok(())
}

impl ExtensionConfig for BasicAuthConfig {
    fn offers(&self) -> &'static [Capability] {
        &[Capability::Authenticator]
    }

    fn start(&self, _ctx: BuildContext, _health: Health) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async { Ok(Box::new(NothingRunning) as Box<dyn Running>) })
    }

    fn authenticator(&self) -> BuildResult<Option<Authenticator>> {
        let server = match &self.htpasswd {
            Some(h) => {
                let users = h.users().map_err(|e| anyhow::anyhow!("htpasswd: {}", e.message))?;
                Some(Arc::new(BasicServer { users, verified: Mutex::new(HashSet::new()) }) as Arc<dyn ServerAuth>)
            }
            None => None,
        };
        let client = match &self.client_auth {
            Some(c) => {
                let raw = format!("{}:{}", c.username, c.password.expose());
                let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
                Some(Arc::new(BasicClient(Secret::new(value))) as Arc<dyn ClientAuth>)
            }
            None => None,
        };
        Ok(Some(Authenticator { server, client }))
    }
}

/// Remembers this many verified credentials (as SHA-256 digests), so bcrypt
/// runs once per client rather than once per request.
const VERIFIED_CACHE: usize = 1024;

struct BasicServer {
    users: BTreeMap<String, Stored>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl ServerAuth for BasicServer {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String> {
        const REFUSED: &str = "invalid username or password";
        let value = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("missing authorization header with Basic credentials")?;
        let encoded = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))
            .ok_or("the authorization header must use the Basic scheme")?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| REFUSED)?;
        let key: [u8; 32] = sha2::Sha256::digest(&decoded).into();
        if self.verified.lock().expect("lock").contains(&key) {
            return Ok(());
        }
        let text = String::from_utf8(decoded).map_err(|_| REFUSED)?;
        let (user, password) = text.split_once(':').ok_or(REFUSED)?;
        let ok = match self.users.get(user) {
            Some(Stored::Bcrypt(hash)) => bcrypt::verify(password, hash).unwrap_or(false),
            Some(Stored::Sha1(digest)) => same(&sha1::Sha1::digest(password.as_bytes()), digest),
            Some(Stored::Plain(p)) => same(password.as_bytes(), p.expose().as_bytes()),
            None => false,
        };
        if !ok {
            return Err(REFUSED.into());
        }
        let mut verified = self.verified.lock().expect("lock");
        if verified.len() >= VERIFIED_CACHE {
            verified.clear();
        }
        verified.insert(key);
        Ok(())
    }
}

struct BasicClient(Secret);

impl ClientAuth for BasicClient {
    fn header(&self) -> anyhow::Result<(http::HeaderName, http::HeaderValue)> {
        Ok((http::header::AUTHORIZATION, sensitive_value(self.0.expose())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        let v = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")));
        h.insert("authorization", v.parse().unwrap());
        h
    }

    #[test]
    fn htpasswd_plain_sha_and_bcrypt() {
        let bcrypt_hash = bcrypt::hash("b-pass", 4).unwrap();
        // {SHA} of "s-pass", as `htpasswd -s` writes it
        let sha = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(b"s-pass"));
        let inline = format!("plain:p-pass\nsha:{{SHA}}{sha}\n# comment\nbc:{bcrypt_hash}\n");
        let cfg: BasicAuthConfig = parse_section(serde_json::json!({"htpasswd": {"inline": inline}})).unwrap();
        cfg.validate().unwrap();
        assert!(!format!("{cfg:?}").contains("p-pass"));
        let server = cfg.authenticator().unwrap().unwrap().server.unwrap();
        for (u, p) in [("plain", "p-pass"), ("sha", "s-pass"), ("bc", "b-pass"), ("bc", "b-pass")] {
            server.authenticate(&basic(u, p)).unwrap_or_else(|e| panic!("{u}: {e}"));
        }
        for (u, p) in [("plain", "nope"), ("sha", "p-pass"), ("bc", "x"), ("ghost", "p-pass")] {
            assert!(server.authenticate(&basic(u, p)).is_err(), "{u} accepted");
        }
        assert!(server.authenticate(&http::HeaderMap::new()).is_err());
    }

    #[test]
    fn unsupported_hash_is_refused_without_echoing_the_line() {
        let cfg: BasicAuthConfig =
            parse_section(serde_json::json!({"htpasswd": {"inline": "u:$apr1$abc$secretish"}})).unwrap();
        let e = cfg.validate().unwrap_err();
        assert_eq!(e.path, "htpasswd.inline");
        assert!(e.message.contains("not supported") && !e.message.contains("secretish"), "{}", e.message);
    }

    #[test]
    fn client_auth_header_and_redaction() {
        let cfg: BasicAuthConfig =
            parse_section(serde_json::json!({"client_auth": {"username": "u", "password": "pw-secret"}})).unwrap();
        cfg.validate().unwrap();
        assert!(!format!("{cfg:?}").contains("pw-secret"));
        let a = cfg.authenticator().unwrap().unwrap();
        assert!(a.server.is_none());
        let (_, v) = a.client.unwrap().header().unwrap();
        assert_eq!(v, "Basic dTpwdy1zZWNyZXQ=");
        assert!(parse_section::<BasicAuthConfig>(serde_json::json!({})).unwrap().validate().is_err());
    }

    #[test]
    fn htpasswd_and_client_auth_together_are_refused_file_and_inline_are_not() {
        let both =
            serde_json::json!({"htpasswd": {"inline": "u:p"}, "client_auth": {"username": "u", "password": "p"}});
        let e = parse_section::<BasicAuthConfig>(both).unwrap().validate().unwrap_err();
        assert_eq!(e.path, "client_auth");
        assert!(e.message.contains("only one of htpasswd or client_auth"), "{}", e.message);
        let cfg: BasicAuthConfig =
            parse_section(serde_json::json!({"htpasswd": {"file": "/nonexistent/htpasswd", "inline": "u:p"}})).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.needed_files(), vec![NeededFile::file("htpasswd.file", "/nonexistent/htpasswd")]);
        assert!(cfg.authenticator().is_err(), "the missing file fails at start");
    }
}
