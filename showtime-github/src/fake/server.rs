//! The HTTP side of the fake: the request pipeline (faults, credentials,
//! rate limit, routing, response headers, request log) and the endpoints.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as Extract};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use super::json;
use super::state::{
    DEFAULT_LABEL_COLOR, LABEL_DESCRIPTION_MAX, LABEL_NAME_MAX, Resource, State, bearer_token,
    same_name,
};
use super::util::{Query, epoch_in, now, paginate, percent_decode, rfc3339};
use super::{FaultAction, LoggedRequest};

/// The largest request body the fake reads.
const MAX_BODY: usize = 25 * 1024 * 1024;
/// GitHub Enterprise Server's REST prefix.
pub(super) const GHES_PREFIX: &str = "/api/v3";
/// GitHub's limit on comment bodies.
const COMMENT_MAX: usize = 65_536;

const DOCS: &str = "https://docs.github.com/rest";
const LABELS_DOCS: &str = "https://docs.github.com/rest/issues/labels";
const PULLS_DOCS: &str = "https://docs.github.com/rest/pulls/pulls";
const COMMENTS_DOCS: &str = "https://docs.github.com/rest/issues/comments";
const COLLABORATORS_DOCS: &str = "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user";
const RATE_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
const SECONDARY_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
const APPS_DOCS: &str =
    "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";

/// The message of GitHub's primary rate-limit 403.
pub(super) const RATE_LIMITED_MESSAGE: &str = "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID FAKE:0000:0000000:0000000:00000000.";
/// The message of GitHub's secondary rate-limit 403/429.
pub(super) const SECONDARY_MESSAGE: &str = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE:0000:0000000:0000000:00000000.";

/// What the server task and the handle share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(super) server_base: String,
}

/// Locks the state, shrugging off poisoning (a panicking test thread must
/// not take the fake down with it).
pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The axum app: one fallback handler that routes by hand, so that every
/// route also answers under `/api/v3` and unknown routes get GitHub's 404.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A response before rate-limit headers are added.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    /// Advertise `x-ratelimit-remaining: 0` with this reset instead of the
    /// budget's own values.
    exhausted_reset: Option<i64>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
            exhausted_reset: None,
        }
    }

    fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
            exhausted_reset: None,
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// One request as the routes see it.
struct Ctx<'a> {
    method: &'a str,
    /// The path without the `/api/v3` prefix.
    path: &'a str,
    /// The path as received.
    raw_path: &'a str,
    query: Query,
    /// `server_base` plus the prefix the request came in with.
    api: String,
    server_base: &'a str,
    authorization: Option<&'a str>,
    body: &'a [u8],
}

/// Splits off the GitHub Enterprise Server prefix (`/api/v3` for REST,
/// `/api/graphql` for GraphQL).
pub(super) fn split_prefix(raw_path: &str) -> (bool, &str) {
    if raw_path == "/api/graphql" {
        return (true, "/graphql");
    }
    match raw_path.strip_prefix(GHES_PREFIX) {
        Some("") => (true, "/"),
        Some(rest) if rest.starts_with('/') => (true, rest),
        _ => (false, raw_path),
    }
}

async fn handle(Extract(shared): Extract<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().map(str::to_owned);
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let body = to_bytes(body, MAX_BODY).await;
    let (ghes, path) = split_prefix(&raw_path);
    let resource = if path == "/graphql" {
        Resource::Graphql
    } else {
        Resource::Core
    };
    let target = match &raw_query {
        Some(query) => format!("{raw_path}?{query}"),
        None => raw_path.clone(),
    };

    let fault = lock(&shared.state).take_fault(&method, &target);
    if let Some(FaultAction::Delay(latency)) = &fault {
        tokio::time::sleep(*latency).await;
    }

    let mut state = lock(&shared.state);
    let reply = match (fault, &body) {
        (
            Some(FaultAction::Respond {
                status,
                retry_after,
                ratelimit_reset,
                body,
            }),
            _,
        ) => fault_reply(status, retry_after, ratelimit_reset, body),
        (_, Err(_)) => error(413, "Request body too large", DOCS),
        (_, Ok(bytes)) => {
            let ctx = Ctx {
                method: &method,
                path,
                raw_path: &raw_path,
                query: Query::parse(raw_query.as_deref()),
                api: format!(
                    "{}{}",
                    shared.server_base,
                    if ghes { GHES_PREFIX } else { "" }
                ),
                server_base: &shared.server_base,
                authorization: authorization.as_deref(),
                body: bytes,
            };
            serve(&mut state, &ctx, resource)
        }
    };
    let response = finish(&state, reply, resource);
    let logged_body = match &body {
        Ok(bytes) if !bytes.is_empty() => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    };
    state.log.push(LoggedRequest {
        method,
        path: path.to_owned(),
        query: raw_query,
        status: response.status().as_u16(),
        body: logged_body,
        authorization,
        ghes_prefix: ghes,
    });
    response
}

