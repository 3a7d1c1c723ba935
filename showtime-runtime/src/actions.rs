//! The GitHub Actions event of this run: what happened to the PR, and who
//! did it.
//!
//! Inside GitHub Actions, `GITHUB_EVENT_NAME` names the event that started
//! the workflow and `GITHUB_EVENT_PATH` holds its payload, the same JSON a
//! webhook delivery carries. `showtime sync` reads it, as GitHub's own tools
//! do, so the workflow passes no flag for what the labels cannot tell: that
//! the up-label was just *removed* (stop), that the description was edited
//! (apply its `FEATURE_` lines), and who pushed a commit (the `sender`).
//! Explicit flags (`--event`, `--actor`) still win, for runs outside Actions.
//!
//! The payload is trusted as the runner wrote it (no signature), and read
//! with the webhook server's own parser
//! ([`showtime_github::webhook::read_event`]), so both entry points turn the
//! same event into the same reconcile.

use std::path::Path;

use showtime_core::access::Authorization;
use showtime_core::engine::{Engine, EngineError};
use showtime_core::labels::{Codec, LabelState};
use showtime_core::plan::{Actor, Event, Plan, Refusal, Step};
use showtime_core::ports::PullRequest;
use showtime_core::{Login, PrNumber, Sha};
use showtime_github::webhook::{Outcome, read_event};

/// Why the event payload could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionsError {
    /// The file at `GITHUB_EVENT_PATH` could not be read.
    #[error("GITHUB_EVENT_PATH: cannot read the event payload {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The payload is not what GitHub sends for `GITHUB_EVENT_NAME`.
    #[error("GITHUB_EVENT_PATH: the `{event}` payload is not one GitHub sends: {source}")]
    Payload {
        /// `GITHUB_EVENT_NAME`.
        event: String,
        /// What the parser said.
        source: showtime_github::webhook::WebhookError,
    },
}

/// What the event of this GitHub Actions run says about one PR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionsEvent {
    /// The event, for a `pull_request(_target)` payload; `None` for a
    /// comment (its commands run with `sync --comment`) or another event.
    pub event: Option<Event>,
    /// Who caused it: the payload's `sender` (the pusher of a commit, the
    /// person who removed a label) or a comment's author.
    pub actor: Option<Login>,
}

/// The event of this run when it concerns `pr`; `None` outside GitHub
/// Actions, for an event about another PR, or one Showtime does not read
/// (a schedule, a manual dispatch).
///
/// A payload file that cannot be read or parsed is an error: acting without
/// it could turn a removal into a plain look.
pub fn for_pr(
    env: &dyn Fn(&str) -> Option<String>,
    codec: &Codec,
    pr: PrNumber,
) -> Result<Option<ActionsEvent>, ActionsError> {
    let (Some(name), Some(path)) = (
        env("GITHUB_EVENT_NAME").filter(|v| !v.is_empty()),
        env("GITHUB_EVENT_PATH").filter(|v| !v.is_empty()),
    ) else {
        return Ok(None);
    };
    let body = std::fs::read(Path::new(&path)).map_err(|source| ActionsError::Read {
        path: path.clone(),
        source,
    })?;
    let outcome = read_event(codec, &name, &body).map_err(|source| ActionsError::Payload {
        event: name.clone(),
        source,
    })?;
    let Outcome::Reconcile(request) = outcome else {
        return Ok(None);
    };
    if request.pr != pr {
        return Ok(None);
    }
    let event = request
        .events
        .into_iter()
        .next()
        .filter(|event| !matches!(event, Event::Command(_)));
    Ok(Some(ActionsEvent {
        event,
        actor: request.actor,
    }))
}

/// The keys of `showtime sync --check-only`, in the order printed: those
/// superset-showtime's workflows read.
pub const CHECK_KEYS: [&str; 9] = [
    "action_needed",
    "build_needed",
    "sync_needed",
    "target_sha",
    "pr_number",
    "github_actor",
    "permission_level",
    "auth_status",
    "action_reason",
];

/// What a workflow's `check` job needs to know, changing nothing: the
/// [`CHECK_KEYS`] with their values, for the PR as `read`, the `event`
/// and the `actor` with what [`Engine::authorize`] found of them (`None`:
/// no actor). A `sha` that is no longer the head means no action.
pub async fn check(
    engine: &Engine,
    read: PullRequest,
    sha: Option<&Sha>,
    event: Event,
    actor: Option<Login>,
    authorization: Option<Authorization>,
) -> Result<Vec<(&'static str, String)>, EngineError> {
    let permission = authorization.as_ref().map(|a| a.permission);
    let pr = read.number;
    let head = read.head_sha.clone();
    let labels = engine.policy().codec.parse(&read.labels);
    let stale = sha.is_some_and(|s| s != &head);
    // The permission already read is handed to the planner, not asked again.
    let known = actor.clone().map(|login| Actor { login, permission });
    let plan = engine.plan_for(read, event, known, None).await?;
    let (action, reason) = if stale {
        (
            "no_action",
            format!("the PR's head is now {}", head.short()),
        )
    } else {
        (action_of(&plan, &labels), plan.reason.clone())
    };
    let build = !stale && plan.steps.iter().any(|s| matches!(s, Step::Build { .. }));
    // By permission or by team, as the planner decides.
    let authorized = authorization.as_ref().map(Authorization::allowed);
    let values = [
        action.to_owned(),
        build.to_string(),
        (!stale && !plan.is_empty()).to_string(),
        head.to_string(),
        pr.to_string(),
        actor.as_ref().map(Login::to_string).unwrap_or_default(),
        permission
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        match authorized {
            None => "no_actor",
            Some(true) => "authorized",
            Some(false) => "denied",
        }
        .to_owned(),
        // Values are one line each, whatever the reason says.
        reason.split_whitespace().collect::<Vec<_>>().join(" "),
    ];
    Ok(CHECK_KEYS.into_iter().zip(values).collect())
}

