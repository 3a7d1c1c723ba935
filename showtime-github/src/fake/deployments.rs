//! Deployments and their statuses, as GitHub's REST API documents them
//! (<https://docs.github.com/rest/deployments>): what a client records so
//! that a pull request shows "View deployment". It owns the records and
//! their endpoints; it must not touch issues, labels or comments.
//!
//! Served under `/repos/{owner}/{repo}`:
//!
//! * `POST /deployments` — `ref` (required: a 40-hex SHA, or a PR's head
//!   or base branch, resolved to its SHA; anything else is GitHub's 422 "No
//!   ref found"), `task` (`deploy`), `auto_merge` (`true`; the fake never
//!   needs to merge, so it is recorded only), `required_contexts` (every
//!   context by default; the fake has no commit statuses, so none can
//!   fail), `payload` (`{}`), `environment` (`production`), `description`,
//!   `transient_environment` (`false`) and `production_environment` (`true`
//!   exactly for `production`). Answers `201` with the deployment;
//! * `GET /deployments` — filtered by `sha`, `ref`, `task` and
//!   `environment`, newest first, paged;
//! * `GET /deployments/{id}`;
//! * `POST /deployments/{id}/statuses` — `state` (required: `error`,
//!   `failure`, `inactive`, `in_progress`, `queued`, `pending` or
//!   `success`), `description` (at most 140 characters, else 422),
//!   `log_url` (also sets `target_url`, as GitHub does), `target_url`,
//!   `environment_url`, `environment` (moves the deployment to that
//!   environment) and `auto_inactive` (default `true`). A `success` with
//!   `auto_inactive` adds an `inactive` status to every earlier deployment
//!   of the same environment that is neither transient nor production and
//!   whose latest status is `success`, as documented: a transient
//!   deployment is never made inactive by another's success. Answers `201`;
//! * `GET /deployments/{id}/statuses` — newest first, paged, and
//!   `GET /deployments/{id}/statuses/{status_id}`.
//!
//! [`FakeGitHub::deployments`] returns every deployment with its statuses
//! in the order they were created, for tests.

use serde_json::{Value, json};

use super::rest::{number, paged, parse_body};
use super::server::{Ctx, Reply, error, invalid_request, not_found, validation_failed};
use super::state::State;
use super::util::{now, rfc3339};
use super::{FakeGitHub, json as wire};

const DOCS: &str = "https://docs.github.com/rest/deployments/deployments";
const STATUS_DOCS: &str = "https://docs.github.com/rest/deployments/statuses";
/// GitHub's limit on a deployment status description, in characters.
pub(super) const STATUS_DESCRIPTION_MAX: usize = 140;
/// The states a deployment status may have.
const STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

/// One deployment, as [`FakeGitHub::deployments`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeDeployment {
    /// Its id (`/deployments/{id}`).
    pub id: u64,
    /// The commit SHA the `ref` resolved to.
    pub sha: String,
    /// The `ref` as given.
    pub git_ref: String,
    /// The task (`deploy` by default).
    pub task: String,
    /// The environment's name.
    pub environment: String,
    /// Whether the environment will go away (`transient_environment`).
    pub transient_environment: bool,
    /// Whether it is a production environment.
    pub production_environment: bool,
    /// `required_contexts` as sent, `None` when left out (every context).
    pub required_contexts: Option<Vec<String>>,
    /// `auto_merge` as sent or defaulted.
    pub auto_merge: bool,
    /// Its statuses, oldest first.
    pub statuses: Vec<FakeDeploymentStatus>,
}

impl FakeDeployment {
    /// The states of its statuses, oldest first.
    pub fn states(&self) -> Vec<&str> {
        self.statuses.iter().map(|s| s.state.as_str()).collect()
    }
}

/// One deployment status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeDeploymentStatus {
    /// Its id.
    pub id: u64,
    /// `in_progress`, `success`, `failure`, `inactive`, …
    pub state: String,
    /// The environment's URL (empty when none was given).
    pub environment_url: String,
    /// The description (empty when none was given).
    pub description: String,
    /// The log URL (empty when none was given).
    pub log_url: String,
    /// Whether the fake added it itself, by `auto_inactive`.
    pub automatic: bool,
}