/// Adds the rate-limit headers and turns a [`Reply`] into a response.
fn finish(state: &State, reply: Reply, resource: Resource) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let budget = state.budget(resource);
    let (remaining, reset) = match reply.exhausted_reset {
        Some(reset) => (0, reset),
        None => (budget.remaining, budget.reset),
    };
    let bodiless = status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational();
    let bytes = match reply.body {
        Some(value) if !bodiless => serde_json::to_vec(&value).unwrap_or_default(),
        _ => Vec::new(),
    };
    let has_body = !bytes.is_empty();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    headers.insert("x-ratelimit-limit", HeaderValue::from(budget.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert(
        "x-ratelimit-used",
        HeaderValue::from(budget.limit.saturating_sub(remaining)),
    );
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
    headers.insert(
        "x-ratelimit-resource",
        HeaderValue::from_static(resource.as_str()),
    );
    headers.insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

// ----- errors ----------------------------------------------------------------

fn error(status: u16, message: &str, docs: &str) -> Reply {
    Reply::json(
        status,
        json!({ "message": message, "documentation_url": docs, "status": status.to_string() }),
    )
}

fn not_found() -> Reply {
    error(404, "Not Found", DOCS)
}

fn validation_failed(resource: &str, code: &str, field: &str, docs: &str) -> Reply {
    Reply::json(
        422,
        json!({
            "message": "Validation Failed",
            "errors": [{ "resource": resource, "code": code, "field": field }],
            "documentation_url": docs,
            "status": "422",
        }),
    )
}

fn invalid_request(detail: &str, docs: &str) -> Reply {
    error(422, &format!("Invalid request.\n\n{detail}"), docs)
}

fn problems_parsing_json(docs: &str) -> Reply {
    error(400, "Problems parsing JSON", docs)
}

fn fault_reply(
    status: u16,
    retry_after: Option<u64>,
    ratelimit_reset: Option<i64>,
    body: Option<Value>,
) -> Reply {
    let body = body.unwrap_or_else(|| {
        let limited = matches!(status, 403 | 429);
        let (message, docs) = if limited && retry_after.is_some() {
            (SECONDARY_MESSAGE.to_owned(), SECONDARY_DOCS)
        } else if limited && ratelimit_reset.is_some() {
            (RATE_LIMITED_MESSAGE.to_owned(), RATE_DOCS)
        } else {
            let reason = StatusCode::from_u16(status)
                .ok()
                .and_then(|code| code.canonical_reason())
                .unwrap_or("Injected fault");
            let message = match status {
                500 | 502 => "Server Error",
                401 => "Bad credentials",
                _ => reason,
            };
            (message.to_owned(), DOCS)
        };
        json!({ "message": message, "documentation_url": docs, "status": status.to_string() })
    });
    let mut reply = Reply::json(status, body);
    if let Some(secs) = retry_after {
        reply = reply.header("retry-after", secs.to_string());
    }
    reply.exhausted_reset = ratelimit_reset;
    reply
}

// ----- pipeline ----------------------------------------------------------------

fn serve(state: &mut State, ctx: &Ctx<'_>, resource: Resource) -> Reply {
    let segments: Vec<&str> = ctx
        .path
        .strip_prefix('/')
        .unwrap_or(ctx.path)
        .split('/')
        .collect();

    // GitHub App installation tokens: authenticated with the app's JWT,
    // outside the user's credentials and budget.
    if let ["app", "installations", id, "access_tokens"] = segments.as_slice() {
        return if ctx.method == "POST" {
            access_token(state, ctx, id)
        } else {
            not_found()
        };
    }
    if !state.authorized(ctx.authorization) {
        return error(401, "Bad credentials", DOCS);
    }
    if segments.as_slice() == ["rate_limit"] && ctx.method == "GET" {
        // Free, as on GitHub.
        return rate_limit_status(state);
    }
    let budget = state.budget_mut(resource);
    if budget.remaining == 0 {
        let mut reply = error(403, RATE_LIMITED_MESSAGE, RATE_DOCS);
        reply.exhausted_reset = Some(budget.reset);
        return reply;
    }
    budget.remaining -= 1;

    match segments.as_slice() {
        ["graphql"] if ctx.method == "POST" => graphql(state, ctx),
        ["repos", owner, repo, rest @ ..] => {
            let matches = |given: &str, expected: &str| {
                percent_decode(given, false)
                    .is_some_and(|given| given.eq_ignore_ascii_case(expected))
            };
            if matches(owner, &state.owner) && matches(repo, &state.repo) {
                repo_route(state, ctx, rest)
            } else {
                not_found()
            }
        }
        _ => not_found(),
    }
}

fn repo_route(state: &mut State, ctx: &Ctx<'_>, rest: &[&str]) -> Reply {
    match (ctx.method, rest) {
        ("GET", []) => Reply::json(
            200,
            json::repository(&state.owner, &state.repo, false, &ctx.api),
        ),
        ("GET", ["pulls"]) => list_pulls(state, ctx),
        ("GET", ["pulls", n]) => get_pull(state, ctx, n),
        ("GET", ["issues", "comments", id]) => get_comment(state, ctx, id),
        // octocrab's `update_comment` POSTs; GitHub accepts both.
        ("PATCH" | "POST", ["issues", "comments", id]) => update_comment(state, ctx, id),
        ("DELETE", ["issues", "comments", id]) => delete_comment(state, id),
        ("GET", ["issues", n]) => get_issue(state, ctx, n),
        ("GET", ["issues", n, "labels"]) => list_issue_labels(state, ctx, n),
        ("POST", ["issues", n, "labels"]) => add_labels(state, ctx, n, false),
        ("PUT", ["issues", n, "labels"]) => add_labels(state, ctx, n, true),
        ("DELETE", ["issues", n, "labels"]) => clear_labels(state, n),
        ("DELETE", ["issues", n, "labels", name]) => remove_label(state, ctx, n, name),
        ("GET", ["issues", n, "comments"]) => list_comments(state, ctx, n),
        ("POST", ["issues", n, "comments"]) => create_comment(state, ctx, n),
        ("GET", ["collaborators", login, "permission"]) => permission(state, ctx, login),
        ("GET", ["labels"]) => list_labels(state, ctx),
        ("POST", ["labels"]) => create_label(state, ctx),
        ("GET", ["labels", name]) => get_label(state, ctx, name),
        ("PATCH" | "POST", ["labels", name]) => update_label(state, ctx, name),
        ("DELETE", ["labels", name]) => delete_label(state, name),
        _ => not_found(),
    }
}

// ----- helpers -------------------------------------------------------------------

fn number(segment: &str) -> Option<u64> {
    if segment.bytes().all(|b| b.is_ascii_digit()) {
        segment.parse().ok()
    } else {
        None
    }
}

/// A JSON body; an empty body reads as `{}`.
fn parse_body(body: &[u8], docs: &str) -> Result<Value, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|_| problems_parsing_json(docs))
}

