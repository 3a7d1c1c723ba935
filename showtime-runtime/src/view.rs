//! JSON and text views of what the engine reports, the same in every
//! program: an environment (`showtime --json`, the webhook server's
//! `/environments`), a plan, a sweep report; and the duration syntax the
//! programs' flags share.

use std::time::Duration;

use serde_json::{Value, json};
use showtime_core::plan::{Plan, Step};
use showtime_core::ports::{EnvInfo, Health};
use showtime_core::sweep::SweepReport;

/// The JSON of a plan.
pub fn plan_json(plan: &Plan) -> Value {
    json!({
        "reason": plan.reason,
        "steps": plan.steps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "done": matches!(plan.next, showtime_core::plan::Next::Done),
        "refusal": plan.refusal.map(|r| r.as_str()),
    })
}

/// The JSON of one environment, the same in every program's output
/// (`showtime --json`, the webhook server's `/environments`).
pub fn env_json(env: &EnvInfo) -> Value {
    let since = match &env.health {
        Health::Unhealthy { since, .. } => {
            Some(since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }
        Health::Starting | Health::Healthy | Health::Failed { .. } | Health::Asleep => None,
    };
    json!({
        "name": env.id.name(),
        "pr": env.id.pr.get(),
        "sha": env.id.sha.to_string(),
        "health": health_name(&env.health),
        "health_reason": env.health.reason(),
        "unhealthy_since": since,
        "address": env.address.map(|a| a.to_string()),
        "url": env.address.map(|a| a.url()),
        "created_at": env.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "requested_by": env.requested_by.as_ref().map(ToString::to_string),
        "config": env.config,
    })
}

/// The word for a health: `starting`, `healthy`, `failed`, `unhealthy` or
/// `asleep`.
pub fn health_name(health: &Health) -> &'static str {
    match health {
        Health::Starting => "starting",
        Health::Healthy => "healthy",
        Health::Failed { .. } => "failed",
        Health::Asleep => "asleep",
        Health::Unhealthy { .. } => "unhealthy",
    }
}

/// The JSON of a sweep report (also `showtime-sweep --json`).
pub fn sweep_json(report: &SweepReport) -> Value {
    json!({
        "dry_run": report.dry_run,
        "prs": report.prs.iter().map(|(pr, plans)| json!({
            "pr": pr,
            "plans": plans.iter().map(plan_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "destroyed": destroyed(report),
        "slept": slept(report),
        "orphans": report.orphans.iter().map(|id| id.name()).collect::<Vec<_>>(),
        "young_orphans": report.young_orphans.iter().map(|id| id.name()).collect::<Vec<_>>(),
        "deleted_labels": report.deleted_labels,
        "errors": report.errors.iter().map(|(pr, e)| json!({"pr": pr, "error": e})).collect::<Vec<_>>(),
    })
}

/// Every environment the sweep destroyed (or would), with why.
fn destroyed(report: &SweepReport) -> Vec<Value> {
    let mut out = Vec::new();
    for (pr, plans) in &report.prs {
        for plan in plans {
            for step in &plan.steps {
                if let Step::Destroy(id) = step {
                    out.push(json!({"pr": pr, "environment": id.name(), "reason": plan.reason}));
                }
            }
        }
    }
    for id in &report.orphans {
        out.push(json!({"pr": id.pr, "environment": id.name(), "reason": "orphan: its PR does not exist"}));
    }
    out
}

/// Every environment the sweep put to sleep (or would), with why.
fn slept(report: &SweepReport) -> Vec<Value> {
    let mut out = Vec::new();
    for (pr, plans) in &report.prs {
        for plan in plans {
            for step in &plan.steps {
                if let Step::Sleep(id) = step {
                    out.push(json!({"pr": pr, "environment": id.name(), "reason": plan.reason}));
                }
            }
        }
    }
    out
}

/// A sweep report for people: what was destroyed, put to sleep, kept, and
/// why.
pub fn sweep_text(report: &SweepReport) -> String {
    let verb = if report.dry_run {
        "would destroy"
    } else {
        "destroyed"
    };
    let mut lines = Vec::new();
    for d in destroyed(report) {
        let text = |key: &str| d[key].as_str().unwrap_or_default().to_owned();
        lines.push(format!(
            "{verb} {} (PR #{}): {}",
            text("environment"),
            text("pr"),
            text("reason")
        ));
    }
    let sleep_verb = if report.dry_run {
        "would put to sleep"
    } else {
        "put to sleep"
    };
    for d in slept(report) {
        let text = |key: &str| d[key].as_str().unwrap_or_default().to_owned();
        lines.push(format!(
            "{sleep_verb} {} (PR #{}): {}",
            text("environment"),
            text("pr"),
            text("reason")
        ));
    }
    for (pr, plans) in &report.prs {
        if plans.iter().all(|p| {
            !p.steps
                .iter()
                .any(|s| matches!(s, Step::Destroy(_) | Step::Sleep(_)))
        }) {
            let reason = plans.first().map_or("nothing to do", |p| p.reason.as_str());
            lines.push(format!("kept PR #{pr}: {reason}"));
        }
    }
    for id in &report.young_orphans {
        lines.push(format!(
            "kept {id}: its PR does not exist, but it is younger than the grace period"
        ));
    }
    for name in &report.deleted_labels {
        lines.push(format!(
            "{} label definition `{name}`",
            if report.dry_run {
                "would delete"
            } else {
                "deleted"
            }
        ));
    }
    for (pr, error) in &report.errors {
        lines.push(format!("error on PR #{pr}: {error}"));
    }
    if lines.is_empty() {
        lines.push("Nothing to sweep.".to_owned());
    }
    lines.join("\n")
}

/// Reads `48h`, `30m`, `7d`, `2w`, `90s` as a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration: give a number and a unit, e.g. 48h, 30m, 7d, 2w")
    })?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`; use s, m, h, d or w (e.g. 48h)"
            ));
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert!(parse_duration("48").is_err_and(|e| e.contains("unknown unit")));
        assert!(parse_duration("h").is_err_and(|e| e.contains("e.g. 48h")));
        assert!(parse_duration("99999999999999999999w").is_err());
    }
}
