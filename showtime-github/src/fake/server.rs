//! The HTTP side of the fake: the request pipeline (faults, credentials,
//! rate limit, routing, conditional requests, response headers, request
//! log) and the endpoints outside a repository. The repository's REST
//! endpoints are in [`rest`](super::rest), GraphQL in
//! [`graphql`](super::graphql).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::{Request, State as Extract};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::graphql;
use super::rest::{number, repo_route};
use super::state::{Resource, State, bearer_token};
use super::util::{Query, epoch_in, percent_decode, rfc3339};
use super::{FaultAction, LoggedRequest};

/// The largest request body the fake reads.
const MAX_BODY: usize = 25 * 1024 * 1024;
/// GitHub Enterprise Server's REST prefix.
pub(super) const GHES_PREFIX: &str = "/api/v3";

const DOCS: &str = "https://docs.github.com/rest";
const GRAPHQL_DOCS: &str = "https://docs.github.com/graphql";
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
pub(super) struct Reply {
    pub(super) status: u16,
    /// The serialized JSON body.
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, String)>,
    /// Advertise `x-ratelimit-remaining: 0` with this reset instead of the
    /// budget's own values.
    exhausted_reset: Option<i64>,
}

impl Reply {
    pub(super) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(serde_json::to_vec(&body).unwrap_or_default()),
            headers: Vec::new(),
            exhausted_reset: None,
        }
    }

    pub(super) fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
            exhausted_reset: None,
        }
    }

    pub(super) fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// One request as the routes see it.
pub(super) struct Ctx<'a> {
    pub(super) method: &'a str,
    /// The path without the `/api/v3` prefix.
    pub(super) path: &'a str,
    /// The path as received.
    pub(super) raw_path: &'a str,
    pub(super) query: Query,
    /// `server_base` plus the prefix the request came in with.
    pub(super) api: String,
    pub(super) server_base: &'a str,
    pub(super) authorization: Option<&'a str>,
    pub(super) if_none_match: Option<&'a str>,
    pub(super) body: &'a [u8],
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
    let text_header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let authorization = text_header(header::AUTHORIZATION);
    let if_none_match = text_header(header::IF_NONE_MATCH);
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

    let cut = matches!(fault, Some(FaultAction::Reset { .. }));
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
        (Some(FaultAction::Reset { served: false }), _) => Reply::empty(502),
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
                if_none_match: if_none_match.as_deref(),
                body: bytes,
            };
            serve(&mut state, &ctx, resource)
        }
    };
    let mut response = finish(&state, reply, resource);
    if cut {
        *response.body_mut() = Body::new(Cut);
    }
    let logged_body = match &body {
        Ok(bytes) if !bytes.is_empty() => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    };
    let graphql_call = match (&body, resource) {
        (Ok(bytes), Resource::Graphql) => graphql::describe(bytes),
        _ => None,
    };
    state.log.push(LoggedRequest {
        method,
        path: path.to_owned(),
        query: raw_query,
        status: if cut { 0 } else { response.status().as_u16() },
        body: logged_body,
        authorization,
        ghes_prefix: ghes,
        if_none_match,
        graphql: graphql_call,
    });
    response
}

/// A body that fails at once, so hyper drops the connection: the client
/// sees it reset before the answer is through.
struct Cut;

impl HttpBody for Cut {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))))
    }
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
        Some(bytes) if !bodiless => bytes,
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

pub(super) fn error(status: u16, message: &str, docs: &str) -> Reply {
    Reply::json(
        status,
        json!({ "message": message, "documentation_url": docs, "status": status.to_string() }),
    )
}

pub(super) fn not_found() -> Reply {
    error(404, "Not Found", DOCS)
}

pub(super) fn validation_failed(resource: &str, code: &str, field: &str, docs: &str) -> Reply {
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

pub(super) fn invalid_request(detail: &str, docs: &str) -> Reply {
    error(422, &format!("Invalid request.\n\n{detail}"), docs)
}

pub(super) fn problems_parsing_json(docs: &str) -> Reply {
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
    // GitHub's OAuth web flow and the signed-in user: their own credentials.
    if let Some(reply) = super::oauth::route(state, ctx, &segments) {
        return reply;
    }
    if !state.authorized(ctx.authorization) {
        return error(401, "Bad credentials", DOCS);
    }
    if segments.as_slice() == ["rate_limit"] && ctx.method == "GET" {
        // Free, as on GitHub.
        return conditional(rate_limit_status(state), ctx);
    }
    let budget = state.budget_mut(resource);
    if budget.remaining == 0 {
        let mut reply = error(403, RATE_LIMITED_MESSAGE, RATE_DOCS);
        reply.exhausted_reset = Some(budget.reset);
        return reply;
    }
    budget.remaining -= 1;

    let reply = match segments.as_slice() {
        ["graphql"] if ctx.method == "POST" => match graphql::answer(state, ctx.body) {
            Some(answer) => Reply::json(200, answer),
            None => problems_parsing_json(GRAPHQL_DOCS),
        },
        ["orgs", rest @ ..] => super::teams::route(&state.teams, ctx, rest),
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
    };
    let reply = conditional(reply, ctx);
    if reply.status == 304 {
        // A conditional request answered 304 is free, as on GitHub.
        let budget = state.budget_mut(resource);
        budget.remaining = budget.remaining.saturating_add(1);
    }
    reply
}

// ----- conditional requests ------------------------------------------------------

/// The strong entity tag of a body: its SHA-256, quoted.
fn etag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(body)))
}

/// Whether an `If-None-Match` header names `tag` (weak comparison, as
/// RFC 9110 prescribes for `If-None-Match`; `*` matches any tag).
fn none_match_hits(header: &str, tag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    header.trim() == "*"
        || header
            .split(',')
            .any(|candidate| opaque(candidate) == opaque(tag))
}

/// Gives a successful GET with a JSON body its `ETag`, and turns it into
/// `304 Not Modified` without a body when the request's `If-None-Match`
/// names that tag.
fn conditional(mut reply: Reply, ctx: &Ctx<'_>) -> Reply {
    if ctx.method != "GET" || reply.status != 200 {
        return reply;
    }
    let Some(body) = &reply.body else {
        return reply;
    };
    let tag = etag(body);
    if ctx
        .if_none_match
        .is_some_and(|header| none_match_hits(header, &tag))
    {
        reply.status = 304;
        reply.body = None;
    }
    reply.header("etag", tag)
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
