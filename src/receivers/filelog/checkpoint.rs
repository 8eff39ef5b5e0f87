//! Where each file was read to, kept in the `storage` extension's directory
//! (one small JSON file per receiver, like upstream's `knownFiles` record):
//! the file's fingerprint, the offset of the first byte not yet accepted
//! by the pipeline, and its last path. Written to a temporary file and
//! renamed over the old one, so a crash leaves either the old or the new
//! record, never a torn one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::StorageSettings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// hex of the file's first bytes
    pub fingerprint: String,
    pub offset: u64,
    pub path: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    version: u32,
    files: Vec<Known>,
}

pub struct Checkpoints {
    path: PathBuf,
    fsync: bool,
}

impl Checkpoints {
    /// `receiver` is the component id; `/` becomes `_` in the file name.
    pub fn new(storage: &StorageSettings, receiver: &str) -> Checkpoints {
        let name = format!("receiver_filelog_{}.json", receiver.replace(['/', '\\'], "_"));
        Checkpoints { path: storage.directory.join(name), fsync: storage.fsync }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files known at the last save; nothing when there is no record yet.
    pub fn load(&self) -> anyhow::Result<Vec<Known>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let r: Record = serde_json::from_slice(&bytes).map_err(|e| {
                    anyhow::anyhow!(
                        "the checkpoint file {} is damaged ({e}); move it away to start again from start_at",
                        self.path.display()
                    )
                })?;
                Ok(r.files)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => anyhow::bail!("cannot read the checkpoint file {}: {e}", self.path.display()),
        }
    }

    pub fn save(&self, files: Vec<Known>) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let body = serde_json::to_vec(&Record { version: 1, files }).expect("serializable");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&body)?;
        if self.fsync {
            f.sync_all()?;
        }
        drop(f);
        std::fs::rename(&tmp, &self.path)?;
        if self.fsync {
            if let Some(dir) = self.path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = std::env::temp_dir().join(format!("filelog-ckpt-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let s = StorageSettings { directory: dir.clone(), timeout: Default::default(), fsync: true };
        let c = Checkpoints::new(&s, "filelog/app");
        assert_eq!(c.path(), dir.join("receiver_filelog_filelog_app.json"));
        assert!(c.load().unwrap().is_empty());
        let k = vec![Known { fingerprint: "6162".into(), offset: 42, path: "/var/log/a.log".into() }];
        c.save(k.clone()).unwrap();
        assert_eq!(c.load().unwrap(), k);
        assert!(!dir.join("receiver_filelog_filelog_app.json.tmp").exists());
        std::fs::write(c.path(), "{not json").unwrap();
        assert!(c.load().unwrap_err().to_string().contains("move it away"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