fn paged(items: Vec<Value>, ctx: &Ctx<'_>) -> Reply {
    let page = paginate(
        items,
        &ctx.query,
        &format!("{}{}", ctx.server_base, ctx.raw_path),
    );
    let reply = Reply::json(200, Value::Array(page.items));
    match page.link {
        Some(link) => reply.header("link", link),
        None => reply,
    }
}

fn valid_label_name(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= LABEL_NAME_MAX
}

fn valid_color(color: &str) -> bool {
    color.len() == 6 && color.bytes().all(|b| b.is_ascii_hexdigit())
}

fn issue_labels_reply(state: &State, ctx: &Ctx<'_>, number: u64) -> Reply {
    Reply::json(
        200,
        Value::Array(json::issue_labels(state, number, &ctx.api)),
    )
}

// ----- pull requests and issues --------------------------------------------------

fn list_pulls(state: &State, ctx: &Ctx<'_>) -> Reply {
    let filter = ctx.query.get("state").unwrap_or_else(|| "open".to_owned());
    if !matches!(filter.as_str(), "open" | "closed" | "all") {
        return validation_failed("PullRequest", "invalid", "state", PULLS_DOCS);
    }
    let items = state
        .issues
        .values()
        .rev()
        .filter(|issue| match filter.as_str() {
            "open" => issue.is_open(),
            "closed" => !issue.is_open(),
            _ => true,
        })
        .filter_map(|issue| {
            let pr = issue.pr.as_ref()?;
            Some(json::pull(state, issue, pr, &ctx.api, false))
        })
        .collect();
    paged(items, ctx)
}

