//! The `file_storage` extension: a directory where exporters with
//! `sending_queue.storage: file_storage[/name]` keep their persistent queues
//! (one subdirectory per exporter and signal). It reads otelcol-contrib's
//! keys; the queue itself lives in `exporters::queue`.

use std::path::PathBuf;

use futures::future::BoxFuture;
use serde::Deserialize;

use crate::component::{
    parse_section, BuildContext, BuildResult, ExtensionConfig, Factory, Invalid, NeededFile, NothingRunning, Running,
    Validate,
};
use crate::config::types::GoDuration;
use crate::runtime::Capability;
use crate::runtime::{Health, StorageSettings};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileStorageConfig {
    /// required here (otelcol's default, /var/lib/otelcol/file_storage, is
    /// rarely writable outside its container image)
    pub directory: Option<String>,
    /// how long to wait for another process to release a queue directory
    pub timeout: GoDuration,
    pub create_directory: bool,
    /// octal, used when `create_directory` creates it
    pub directory_permissions: String,
    /// sync every write to disk before acknowledging it
    pub fsync: bool,
    /// bbolt's compaction in otelcol; validated as upstream does, and
    /// otherwise satisfied by the queue itself: segments are deleted as soon
    /// as they are delivered, so the space compaction reclaims is never held
    /// (the start log says so when it is turned on)
    pub compaction: CompactionConfig,
    pub recreate: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompactionConfig {
    pub directory: Option<String>,
    pub on_start: bool,
    pub on_rebound: bool,
    pub rebound_needed_threshold_mib: u64,
    pub rebound_trigger_threshold_mib: u64,
    pub max_transaction_size: u64,
    pub check_interval: GoDuration,
    pub cleanup_on_start: bool,
}

impl Default for CompactionConfig {
    /// otelcol-contrib's defaults
    fn default() -> Self {
        CompactionConfig {
            directory: None,
            on_start: false,
            on_rebound: false,
            rebound_needed_threshold_mib: 100,
            rebound_trigger_threshold_mib: 10,
            max_transaction_size: 65536,
            check_interval: GoDuration::secs(5),
            cleanup_on_start: false,
        }
    }
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: None,
            timeout: GoDuration::secs(1),
            create_directory: false,
            directory_permissions: "0750".into(),
            fsync: false,
            compaction: CompactionConfig::default(),
            recreate: false,
        }
    }
}

pub fn factory() -> Factory<dyn ExtensionConfig> {
    Factory {
        type_name: "file_storage",
        signals: &[],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<FileStorageConfig>(v)?)),
    }
}

impl FileStorageConfig {
    fn permissions(&self) -> Option<u32> {
        u32::from_str_radix(&self.directory_permissions, 8).ok().filter(|m| *m <= 0o7777)
    }
}

impl Validate for FileStorageConfig {
    fn validate(&self) -> Result<(), Invalid> {
        match &self.directory {
            None => return Err(Invalid::at(
                "directory",
                "is required: set the directory the persistent queues are kept in, e.g. /var/lib/otelcol/file_storage",
            )),
            Some(d) if d.is_empty() => return Err(Invalid::at("directory", "must not be empty")),
            Some(_) => {}
        }
        if self.timeout.is_zero() {
            return Err(Invalid::at("timeout", "must be greater than 0"));
        }
        if self.permissions().is_none() {
            return Err(Invalid::at("directory_permissions", "must be an octal mode such as \"0750\""));
        }
        let c = &self.compaction;
        if (c.on_start || c.on_rebound) && c.directory.as_deref().is_some_and(str::is_empty) {
            return Err(Invalid::at("compaction.directory", "must not be empty"));
        }
        if c.on_rebound && c.check_interval.is_zero() {
            return Err(Invalid::at(
                "compaction.check_interval",
                "must be positive when on_rebound is set (otelcol's default is 5s)",
            ));
        }
        if self.recreate {
            return Err(Invalid::at(
                "recreate",
                "is not supported; remove the queue directory yourself to start empty",
            ));
        }
        Ok(())
    }

    /// The directory must exist unless the extension may create it; the
    /// compaction directory too when compaction is on, as otelcol checks.
    fn needed_files(&self) -> Vec<NeededFile> {
        let mut out = match &self.directory {
            Some(d) if !self.create_directory => vec![NeededFile::directory("directory", d)],
            _ => Vec::new(),
        };
        let c = &self.compaction;
        if let Some(d) = c.directory.as_deref().filter(|_| c.on_start || c.on_rebound) {
            out.push(NeededFile::directory("compaction.directory", d));
        }
        out
    }
}