/// A deployment in the fake's state.
#[derive(Debug, Clone)]
pub(super) struct DeploymentRec {
    pub(super) public: FakeDeployment,
    pub(super) description: String,
    pub(super) payload: Value,
    pub(super) original_environment: String,
    pub(super) creator: String,
    pub(super) created_at: chrono::DateTime<chrono::Utc>,
    pub(super) updated_at: chrono::DateTime<chrono::Utc>,
    /// When each status was created, in the order of `public.statuses`.
    pub(super) status_times: Vec<chrono::DateTime<chrono::Utc>>,
    /// Who created each status.
    pub(super) status_creators: Vec<String>,
}

impl FakeGitHub {
    /// Every deployment, oldest first, each with its statuses oldest first.
    pub fn deployments(&self) -> Vec<FakeDeployment> {
        self.state()
            .deployments
            .iter()
            .map(|d| d.public.clone())
            .collect()
    }
}

/// Routes `rest` (the segments after `/repos/{owner}/{repo}`, starting with
/// `deployments`).
pub(super) fn route(state: &mut State, ctx: &Ctx<'_>, rest: &[&str]) -> Reply {
    match (ctx.method, rest) {
        ("GET", ["deployments"]) => list(state, ctx),
        ("POST", ["deployments"]) => create(state, ctx),
        ("GET", ["deployments", id]) => match find(state, id) {
            Some(at) => Reply::json(200, deployment_json(state, at, ctx)),
            None => error(404, "Not Found", DOCS),
        },
        ("GET", ["deployments", id, "statuses"]) => list_statuses(state, ctx, id),
        ("POST", ["deployments", id, "statuses"]) => create_status(state, ctx, id),
        ("GET", ["deployments", id, "statuses", status]) => get_status(state, ctx, id, status),
        _ => not_found(),
    }
}

fn find(state: &State, id: &str) -> Option<usize> {
    let id = number(id)?;
    state.deployments.iter().position(|d| d.public.id == id)
}

fn is_full_sha(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The SHA a ref names: a full SHA itself, or a PR's head or base branch.
fn resolve(state: &State, git_ref: &str) -> Option<String> {
    if is_full_sha(git_ref) {
        return Some(git_ref.to_ascii_lowercase());
    }
    let branch = git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref);
    state.issues.values().rev().find_map(|issue| {
        let pr = issue.pr.as_ref()?;
        if pr.head_ref == branch {
            Some(pr.head_sha.clone())
        } else if pr.base_ref == branch {
            Some(pr.base_sha.clone())
        } else {
            None
        }
    })
}

/// A field that must be a string when present.
fn string_field(body: &Value, field: &str, docs: &str) -> Result<Option<String>, Reply> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid_request(
            &format!("For 'properties/{field}', {other} is not a string."),
            docs,
        )),
    }
}

/// A field that must be a boolean when present.
fn bool_field(body: &Value, field: &str, docs: &str) -> Result<Option<bool>, Reply> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid_request(
            &format!("For 'properties/{field}', {other} is not a boolean."),
            docs,
        )),
    }
}

fn create(state: &mut State, ctx: &Ctx<'_>) -> Reply {
    match try_create(state, ctx) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_create(state: &mut State, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
    let body = parse_body(ctx.body, DOCS)?;
    let Some(git_ref) = string_field(&body, "ref", DOCS)? else {
        return Err(invalid_request("\"ref\" wasn't supplied.", DOCS));
    };
    let task = string_field(&body, "task", DOCS)?.unwrap_or_else(|| "deploy".to_owned());
    let environment =
        string_field(&body, "environment", DOCS)?.unwrap_or_else(|| "production".to_owned());
    let description = string_field(&body, "description", DOCS)?.unwrap_or_default();
    let auto_merge = bool_field(&body, "auto_merge", DOCS)?.unwrap_or(true);
    let transient = bool_field(&body, "transient_environment", DOCS)?.unwrap_or(false);
    let production =
        bool_field(&body, "production_environment", DOCS)?.unwrap_or(environment == "production");
    let required_contexts = match body.get("required_contexts") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| {
                    invalid_request(
                        "For 'items', the required contexts are not all strings.",
                        DOCS,
                    )
                })?,
        ),
        Some(other) => {
            return Err(invalid_request(
                &format!("For 'properties/required_contexts', {other} is not an array."),
                DOCS,
            ));
        }
    };
    let payload = match body.get("payload") {
        None | Some(Value::Null) => json!({}),
        Some(value @ (Value::Object(_) | Value::String(_))) => value.clone(),
        Some(other) => {
            return Err(invalid_request(
                &format!("For 'properties/payload', {other} is not an object or a string."),
                DOCS,
            ));
        }
    };
    let Some(sha) = resolve(state, &git_ref) else {
        return Err(error(422, &format!("No ref found for: {git_ref}"), DOCS));
    };
    let at = now();
    let id = state.next_deployment_id();
    state.deployments.push(DeploymentRec {
        public: FakeDeployment {
            id,
            sha,
            git_ref,
            task,
            environment: environment.clone(),
            transient_environment: transient,
            production_environment: production,
            required_contexts,
            auto_merge,
            statuses: Vec::new(),
        },
        description,
        payload,
        original_environment: environment,
        creator: state.viewer.clone(),
        created_at: at,
        updated_at: at,
        status_times: Vec::new(),
        status_creators: Vec::new(),
    });
    let index = state.deployments.len() - 1;
    Ok(Reply::json(201, deployment_json(state, index, ctx)))
}

