//! What the soak reads back: the server's memory, the environments
//! running, and how a PR differs from what it was asked.

use super::*;

/// The server's memory, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    pub(crate) rss: u64,
    pub(crate) hwm: u64,
}

pub(crate) fn memory(pid: u32) -> Memory {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
    }
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The `showtime __app` processes started from `state_dir`: their
/// environment names.
pub(crate) fn app_processes(state_dir: &Path) -> Vec<(u32, String)> {
    let marker = format!("SHOWTIME_STATE_DIR={}", state_dir.display());
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<String> = environ
            .split(|b| *b == 0)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        if !vars.contains(&marker) {
            continue;
        }
        if let Some(name) = vars.iter().find_map(|v| v.strip_prefix("SHOWTIME_ENV=")) {
            found.push((pid, name.to_owned()));
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

/// The environment names recorded in the state directory (a cheap look:
/// no process is probed).
pub(crate) fn recorded(state_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(state_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_suffix(".json").map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub(crate) fn pr_of(name: &str) -> u64 {
    name.strip_prefix("pr-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

/// How a PR's labels and environments differ from what it was asked, or
/// `None` when they agree.
pub(crate) fn disagreement(
    codec: &Codec,
    pr: u64,
    asked: &Asked,
    labels: &[String],
    live: &[String],
) -> Option<String> {
    let state = codec.parse(labels);
    let mut problems = Vec::new();
    if !state.anomalies.is_empty() {
        problems.push(format!("anomalies {:?}", state.anomalies));
    }
    let waiting: Vec<&Trigger> = state
        .triggers
        .iter()
        .filter(|t| **t != Trigger::Up)
        .collect();
    if !waiting.is_empty() {
        problems.push(format!("triggers left {waiting:?}"));
    }
    let described: BTreeSet<String> = state
        .environments
        .keys()
        .map(|sha| format!("pr-{pr}-{sha}"))
        .collect();
    let live: BTreeSet<String> = live.iter().cloned().collect();
    if asked.open && asked.wants {
        let sha7 = &asked.head[..7];
        let name = format!("pr-{pr}-{sha7}");
        let running = state
            .environments
            .values()
            .all(|e| e.status == Some(Status::Running));
        let ok = described == BTreeSet::from([name.clone()])
            && running
            && state.active.as_ref().map(|s| s.as_str()) == Some(sha7)
            && state.building.is_none()
            && live == BTreeSet::from([name]);
        if !ok {
            problems.push(format!(
                "asked to run {sha7}: labels describe {described:?} (active {:?}, building \
                 {:?}), backend has {live:?}",
                state.active, state.building
            ));
        }
    } else if !described.is_empty() || !live.is_empty() || state.active.is_some() {
        problems.push(format!(
            "asked for nothing (open {}): labels describe {described:?}, backend has {live:?}",
            asked.open
        ));
    }
    (!problems.is_empty()).then(|| format!("#{pr}: {}", problems.join("; ")))
}
