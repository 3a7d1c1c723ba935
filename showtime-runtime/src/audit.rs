//! The audit trail: every mutation Showtime makes, as JSON lines that last.
//!
//! Each record says when, which program, which PR, who asked, what was done
//! and how it went. [`FileSink`] appends one line per record and syncs it to
//! disk before returning, rotating the file by size (`audit.jsonl` →
//! `audit.jsonl.1` …); [`StdoutSink`] prints the lines for a log driver to
//! collect. [`read`] reads a trail back, oldest first, across rotations; a
//! line cut short by a crash (the only way a line can be torn, since each is
//! written whole and appended) is skipped, never an error. No secret, token
//! or webhook body ever reaches a record: only what the engine's audit events
//! already carry.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use showtime_core::engine::{AuditEvent, ChangeKind, Outcome};
use showtime_core::sweep::SweepReport;

/// `[audit]` in `showtime.toml`; `SHOWTIME_AUDIT_FILE` overrides `path`,
/// and `SHOWTIME_AUDIT_FILE=-` prints the trail on standard output instead.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// The trail's file (no trail when neither it nor the variable is set).
    pub path: Option<PathBuf>,
    /// Rotate once the file passes this many bytes (default 10 MiB).
    pub max_bytes: Option<u64>,
    /// Older files kept (default 5).
    pub keep: Option<usize>,
}

impl AuditSection {
    /// The sink this section and the environment configure, if any.
    pub fn sink(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<std::sync::Arc<dyn Sink>> {
        let path = env("SHOWTIME_AUDIT_FILE")
            .filter(|v| !v.trim().is_empty())
            .map(PathBuf::from)
            .or_else(|| self.path.clone())?;
        if path.as_os_str() == "-" {
            return Some(std::sync::Arc::new(StdoutSink));
        }
        Some(std::sync::Arc::new(FileSink::new(
            path,
            self.max_bytes.unwrap_or(10 << 20),
            self.keep.unwrap_or(5),
        )))
    }

    /// The trail's file, for reading it back.
    pub fn file(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
        env("SHOWTIME_AUDIT_FILE")
            .filter(|v| !v.trim().is_empty() && v != "-")
            .map(PathBuf::from)
            .or_else(|| self.path.clone())
    }
}

/// One mutation, as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When it was done.
    pub at: DateTime<Utc>,
    /// Which program did it (`showtime`, `showtime-webhook`, …).
    pub program: String,
    /// The PR; `None` for a change to the repository (a label definition).
    pub pr: Option<u64>,
    /// Who asked (absent for a sweep).
    pub actor: Option<String>,
    /// The commit: the environment's for a cloud step, else the PR's head.
    #[serde(default)]
    pub sha: Option<String>,
    /// Why: the plan's reason (`create`, `stop requested`, `TTL expired`).
    pub reason: String,
    /// What was done, as the plan's step prints.
    pub action: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// The error, when it did not.
    pub error: Option<String>,
    /// The environment a deploy, configuration change or destroy concerns
    /// (`pr-42-abc123f`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// What that step did to the environment's life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// The size it runs with from then on (`None`: the default size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

/// What a step did to an environment's life, as the trail spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// It runs, and costs, from then on.
    Deployed,
    /// Its configuration (perhaps its size) changed in place.
    Configured,
    /// It costs nothing from then on.
    Destroyed,
    /// Put to sleep (scaled to zero): it costs nothing until it wakes.
    Slept,
    /// Woken from sleep: it costs again from then on.
    Woke,
}

impl From<ChangeKind> for Change {
    fn from(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::Deployed => Change::Deployed,
            ChangeKind::Configured => Change::Configured,
            ChangeKind::Destroyed => Change::Destroyed,
            ChangeKind::Slept => Change::Slept,
            ChangeKind::Woke => Change::Woke,
        }
    }
}

impl Record {
    /// The records of one reconcile's outcome, stamped `at` for `program`.
    pub fn from_outcome(outcome: &Outcome, program: &str, at: DateTime<Utc>) -> Vec<Record> {
        let reason = reasons(&outcome.plans);
        outcome
            .audit
            .iter()
            .map(|event| Record::from_event(event, &reason, program, at))
            .collect()
    }