/// What a plan amounts to, in superset-showtime's words.
fn action_of(plan: &Plan, labels: &LabelState) -> &'static str {
    let has = |f: fn(&Step) -> bool| plan.steps.iter().any(f);
    if plan.refusal == Some(Refusal::Blocked) {
        "blocked"
    } else if has(|s| matches!(s, Step::Build { .. } | Step::Deploy(_))) {
        if labels.active.is_some() {
            "rolling_update"
        } else {
            "create_environment"
        }
    } else if has(|s| matches!(s, Step::Destroy(_))) {
        "destroy_environment"
    } else if has(|s| matches!(s, Step::ApplyConfig(..))) {
        "apply_config"
    } else if plan.is_empty() {
        "no_action"
    } else {
        "sync_labels"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn with_payload(name: &str, json: &str) -> Result<Option<ActionsEvent>, ActionsError> {
        let dir = std::env::temp_dir().join(format!(
            "showtime-actions-{}-{name}-{}",
            std::process::id(),
            json.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("event.json");
        std::fs::write(&path, json).unwrap();
        let path = path.to_string_lossy().into_owned();
        let name = name.to_owned();
        let env = move |k: &str| match k {
            "GITHUB_EVENT_NAME" => Some(name.clone()),
            "GITHUB_EVENT_PATH" => Some(path.clone()),
            _ => None,
        };
        let result = for_pr(&env, &Codec::default(), PrNumber::new(7).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    const REPO: &str = r#""repository": {"full_name": "o/r"}"#;

    #[test]
    fn an_up_label_removal_is_a_stop_by_its_sender() {
        let json = format!(
            r#"{{"action": "unlabeled", "number": 7, "label": {{"name": "testenv-up"}},
                {REPO}, "sender": {{"login": "maintainer"}}}}"#
        );
        let got = with_payload("pull_request_target", &json).unwrap().unwrap();
        assert_eq!(got.event, Some(Event::UpLabelRemoved));
        assert_eq!(got.actor.unwrap().as_str(), "maintainer");
    }

    #[test]
    fn a_push_is_by_the_pusher_and_an_edit_of_the_body_is_an_edit() {
        let push = format!(
            r#"{{"action": "synchronize", "number": 7, {REPO}, "sender": {{"login": "pusher"}}}}"#
        );
        let got = with_payload("pull_request_target", &push).unwrap().unwrap();
        assert_eq!(got.event, Some(Event::Push));
        assert_eq!(got.actor.unwrap().as_str(), "pusher");

        let edit = format!(
            r#"{{"action": "edited", "number": 7, "changes": {{"body": {{"from": "x"}}}},
                {REPO}, "sender": {{"login": "author"}}}}"#
        );
        let got = with_payload("pull_request_target", &edit).unwrap().unwrap();
        assert_eq!(got.event, Some(Event::DescriptionEdited));

        let title = format!(
            r#"{{"action": "edited", "number": 7, "changes": {{"title": {{"from": "x"}}}},
                {REPO}, "sender": {{"login": "author"}}}}"#
        );
        let got = with_payload("pull_request", &title).unwrap().unwrap();
        assert_eq!(got.event, Some(Event::Look));
    }

    #[test]
    fn a_comment_gives_its_author_but_no_event() {
        let json = format!(
            r#"{{"action": "created", "issue": {{"number": 7, "pull_request": {{}}}},
                "comment": {{"body": "/circus destroy", "user": {{"login": "commenter"}}}},
                {REPO}, "sender": {{"login": "commenter"}}}}"#
        );
        let got = with_payload("issue_comment", &json).unwrap().unwrap();
        assert_eq!(got.event, None);
        assert_eq!(got.actor.unwrap().as_str(), "commenter");
    }

    #[test]
    fn other_prs_and_events_are_not_this_runs_business() {
        let other = format!(r#"{{"action": "synchronize", "number": 8, {REPO}}}"#);
        assert_eq!(with_payload("pull_request", &other).unwrap(), None);
        assert_eq!(
            with_payload("schedule", r#"{"schedule": "*/30 * * * *"}"#).unwrap(),
            None
        );
    }

    #[test]
    fn a_broken_payload_is_an_error_that_names_the_variable() {
        let err = with_payload("pull_request", "{not json").unwrap_err();
        assert!(err.to_string().contains("GITHUB_EVENT_PATH"), "{err}");
        assert!(matches!(err, ActionsError::Payload { .. }), "{err}");
    }

    #[test]
    fn outside_actions_there_is_no_event() {
        let none = |_: &str| None;
        let got = for_pr(&none, &Codec::default(), PrNumber::new(7).unwrap()).unwrap();
        assert_eq!(got, None);
    }
}
