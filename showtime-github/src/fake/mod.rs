//! A stateful fake GitHub server (REST and GraphQL) on 127.0.0.1, for
//! tests, the demo and third parties.
//!
//! [`FakeGitHub::start`] binds an ephemeral port, serves one repository over
//! real HTTP/1.1 on the current tokio runtime and returns a handle. Point any
//! GitHub client at [`FakeGitHub::url`] (octocrab's `base_uri`, for
//! instance), seed pull requests, issues, labels and collaborators through
//! the handle, and inspect the resulting state and the log of every request
//! afterwards. The fake follows GitHub's documented REST semantics where
//! Showtime depends on them, so a client that works against it should work
//! against GitHub:
//!
//! * labels are matched case-insensitively and keep their original spelling;
//!   names longer than 50 characters (Unicode scalar values) and descriptions
//!   longer than 100 are rejected with GitHub's 422 body; adding a label to
//!   an issue never removes the others, and defines the label (colour
//!   `ededed`) when the repository has no definition yet; deleting a
//!   definition detaches it from every issue and pull request;
//! * listings page like GitHub (`per_page` default 30, clamped to 100,
//!   1-based `page`) with an RFC 8288 `Link` header (`prev`, `next`, `last`,
//!   `first`) of absolute URLs that keep the other query parameters;
//! * pull requests and plain issues share one number space; only pull
//!   requests answer `GET /pulls/{n}`, and `GET /issues/{n}` carries a
//!   `pull_request` key for them alone. As on GitHub, `merged` and
//!   `mergeable` appear only in `GET /pulls/{n}`, not in listings (use
//!   `merged_at` there);
//! * every response carries `x-ratelimit-limit`, `-remaining`, `-used`,
//!   `-reset` and `-resource` (`core`, or `graphql` for `/graphql`, which has
//!   its own budget); once a budget is spent requests get GitHub's 403
//!   "API rate limit exceeded". `GET /rate_limit` is free, as on GitHub;
//! * every route also answers under the GitHub Enterprise Server prefix
//!   `/api/v3` (and GraphQL under `/api/graphql`), so
//!   [`FakeGitHub::ghes_url`] (`http://127.0.0.1:PORT/api/v3/`) works as a GHES base URL.
//!
//! # Endpoints
//!
//! Under `/repos/{owner}/{repo}` (other owners or repositories get 404):
//! `GET /pulls` (`state`=`open`|`closed`|`all`, number descending),
//! `GET /pulls/{n}`, `GET /issues/{n}`, `GET|POST|PUT|DELETE
//! /issues/{n}/labels`, `DELETE /issues/{n}/labels/{name}`,
//! `GET|POST /issues/{n}/comments` (oldest first),
//! `GET|PATCH|DELETE /issues/comments/{id}`,
//! `GET /collaborators/{login}/permission`, `GET|POST /labels`,
//! `GET|PATCH|DELETE /labels/{name}`, `GET|POST /deployments`,
//! `GET /deployments/{id}`, `GET|POST /deployments/{id}/statuses` and
//! `GET /deployments/{id}/statuses/{status_id}` (GitHub's semantics, see
//! [`FakeDeployment`] and the module `deployments`: newest first, transient
//! deployments never made inactive by `auto_inactive`); `POST` also updates
//! where octocrab uses it for a `PATCH`. Outside it: `POST /graphql` (below),
//! `GET /orgs/{org}/teams/{team_slug}/memberships/{username}`
//! ([`FakeGitHub::set_team_membership`]; 404 for a non-member, 403 after
//! [`FakeGitHub::refuse_team_reads`]),
//! `POST /app/installations/{id}/access_tokens`, `GET /rate_limit`, and
//! GitHub's OAuth web flow for one test user: `GET /login/oauth/authorize`,
//! `POST /login/oauth/access_token` and `GET /user`
//! ([`FakeGitHub::set_oauth_app`], [`FakeGitHub::set_oauth_user`]).
//!
//! # Conditional requests
//!
//! Every successful `GET` with a JSON body carries an `ETag` (the quoted
//! SHA-256 of the body, so it changes exactly when the answer does). A `GET`
//! whose `If-None-Match` names the current tag (or is `*`) is answered
//! `304 Not Modified` without a body and, as GitHub documents, costs no
//! rate-limit budget: `x-ratelimit-remaining` stays where it was. The log
//! records the 304 ([`LoggedRequest::not_modified`],
//! [`FakeGitHub::count_not_modified`]) and the header sent
//! ([`LoggedRequest::if_none_match`]).
//!
//! # GraphQL
//!
//! `POST /graphql` (`/api/graphql` under GHES) parses the document with a
//! small GraphQL parser, validates it against the slice of GitHub's schema
//! below, and runs it. Operations (`query`, `mutation`, the `{ ... }`
//! shorthand, several per document chosen by `operationName`), variables
//! with types and defaults, aliases, arguments of every literal kind,
//! nested selections, `__typename` and inline fragments (`... on
//! PullRequest { id }`) are understood; named fragments, directives and
//! block strings get an error saying they are not supported. Validation is
//! GitHub's: an unknown field, a missing or mistyped argument, an
//! undeclared or unused variable answers `{"errors": [...]}` alone (status
//! 200) and runs nothing. Each request costs one from the separate
//! `graphql` budget and is one entry in the log, with
//! [`LoggedRequest::graphql`] naming its operation and top-level fields
//! ([`FakeGitHub::count_graphql`] and
//! [`FakeGitHub::count_graphql_mutations`] count them).
//!
//! Served:
//!
//! * `repository(owner:, name:)` → `id`, `name`, `nameWithOwner`,
//!   `label(name:)` (null when not defined) → `id`, `name`, `color`,
//!   `description`, `issues(states:)` / `pullRequests(states:)` →
//!   `totalCount` (every state when `states` is absent);
//!   `pullRequest(number:)` / `issue(number:)` → `id`, `number`, `title`,
//!   `state`, `labels(first:|last:)` → `totalCount`, `nodes` (nodes need
//!   `first` or `last`, at most 100). Asking for many labels at once is one
//!   document with aliases: `a: label(name: "x") { ... } b: label(name:
//!   "y") { ... }`.
//! * mutations, run in document order: `addLabelsToLabelable(input:
//!   {labelableId, labelIds})` and `removeLabelsFromLabelable(...)` →
//!   `clientMutationId`, `labelable` (an interface: select with `... on
//!   PullRequest`), and `createLabel(input: {repositoryId, name, color,
//!   description})` → `label`. Adding a label already there, or removing
//!   one that is not, changes nothing and is no error. An id that resolves
//!   to nothing is a `NOT_FOUND` error ("Could not resolve to a node with
//!   the global id of '…'"), the field is `null` and that mutation changes
//!   nothing; the others in the document still run. `createLabel` refuses
//!   a blank name, one over 50 characters, one already taken, a colour
//!   that is not six hex digits and a description over 100 characters
//!   (`UNPROCESSABLE`).
//!
//! Node ids are opaque, stable strings, the same in REST (`node_id`) and
//! GraphQL (`id`): `LA_…` for label definitions (kept across a rename; a
//! definition deleted and created again gets a new one), `PR_…` for pull
//! requests, `I_…` for issues and `R_…` for the repository; see
//! [`FakeGitHub::label_node_id`], [`FakeGitHub::node_id`] and
//! [`FakeGitHub::repository_node_id`].
//!
//! [`FakeGitHub::refuse_graphql_mutations`] answers mutations as a GitHub
//! Enterprise Server without them does, so a client's REST fallback can be
//! tested.
//!
//! ```
//! use serde_json::{Value, json};
//! use showtime_github::fake::{FakeGitHub, FakePr};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeGitHub::start("acme", "shop").await?;
//! fake.add_pull_request(FakePr { labels: vec!["🎪 🚦 building".into()], ..FakePr::new(7) });
//! fake.define_label("🎪 🚦 running", "0e8a16", None);
//! let github = octocrab::Octocrab::builder()
//!     .base_uri(fake.url())?
//!     .personal_token("t".to_string())
//!     .build()?;
//!
//! // One label transition, one request.
//! let transition = json!({
//!     "query": "mutation($pr: ID!, $old: [ID!]!, $new: [ID!]!) {
//!         r: removeLabelsFromLabelable(input: {labelableId: $pr, labelIds: $old}) { clientMutationId }
//!         a: addLabelsToLabelable(input: {labelableId: $pr, labelIds: $new}) { clientMutationId }
//!     }",
//!     "variables": {
//!         "pr": fake.node_id(7),
//!         "old": [fake.label_node_id("🎪 🚦 building")],
//!         "new": [fake.label_node_id("🎪 🚦 running")],
//!     },
//! });
//! let _: Value = github.graphql(&transition).await?;
//! assert_eq!(fake.labels(7), ["🎪 🚦 running"]);
//! assert_eq!(fake.count_graphql_mutations(), 1);
//! let call = fake.requests()[0].graphql.clone().expect("a GraphQL request");
//! assert_eq!(call.fields, ["removeLabelsFromLabelable", "addLabelsToLabelable"]);
//!
//! // An older GitHub Enterprise Server: the document is refused whole.
//! fake.refuse_graphql_mutations();
//! assert!(github.graphql::<Value>(&transition).await.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! # Credentials
//!
//! Any `Authorization` header is accepted (and recorded in the log) unless
//! [`FakeGitHub::require_token`] names a token; then other credentials get
//! 401 "Bad credentials". `POST /app/installations/{id}/access_tokens`
//! accepts any `Bearer` credential (GitHub App JWT), mints a `ghs_fake…`
//! token that expires in an hour, and that token passes `require_token`.
//! Comments posted through the API are authored by the viewer
//! ([`FakeGitHub::set_viewer`], default `showtime[bot]`).
//!
//! # Faults
//!
//! [`FakeGitHub::inject`] makes the next matching requests fail (a status,
//! optionally with `Retry-After` or an exhausted primary rate limit) or
//! answer late; see [`Fault`].
//!
//! # Example
//!
//! ```
//! use showtime_github::fake::{FakeGitHub, FakePr, Fault};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeGitHub::start("acme", "shop").await?;
//! fake.add_pull_request(FakePr { labels: vec!["🎪 ⌛ 48h".into()], ..FakePr::new(7) });
//! fake.set_permission("alice", "maintain");
//! fake.inject(Fault::status(502).path_contains("/pulls/7"));
//!
//! let github = octocrab::Octocrab::builder()
//!     .base_uri(fake.url())?
//!     .personal_token("t".to_string())
//!     .build()?;
//! assert!(github.pulls("acme", "shop").get(7).await.is_err()); // the injected 502
//! let pr = github.pulls("acme", "shop").get(7).await?;
//! assert_eq!(pr.head.sha, FakePr::new(7).head_sha);
//! github.issues("acme", "shop").add_labels(7, &["🎪 🟢 running".to_string()]).await?;
//!
//! assert_eq!(fake.labels(7), ["🎪 ⌛ 48h", "🎪 🟢 running"]);
//! assert_eq!(fake.count("POST", "/repos/acme/shop/issues/7/labels"), 1);
//! assert_eq!(fake.requests()[0].status, 502);
//! fake.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod deployments;
mod fault;
mod graphql;
mod json;
mod log;
mod model;
mod oauth;
mod rest;
mod server;
mod state;
mod teams;
mod util;