    /// The records of one sweep pass: each PR's reconcile, the orphans'
    /// destroys and the label definitions deleted.
    pub fn from_sweep(report: &SweepReport, program: &str, at: DateTime<Utc>) -> Vec<Record> {
        let mut records: Vec<Record> = report
            .audit
            .iter()
            .map(|event| {
                let reason = match report.prs.get(&event.pr) {
                    Some(plans) => reasons(plans),
                    None => "orphan: its PR is gone".to_owned(),
                };
                Record::from_event(event, &reason, program, at)
            })
            .collect();
        if !report.dry_run {
            records.extend(report.deleted_labels.iter().map(|name| Record {
                at,
                program: program.to_owned(),
                pr: None,
                actor: None,
                sha: None,
                reason: "no issue or PR carries it".to_owned(),
                action: format!("delete label definition `{name}`"),
                ok: true,
                error: None,
                environment: None,
                change: None,
                size: None,
            }));
        }
        records
    }

    fn from_event(event: &AuditEvent, reason: &str, program: &str, at: DateTime<Utc>) -> Record {
        let change = event.change.as_ref();
        Record {
            at,
            program: program.to_owned(),
            pr: Some(event.pr.get()),
            actor: event.actor.as_ref().map(ToString::to_string),
            sha: event.sha.as_ref().map(ToString::to_string),
            reason: reason.to_owned(),
            action: event.action.clone(),
            ok: event.result.is_ok(),
            error: event.result.as_ref().err().cloned(),
            environment: change.map(|c| c.env.name()),
            change: change.map(|c| c.kind.into()),
            size: change
                .and_then(|c| c.size.as_ref())
                .map(ToString::to_string),
        }
    }
}

/// The plans' reasons, in order.
fn reasons(plans: &[showtime_core::plan::Plan]) -> String {
    plans
        .iter()
        .map(|p| p.reason.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where records go.
pub trait Sink: Send + Sync {
    /// Keeps `records`, durably where the sink can, before returning.
    fn write(&self, records: &[Record]) -> io::Result<()>;
}

/// Prints each record as a JSON line on standard output.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl Sink for StdoutSink {
    fn write(&self, records: &[Record]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        for record in records {
            writeln!(out, "{}", line(record)?)?;
        }
        out.flush()
    }
}

/// Appends JSON lines to a file, synced per record, rotated by size.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    lock: Mutex<()>,
}

impl FileSink {
    /// A trail at `path`, rotated once it passes `max_bytes`, keeping
    /// `keep` older files (`path.1` is the newest of them).
    pub fn new(path: impl Into<PathBuf>, max_bytes: u64, keep: usize) -> Self {
        FileSink {
            path: path.into(),
            max_bytes: max_bytes.max(1),
            keep,
            lock: Mutex::new(()),
        }
    }

    fn rotate(&self) -> io::Result<()> {
        for i in (1..self.keep).rev() {
            let from = rotated(&self.path, i);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, i + 1))?;
            }
        }
        if self.keep == 0 {
            std::fs::remove_file(&self.path)
        } else {
            std::fs::rename(&self.path, rotated(&self.path, 1))
        }
    }
}

impl Sink for FileSink {
    fn write(&self, records: &[Record]) -> io::Result<()> {
        let _one_writer = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        for record in records {
            let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
            if size >= self.max_bytes {
                self.rotate()?;
            }
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&self.path)?;
            // One write per line, then fsync: a crash leaves at most the
            // last line cut short. It is ended here before the next line,
            // so the reader skips it alone.
            let mut text = String::new();
            if !ends_with_newline(&mut file)? {
                text.push('\n');
            }
            text.push_str(&line(record)?);
            text.push('\n');
            file.write_all(text.as_bytes())?;
            file.sync_data()?;
        }
        Ok(())
    }
}

/// Whether `file` is empty or its last byte ends a line.
fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn line(record: &Record) -> io::Result<String> {
    serde_json::to_string(record).map_err(io::Error::other)
}

fn rotated(path: &Path, i: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{i}"));
    PathBuf::from(name)
}