fn get_pull(state: &State, ctx: &Ctx<'_>, n: &str) -> Reply {
    let found = number(n).and_then(|n| state.issues.get(&n));
    match found.and_then(|issue| Some((issue, issue.pr.as_ref()?))) {
        Some((issue, pr)) => Reply::json(200, json::pull(state, issue, pr, &ctx.api, true)),
        None => error(404, "Not Found", PULLS_DOCS),
    }
}

fn get_issue(state: &State, ctx: &Ctx<'_>, n: &str) -> Reply {
    match number(n).and_then(|n| state.issues.get(&n)) {
        Some(issue) => Reply::json(200, json::issue(state, issue, &ctx.api)),
        None => not_found(),
    }
}

// ----- labels on issues -------------------------------------------------------------

fn existing_issue(state: &State, n: &str) -> Option<u64> {
    number(n).filter(|n| state.issues.contains_key(n))
}

fn list_issue_labels(state: &State, ctx: &Ctx<'_>, n: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    paged(json::issue_labels(state, number, &ctx.api), ctx)
}

/// The label names of an add/replace body: `{"labels": [...]}` or a bare
/// array, items being names or `{"name": ...}` objects.
fn label_names(body: &Value) -> Result<Vec<String>, Reply> {
    let items = match body {
        Value::Array(items) => items,
        Value::Object(object) => match object.get("labels") {
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(invalid_request(
                    &format!("For 'properties/labels', {other} is not an array."),
                    LABELS_DOCS,
                ));
            }
            None => {
                return Err(invalid_request("\"labels\" wasn't supplied.", LABELS_DOCS));
            }
        },
        other => {
            return Err(invalid_request(
                &format!("{other} is not an object or an array."),
                LABELS_DOCS,
            ));
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(name) => Ok(name.clone()),
            Value::Object(object) => match object.get("name") {
                Some(Value::String(name)) => Ok(name.clone()),
                _ => Err(invalid_request(
                    "\"name\" wasn't supplied for a label object.",
                    LABELS_DOCS,
                )),
            },
            other => Err(invalid_request(
                &format!("For 'items', {other} is not a string."),
                LABELS_DOCS,
            )),
        })
        .collect()
}

fn add_labels(state: &mut State, ctx: &Ctx<'_>, n: &str, replace: bool) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    let names = match parse_body(ctx.body, LABELS_DOCS).and_then(|body| label_names(&body)) {
        Ok(names) => names,
        Err(reply) => return reply,
    };
    if !names.iter().all(|name| valid_label_name(name)) {
        return validation_failed("Label", "invalid", "name", LABELS_DOCS);
    }
    if replace {
        state.replace_labels(number, &names);
    } else {
        state.attach(number, &names);
    }
    issue_labels_reply(state, ctx, number)
}

fn clear_labels(state: &mut State, n: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    state.replace_labels(number, &[]);
    Reply::empty(204)
}

fn remove_label(state: &mut State, ctx: &Ctx<'_>, n: &str, name: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    let removed = percent_decode(name, false).and_then(|name| state.detach(number, &name));
    if removed == Some(true) {
        issue_labels_reply(state, ctx, number)
    } else {
        error(404, "Label does not exist", LABELS_DOCS)
    }
}

