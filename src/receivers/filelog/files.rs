//! Knowing files by their first bytes (fileconsumer's fingerprints): each
//! poll opens the matched paths and pairs each with the file it was before
//! by fingerprint, so a renamed (rotated) file keeps its offset and a new
//! file at the old path is read from its start. A file that left the match
//! (renamed away, deleted) is still read through its open handle until it
//! has not grown for `force_flush_period`, so the lines written just before
//! rotation, and until the application reopens its log, are not lost.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Instant;

use super::checkpoint::Known;
use super::config::StartAt;

/// How many polls a file that is no longer matched and no longer open is
/// remembered (upstream keeps three poll generations).
const REMEMBER_POLLS: u32 = 3;

pub struct Tracked {
    pub fingerprint: Vec<u8>,
    /// the first byte not yet accepted by the pipeline
    pub offset: u64,
    pub path: PathBuf,
    pub file: Option<File>,
    pub last_size: u64,
    pub last_growth: Instant,
    /// polls since the file was last matched by `include`
    pub unmatched_polls: u32,
}

impl Tracked {
    fn new(fingerprint: Vec<u8>, offset: u64, path: PathBuf, file: Option<File>) -> Tracked {
        Tracked { fingerprint, offset, path, file, last_size: offset, last_growth: Instant::now(), unmatched_polls: 0 }
    }

    pub fn from_known(k: &Known) -> Option<Tracked> {
        let fp = const_hex::decode(&k.fingerprint).ok().filter(|f| !f.is_empty())?;
        Some(Tracked::new(fp, k.offset, PathBuf::from(&k.path), None))
    }

    pub fn to_known(&self) -> Known {
        Known {
            fingerprint: const_hex::encode(&self.fingerprint),
            offset: self.offset,
            path: self.path.display().to_string(),
        }
    }
}

fn fingerprint(file: &File, size: u64, max: u64) -> Vec<u8> {
    let mut buf = vec![0; size.min(max) as usize];
    let mut read = 0;
    while read < buf.len() {
        match file.read_at(&mut buf[read..], read as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    buf.truncate(read);
    buf
}

/// Pairs this poll's paths with the files known before. `first_poll`
/// applies `start_at` to files nobody knew.
pub fn match_paths(
    known: Vec<Tracked>,
    paths: &[PathBuf],
    fingerprint_size: u64,
    start_at: StartAt,
    first_poll: bool,
) -> Vec<Tracked> {
    let mut prev = known;
    let mut current: Vec<Tracked> = Vec::new();
    let mut continuing: Vec<Tracked> = Vec::new();
    for path in paths {
        let Ok(file) = File::open(path) else { continue };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        // an empty file cannot be told apart from any other yet
        let fp = fingerprint(&file, size, fingerprint_size);
        if fp.is_empty() {
            continue;
        }
        // the same file through a second path (a link) is read once
        let seen = |c: &Tracked| fp.starts_with(&c.fingerprint) || c.fingerprint.starts_with(&fp);
        if current.iter().chain(&continuing).any(seen) {
            continue;
        }
        let best = prev
            .iter()
            .enumerate()
            .filter(|(_, t)| fp.starts_with(&t.fingerprint))
            .max_by_key(|(_, t)| t.fingerprint.len())
            .map(|(i, _)| i);
        if let Some(i) = best {
            let mut t = prev.remove(i);
            if size < t.offset {
                // truncated and written again: the content is new
                t.offset = 0;
            }
            t.fingerprint = fp;
            t.file = Some(file);
            t.path = path.clone();
            t.unmatched_polls = 0;
            continuing.push(t);
        } else if prev.iter().any(|t| t.fingerprint.starts_with(&fp)) {
            // shorter than a known file's first bytes: a copy in progress
            // (copytruncate) or a rewrite; wait until it is told apart
            continue;
        } else {
            let offset = if first_poll && start_at == StartAt::End { size } else { 0 };
            current.push(Tracked::new(fp, offset, path.clone(), Some(file)));
        }
    }
    // older lines first: files that left the match, then files read
    // before (a rotated copy's tail), then new files
    let mut out: Vec<Tracked> = prev
        .into_iter()
        .filter_map(|mut t| {
            t.unmatched_polls += 1;
            (t.file.is_some() || t.unmatched_polls <= REMEMBER_POLLS).then_some(t)
        })
        .collect();
    out.extend(continuing);
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("filelog-files-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn append(p: &PathBuf, s: &str) {
        std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap().write_all(s.as_bytes()).unwrap();
    }

    #[test]
    fn a_renamed_file_keeps_its_offset_and_a_new_one_starts_at_zero() {
        let d = dir();
        let (log, old) = (d.join("app.log"), d.join("app.log.1"));
        append(&log, "first line\n");
        let mut k = match_paths(Vec::new(), std::slice::from_ref(&log), 1000, StartAt::End, true);
        assert_eq!((k.len(), k[0].offset), (1, 11), "start_at end skips what was there");
        append(&log, "second line\n");
        k[0].offset = 23;
        std::fs::rename(&log, &old).unwrap();
        append(&log, "new file\n");
        let k = match_paths(k, &[old.clone(), log.clone()], 1000, StartAt::End, false);
        let by = |p: &PathBuf| k.iter().find(|t| &t.path == p).unwrap();
        assert_eq!(by(&old).offset, 23);
        assert_eq!(by(&log).offset, 0);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_file_gone_from_the_match_stays_open_and_is_forgotten_later() {
        let d = dir();
        let log = d.join("a.log");
        append(&log, "hello\n");
        let mut k = match_paths(Vec::new(), std::slice::from_ref(&log), 1000, StartAt::Beginning, true);
        assert_eq!(k[0].offset, 0);
        std::fs::remove_file(&log).unwrap();
        k = match_paths(k, &[], 1000, StartAt::Beginning, false);
        assert!(k[0].file.is_some() && k[0].unmatched_polls == 1);
        k[0].file = None;
        for _ in 0..REMEMBER_POLLS {
            k = match_paths(k, &[], 1000, StartAt::Beginning, false);
        }
        assert!(k.is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn truncation_restarts_and_a_partial_copy_waits() {
        let d = dir();
        let (log, copy) = (d.join("a.log"), d.join("a.log.1"));
        append(&log, "0123456789abcdef\n");
        let mut k = match_paths(Vec::new(), std::slice::from_ref(&log), 1000, StartAt::Beginning, true);
        k[0].offset = 17;
        append(&copy, "0123");
        std::fs::write(&log, "").unwrap();
        k = match_paths(k, &[log.clone(), copy.clone()], 1000, StartAt::Beginning, false);
        assert_eq!(k.len(), 1, "the empty file and the partial copy are not read yet");
        append(&copy, "456789abcdef\nmore\n");
        append(&log, "fresh\n");
        k = match_paths(k, &[log.clone(), copy.clone()], 1000, StartAt::Beginning, false);
        let by = |p: &PathBuf| k.iter().find(|t| &t.path == p).unwrap();
        assert_eq!((by(&copy).offset, by(&log).offset), (17, 0));
        std::fs::remove_dir_all(d).unwrap();
    }
}
