//! The poll loop's work: each `poll_interval` find the files, pair them
//! with what was known, read each from its offset, cut entries, run the
//! operators and hand the records to the pipeline. An offset moves (and the
//! checkpoint is written) only after the pipeline accepted the records; a
//! refusal is retried with backoff, never dropped.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::checkpoint::{Checkpoints, Known};
use super::config::{FileLogConfig, RetryOnFailure};
use super::entry::{key_values, Entry};
use super::files::{match_paths, Tracked};
use super::finder::Finder;
use super::operators::Pipeline;
use super::split::Splitter;
use crate::component::{ConsumeError, Consumer};
use crate::otlp::data::Decoded;
use crate::signal::Batch;
use crate::telemetry::ReceiverMetrics;

/// Bytes read from a file per step; entries per batch follow from it.
const CHUNK: u64 = 256 * 1024;

/// The shutdown came while a batch waited for the pipeline.
pub struct Stopped;

pub struct Tailer {
    pub id: String,
    finder: Finder,
    splitter: Splitter,
    pipeline: Pipeline,
    cfg: FileLogConfig,
    known: Vec<Tracked>,
    first_poll: bool,
    /// where the next batch of files starts when more than `max_concurrent_files` match
    cursor: usize,
    checkpoints: Option<Checkpoints>,
    /// what the checkpoint file holds now
    saved: Vec<Known>,
    consumer: Arc<dyn Consumer>,
    metrics: ReceiverMetrics,
}

pub fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

impl Tailer {
    pub fn new(
        id: String,
        cfg: &FileLogConfig,
        checkpoints: Option<Checkpoints>,
        consumer: Arc<dyn Consumer>,
        metrics: ReceiverMetrics,
    ) -> anyhow::Result<Tailer> {
        let finder =
            Finder::new(&cfg.include, &cfg.exclude, cfg.exclude_older_than.map(|d| d.0)).map_err(anyhow::Error::msg)?;
        let splitter = Splitter::new(cfg).map_err(anyhow::Error::msg)?;
        let pipeline = Pipeline::build(&cfg.operators).map_err(|e| anyhow::anyhow!("{}: {}", e.path, e.message))?;
        let saved = match &checkpoints {
            Some(c) => c.load()?,
            None => Vec::new(),
        };
        let known = saved.iter().filter_map(Tracked::from_known).collect();
        Ok(Tailer {
            id,
            finder,
            splitter,
            pipeline,
            cfg: cfg.clone(),
            known,
            first_poll: true,
            cursor: 0,
            checkpoints,
            saved,
            consumer,
            metrics,
        })
    }

    /// One poll: match, read every file to its end (or until stopped).
    pub async fn poll(&mut self, stop: &CancellationToken) -> Result<(), Stopped> {
        let mut paths = self.finder.find();
        let max = self.cfg.max_concurrent_files;
        if paths.len() > max {
            // in batches, as upstream: the next poll takes the next files
            let start = self.cursor % paths.len();
            paths.rotate_left(start);
            paths.truncate(max);
            self.cursor = start + max;
        }
        let known = std::mem::take(&mut self.known);
        let start_at = self.cfg.start_at;
        self.known = match_paths(known, &paths, self.cfg.fingerprint_size.0, start_at, self.first_poll);
        self.first_poll = false;
        for i in 0..self.known.len() {
            self.read(i, stop).await?;
        }
        self.save();
        Ok(())
    }