// ----- comments ----------------------------------------------------------------------

/// The `body` of a comment create/update request.
fn comment_body(ctx: &Ctx<'_>) -> Result<String, Reply> {
    let body = parse_body(ctx.body, COMMENTS_DOCS)?;
    let text = match body.get("body") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => {
            return Err(invalid_request(
                &format!("For 'properties/body', {other} is not a string."),
                COMMENTS_DOCS,
            ));
        }
        None => return Err(invalid_request("\"body\" wasn't supplied.", COMMENTS_DOCS)),
    };
    if text.chars().count() > COMMENT_MAX {
        return Err(Reply::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{
                    "resource": "IssueComment",
                    "code": "unprocessable",
                    "field": "data",
                    "message": "Body is too long (maximum is 65536 characters)",
                }],
                "documentation_url": COMMENTS_DOCS,
                "status": "422",
            }),
        ));
    }
    Ok(text)
}

fn list_comments(state: &State, ctx: &Ctx<'_>, n: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    let items = state
        .comments
        .iter()
        .filter(|comment| comment.issue == number)
        .map(|comment| json::comment(state, comment, &ctx.api))
        .collect();
    paged(items, ctx)
}

fn create_comment(state: &mut State, ctx: &Ctx<'_>, n: &str) -> Reply {
    let Some(number) = existing_issue(state, n) else {
        return not_found();
    };
    let text = match comment_body(ctx) {
        Ok(text) => text,
        Err(reply) => return reply,
    };
    let viewer = state.viewer.clone();
    let id = state.add_comment(number, &viewer, &text);
    match id.and_then(|id| state.comments.iter().find(|c| c.id == id)) {
        Some(comment) => {
            let location = format!(
                "{}/repos/{}/{}/issues/comments/{}",
                ctx.api, state.owner, state.repo, comment.id
            );
            Reply::json(201, json::comment(state, comment, &ctx.api)).header("location", location)
        }
        None => not_found(),
    }
}

fn comment_index(state: &State, id: &str) -> Option<usize> {
    let id = number(id)?;
    state.comments.iter().position(|comment| comment.id == id)
}

fn get_comment(state: &State, ctx: &Ctx<'_>, id: &str) -> Reply {
    match comment_index(state, id).and_then(|i| state.comments.get(i)) {
        Some(comment) => Reply::json(200, json::comment(state, comment, &ctx.api)),
        None => not_found(),
    }
}

fn update_comment(state: &mut State, ctx: &Ctx<'_>, id: &str) -> Reply {
    let Some(index) = comment_index(state, id) else {
        return not_found();
    };
    let text = match comment_body(ctx) {
        Ok(text) => text,
        Err(reply) => return reply,
    };
    let at = now();
    let Some(comment) = state.comments.get_mut(index) else {
        return not_found();
    };
    comment.body = text;
    comment.updated_at = at;
    match state.comments.get(index) {
        Some(comment) => Reply::json(200, json::comment(state, comment, &ctx.api)),
        None => not_found(),
    }
}

fn delete_comment(state: &mut State, id: &str) -> Reply {
    match comment_index(state, id) {
        Some(index) => {
            state.comments.remove(index);
            Reply::empty(204)
        }
        None => not_found(),
    }
}

// ----- collaborators -------------------------------------------------------------------

/// GitHub's legacy `permission` for a role: maintain reads as write, triage
/// as read.
pub(super) fn legacy_permission(role: &str) -> &'static str {
    match role {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "triage" | "read" => "read",
        _ => "none",
    }
}

fn permission(state: &State, ctx: &Ctx<'_>, login: &str) -> Reply {
    let Some((login, role)) =
        percent_decode(login, false).and_then(|login| state.role_of(&login).cloned())
    else {
        return error(404, "Not Found", COLLABORATORS_DOCS);
    };
    let rank = match role.as_str() {
        "admin" => 5,
        "maintain" => 4,
        "write" => 3,
        "triage" => 2,
        "read" => 1,
        _ => 0,
    };
    let mut user = json::user(&login, &ctx.api);
    if let Some(object) = user.as_object_mut() {
        object.insert(
            "permissions".into(),
            json!({
                "admin": rank >= 5,
                "maintain": rank >= 4,
                "push": rank >= 3,
                "triage": rank >= 2,
                "pull": rank >= 1,
            }),
        );
        object.insert("role_name".into(), Value::String(role.clone()));
    }
    Reply::json(
        200,
        json!({
            "permission": legacy_permission(&role),
            "role_name": role,
            "user": user,
        }),
    )
}