impl ExtensionConfig for FileStorageConfig {
    fn offers(&self) -> &'static [Capability] {
        &[Capability::Storage]
    }

    fn start(&self, _ctx: BuildContext, _health: Health) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let dir = PathBuf::from(self.directory.as_deref().unwrap_or_default());
            if !dir.exists() {
                if !self.create_directory {
                    anyhow::bail!(
                        "the directory {} does not exist; create it or set create_directory: true",
                        dir.display()
                    );
                }
                use std::os::unix::fs::DirBuilderExt;
                let mode = self.permissions().unwrap_or(0o750);
                std::fs::DirBuilder::new().recursive(true).mode(mode).create(&dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the directory {}: {e}; create it yourself", dir.display())
                })?;
            } else if !dir.is_dir() {
                anyhow::bail!("{} is not a directory; point directory at a directory", dir.display());
            }
            tracing::info!(directory = %dir.display(), fsync = self.fsync, "file_storage extension ready");
            if self.compaction.on_start || self.compaction.on_rebound {
                tracing::info!(
                    "file_storage compaction: queue segments are deleted as soon as they are delivered, \
                     so there is never free space to compact"
                );
            }
            Ok(Box::new(NothingRunning) as Box<dyn Running>)
        })
    }

    fn storage(&self) -> Option<StorageSettings> {
        Some(StorageSettings {
            directory: PathBuf::from(self.directory.as_deref().unwrap_or_default()),
            timeout: self.timeout.0,
            fsync: self.fsync,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg(v: serde_json::Value) -> Result<FileStorageConfig, String> {
        parse_section::<FileStorageConfig>(v).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_otelcol_keys_with_their_defaults() {
        let c = cfg(serde_json::json!({"directory": "/tmp/q", "compaction": {"on_start": true, "directory": "/tmp"}}))
            .unwrap();
        assert!(c.validate().is_ok());
        let s = c.storage().unwrap();
        assert_eq!(s, StorageSettings { directory: "/tmp/q".into(), timeout: Duration::from_secs(1), fsync: false });
        assert!(!c.create_directory);
        assert!(cfg(serde_json::json!({"directory": "/tmp/q", "fsnc": true})).is_err());
    }

    #[test]
    fn compaction_is_checked_as_otelcol_checks_it() {
        let on = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"directory": "/tmp/q", "compaction": {"directory": "/nonexistent/c"}});
            for (k, x) in extra.as_object().unwrap() {
                v["compaction"][k] = x.clone();
            }
            cfg(v).unwrap()
        };
        // off: the compaction directory is not needed
        assert_eq!(on(serde_json::json!({})).needed_files(), vec![NeededFile::directory("directory", "/tmp/q")]);
        let c = on(serde_json::json!({"on_rebound": true}));
        assert!(c.validate().is_ok(), "check_interval defaults to 5s");
        assert_eq!(c.needed_files()[1], NeededFile::directory("compaction.directory", "/nonexistent/c"));
        let c = on(serde_json::json!({"on_rebound": true, "check_interval": "0s"}));
        assert_eq!(c.validate().unwrap_err().path, "compaction.check_interval");
        assert!(cfg(serde_json::json!({"directory": "/tmp", "compaction": {"on_start": true, "typo": 1}})).is_err());
    }

    #[test]
    fn refuses_a_missing_directory_and_bad_permissions() {
        assert_eq!(cfg(serde_json::json!({})).unwrap().validate().unwrap_err().path, "directory");
        let bad = cfg(serde_json::json!({"directory": "/tmp/q", "directory_permissions": "rwx"})).unwrap();
        assert_eq!(bad.validate().unwrap_err().path, "directory_permissions");
    }

    #[test]
    fn the_directory_is_needed_at_start_unless_it_may_be_created() {
        let c = cfg(serde_json::json!({"directory": "/nonexistent/q"})).unwrap();
        assert_eq!(c.needed_files(), vec![NeededFile::directory("directory", "/nonexistent/q")]);
        assert!(c.needed_files()[0].problem().unwrap().contains("/nonexistent/q"));
        let c = cfg(serde_json::json!({"directory": "/nonexistent/q", "create_directory": true})).unwrap();
        assert!(c.needed_files().is_empty());
        assert!(cfg(serde_json::json!({"directory": "/tmp"})).unwrap().needed_files()[0].problem().is_none());
    }

    #[tokio::test]
    async fn start_creates_the_directory_only_when_asked() {
        let base = std::env::temp_dir().join(format!("otelstack-fs-{}-{}", std::process::id(), fastrand::u64(..)));
        let dir = base.join("q");
        let ctx = BuildContext::new(crate::component::ComponentId::parse("file_storage").unwrap(), Default::default());
        let no = cfg(serde_json::json!({"directory": dir.to_str().unwrap()})).unwrap();
        let err = no.start(ctx.clone(), Health::new()).await.err().unwrap();
        assert!(err.to_string().contains("create_directory: true"), "{err}");
        let yes = cfg(serde_json::json!({"directory": dir.to_str().unwrap(), "create_directory": true})).unwrap();
        assert!(yes.start(ctx, Health::new()).await.is_ok());
        assert!(dir.is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
