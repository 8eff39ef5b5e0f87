//! The stack's passwords: random for `stackctl init`, fixed and public for
//! the repository's checked-in dev stack (which must run from a clone with
//! no set-up step; its README says to change them before exposing anything).

use std::io::Read;

use anyhow::{Context, Result};

use super::dotenv;

/// Alphanumeric only: the values go into a URL-style DSN
/// (`mysql://user:password@mariadb:3306/otelstack`) and `.env` unquoted.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LENGTH: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    pub grafana_admin_password: String,
    pub mariadb_root_password: String,
    pub mariadb_password: String,
}

impl Secrets {
    /// Fresh random secrets from the OS (`/dev/urandom`), 24 characters
    /// (about 143 bits) each.
    pub fn generate() -> Result<Secrets> {
        let mut urandom =
            std::fs::File::open("/dev/urandom").context("cannot open /dev/urandom to generate passwords")?;
        let mut one = || -> Result<String> {
            let mut out = String::with_capacity(LENGTH);
            let mut buf = [0u8; 64];
            while out.len() < LENGTH {
                urandom.read_exact(&mut buf).context("cannot read /dev/urandom to generate passwords")?;
                // Rejection sampling keeps every character equally likely.
                for b in buf {
                    if (b as usize) < 256 - 256 % ALPHABET.len() && out.len() < LENGTH {
                        out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
                    }
                }
            }
            Ok(out)
        };
        Ok(Secrets { grafana_admin_password: one()?, mariadb_root_password: one()?, mariadb_password: one()? })
    }

    /// The checked-in dev stack's fixed passwords (public: local use only).
    pub fn dev() -> Secrets {
        Secrets {
            grafana_admin_password: "otelstack-dev".into(),
            mariadb_root_password: "otelstack-dev-root".into(),
            mariadb_password: "otelstack-dev".into(),
        }
    }

    /// Reads the secrets back from an existing `.env`, so re-running `init`
    /// on a project keeps the passwords its data volumes were created with.
    /// `Ok(None)` when one of them is missing or empty; an error when the file
    /// is not one Compose could read.
    pub fn from_env_file(text: &str) -> Result<Option<Secrets>, dotenv::Error> {
        let vars = dotenv::parse(text, &|_| None)?;
        let get = |key: &str| vars.get(key).filter(|v| !v.is_empty()).cloned();
        let (Some(grafana), Some(root), Some(mariadb)) =
            (get("GRAFANA_ADMIN_PASSWORD"), get("MARIADB_ROOT_PASSWORD"), get("MARIADB_PASSWORD"))
        else {
            return Ok(None);
        };
        Ok(Some(Secrets { grafana_admin_password: grafana, mariadb_root_password: root, mariadb_password: mariadb }))
    }
}