// ----- label definitions ------------------------------------------------------------------

fn list_labels(state: &State, ctx: &Ctx<'_>) -> Reply {
    let items = state
        .labels
        .iter()
        .map(|def| json::label(state, def, &ctx.api))
        .collect();
    paged(items, ctx)
}

fn label_at(state: &State, name: &str) -> Option<usize> {
    percent_decode(name, false).and_then(|name| state.label_index(&name))
}

fn get_label(state: &State, ctx: &Ctx<'_>, name: &str) -> Reply {
    match label_at(state, name).and_then(|i| state.labels.get(i)) {
        Some(def) => Reply::json(200, json::label(state, def, &ctx.api)),
        None => error(404, "Not Found", LABELS_DOCS),
    }
}

/// An optional string field: `Ok(None)` when absent, `Ok(Some(None))` when
/// `null`.
fn optional_string(body: &Value, field: &str) -> Result<Option<Option<String>>, Reply> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => Ok(Some(Some(text.clone()))),
        Some(other) => Err(invalid_request(
            &format!("For 'properties/{field}', {other} is not a string or null."),
            LABELS_DOCS,
        )),
    }
}

/// Validated fields of a label create/update body.
struct LabelFields {
    name: Option<String>,
    color: Option<String>,
    description: Option<Option<String>>,
}

fn label_fields(ctx: &Ctx<'_>, name_field: &str) -> Result<LabelFields, Reply> {
    let body = parse_body(ctx.body, LABELS_DOCS)?;
    if !body.is_object() {
        return Err(invalid_request(
            &format!("{body} is not an object."),
            LABELS_DOCS,
        ));
    }
    let name = optional_string(&body, name_field)?.flatten();
    let color = optional_string(&body, "color")?.flatten();
    let description = optional_string(&body, "description")?;
    if name.as_deref().is_some_and(|name| !valid_label_name(name)) {
        return Err(validation_failed("Label", "invalid", "name", LABELS_DOCS));
    }
    if color.as_deref().is_some_and(|color| !valid_color(color)) {
        return Err(validation_failed("Label", "invalid", "color", LABELS_DOCS));
    }
    if description
        .as_ref()
        .and_then(Option::as_deref)
        .is_some_and(|text| text.chars().count() > LABEL_DESCRIPTION_MAX)
    {
        return Err(validation_failed(
            "Label",
            "invalid",
            "description",
            LABELS_DOCS,
        ));
    }
    Ok(LabelFields {
        name,
        color,
        description,
    })
}

