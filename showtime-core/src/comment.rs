//! The sticky status comment: one per PR, edited in place.
//!
//! Rendering is pure: the PR, its label state and the latest message in, a
//! Markdown body out. The hidden [`MARKER`] is how the PR host finds the
//! comment again, so a PR never collects one comment per event.

use chrono::{DateTime, Utc};

use crate::labels::LabelState;
use crate::ports::PullRequest;
use crate::{Status, Ttl};

/// The hidden marker that identifies Showtime's status comment.
pub const MARKER: &str = "<!-- showtime:status -->";

/// Renders the status comment for `pr` in state `labels`, with `message`
/// (what just happened) on top; `default_ttl` applies when no ⌛ label is set.
///
/// ```
/// use showtime_core::comment::{render, MARKER};
/// # use showtime_core::ports::{PullRequest, PrState};
/// # let pr = PullRequest { number: "1".parse().unwrap(), state: PrState::Open,
/// #     head_sha: "abc123f".parse().unwrap(), author: "maxime".parse().unwrap(),
/// #     title: "Add a chart".into(), body: String::new(), labels: vec![], comments: None, updated_at: None };
/// let labels = showtime_core::labels::Codec::default().parse(["🎪 🎯 abc123f", "🎪 🚦 running"]);
/// let now = chrono::DateTime::from_timestamp(1_705_320_000, 0).unwrap();
/// let body = render(&pr, &labels, "Ready.", showtime_core::Ttl::CLOSE, now);
/// assert!(body.starts_with(MARKER));
/// assert!(body.contains("`abc123f`"));
/// ```
pub fn render(
    pr: &PullRequest,
    labels: &LabelState,
    message: &str,
    default_ttl: Ttl,
    now: DateTime<Utc>,
) -> String {
    let mut out = format!("{MARKER}\n### 🎪 Showtime — PR #{}\n\n", pr.number);
    if !message.is_empty() {
        out.push_str(&format!("{message}\n\n"));
    }
    let shown = labels.primary().cloned();
    let env = shown.as_ref().and_then(|sha| labels.environments.get(sha));
    match (&shown, env) {
        (Some(sha), Some(env)) => {
            let status = env.status.map_or("unknown", Status::as_str);
            let url = env
                .address
                .map_or_else(|| "not yet".to_owned(), |a| a.url());
            let requester = env
                .requested_by
                .as_ref()
                .map_or_else(|| "unknown".to_owned(), |r| format!("@{r}"));
            let ttl = labels.ttl.unwrap_or(default_ttl);
            let expiry = match (ttl.duration(), env.created_at) {
                (Some(_), Some(created)) => ttl
                    .expires_at(created.as_datetime())
                    .map(|at| format!("expires {}", at.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default(),
                _ if ttl.survives_close() => "kept until destroyed by hand".to_owned(),
                _ => "kept until the PR closes".to_owned(),
            };
            out.push_str("| | |\n|---|---|\n");
            out.push_str(&format!(
                "| Status | {} `{status}` |\n",
                status_emoji(env.status)
            ));
            out.push_str(&format!("| URL | {url} |\n"));
            out.push_str(&format!("| Commit | `{sha}` |\n"));
            if let Some(building) = labels
                .building
                .as_ref()
                .filter(|b| Some(*b) != shown.as_ref())
            {
                out.push_str(&format!("| Building | `{building}` |\n"));
            }
            out.push_str(&format!("| Requested by | {requester} |\n"));
            out.push_str(&format!("| TTL | `{ttl}` ({expiry}) |\n"));
            out.push_str(&format!("| Configuration | {} |\n", config_line(labels)));
        }
        _ => out.push_str("No environment is running for this PR.\n"),
    }
    let failed: Vec<String> = labels
        .environments
        .iter()
        .filter(|(_, e)| e.status == Some(Status::Failed))
        .map(|(sha, _)| format!("`{sha}`"))
        .collect();
    if !failed.is_empty() {
        out.push_str(&format!("\nFailed: {}\n", failed.join(", ")));
    }
    out.push_str(&format!(
        "\n<sub>Updated {}. Quick actions: `/circus refresh` · `/circus extend 48h` · \
         `/circus keep-alive` · `/circus destroy` · `/circus help`</sub>\n",
        now.format("%Y-%m-%d %H:%M UTC")
    ));
    out
}

fn status_emoji(status: Option<Status>) -> &'static str {
    match status {
        Some(Status::Running) => "🟢",
        Some(Status::Failed) => "❌",
        Some(Status::Updating | Status::Configuring) => "🔄",
        Some(Status::Destroying) => "🧹",
        Some(Status::Sleeping) => "💤",
        Some(Status::Requested | Status::Building | Status::Deploying) => "🏗️",
        None => "❓",
    }
}

fn config_line(labels: &LabelState) -> String {
    let config = &labels.config;
    if config.is_default() {
        return "default".to_owned();
    }
    let mut items: Vec<String> = config
        .features
        .iter()
        .map(|(name, on)| format!("`{name}={}`", if *on { "on" } else { "off" }))
        .collect();
    for (on, item) in [
        (config.debug, "`debug`"),
        (config.no_examples, "`no-examples`"),
        (config.cache_redis, "`cache-redis`"),
    ] {
        if on {
            items.push(item.to_owned());
        }
    }
    if let Some(size) = &config.size {
        items.push(format!("`size-{size}`"));
    }
    items.join(", ")
}
