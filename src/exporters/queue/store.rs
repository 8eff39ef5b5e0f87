//! The on-disk format of the persistent queue, one directory per exporter
//! and signal:
//!
//! - `NNNNNNNNNNNNNNNNNNNN.seg`: append-only segments of records
//!   `magic "OSQ1" | len u32 | seq u64 | items u32 | signal u8 | payload | crc32`
//!   (little endian; the CRC covers everything after the magic). The payload
//!   is the batch's encoded export request.
//! - `ack`: `"OSQA" | floor u64 | crc32`, replaced atomically by rename:
//!   every record with `seq < floor` was delivered or dropped.
//! - `lock`: held (flock) while a collector uses the directory.
//!
//! After a restart writing always starts in a new segment, so a torn tail is
//! never appended to; a damaged record is found by its CRC and skipped by
//! searching for the next magic. A segment is deleted once every record in it
//! is below the floor.

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::signal::Signal;

const MAGIC: &[u8; 4] = b"OSQ1";
const ACK_MAGIC: &[u8; 4] = b"OSQA";
/// magic, len, seq, items, signal
const HEADER: usize = 4 + 4 + 8 + 4 + 1;
const TRAILER: usize = 4;
/// A new segment is started once the active one is this large.
pub const SEGMENT_BYTES: u64 = 8 << 20;

/// Where one record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    pub seq: u64,
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
    pub items: u32,
}