fn list(state: &State, ctx: &Ctx<'_>) -> Reply {
    let wanted = |key: &str| ctx.query.get(key).filter(|v| !v.is_empty());
    let (sha, git_ref, task, environment) = (
        wanted("sha"),
        wanted("ref"),
        wanted("task"),
        wanted("environment"),
    );
    let items = state
        .deployments
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, d)| {
            let p = &d.public;
            sha.as_deref()
                .is_none_or(|s| p.sha == s.to_ascii_lowercase())
                && git_ref.as_deref().is_none_or(|r| p.git_ref == r)
                && task.as_deref().is_none_or(|t| p.task == t)
                && environment.as_deref().is_none_or(|e| p.environment == e)
        })
        .map(|(at, _)| deployment_json(state, at, ctx))
        .collect();
    paged(items, ctx)
}

fn create_status(state: &mut State, ctx: &Ctx<'_>, id: &str) -> Reply {
    match try_create_status(state, ctx, id) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_create_status(state: &mut State, ctx: &Ctx<'_>, id: &str) -> Result<Reply, Reply> {
    let Some(at) = find(state, id) else {
        return Err(error(404, "Not Found", STATUS_DOCS));
    };
    let body = parse_body(ctx.body, STATUS_DOCS)?;
    let Some(status) = string_field(&body, "state", STATUS_DOCS)? else {
        return Err(invalid_request("\"state\" wasn't supplied.", STATUS_DOCS));
    };
    if !STATES.contains(&status.as_str()) {
        return Err(invalid_request(
            &format!(
                "For 'properties/state', \"{status}\" is not one of {}.",
                STATES.join(", ")
            ),
            STATUS_DOCS,
        ));
    }
    let description = string_field(&body, "description", STATUS_DOCS)?.unwrap_or_default();
    if description.chars().count() > STATUS_DESCRIPTION_MAX {
        return Err(validation_failed(
            "DeploymentStatus",
            "custom",
            "description",
            STATUS_DOCS,
        ));
    }
    let log_url = string_field(&body, "log_url", STATUS_DOCS)?;
    let target_url = string_field(&body, "target_url", STATUS_DOCS)?;
    let log_url = log_url.or(target_url).unwrap_or_default();
    let environment_url = string_field(&body, "environment_url", STATUS_DOCS)?.unwrap_or_default();
    let environment = string_field(&body, "environment", STATUS_DOCS)?;
    let auto_inactive = bool_field(&body, "auto_inactive", STATUS_DOCS)?.unwrap_or(true);

    if let Some(environment) = environment {
        state.deployments[at].public.environment = environment;
    }
    let status_id = state.next_deployment_status_id();
    let viewer = state.viewer.clone();
    push_status(
        &mut state.deployments[at],
        FakeDeploymentStatus {
            id: status_id,
            state: status.clone(),
            environment_url,
            description,
            log_url,
            automatic: false,
        },
        &viewer,
    );
    if status == "success" && auto_inactive {
        inactivate_earlier(state, at, &viewer);
    }
    let last = state.deployments[at].public.statuses.len() - 1;
    Ok(Reply::json(201, status_json(state, at, last, ctx)))
}

fn push_status(deployment: &mut DeploymentRec, status: FakeDeploymentStatus, creator: &str) {
    let at = now();
    deployment.public.statuses.push(status);
    deployment.status_times.push(at);
    deployment.status_creators.push(creator.to_owned());
    deployment.updated_at = at;
}

/// `auto_inactive`: earlier non-transient, non-production deployments of
/// the same environment whose latest status is `success` get `inactive`.
fn inactivate_earlier(state: &mut State, at: usize, viewer: &str) {
    let (id, environment) = {
        let d = &state.deployments[at].public;
        (d.id, d.environment.clone())
    };
    let earlier: Vec<usize> = state
        .deployments
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            let p = &d.public;
            p.id < id
                && p.environment == environment
                && !p.transient_environment
                && !p.production_environment
                && p.statuses.last().is_some_and(|s| s.state == "success")
        })
        .map(|(i, _)| i)
        .collect();
    for i in earlier {
        let status_id = state.next_deployment_status_id();
        push_status(
            &mut state.deployments[i],
            FakeDeploymentStatus {
                id: status_id,
                state: "inactive".to_owned(),
                environment_url: String::new(),
                description: String::new(),
                log_url: String::new(),
                automatic: true,
            },
            viewer,
        );
    }
}