    async fn read(&mut self, i: usize, stop: &CancellationToken) -> Result<(), Stopped> {
        let force_flush = self.cfg.force_flush_period.0;
        loop {
            if stop.is_cancelled() {
                return Err(Stopped);
            }
            let t = &mut self.known[i];
            let Some(file) = &t.file else { return Ok(()) };
            let orphan = t.unmatched_polls > 0;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            if size < t.offset {
                if orphan {
                    t.file = None;
                    return Ok(());
                }
                // truncated since this poll matched it: the content is new
                t.offset = 0;
            }
            if size != t.last_size {
                t.last_size = size;
                t.last_growth = Instant::now();
            }
            let want = (size - t.offset).min(CHUNK.max(self.cfg.max_log_size.0 + 1));
            let mut buf = vec![0; want as usize];
            let mut got = 0;
            while got < buf.len() {
                match file.read_at(&mut buf[got..], t.offset + got as u64) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            buf.truncate(got);
            let at_end = t.offset + got as u64 >= size;
            let quiet = t.last_growth.elapsed() >= force_flush;
            let split = self.splitter.split(&buf, at_end && quiet);
            if split.consumed == 0 {
                // a file that left the match is closed once it has been
                // quiet for force_flush_period: an application may still
                // write to it until it reopens its log
                if orphan && quiet {
                    self.known[i].file = None;
                }
                return Ok(());
            }
            let path = t.path.clone();
            let records = self.entries(&path, split.tokens);
            if !records.is_empty() {
                self.send(records, stop).await?;
            }
            self.known[i].offset += split.consumed as u64;
            self.save();
            if at_end {
                return Ok(());
            }
        }
    }

    fn entries(&self, path: &Path, tokens: Vec<Vec<u8>>) -> Vec<(Map<String, Value>, LogRecord)> {
        let mut file_attrs = Map::new();
        let c = &self.cfg;
        if c.include_file_name {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            file_attrs.insert("log.file.name".into(), Value::String(name));
        }
        if c.include_file_path {
            file_attrs.insert("log.file.path".into(), Value::String(path.display().to_string()));
        }
        if c.include_file_name_resolved || c.include_file_path_resolved {
            let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            if c.include_file_name_resolved {
                let name = resolved.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                file_attrs.insert("log.file.name_resolved".into(), Value::String(name));
            }
            if c.include_file_path_resolved {
                file_attrs.insert("log.file.path_resolved".into(), Value::String(resolved.display().to_string()));
            }
        }
        let observed = now_ns();
        tokens
            .into_iter()
            .filter_map(|tok| {
                let mut e = Entry::new(String::from_utf8_lossy(&tok).into_owned(), observed);
                e.attributes = file_attrs.clone();
                e.attributes.extend(c.attributes.clone());
                e.resource = c.resource.clone();
                let e = self.pipeline.process(e)?;
                Some((e.resource.clone(), e.to_log_record()))
            })
            .collect()
    }

    async fn send(
        &self,
        records: Vec<(Map<String, Value>, LogRecord)>,
        stop: &CancellationToken,
    ) -> Result<(), Stopped> {
        let mut groups: Vec<(Map<String, Value>, Vec<LogRecord>)> = Vec::new();
        for (res, rec) in records {
            match groups.iter_mut().find(|(r, _)| *r == res) {
                Some((_, v)) => v.push(rec),
                None => groups.push((res, vec![rec])),
            }
        }
        let resource_logs = groups
            .into_iter()
            .map(|(res, log_records)| ResourceLogs {
                resource: Some(Resource { attributes: key_values(&res), ..Default::default() }),
                scope_logs: vec![ScopeLogs { log_records, ..Default::default() }],
                ..Default::default()
            })
            .collect();
        let batch = Batch::from_decoded(Decoded::Logs(resource_logs));
        deliver(&*self.consumer, batch, &self.cfg.retry_on_failure, &self.metrics, &self.id, stop).await
    }

    /// Writes where every known file was read to, when that changed
    /// (nothing without `storage`).
    pub fn save(&mut self) {
        let Some(c) = &self.checkpoints else { return };
        let now: Vec<Known> = self.known.iter().map(Tracked::to_known).collect();
        if now == self.saved {
            return;
        }
        match c.save(now.clone()) {
            Ok(()) => self.saved = now,
            Err(e) => {
                tracing::warn!(receiver = %self.id, file = %c.path().display(), error = %e, "cannot write the filelog checkpoint")
            }
        }
    }
}

/// Hands a batch to the pipeline until it is accepted: a refusal (such as
/// memory_limiter's) is retried with backoff, a permanent error is logged
/// and the batch dropped, as upstream's consumer retry does. With
/// `retry_on_failure.enabled`, a refused batch is dropped after
/// `max_elapsed_time` (0: never).
pub async fn deliver(
    consumer: &dyn Consumer,
    batch: Batch,
    retry: &RetryOnFailure,
    metrics: &ReceiverMetrics,
    id: &str,
    stop: &CancellationToken,
) -> Result<(), Stopped> {
    let items = batch.items() as u64;
    let started = Instant::now();
    let mut wait = retry.initial_interval.0.max(Duration::from_millis(10));
    loop {
        match consumer.consume(batch.clone()).await {
            Ok(()) => {
                metrics.accepted.inc_by(items);
                return Ok(());
            }
            Err(ConsumeError::Permanent(e)) => {
                metrics.refused.inc_by(items);
                tracing::error!(receiver = %id, error = %e, records = items, "the pipeline rejected log records for good; they are dropped");
                return Ok(());
            }
            Err(ConsumeError::Refused { reason, retry_after }) => {
                metrics.refused.inc_by(items);
                let max = retry.max_elapsed_time.0;
                if retry.enabled && !max.is_zero() && started.elapsed() >= max {
                    tracing::error!(receiver = %id, error = %reason, records = items, "dropping log records after retry_on_failure.max_elapsed_time");
                    return Ok(());
                }
                let pause = retry_after.unwrap_or(wait);
                tracing::debug!(receiver = %id, error = %reason, retry_in = ?pause, "the pipeline refused log records; the file offset stays");
                tokio::select! {
                    _ = stop.cancelled() => return Err(Stopped),
                    _ = tokio::time::sleep(pause) => {}
                }
                wait = (wait * 2).min(retry.max_interval.0.max(wait));
            }
        }
    }
}
