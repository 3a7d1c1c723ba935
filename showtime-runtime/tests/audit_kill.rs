//! The audit trail survives a process killed while it writes: a writer
//! process appends records as fast as it can until it is sent `SIGKILL`;
//! the trail then reads back every record it holds (at most the last line
//! cut short, skipped), and a later writer appends after it cleanly.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use showtime_runtime::audit::{FileSink, Record, Sink, read};

/// The variable that turns this test binary into the writer.
const WRITER: &str = "SHOWTIME_AUDIT_KILL_WRITER";

fn record(i: u64) -> Record {
    Record {
        at: Utc::now(),
        program: "showtime".into(),
        pr: Some(i),
        actor: Some("maintainer".into()),
        sha: Some("abc123f".into()),
        reason: "create".into(),
        // Long enough that a kill often lands inside a write.
        action: format!("deploy pr-{i}-abc123f {}", "x".repeat(4000)),
        ok: true,
        error: None,
        environment: Some(format!("pr-{i}-abc123f")),
        change: None,
        size: None,
    }
}

/// The writer: run only as the child of the test below.
#[test]
#[ignore = "the child process of a_writer_killed_mid_write_leaves_a_readable_trail"]
fn writer() {
    let Ok(path) = std::env::var(WRITER) else {
        return;
    };
    let sink = FileSink::new(PathBuf::from(path), u64::MAX, 0);
    for i in 1.. {
        sink.write(&[record(i)]).unwrap();
    }
}

#[test]
fn a_writer_killed_mid_write_leaves_a_readable_trail() {
    let dir = std::env::temp_dir().join(format!("showtime-audit-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "writer", "--ignored", "--test-threads", "1"])
            .env(WRITER, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it write for a while, then kill it (SIGKILL on Unix).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).map_or(0, |m| m.len()) < 200_000 * (round + 1) {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer wrote nothing"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let (records, skipped) = read(&path).unwrap();
        assert!(!records.is_empty());
        // Each kill can cut at most the line being written.
        assert!(skipped <= round as usize + 1, "{skipped} lines skipped");
        assert!(records.iter().all(|r| r.action.len() > 4000));
    }
    // A later writer starts on a fresh line: its record reads back whole.
    let before = read(&path).unwrap().0.len();
    FileSink::new(&path, u64::MAX, 0)
        .write(&[record(0)])
        .unwrap();
    let (after, _) = read(&path).unwrap();
    assert_eq!(after.len(), before + 1);
    assert_eq!(after.last().unwrap().pr, Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