pub use deployments::{FakeDeployment, FakeDeploymentStatus};
pub use fault::{Fault, FaultAction};
pub use log::{GraphqlCall, GraphqlOperation, LoggedRequest};
pub use model::{FakeComment, FakePr, FakeState};

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use server::{Shared, lock};
use state::{Issue, PrData, Refusal, State};

/// A running fake GitHub serving one repository; see the [module
/// docs](self).
///
/// Dropping the handle stops the server (gracefully, in the background);
/// [`shutdown`](Self::shutdown) stops it and waits.
///
/// The seeding methods panic when given a number that is not an issue or
/// pull request of the fake (or one that already is, for the `add_`
/// methods): that is a bug in the test.
pub struct FakeGitHub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeGitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGitHub")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl FakeGitHub {
    /// Binds `127.0.0.1:0`, spawns the server for `owner/repo` on the
    /// current tokio runtime and returns its handle.
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(owner: &str, repo: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(owner, repo)),
            server_base: format!("http://{addr}"),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = server::router(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            // An accept error ends the fake; tests then see connection errors.
            let _ = serving.await;
        });
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT/` (with the trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The GitHub Enterprise Server style base URL,
    /// `http://127.0.0.1:PORT/api/v3/`.
    pub fn ghes_url(&self) -> String {
        format!("http://{}{}/", self.addr, server::GHES_PREFIX)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits (up to 5 s, then aborts it) for it to
    /// finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    fn with_issue<T>(&self, number: u64, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state();
        assert!(
            state.issues.contains_key(&number),
            "fake GitHub: #{number} is neither an issue nor a pull request"
        );
        f(&mut state)
    }

    // ----- seeding ----------------------------------------------------------

    /// Adds a pull request (its labels are defined, colour `ededed`, when the
    /// repository lacks them).
    ///
    /// # Panics
    ///
    /// When the number is already taken by an issue or pull request.
    pub fn add_pull_request(&self, pr: FakePr) {
        let at = util::now();
        let number = pr.number;
        let issue = Issue {
            number,
            title: pr.title,
            body: pr.body,
            author: pr.author,
            state: FakeState::Open,
            created_at: at,
            updated_at: at,
            closed_at: None,
            labels: Vec::new(),
            pr: Some(PrData {
                head_sha: pr.head_sha,
                head_ref: pr.head_ref,
                base_ref: pr.base_ref,
                base_sha: util::fake_sha(&format!("base-{number}")),
                head_repo: pr.head_repo,
                merged_at: None,
                draft: pr.draft,
            }),
        };
        let mut state = self.state();
        assert!(
            state.insert_issue(issue, &pr.labels),
            "fake GitHub: #{number} already exists"
        );
        state.set_state(number, pr.state);
    }

    /// Adds an open plain issue (not a pull request) by `author`.
    ///
    /// # Panics
    ///
    /// When the number is already taken by an issue or pull request.
    pub fn add_issue(&self, number: u64, author: &str, labels: &[&str]) {
        let at = util::now();
        let issue = Issue {
            number,
            title: format!("Issue #{number}"),
            body: None,
            author: author.to_owned(),
            state: FakeState::Open,
            created_at: at,
            updated_at: at,
            closed_at: None,
            labels: Vec::new(),
            pr: None,
        };
        let labels: Vec<String> = labels.iter().map(|&label| label.to_owned()).collect();
        assert!(
            self.state().insert_issue(issue, &labels),
            "fake GitHub: #{number} already exists"
        );
    }

    /// Opens, closes or merges an issue or pull request (merging sets
    /// `merged_at`; reopening clears `closed_at` and `merged_at`).
    ///
    /// # Panics
    ///
    /// For an unknown number, or [`FakeState::Merged`] on a plain issue.
    pub fn set_state(&self, number: u64, state: FakeState) {
        self.with_issue(number, |s| {
            let is_pr = s.issues.get(&number).is_some_and(|i| i.pr.is_some());
            assert!(
                is_pr || state != FakeState::Merged,
                "fake GitHub: #{number} is an issue and cannot be merged"
            );
            s.set_state(number, state);
        });
    }

    /// Moves the head of pull request `number` to `sha` (a push).
    ///
    /// # Panics
    ///
    /// When `number` is not a pull request.
    pub fn set_head(&self, number: u64, sha: &str) {
        let mut state = self.state();
        let Some(issue) = state.issues.get_mut(&number).filter(|i| i.pr.is_some()) else {
            panic!("fake GitHub: #{number} is not a pull request");
        };
        if let Some(pr) = issue.pr.as_mut() {
            pr.head_sha = sha.to_owned();
        }
        issue.updated_at = util::now();
    }

    /// Replaces the description of issue or pull request `number`.
    ///
    /// # Panics
    ///
    /// For an unknown number.
    pub fn set_body(&self, number: u64, body: Option<&str>) {
        self.with_issue(number, |s| {
            if let Some(issue) = s.issues.get_mut(&number) {
                issue.body = body.map(str::to_owned);
                issue.updated_at = util::now();
            }
        });
    }

    /// Adds labels as a person would in the web UI: no request is logged, no
    /// budget is spent and names are not validated; missing definitions are
    /// created (colour `ededed`).
    ///
    /// # Panics
    ///
    /// For an unknown number.
    pub fn add_labels_as_person(&self, number: u64, labels: &[&str]) {
        let labels: Vec<String> = labels.iter().map(|&label| label.to_owned()).collect();
        self.with_issue(number, |s| s.attach(number, &labels));
    }

    /// Removes a label (case-insensitively) as a person would in the web UI;
    /// returns whether the issue carried it.
    ///
    /// # Panics
    ///
    /// For an unknown number.
    pub fn remove_label_as_person(&self, number: u64, label: &str) -> bool {
        self.with_issue(number, |s| s.detach(number, label) == Some(true))
    }

    /// Makes `login` a collaborator with `role`: `admin`, `maintain`,
    /// `write`, `triage`, `read` or `none`. (Users never given a role get 404
    /// from the permission endpoint.)
    ///
    /// # Panics
    ///
    /// For another role.
    pub fn set_permission(&self, login: &str, role: &str) {
        let role = role.to_ascii_lowercase();
        assert!(
            matches!(
                role.as_str(),
                "admin" | "maintain" | "write" | "triage" | "read" | "none"
            ),
            "fake GitHub: unknown role {role:?} (admin, maintain, write, triage, read or none)"
        );
        self.state()
            .permissions
            .insert(login.to_lowercase(), (login.to_owned(), role));
    }

    /// Makes `login` a member of the team `org/slug` with `state`
    /// (`active`, or `pending` for an invitation not yet accepted), or
    /// removes them with `None`. Unknown teams answer 404, as on GitHub.
    ///
    /// # Panics
    ///
    /// For a team not written `org/slug`, or another state.
    pub fn set_team_membership(&self, team: &str, login: &str, state: Option<&str>) {
        assert!(
            team.split_once('/')
                .is_some_and(|(org, slug)| !org.is_empty() && !slug.is_empty()),
            "fake GitHub: a team is written org/slug, not {team:?}"
        );
        assert!(
            matches!(state, None | Some("active" | "pending")),
            "fake GitHub: a membership is active or pending, not {state:?}"
        );
        self.state().teams.set(team, login, state);
    }

    /// Answers every team membership read with `403 Resource not
    /// accessible by integration` (`true`), as GitHub does for a token
    /// without the organization's `members: read` permission, or answers
    /// them again (`false`).
    pub fn refuse_team_reads(&self, refused: bool) {
        self.state().teams.refused = refused;
    }

    /// Defines a label in the repository, or updates the colour and
    /// description of the existing definition with that name
    /// (case-insensitively; the original spelling stays). Nothing is
    /// validated.
    pub fn define_label(&self, name: &str, color: &str, description: Option<&str>) {
        self.state().define_label(name, color, description);
    }

    /// Deletes a label definition as a person would, detaching it from every
    /// issue and pull request; returns whether it existed.
    pub fn delete_definition(&self, name: &str) -> bool {
        self.state().delete_label(name)
    }

    /// Adds a comment by `author` to issue or pull request `number`; returns
    /// its id.
    ///
    /// # Panics
    ///
    /// For an unknown number.
    pub fn add_comment(&self, number: u64, author: &str, body: &str) -> u64 {
        self.with_issue(number, |s| s.add_comment(number, author, body))
            .unwrap_or_default()
    }

    /// Deletes comment `id`, as a person would; returns whether it existed.
    pub fn delete_comment(&self, id: u64) -> bool {
        let mut state = self.state();
        let before = state.comments.len();
        state.comments.retain(|comment| comment.id != id);
        state.comments.len() != before
    }

    /// Sets the login API clients act as (the author of comments they
    /// post); default `showtime[bot]`.
    pub fn set_viewer(&self, login: &str) {
        self.state().viewer = login.to_owned();
    }

    // ----- inspection -------------------------------------------------------

    /// The label names of issue or pull request `number`, in the order they
    /// were attached.
    ///
    /// # Panics
    ///
    /// For an unknown number.
    pub fn labels(&self, number: u64) -> Vec<String> {
        self.with_issue(number, |s| s.issue_label_names(number))
    }

    /// The repository's label definitions as `(name, color, description)`,
    /// in creation order.
    pub fn definitions(&self) -> Vec<(String, String, Option<String>)> {
        self.state()
            .labels
            .iter()
            .map(|def| (def.name.clone(), def.color.clone(), def.description.clone()))
            .collect()
    }

    /// The comments of issue or pull request `number`, oldest first.
    ///
    /// # Panics
    ///
    /// For an unknown number.
    pub fn comments(&self, number: u64) -> Vec<FakeComment> {
        self.with_issue(number, |s| {
            s.comments
                .iter()
                .filter(|comment| comment.issue == number)
                .map(|comment| FakeComment {
                    id: comment.id,
                    author: comment.author.clone(),
                    body: comment.body.clone(),
                    created_at: comment.created_at,
                    updated_at: comment.updated_at,
                })
                .collect()
        })
    }

    /// The state of issue or pull request `number`.
    ///
    /// # Panics
    ///
    /// For an unknown number.
    pub fn state_of(&self, number: u64) -> FakeState {
        self.with_issue(number, |s| {
            s.issues
                .get(&number)
                .map_or(FakeState::Open, |issue| issue.state)
        })
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state().log.clone()
    }

    /// Forgets the requests logged so far.
    pub fn clear_requests(&self) {
        self.state().log.clear();
    }

    /// How many logged requests have `method` (case-insensitive) and a path
    /// (as in [`LoggedRequest::path`], raw or
    /// [decoded](LoggedRequest::decoded_path)) starting with `path_prefix`.
    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.state()
            .log
            .iter()
            .filter(|request| request.method.eq_ignore_ascii_case(method))
            .filter(|request| {
                request.path.starts_with(path_prefix)
                    || request.decoded_path().starts_with(path_prefix)
            })
            .count()
    }

    /// How many logged GraphQL requests selected top-level field `field`
    /// (by name, whatever the alias): `count_graphql("addLabelsToLabelable")`.
    /// A document carrying several mutations counts once per request.
    pub fn count_graphql(&self, field: &str) -> usize {
        self.state()
            .log
            .iter()
            .filter(|request| request.graphql.as_ref().is_some_and(|c| c.selects(field)))
            .count()
    }

    /// How many logged GraphQL requests carried a mutation (label
    /// transitions, label creations), whatever they answered.
    pub fn count_graphql_mutations(&self) -> usize {
        self.state()
            .log
            .iter()
            .filter(|request| request.is_mutation())
            .count()
    }

    /// How many logged requests were answered `304 Not Modified`.
    pub fn count_not_modified(&self) -> usize {
        self.state()
            .log
            .iter()
            .filter(|request| request.not_modified())
            .count()
    }

    // ----- GraphQL ------------------------------------------------------------

    /// The GraphQL node id of the repository (its REST `node_id`).
    pub fn repository_node_id(&self) -> String {
        self.state().repository_node_id()
    }

    /// The GraphQL node id of issue or pull request `number` (its REST
    /// `node_id`).
    ///
    /// # Panics
    ///
    /// For an unknown number.
    pub fn node_id(&self, number: u64) -> String {
        self.with_issue(number, |s| {
            s.issues
                .get(&number)
                .map(state::issue_node_id)
                .unwrap_or_default()
        })
    }

    /// The GraphQL node id of the label definition named `name`
    /// (case-insensitively), if there is one.
    pub fn label_node_id(&self, name: &str) -> Option<String> {
        let state = self.state();
        let index = state.label_index(name)?;
        state
            .labels
            .get(index)
            .map(|def| state::label_node_id(def.id))
    }

    /// Answers every GraphQL mutation as a GitHub Enterprise Server that
    /// predates it would: `Field 'addLabelsToLabelable' doesn't exist on type
    /// 'Mutation'` (extension code `undefinedField`), status 200, and
    /// nothing in the document runs. Queries are still served. Undo with
    /// [`accept_graphql_mutations`](Self::accept_graphql_mutations).
    pub fn refuse_graphql_mutations(&self) {
        self.state().refused_mutations = Refusal::All;
    }

    /// Like [`refuse_graphql_mutations`](Self::refuse_graphql_mutations),
    /// for the mutation field `field` alone (`"createLabel"`); repeat to
    /// refuse more.
    pub fn refuse_graphql_mutation(&self, field: &str) {
        let mut state = self.state();
        match &mut state.refused_mutations {
            Refusal::All => {}
            Refusal::Only(fields) => fields.push(field.to_owned()),
            Refusal::None => state.refused_mutations = Refusal::Only(vec![field.to_owned()]),
        }
    }

    /// Serves every GraphQL mutation again.
    pub fn accept_graphql_mutations(&self) {
        self.state().refused_mutations = Refusal::None;
    }

    // ----- budget, credentials, faults --------------------------------------

    /// Sets the remaining REST (`core`) budget; at 0 every further request
    /// gets GitHub's 403 "API rate limit exceeded".
    pub fn set_rate_limit_remaining(&self, remaining: u64) {
        self.state().core.remaining = remaining;
    }

    /// The remaining REST (`core`) budget.
    pub fn rate_limit_remaining(&self) -> u64 {
        self.state().core.remaining
    }

    /// Sets the remaining GraphQL budget (separate from `core`, as on
    /// GitHub).
    pub fn set_graphql_rate_limit_remaining(&self, remaining: u64) {
        self.state().graphql.remaining = remaining;
    }

    /// The remaining GraphQL budget (one per request).
    pub fn graphql_rate_limit_remaining(&self) -> u64 {
        self.state().graphql.remaining
    }

    /// Sets the `x-ratelimit-reset` epoch of both budgets (default: an hour
    /// after start). Budgets never refill by themselves.
    pub fn set_rate_limit_reset(&self, epoch: i64) {
        let mut state = self.state();
        state.core.reset = epoch;
        state.graphql.reset = epoch;
    }

    /// Requires `Authorization: token {t}` or `Bearer {t}` (or a token minted
    /// by the fake for an app installation) on every request but the
    /// installation-token one; `None` accepts anything again.
    pub fn require_token(&self, token: Option<&str>) {
        self.state().required_token = token.map(str::to_owned);
    }

    /// Injects a fault; see [`Fault`].
    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            self.state().faults.push(fault);
        }
    }

    /// Removes all pending faults.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