fn list_statuses(state: &State, ctx: &Ctx<'_>, id: &str) -> Reply {
    let Some(at) = find(state, id) else {
        return error(404, "Not Found", STATUS_DOCS);
    };
    let count = state.deployments[at].public.statuses.len();
    let items = (0..count)
        .rev()
        .map(|i| status_json(state, at, i, ctx))
        .collect();
    paged(items, ctx)
}

fn get_status(state: &State, ctx: &Ctx<'_>, id: &str, status: &str) -> Reply {
    let found = find(state, id).and_then(|at| {
        let wanted = number(status)?;
        let i = state.deployments[at]
            .public
            .statuses
            .iter()
            .position(|s| s.id == wanted)?;
        Some((at, i))
    });
    match found {
        Some((at, i)) => Reply::json(200, status_json(state, at, i, ctx)),
        None => error(404, "Not Found", STATUS_DOCS),
    }
}

fn repository_url(state: &State, ctx: &Ctx<'_>) -> String {
    format!("{}/repos/{}/{}", ctx.api, state.owner, state.repo)
}

/// A deployment as GitHub's REST API returns it.
fn deployment_json(state: &State, at: usize, ctx: &Ctx<'_>) -> Value {
    let d = &state.deployments[at];
    let p = &d.public;
    let repository = repository_url(state, ctx);
    let url = format!("{repository}/deployments/{}", p.id);
    json!({
        "url": url,
        "id": p.id,
        "node_id": format!("DE_fake{}", p.id),
        "sha": p.sha,
        "ref": p.git_ref,
        "task": p.task,
        "payload": d.payload,
        "original_environment": d.original_environment,
        "environment": p.environment,
        "description": d.description,
        "creator": wire::user(&d.creator, &ctx.api),
        "created_at": rfc3339(&d.created_at),
        "updated_at": rfc3339(&d.updated_at),
        "statuses_url": format!("{url}/statuses"),
        "repository_url": repository,
        "transient_environment": p.transient_environment,
        "production_environment": p.production_environment,
    })
}

/// Status `i` of deployment `at` as GitHub's REST API returns it.
fn status_json(state: &State, at: usize, i: usize, ctx: &Ctx<'_>) -> Value {
    let d = &state.deployments[at];
    let s = &d.public.statuses[i];
    let repository = repository_url(state, ctx);
    let deployment_url = format!("{repository}/deployments/{}", d.public.id);
    let created = d.status_times.get(i).map(rfc3339).unwrap_or_default();
    let creator = d.status_creators.get(i).map_or("", String::as_str);
    json!({
        "url": format!("{deployment_url}/statuses/{}", s.id),
        "id": s.id,
        "node_id": format!("DES_fake{}", s.id),
        "state": s.state,
        "creator": wire::user(creator, &ctx.api),
        "description": s.description,
        "environment": d.public.environment,
        "target_url": s.log_url,
        "log_url": s.log_url,
        "environment_url": s.environment_url,
        "created_at": created,
        "updated_at": created,
        "deployment_url": deployment_url,
        "repository_url": repository,
    })
}