fn create_label(state: &mut State, ctx: &Ctx<'_>) -> Reply {
    let fields = match label_fields(ctx, "name") {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    let Some(name) = fields.name else {
        return validation_failed("Label", "missing_field", "name", LABELS_DOCS);
    };
    if state.label_index(&name).is_some() {
        return validation_failed("Label", "already_exists", "name", LABELS_DOCS);
    }
    let color = fields
        .color
        .unwrap_or_else(|| DEFAULT_LABEL_COLOR.to_owned());
    let id = state.create_label(&name, &color, fields.description.flatten().as_deref());
    match state.label_by_id(id) {
        Some(def) => Reply::json(201, json::label(state, def, &ctx.api)),
        None => not_found(),
    }
}

fn update_label(state: &mut State, ctx: &Ctx<'_>, name: &str) -> Reply {
    let Some(index) = label_at(state, name) else {
        return error(404, "Not Found", LABELS_DOCS);
    };
    let fields = match label_fields(ctx, "new_name") {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    if let Some(new_name) = &fields.name {
        let clash = state
            .labels
            .iter()
            .enumerate()
            .any(|(i, def)| i != index && same_name(&def.name, new_name));
        if clash {
            return validation_failed("Label", "already_exists", "name", LABELS_DOCS);
        }
    }
    let Some(def) = state.labels.get_mut(index) else {
        return not_found();
    };
    if let Some(new_name) = fields.name {
        def.name = new_name;
    }
    if let Some(color) = fields.color {
        def.color = color.to_ascii_lowercase();
    }
    if let Some(description) = fields.description {
        def.description = description;
    }
    match state.labels.get(index) {
        Some(def) => Reply::json(200, json::label(state, def, &ctx.api)),
        None => not_found(),
    }
}

fn delete_label(state: &mut State, name: &str) -> Reply {
    let deleted = percent_decode(name, false).is_some_and(|name| state.delete_label(&name));
    if deleted {
        Reply::empty(204)
    } else {
        error(404, "Not Found", LABELS_DOCS)
    }
}

// ----- GraphQL --------------------------------------------------------------------------------

fn graphql_error(message: &str) -> Reply {
    Reply::json(200, json!({ "errors": [{ "message": message }] }))
}

/// Answers the label-attachment query (see the module docs for the
/// contract): the query text must mention `label(`, and the variables
/// `owner`, `name` and `label` say what to count.
fn graphql(state: &State, ctx: &Ctx<'_>) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(ctx.body) else {
        return problems_parsing_json("https://docs.github.com/graphql");
    };
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return graphql_error("A query attribute must be specified and must be a string.");
    };
    if !query.contains("label(") {
        return graphql_error(
            "The fake GitHub only answers the label-attachment query \
             (see showtime_github::fake): the query must contain `label(`.",
        );
    }
    let variable = |name: &str| {
        body.get("variables")
            .and_then(|variables| variables.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (Some(owner), Some(name), Some(label)) =
        (variable("owner"), variable("name"), variable("label"))
    else {
        return graphql_error(
            "Variables $owner, $name and $label of type String! must be provided.",
        );
    };
    if !owner.eq_ignore_ascii_case(&state.owner) || !name.eq_ignore_ascii_case(&state.repo) {
        return Reply::json(
            200,
            json!({
                "data": { "repository": null },
                "errors": [{
                    "type": "NOT_FOUND",
                    "path": ["repository"],
                    "message": format!("Could not resolve to a Repository with the name '{owner}/{name}'."),
                }],
            }),
        );
    }
    let label = state
        .label_index(&label)
        .and_then(|i| state.labels.get(i))
        .map_or(Value::Null, |def| {
            let (issues, pulls) = state.attachment_counts(def.id);
            json!({
                "issues": { "totalCount": issues },
                "pullRequests": { "totalCount": pulls },
            })
        });
    Reply::json(200, json!({ "data": { "repository": { "label": label } } }))
}

// ----- apps and rate limit ------------------------------------------------------------------------

fn access_token(state: &mut State, ctx: &Ctx<'_>, id: &str) -> Reply {
    if number(id).is_none() {
        return error(404, "Not Found", APPS_DOCS);
    }
    let is_bearer = ctx
        .authorization
        .and_then(|value| value.trim().split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
        });
    if !is_bearer || ctx.authorization.and_then(bearer_token).is_none() {
        return error(401, "A JSON web token could not be decoded", APPS_DOCS);
    }
    let token = state.mint_token();
    let expires = chrono::DateTime::<chrono::Utc>::from_timestamp(epoch_in(3600), 0);
    Reply::json(
        201,
        json!({
            "token": token,
            "expires_at": expires.map(|at| rfc3339(&at)),
            "permissions": {
                "issues": "write",
                "metadata": "read",
                "pull_requests": "write",
            },
            "repository_selection": "all",
        }),
    )
}

fn rate_limit_status(state: &State) -> Reply {
    let entry = |resource: Resource| {
        let budget = state.budget(resource);
        json!({
            "limit": budget.limit,
            "used": budget.used(),
            "remaining": budget.remaining,
            "reset": budget.reset,
        })
    };
    Reply::json(
        200,
        json!({
            "resources": { "core": entry(Resource::Core), "graphql": entry(Resource::Graphql) },
            "rate": entry(Resource::Core),
        }),
    )
}
