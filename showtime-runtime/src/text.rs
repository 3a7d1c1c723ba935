//! Text for people: aligned tables (emoji take two columns), the summary
//! of a PR's labels, the label reference, and environments. Scripts use the
//! JSON of [`crate::view`] instead; every value shown here is escaped, so a
//! label cannot move a terminal's cursor.

use showtime_core::labels::{
    self, AnomalyKind, Codec, DEFAULT_LEGACY_TRIGGER, LabelState, Trigger,
};
use showtime_core::ports::{EnvInfo, PullRequest};
use showtime_core::{Config, PrNumber};

use crate::view::health_name;

/// The readable summary `labels parse` prints: pointers, environments,
/// lifetime, configuration, triggers, flags, anomalies and other labels.
pub fn summary(state: &LabelState, codec: &Codec) -> String {
    let none = || "-".to_owned();
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let triggers: Vec<String> = state
        .triggers
        .iter()
        .map(|t| match t {
            Trigger::Up => format!("up ({})", printable(codec.legacy_trigger())),
            other => other.to_string(),
        })
        .collect();
    let facts = [
        (
            "Active:",
            state.active.as_ref().map_or_else(none, ToString::to_string),
        ),
        (
            "Building:",
            state
                .building
                .as_ref()
                .map_or_else(none, ToString::to_string),
        ),
        ("TTL:", state.ttl.map_or_else(none, |t| t.to_string())),
        ("Config:", config_summary(&state.config)),
        (
            "Triggers:",
            if triggers.is_empty() {
                none()
            } else {
                triggers.join(", ")
            },
        ),
        ("Frozen:", yes_no(state.frozen)),
        ("Blocked:", yes_no(state.blocked)),
    ];
    let rows: Vec<Vec<String>> = facts
        .into_iter()
        .map(|(k, v)| vec![k.to_owned(), v])
        .collect();
    let mut out = table(&rows, "");

    out.push('\n');
    if state.environments.is_empty() {
        out.push_str("Environments: none\n");
    } else {
        out.push_str("Environments:\n");
        let mut rows = vec![
            ["SHA", "ROLE", "STATUS", "URL", "CREATED", "REQUESTED BY"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for (sha, env) in &state.environments {
            let roles: Vec<&str> = [
                (state.active.as_ref(), "active"),
                (state.building.as_ref(), "building"),
            ]
            .into_iter()
            .filter(|(pointer, _)| *pointer == Some(sha))
            .map(|(_, role)| role)
            .collect();
            rows.push(vec![
                sha.to_string(),
                if roles.is_empty() {
                    none()
                } else {
                    roles.join(", ")
                },
                env.status.map_or_else(none, |s| s.to_string()),
                env.address.map_or_else(none, |a| a.url()),
                env.created_at.map_or_else(none, |t| t.to_string()),
                env.requested_by
                    .as_ref()
                    .map_or_else(none, ToString::to_string),
            ]);
        }
        out.push_str(&table(&rows, "  "));
    }

    out.push('\n');
    if state.anomalies.is_empty() {
        out.push_str("Anomalies: none\n");
    } else {
        out.push_str("Anomalies:\n");
        for anomaly in &state.anomalies {
            out.push_str(&format!(
                "  {}\n    {}: {}\n",
                shorten(&anomaly.label),
                anomaly_kind(anomaly.kind),
                printable(&anomaly.message)
            ));
        }
    }

    out.push('\n');
    if state.other_labels.is_empty() {
        out.push_str("Other labels: none\n");
    } else {
        out.push_str("Other labels:\n");
        for label in &state.other_labels {
            out.push_str(&format!("  {}\n", shorten(label)));
        }
    }
    out
}

fn config_summary(config: &Config) -> String {
    if config.is_default() {
        return "default".to_owned();
    }
    let mut items: Vec<String> = config
        .features
        .iter()
        .map(|(name, on)| format!("{name}={}", if *on { "on" } else { "off" }))
        .collect();
    if config.debug {
        items.push("debug".to_owned());
    }
    if let Some(size) = &config.size {
        items.push(format!("size={size}"));
    }
    if config.no_examples {
        items.push("no-examples".to_owned());
    }
    if config.cache_redis {
        items.push("cache-redis".to_owned());
    }
    items.join(", ")
}

fn anomaly_kind(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::Unrecognized => "unrecognized",
        AnomalyKind::InvalidValue => "invalid value",
        AnomalyKind::Conflict => "conflict",
        AnomalyKind::Orphaned => "orphaned",
    }
}

/// The label reference as an aligned plain-text table: label, per-SHA form,
/// colour and meaning. The legacy up-label is shown under its configured name.
pub fn reference_table(codec: &Codec) -> String {
    let mut rows = vec![
        ["LABEL", "PER-SHA FORM", "COLOUR", "MEANING"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for entry in labels::reference() {
        rows.push(vec![
            reference_label(codec, entry.seed),
            entry.per_sha.unwrap_or("-").to_owned(),
            format!("#{}", entry.color),
            entry.meaning.to_owned(),
        ]);
    }
    table(&rows, "")
}

/// The label reference as a JSON array of objects with the fields `seed`,
/// `per_sha` (or `null`), `meaning` and `color` (six hexadecimal digits).
pub fn reference_json(codec: &Codec) -> serde_json::Value {
    labels::reference()
        .iter()
        .map(|entry| {
            serde_json::json!({
                "seed": reference_label(codec, entry.seed),
                "per_sha": entry.per_sha,
                "meaning": entry.meaning,
                "color": entry.color,
            })
        })
        .collect()
}

fn reference_label(codec: &Codec, seed: &str) -> String {
    if seed == DEFAULT_LEGACY_TRIGGER {
        printable(codec.legacy_trigger())
    } else {
        seed.to_owned()
    }
}

/// Lays `rows` out in columns separated by two spaces, each line starting
/// with `indent`; the last column is not padded. Widths are terminal
/// columns (an emoji takes two), as `comfy-table` measures them.
pub fn table(rows: &[Vec<String>], indent: &str) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    for row in rows {
        table.add_row(row);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(indent);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The longest label quoted in the summary; GitHub allows 50 characters, so
/// anything longer is shortened.
const SHOWN_CHARS: usize = 80;

/// `text` made safe for a terminal and shortened to [`SHOWN_CHARS`].
fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(SHOWN_CHARS).collect();
    if chars.next().is_some() {
        format!("{}…", printable(&head))
    } else {
        printable(&head)
    }
}

/// `text` with control characters (terminal escapes, tabs) escaped.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A table of environments for people.
pub fn environments_table(envs: &[EnvInfo]) -> String {
    if envs.is_empty() {
        return "No environments.".to_owned();
    }
    let header = ["ENVIRONMENT", "PR", "HEALTH", "URL", "CREATED (UTC)", "BY"];
    let mut rows = vec![header.map(str::to_owned).to_vec()];
    rows.extend(envs.iter().map(|e| {
        vec![
            e.id.name(),
            format!("#{}", e.id.pr),
            health_name(&e.health).to_owned(),
            e.address
                .map(|a| format!("http://{a}"))
                .unwrap_or_else(|| "-".to_owned()),
            e.created_at.format("%Y-%m-%d %H:%M").to_string(),
            e.requested_by
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
        ]
    }));
    table(&rows, "").trim_end().to_owned()
}

/// The Markdown a GitHub Actions step summary shows for a PR: each
/// environment the labels name, with its status and URL.
pub fn step_summary(pr: PrNumber, labels: &LabelState, envs: &[EnvInfo]) -> String {
    let mut text = format!("### 🎪 Showtime: PR #{pr}\n\n");
    text.push_str("| environment | status | URL |\n|---|---|---|\n");
    for (sha, env) in &labels.environments {
        let url = env
            .address
            .map(|a| format!("http://{a}"))
            .unwrap_or_else(|| "–".to_owned());
        let status = env
            .status
            .map_or_else(|| "unknown".to_owned(), |s| s.to_string());
        text.push_str(&format!("| `{sha}` | {status} | {url} |\n"));
    }
    if labels.environments.is_empty() {
        text.push_str(&format!(
            "| – | {} | – |\n",
            if envs.is_empty() {
                "no environment"
            } else {
                "unlabelled"
            }
        ));
    }
    text
}

/// What `showtime status` prints for a PR: its primary environment, TTL,
/// configuration, and the backend's environments.
pub fn status_text(read: &PullRequest, labels: &LabelState, envs: &[EnvInfo]) -> String {
    let pr = read.number;
    let mut out = Vec::new();
    let primary = labels.primary().and_then(|sha| {
        labels
            .environments
            .get(sha)
            .map(|env| (sha.clone(), env.clone()))
    });
    out.push(match primary {
        Some((sha, env)) => format!(
            "PR #{pr} ({}): {} at {}{}",
            read.state.as_str(),
            env.status
                .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
            sha,
            env.address
                .map(|a| format!(", http://{a}"))
                .unwrap_or_default()
        ),
        None => format!("PR #{pr}: no environment"),
    });
    if let Some(ttl) = labels.ttl {
        out.push(format!("TTL: {ttl}"));
    }
    if !labels.config.features.is_empty() || labels.config.size.is_some() {
        out.push(format!("Configuration: {}", config_summary(&labels.config)));
    }
    out.push(environments_table(envs));
    out.join("\n")
}

/// Splits text into label names: one per line, a trailing `\r` removed,
/// blank lines skipped. Input that is not UTF-8 is refused with the number
/// of the offending line.
pub fn read_lines(input: &[u8]) -> Result<Vec<&str>, String> {
    let mut labels = Vec::new();
    for (index, line) in input.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = std::str::from_utf8(line).map_err(|e| {
            format!(
                "line {} of standard input is not valid UTF-8 (bad byte after {} valid bytes); \
                 label names must be UTF-8",
                index + 1,
                e.valid_up_to()
            )
        })?;
        if !text.trim().is_empty() {
            labels.push(text);
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_trimmed_and_numbered() {
        assert_eq!(read_lines(b"a\r\n\n  \nb"), Ok(vec!["a", "b"]));
        let err = read_lines(b"ok\n\xff\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn tables_align_emoji_labels() {
        let rows = vec![
            vec!["🎪 🚦 running".to_owned(), "x".to_owned()],
            vec!["bug".to_owned(), "y".to_owned()],
        ];
        assert_eq!(table(&rows, ""), "🎪 🚦 running  x\nbug            y\n");
        let rows = vec![
            vec!["🎪 ⚙️ debug".to_owned(), "x".to_owned()],
            vec!["🎪 🏗️ abc123f".to_owned(), "y".to_owned()],
            vec!["bug".to_owned(), "z".to_owned()],
        ];
        assert_eq!(
            table(&rows, "  "),
            "  🎪 ⚙️ debug    x\n  🎪 🏗️ abc123f  y\n  bug            z\n"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_long_labels_shortened() {
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        let long = shorten(&"x".repeat(10_000));
        assert_eq!(long.chars().count(), SHOWN_CHARS + 1);
    }
}