/// Why a stored record cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the record is corrupt ({0})")]
    Corrupt(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

struct Segment {
    no: u64,
    file: File,
    /// the highest sequence number stored in it
    last_seq: Option<u64>,
    size: u64,
}

/// What a queue directory held when it was opened.
pub struct Recovered {
    pub store: Store,
    /// unacknowledged records, oldest first
    pub backlog: Vec<RecordRef>,
    /// records skipped because they were damaged (at least one per damaged region)
    pub corrupt: u64,
}

pub struct Store {
    dir: PathBuf,
    signal: Signal,
    fsync: bool,
    /// oldest first; the last one is written to
    segments: VecDeque<Segment>,
    /// start a new segment before the next write (after a failed write)
    rotate: bool,
    next_seq: u64,
    /// persisted: every record below it is acknowledged
    floor: u64,
    /// records stored and not yet acknowledged
    live: BTreeSet<u64>,
    _lock: File,
}

fn crc(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

fn signal_code(signal: Signal) -> u8 {
    match signal {
        Signal::Traces => 1,
        Signal::Metrics => 2,
        Signal::Logs => 3,
    }
}

/// Checks one record at `pos`; `Ok` with its total length and header fields.
fn parse_at(buf: &[u8], pos: usize, signal: Signal) -> Result<(usize, u64, u32, u32), String> {
    let rest = &buf[pos..];
    if rest.len() < HEADER + TRAILER {
        return Err("truncated header".into());
    }
    if &rest[..4] != MAGIC {
        return Err("no record marker".into());
    }
    let len = le_u32(&rest[4..]) as usize;
    let total = HEADER + len + TRAILER;
    if rest.len() < total {
        return Err("truncated record".into());
    }
    let body = &rest[4..HEADER + len];
    if crc(&[body]) != le_u32(&rest[HEADER + len..]) {
        return Err("checksum mismatch".into());
    }
    if rest[HEADER - 1] != signal_code(signal) {
        return Err(format!("record of another signal than {signal}"));
    }
    Ok((total, le_u64(&rest[8..]), le_u32(&rest[16..]), len as u32))
}

fn segment_path(dir: &Path, no: u64) -> PathBuf {
    dir.join(format!("{no:020}.seg"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Takes the directory's lock (flock, released by the kernel when the
/// process dies), retrying until `timeout`.
fn lock(dir: &Path, timeout: Duration) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("lock"))?;
    let until = Instant::now() + timeout;
    loop {
        // SAFETY: flock on a descriptor this function owns for as long as `file` lives
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(file);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::WouldBlock {
            return Err(err);
        }
        if Instant::now() >= until {
            return Err(io::Error::other(format!(
                "{} is in use by another collector process (waited {timeout:?}); give each collector its own file_storage directory",
                dir.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_floor(dir: &Path) -> Result<u64, String> {
    let b = match fs::read(dir.join("ack")) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.to_string()),
    };
    if b.len() != 16 || &b[..4] != ACK_MAGIC || crc(&[&b[..12]]) != le_u32(&b[12..]) {
        return Err("the ack file is damaged".into());
    }
    Ok(le_u64(&b[4..]))
}

impl Store {
    /// Opens (creating) the queue directory and reads back what it holds.
    pub fn open(dir: &Path, signal: Signal, fsync: bool, lock_timeout: Duration) -> io::Result<Recovered> {
        fs::create_dir_all(dir)?;
        let lock = lock(dir, lock_timeout)?;
        let floor = read_floor(dir).unwrap_or_else(|e| {
            tracing::warn!(dir = %dir.display(), error = %e, "every stored record is sent again (duplicates are possible)");
            0
        });
        let mut numbers = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(no) = name.strip_suffix(".seg").and_then(|n| n.parse::<u64>().ok()) {
                numbers.push(no);
            }
        }
        numbers.sort_unstable();

        let (mut backlog, mut corrupt, mut max_seq) = (Vec::new(), 0u64, None::<u64>);
        let mut segments = VecDeque::new();
        for &no in &numbers {
            let path = segment_path(dir, no);
            let buf = fs::read(&path)?;
            let mut last_seq = None;
            let (mut pos, mut damaged) = (0usize, false);
            while pos < buf.len() {
                match parse_at(&buf, pos, signal) {
                    Ok((total, seq, items, len)) => {
                        if damaged {
                            // the records lost in between, when the numbering tells
                            let gap = last_seq.map_or(1, |l: u64| seq.saturating_sub(l + 1).max(1));
                            corrupt += gap;
                            damaged = false;
                        }
                        if seq >= floor {
                            backlog.push(RecordRef { seq, segment: no, offset: pos as u64, len, items });
                        }
                        last_seq = Some(seq);
                        max_seq = max_seq.max(Some(seq));
                        pos += total;
                    }
                    Err(why) => {
                        if !damaged {
                            tracing::warn!(file = %path.display(), offset = pos, reason = %why, "skipping a damaged record in the persistent queue");
                        }
                        damaged = true;
                        pos = match buf[pos + 1..].windows(4).position(|w| w == MAGIC) {
                            Some(i) => pos + 1 + i,
                            None => buf.len(),
                        };
                    }
                }
            }
            if damaged {
                corrupt += 1;
            }
            if last_seq.is_none_or(|l| l < floor) {
                fs::remove_file(&path)?;
                continue;
            }
            let file = OpenOptions::new().read(true).append(true).open(&path)?;
            segments.push_back(Segment { no, file, last_seq, size: buf.len() as u64 });
        }
        backlog.sort_by_key(|r| r.seq);
        backlog.dedup_by_key(|r| r.seq);
        let live = backlog.iter().map(|r| r.seq).collect();
        let next_seq = max_seq.map_or(floor, |m| (m + 1).max(floor));
        let mut store =
            Store { dir: dir.to_path_buf(), signal, fsync, segments, rotate: true, next_seq, floor, live, _lock: lock };
        store.start_segment(numbers.last().map_or(0, |n| n + 1))?;
        Ok(Recovered { store, backlog, corrupt })
    }

    fn start_segment(&mut self, no: u64) -> io::Result<()> {
        let path = segment_path(&self.dir, no);
        let file = OpenOptions::new().read(true).append(true).create_new(true).open(&path)?;
        if self.fsync {
            sync_dir(&self.dir)?;
        }
        self.segments.push_back(Segment { no, file, last_seq: None, size: 0 });
        self.rotate = false;
        Ok(())
    }

    /// Appends one record; durable on return when `fsync` is set.
    pub fn append(&mut self, items: u32, payload: &[u8]) -> io::Result<RecordRef> {
        let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("a batch of 4 GiB or more"))?;
        let active = self.segments.back().expect("an active segment");
        if self.rotate || (active.size > 0 && active.size + payload.len() as u64 > SEGMENT_BYTES) {
            let next = active.no + 1;
            self.start_segment(next)?;
        }
        let seq = self.next_seq;
        let mut buf = Vec::with_capacity(HEADER + payload.len() + TRAILER);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&seq.to_le_bytes());
        buf.extend_from_slice(&items.to_le_bytes());
        buf.push(signal_code(self.signal));
        buf.extend_from_slice(payload);
        let sum = crc(&[&buf[4..]]);
        buf.extend_from_slice(&sum.to_le_bytes());
        let seg = self.segments.back_mut().expect("an active segment");
        let written = seg.file.write_all(&buf).and_then(|()| if self.fsync { seg.file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            // what reached the file is skipped as damaged at the next start
            self.rotate = true;
            return Err(e);
        }
        let offset = seg.size;
        seg.size += buf.len() as u64;
        seg.last_seq = Some(seq);
        self.next_seq += 1;
        self.live.insert(seq);
        Ok(RecordRef { seq, segment: seg.no, offset, len, items })
    }

    /// Reads a record back, checking it again.
    pub fn read(&self, r: &RecordRef) -> Result<Vec<u8>, ReadError> {
        let seg = self
            .segments
            .iter()
            .find(|s| s.no == r.segment)
            .ok_or_else(|| ReadError::Corrupt(format!("segment {} is gone", r.segment)))?;
        let mut buf = vec![0; HEADER + r.len as usize + TRAILER];
        seg.file.read_exact_at(&mut buf, r.offset)?;
        let (_, seq, _, _) = parse_at(&buf, 0, self.signal).map_err(ReadError::Corrupt)?;
        if seq != r.seq {
            return Err(ReadError::Corrupt(format!("found record {seq} where {} was written", r.seq)));
        }
        buf.truncate(HEADER + r.len as usize);
        buf.drain(..HEADER);
        Ok(buf)
    }

    /// Marks a record delivered or dropped; persists the new floor and
    /// deletes segments that are fully acknowledged.
    pub fn ack(&mut self, seq: u64) -> io::Result<()> {
        if !self.live.remove(&seq) {
            return Ok(());
        }
        let floor = self.live.first().copied().unwrap_or(self.next_seq);
        if floor == self.floor {
            return Ok(());
        }
        self.write_floor(floor)?;
        self.floor = floor;
        while self.segments.len() > 1 && self.segments[0].last_seq.is_none_or(|l| l < floor) {
            let seg = self.segments.pop_front().expect("checked");
            fs::remove_file(segment_path(&self.dir, seg.no))?;
        }
        Ok(())
    }

    fn write_floor(&self, floor: u64) -> io::Result<()> {
        let mut b = Vec::with_capacity(16);
        b.extend_from_slice(ACK_MAGIC);
        b.extend_from_slice(&floor.to_le_bytes());
        let sum = crc(&[&b]);
        b.extend_from_slice(&sum.to_le_bytes());
        let tmp = self.dir.join("ack.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&b)?;
        if self.fsync {
            f.sync_data()?;
        }
        fs::rename(&tmp, self.dir.join("ack"))?;
        if self.fsync {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}