/// Every record of the trail at `path` (its rotations included), oldest
/// first, and how many lines were skipped as unreadable (torn by a crash).
pub fn read(path: &Path) -> io::Result<(Vec<Record>, usize)> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|i| rotated(path, i))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_owned());
    let (mut records, mut skipped) = (Vec::new(), 0);
    for file in files {
        let file = match File::open(&file) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for text in BufReader::new(file).split(b'\n') {
            let text = text?;
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Record>(&text) {
                Ok(record) => records.push(record),
                Err(_) => skipped += 1,
            }
        }
    }
    Ok((records, skipped))
}

/// The records of `pr` (all PRs when `None`) made since `since` before
/// `now` (all when `None`).
pub fn select(
    records: Vec<Record>,
    pr: Option<u64>,
    since: Option<std::time::Duration>,
    now: DateTime<Utc>,
) -> Vec<Record> {
    let from = since
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| now.checked_sub_signed(d));
    records
        .into_iter()
        .filter(|r| pr.is_none_or(|pr| r.pr == Some(pr)))
        .filter(|r| from.is_none_or(|from| r.at >= from))
        .collect()
}

/// `showtime audit`: the trail at `path`, selected as [`select`] does, as
/// pretty JSON or a table, with a note of any line a crash cut short.
pub fn report(
    path: &Path,
    pr: Option<u64>,
    since: Option<std::time::Duration>,
    now: DateTime<Utc>,
    json: bool,
) -> io::Result<String> {
    let (records, skipped) = read(path)?;
    let records = select(records, pr, since, now);
    let mut text = match json {
        true => serde_json::to_string_pretty(&records).map_err(io::Error::other)? + "\n",
        false => table(&records),
    };
    if skipped > 0 && !json {
        text.push_str(&format!(
            "({skipped} unreadable line(s) skipped: cut short by a crash)\n"
        ));
    }
    Ok(text)
}

/// The records as a table for people.
pub fn table(records: &[Record]) -> String {
    let mut rows = vec![
        ["WHEN (UTC)", "PROGRAM", "PR", "ACTOR", "ACTION", "RESULT"]
            .map(str::to_owned)
            .to_vec(),
    ];
    rows.extend(records.iter().map(|r| {
        vec![
            r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.program.clone(),
            r.pr.map_or_else(|| "-".to_owned(), |pr| format!("#{pr}")),
            r.actor.clone().unwrap_or_else(|| "-".to_owned()),
            crate::text::printable(&r.action),
            match &r.error {
                None => "ok".to_owned(),
                Some(e) => format!("error: {}", crate::text::printable(e)),
            },
        ]
    }));
    crate::text::table(&rows, "")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record(pr: u64, action: &str) -> Record {
        Record {
            at: DateTime::UNIX_EPOCH,
            program: "showtime".into(),
            pr: Some(pr),
            actor: Some("maintainer".into()),
            sha: Some("abc123f".into()),
            reason: "create".into(),
            action: action.into(),
            ok: true,
            error: None,
            environment: None,
            change: None,
            size: None,
        }
    }

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("showtime-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn records_come_back_in_order_across_rotations() {
        let dir = dir("rotate");
        let path = dir.join("audit.jsonl");
        let sink = FileSink::new(&path, 300, 5);
        for i in 0..20 {
            sink.write(&[record(i, "deploy pr-1-abc123f")]).unwrap();
        }
        assert!(rotated(&path, 1).exists(), "the file was rotated");
        let (records, skipped) = read(&path).unwrap();
        assert_eq!(skipped, 0);
        let prs: Vec<u64> = records.iter().filter_map(|r| r.pr).collect();
        let expected: Vec<u64> = (20 - prs.len() as u64..20).collect();
        assert_eq!(prs, expected, "oldest first, the oldest rotated away");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_line_torn_by_a_crash_is_skipped_not_fatal() {
        let dir = dir("torn");
        let path = dir.join("audit.jsonl");
        let sink = FileSink::new(&path, u64::MAX, 1);
        sink.write(&[record(1, "a")]).unwrap();
        // A process killed mid-write: half a line, no newline.
        let half = line(&record(2, "b")).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&half.as_bytes()[..half.len() / 2]).unwrap();
        drop(file);
        sink.write(&[record(3, "c")]).unwrap();
        let (records, skipped) = read(&path).unwrap();
        let prs: Vec<u64> = records.iter().filter_map(|r| r.pr).collect();
        assert_eq!(prs, [1, 3], "only the torn record is lost");
        assert_eq!(skipped, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
