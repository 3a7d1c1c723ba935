//! The PR-host port on GitHub's REST API, through octocrab.
//!
//! [`GitHubHost`] implements [`PrHost`] with GitHub's request budget in mind:
//! one request reads a PR with its labels, open PRs are listed 100 a page,
//! any number of labels is added in one request, and the status comment's id
//! is remembered once found. Labels are only ever added (`POST`) or removed
//! one by one (`DELETE`), never replaced as a set, so a label a person adds at
//! the same moment survives.
//!
//! Retries: 5xx answers and secondary rate limits (403/429 with `Retry-After`
//! or `x-ratelimit-reset`) are retried with bounded backoff that honours the
//! header; an exhausted primary rate limit is returned at once as
//! [`PortError::RateLimited`] naming the reset time. 401, other 403s, 404 and
//! 422 become errors that say what to check.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{Value, json};
use showtime_core::ports::{Permission, PortError, PrHost, PrState, PullRequest};
use showtime_core::{Login, PrNumber};

/// The default REST API root.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// How Showtime authenticates to GitHub.
#[derive(Clone)]
pub enum Auth {
    /// A token: `GITHUB_TOKEN` in Actions, or a personal access token.
    Token(String),
    /// A GitHub App installation.
    App {
        /// The App's id.
        app_id: u64,
        /// The App's private key, PEM.
        private_key: String,
        /// The installation in the repository's organisation or account.
        installation_id: u64,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Auth::Token(_) => f.write_str("Auth::Token(…)"),
            Auth::App {
                app_id,
                installation_id,
                ..
            } => write!(
                f,
                "Auth::App {{ app_id: {app_id}, installation_id: {installation_id}, .. }}"
            ),
        }
    }
}

/// Retries of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff after a 5xx; it doubles each time.
    pub base: Duration,
    /// The longest the adapter waits before one retry, whatever a
    /// `Retry-After` asks; a longer wait is returned as an error instead.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Where and as whom to talk to GitHub.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// The repository owner.
    pub owner: String,
    /// The repository name.
    pub repo: String,
    /// The REST API root (`https://api.github.com`, or
    /// `https://HOST/api/v3` for GitHub Enterprise Server).
    pub api_url: String,
    /// Credentials.
    pub auth: Auth,
    /// Retries.
    pub retry: RetryPolicy,
}

/// Why the adapter could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GitHubError {
    /// No repository was given.
    #[error("no repository: set GITHUB_REPOSITORY=owner/name or pass --repo owner/name")]
    MissingRepository,
    /// The repository is not `owner/name`.
    #[error("repository `{0}` is not of the form owner/name")]
    BadRepository(String),
    /// No credentials were given.
    #[error(
        "no GitHub credentials: set GITHUB_TOKEN, or SHOWTIME_GITHUB_APP_ID, \
         SHOWTIME_GITHUB_APP_KEY and SHOWTIME_GITHUB_INSTALLATION_ID"
    )]
    MissingCredentials,
    /// A setting has a bad value.
    #[error("{name} is invalid: {reason}")]
    BadSetting {
        /// The setting.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the GitHub client: {0}")]
    Client(String),
}

impl GitHubConfig {
    /// A configuration for `repository` (`owner/name`) on github.com.
    pub fn new(repository: &str, auth: Auth) -> Result<Self, GitHubError> {
        let (owner, repo) = split_repository(repository)?;
        Ok(GitHubConfig {
            owner,
            repo,
            api_url: DEFAULT_API_URL.to_owned(),
            auth,
            retry: RetryPolicy::default(),
        })
    }

    /// A configuration from the environment GitHub Actions provides:
    /// `GITHUB_REPOSITORY`, `GITHUB_API_URL`, and `GITHUB_TOKEN` or the App's
    /// `SHOWTIME_GITHUB_APP_ID`, `SHOWTIME_GITHUB_APP_KEY` (PEM) and
    /// `SHOWTIME_GITHUB_INSTALLATION_ID`. `lookup` reads one variable
    /// (`|k| std::env::var(k).ok()` in programs).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, GitHubError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let repository = get("GITHUB_REPOSITORY").ok_or(GitHubError::MissingRepository)?;
        let auth = match (
            get("SHOWTIME_GITHUB_APP_ID"),
            get("SHOWTIME_GITHUB_APP_KEY"),
            get("SHOWTIME_GITHUB_INSTALLATION_ID"),
        ) {
            (Some(app_id), Some(private_key), Some(installation_id)) => Auth::App {
                app_id: parse_id("SHOWTIME_GITHUB_APP_ID", &app_id)?,
                private_key,
                installation_id: parse_id("SHOWTIME_GITHUB_INSTALLATION_ID", &installation_id)?,
            },
            _ => Auth::Token(get("GITHUB_TOKEN").ok_or(GitHubError::MissingCredentials)?),
        };
        let mut config = GitHubConfig::new(&repository, auth)?;
        if let Some(url) = get("GITHUB_API_URL") {
            config.api_url = url;
        }
        Ok(config)
    }

    /// Overrides the repository (`owner/name`), as `--repo` does.
    pub fn with_repository(mut self, repository: &str) -> Result<Self, GitHubError> {
        (self.owner, self.repo) = split_repository(repository)?;
        Ok(self)
    }

    /// Overrides the API root, as `--github-api-url` does.
    pub fn with_api_url(mut self, url: &str) -> Self {
        self.api_url = url.to_owned();
        self
    }
}

/// An octocrab client rooted at `base` with `auth`.
fn build_client(base: &str, auth: &Auth) -> Result<Octocrab, GitHubError> {
    let builder = Octocrab::builder()
        .base_uri(format!("{base}/"))
        .map_err(|e| GitHubError::BadSetting {
            name: "GITHUB_API_URL",
            reason: e.to_string(),
        })?
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)));
    match auth {
        Auth::Token(token) => builder
            .personal_token(token.clone())
            .build()
            .map_err(|e| GitHubError::Client(e.to_string())),
        Auth::App {
            app_id,
            private_key,
            installation_id,
        } => {
            let key = octocrab::EncodingKey::from_rsa_pem(private_key.as_bytes()).map_err(|e| {
                GitHubError::BadSetting {
                    name: "SHOWTIME_GITHUB_APP_KEY",
                    reason: format!("not an RSA private key in PEM form: {e}"),
                }
            })?;
            builder
                .app((*app_id).into(), key)
                .build()
                .and_then(|app| app.installation((*installation_id).into()))
                .map_err(|e| GitHubError::Client(e.to_string()))
        }
    }
}

fn parse_id(name: &'static str, value: &str) -> Result<u64, GitHubError> {
    value.trim().parse().map_err(|_| GitHubError::BadSetting {
        name,
        reason: format!("`{value}` is not a number"),
    })
}

fn split_repository(repository: &str) -> Result<(String, String), GitHubError> {
    let valid = |part: &str| {
        !part.is_empty()
            && part.len() <= 100
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match repository.split_once('/') {
        Some((owner, repo)) if valid(owner) && valid(repo) => {
            Ok((owner.to_owned(), repo.to_owned()))
        }
        _ => Err(GitHubError::BadRepository(repository.to_owned())),
    }
}

/// The PR host on GitHub.
pub struct GitHubHost {
    client: Octocrab,
    graphql: Octocrab,
    owner: String,
    repo: String,
    retry: RetryPolicy,
    comment_ids: Mutex<HashMap<PrNumber, u64>>,
}

impl std::fmt::Debug for GitHubHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHubHost({}/{})", self.owner, self.repo)
    }
}

impl GitHubHost {
    /// Builds the client. Must be called within a tokio runtime.
    pub fn new(config: GitHubConfig) -> Result<Self, GitHubError> {
        let api_url = config.api_url.trim_end_matches('/').to_owned();
        let bad_url = |reason: String| GitHubError::BadSetting {
            name: "GITHUB_API_URL",
            reason,
        };
        let uri: http::Uri = api_url
            .parse()
            .map_err(|e| bad_url(format!("`{api_url}` is not a URL: {e}")))?;
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(bad_url(format!("`{api_url}` needs a scheme and a host")));
        }
        let client = build_client(&api_url, &config.auth)?;
        // GitHub Enterprise Server serves REST under /api/v3 and GraphQL at
        // /api/graphql; octocrab prefixes every path with its base, so
        // GraphQL there needs a client of its own rooted at /api.
        let graphql = match api_url.strip_suffix("/api/v3") {
            Some(root) => build_client(&format!("{root}/api"), &config.auth)?,
            None => client.clone(),
        };
        Ok(GitHubHost {
            client,
            graphql,
            owner: config.owner,
            repo: config.repo,
            retry: config.retry,
            comment_ids: Mutex::new(HashMap::new()),
        })
    }

    /// `owner/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}/{rest}", self.owner, self.repo)
    }

    /// Sends one request, retrying as the module docs describe.
    async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Reply, PortError> {
        self.send_with(&self.client, method, uri, body).await
    }

    async fn send_with(
        &self,
        client: &Octocrab,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Reply, PortError> {
        let mut attempt = 1;
        loop {
            let outcome = send_once(client, method, uri, body).await;
            let wait = match &outcome {
                Ok(reply) if reply.status.is_success() => return outcome,
                Ok(reply) => match classify(method, uri, reply) {
                    Verdict::Fail(error) => return Err(error),
                    Verdict::Exhausted => return Err(rate_limited(reply)),
                    Verdict::Retry(at_least) => at_least.max(self.backoff(attempt)),
                },
                // Connection refused, reset, timed out: try again.
                Err(_) => self.backoff(attempt),
            };
            if attempt >= self.retry.attempts || wait > self.retry.max_wait {
                return match outcome {
                    Ok(reply) if is_rate_limited(&reply) => Err(rate_limited(&reply)),
                    Ok(reply) => Err(PortError::transient(describe(method, uri, &reply))),
                    Err(e) => Err(e),
                };
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.retry
            .base
            .saturating_mul(factor)
            .min(self.retry.max_wait)
    }

    async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<(T, HeaderMap), PortError> {
        let reply = self.send(method, uri, body).await?;
        let value = serde_json::from_str(&reply.body).map_err(|e| {
            PortError::permanent(format!(
                "{} {uri}: GitHub's answer is not what its API documents: {e}",
                method.as_str()
            ))
        })?;
        Ok((value, reply.headers))
    }

    /// Every page of a list, following `Link: rel="next"`.
    async fn pages<T: for<'de> Deserialize<'de>>(
        &self,
        first: String,
    ) -> Result<Vec<T>, PortError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(uri) = next.take() {
            let (page, headers): (Vec<T>, _) = self.json(Method::Get, &uri, None).await?;
            out.extend(page);
            next = next_link(&headers);
        }
        Ok(out)
    }

    async fn find_comment(&self, pr: PrNumber, marker: &str) -> Result<Option<u64>, PortError> {
        let mut next = Some(self.path(&format!("issues/{pr}/comments?per_page=100")));
        while let Some(uri) = next.take() {
            let (page, headers): (Vec<WireComment>, _) = self.json(Method::Get, &uri, None).await?;
            if let Some(found) = page
                .iter()
                .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
            {
                return Ok(Some(found.id));
            }
            next = next_link(&headers);
        }
        Ok(None)
    }

    fn remembered_comment(&self) -> std::sync::MutexGuard<'_, HashMap<PrNumber, u64>> {
        self.comment_ids.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One attempt of a request: status, headers and body.
async fn send_once(
    client: &Octocrab,
    method: Method,
    uri: &str,
    body: Option<&Value>,
) -> Result<Reply, PortError> {
    let response = match method {
        Method::Get => client._get(uri).await,
        Method::Post => client._post(uri, body).await,
        Method::Patch => client._patch(uri, body).await,
        Method::Delete => client._delete(uri, body).await,
    }
    .map_err(|e| PortError::transient(format!("{} {uri}: {e}", method.as_str())))?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| {
            PortError::transient(format!(
                "{} {uri}: reading the answer: {e}",
                method.as_str()
            ))
        })?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

enum Verdict {
    /// Worth retrying, after at least this long.
    Retry(Duration),
    /// The primary rate limit is spent: retrying before the reset is pointless.
    Exhausted,
    /// Will not work if retried.
    Fail(PortError),
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn is_rate_limited(reply: &Reply) -> bool {
    matches!(reply.status.as_u16(), 403 | 429)
        && (header_u64(&reply.headers, "x-ratelimit-remaining") == Some(0)
            || reply.headers.contains_key("retry-after")
            || reply.body.to_lowercase().contains("rate limit"))
}

fn reset_time(reply: &Reply) -> DateTime<Utc> {
    header_u64(&reply.headers, "x-ratelimit-reset")
        .and_then(|s| i64::try_from(s).ok())
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .or_else(|| {
            let secs = header_u64(&reply.headers, "retry-after")?;
            let now = DateTime::from_timestamp(now_epoch(), 0)?;
            Some(now + chrono::Duration::seconds(i64::try_from(secs).ok()?))
        })
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn rate_limited(reply: &Reply) -> PortError {
    PortError::RateLimited {
        reset: reset_time(reply),
    }
}

/// GitHub's error message, from its JSON body.
fn message(reply: &Reply) -> String {
    let parsed: Option<Value> = serde_json::from_str(&reply.body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let errors = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .map(|e| format!(" {e}"))
        .unwrap_or_default();
    let text = format!("{message}{errors}");
    text.chars().take(300).collect()
}

fn describe(method: Method, uri: &str, reply: &Reply) -> String {
    format!(
        "{} {uri}: {} {}",
        method.as_str(),
        reply.status.as_u16(),
        message(reply)
    )
}

fn classify(method: Method, uri: &str, reply: &Reply) -> Verdict {
    let status = reply.status.as_u16();
    if reply.status.is_server_error() {
        return Verdict::Retry(Duration::ZERO);
    }
    if matches!(status, 403 | 429) && is_rate_limited(reply) {
        if let Some(secs) = header_u64(&reply.headers, "retry-after") {
            return Verdict::Retry(Duration::from_secs(secs));
        }
        if reply.body.to_lowercase().contains("secondary rate limit") {
            let wait = (reset_time(reply).timestamp() - now_epoch()).max(0);
            return Verdict::Retry(Duration::from_secs(wait.unsigned_abs()));
        }
        return Verdict::Exhausted;
    }
    let detail = describe(method, uri, reply);
    Verdict::Fail(match status {
        401 => PortError::permanent(format!(
            "{detail}: GitHub rejected the credentials; check GITHUB_TOKEN (or the App's \
             key and installation id) and that it has not expired"
        )),
        403 => PortError::permanent(format!(
            "{detail}: the token may not do this; it needs `pull-requests: write`, \
             `issues: write` and `contents: read` on the repository"
        )),
        404 => PortError::NotFound { what: detail },
        422 => PortError::permanent(format!("{detail}: GitHub refused the values sent")),
        _ => PortError::permanent(detail),
    })
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// Percent-encodes one path segment (label names hold emoji and spaces):
/// everything but RFC 3986's unreserved characters.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
struct WireUser {
    login: String,
}

#[derive(Deserialize)]
struct WireLabel {
    name: String,
}

#[derive(Deserialize)]
struct WireHead {
    sha: String,
}

#[derive(Deserialize)]
struct WirePull {
    number: u64,
    state: String,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<String>,
    head: WireHead,
    user: WireUser,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<WireLabel>,
}

#[derive(Deserialize)]
struct WireComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct WirePermission {
    #[serde(default)]
    permission: Option<String>,
    #[serde(default)]
    role_name: Option<String>,
}

/// The one place GitHub's pull request becomes Showtime's.
fn to_pull_request(wire: WirePull) -> Result<PullRequest, PortError> {
    let bad = |what: &str, value: &str| {
        PortError::permanent(format!(
            "GitHub returned PR #{} with an invalid {what} `{value}`",
            wire.number
        ))
    };
    let number = PrNumber::new(wire.number).ok_or_else(|| bad("number", "0"))?;
    let merged = wire.merged.unwrap_or(false) || wire.merged_at.is_some();
    let state = match (wire.state.as_str(), merged) {
        ("open", _) => PrState::Open,
        (_, true) => PrState::Merged,
        _ => PrState::Closed,
    };
    let head_sha = wire
        .head
        .sha
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| bad("head SHA", &wire.head.sha))?;
    let author: Login = wire
        .user
        .login
        .parse()
        .map_err(|_| bad("author", &wire.user.login))?;
    Ok(PullRequest {
        number,
        state,
        head_sha,
        author,
        body: wire.body.unwrap_or_default(),
        labels: wire.labels.into_iter().map(|l| l.name).collect(),
    })
}

fn permission_of(wire: &WirePermission) -> Permission {
    // `role_name` is precise (maintain, triage); `permission` folds them.
    [wire.role_name.as_deref(), wire.permission.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|p| p.parse().ok())
        .unwrap_or(Permission::None)
}

#[async_trait]
impl PrHost for GitHubHost {
    async fn pull_request(&self, pr: PrNumber) -> Result<PullRequest, PortError> {
        let (wire, _): (WirePull, _) = self
            .json(Method::Get, &self.path(&format!("pulls/{pr}")), None)
            .await
            .map_err(|e| match e {
                PortError::NotFound { .. } => PortError::NotFound {
                    what: format!("PR #{pr} in {}", self.repository()),
                },
                other => other,
            })?;
        to_pull_request(wire)
    }

    async fn open_pull_requests(&self) -> Result<Vec<PullRequest>, PortError> {
        let wires: Vec<WirePull> = self
            .pages(self.path("pulls?state=open&per_page=100"))
            .await?;
        wires.into_iter().map(to_pull_request).collect()
    }

    async fn add_labels(&self, pr: PrNumber, labels: &[String]) -> Result<(), PortError> {
        if labels.is_empty() {
            return Ok(());
        }
        let body = json!({ "labels": labels });
        self.send(
            Method::Post,
            &self.path(&format!("issues/{pr}/labels")),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    async fn remove_label(&self, pr: PrNumber, label: &str) -> Result<(), PortError> {
        let uri = self.path(&format!("issues/{pr}/labels/{}", segment(label)));
        match self.send(Method::Delete, &uri, None).await {
            // Not on the issue: already removed.
            Ok(_) | Err(PortError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn permission(&self, user: &Login) -> Result<Permission, PortError> {
        let uri = self.path(&format!(
            "collaborators/{}/permission",
            segment(user.as_str())
        ));
        match self.json::<WirePermission>(Method::Get, &uri, None).await {
            Ok((wire, _)) => Ok(permission_of(&wire)),
            Err(PortError::NotFound { .. }) => Ok(Permission::None),
            Err(e) => Err(e),
        }
    }

    async fn upsert_comment(
        &self,
        pr: PrNumber,
        marker: &str,
        body: &str,
    ) -> Result<(), PortError> {
        let payload = json!({ "body": body });
        let remembered = self.remembered_comment().get(&pr).copied();
        if let Some(id) = remembered {
            let uri = self.path(&format!("issues/comments/{id}"));
            match self.send(Method::Patch, &uri, Some(&payload)).await {
                Ok(_) => return Ok(()),
                // Deleted by someone: find or create it again.
                Err(PortError::NotFound { .. }) => {
                    self.remembered_comment().remove(&pr);
                }
                Err(e) => return Err(e),
            }
        }
        let id = match self.find_comment(pr, marker).await? {
            Some(id) => {
                let uri = self.path(&format!("issues/comments/{id}"));
                self.send(Method::Patch, &uri, Some(&payload)).await?;
                id
            }
            None => {
                let uri = self.path(&format!("issues/{pr}/comments"));
                let (created, _): (WireComment, _) =
                    self.json(Method::Post, &uri, Some(&payload)).await?;
                created.id
            }
        };
        self.remembered_comment().insert(pr, id);
        Ok(())
    }

    async fn ensure_label(
        &self,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<(), PortError> {
        let body = json!({ "name": name, "color": color, "description": description });
        match self
            .send(Method::Post, &self.path("labels"), Some(&body))
            .await
        {
            Ok(_) => Ok(()),
            Err(PortError::Permanent { message }) if message.contains("already_exists") => {
                let update = json!({ "color": color, "description": description });
                let uri = self.path(&format!("labels/{}", segment(name)));
                self.send(Method::Patch, &uri, Some(&update))
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    async fn repository_labels(&self) -> Result<Vec<String>, PortError> {
        let labels: Vec<WireLabel> = self.pages(self.path("labels?per_page=100")).await?;
        Ok(labels.into_iter().map(|l| l.name).collect())
    }

    async fn delete_label_if_unused(&self, name: &str) -> Result<bool, PortError> {
        let query = json!({
            "query": "query($owner: String!, $name: String!, $label: String!) { \
                      repository(owner: $owner, name: $name) { label(name: $label) { \
                      issues { totalCount } pullRequests { totalCount } } } }",
            "variables": { "owner": self.owner, "name": self.repo, "label": name },
        });
        let reply = self
            .send_with(&self.graphql, Method::Post, "/graphql", Some(&query))
            .await?;
        let answer: Value = serde_json::from_str(&reply.body)
            .map_err(|e| PortError::permanent(format!("GraphQL answer is not JSON: {e}")))?;
        if let Some(errors) = answer.get("errors") {
            return Err(PortError::permanent(format!(
                "GraphQL label query failed: {errors}"
            )));
        }
        let label = &answer["data"]["repository"]["label"];
        if label.is_null() {
            return Ok(false);
        }
        let count = |kind: &str| label[kind]["totalCount"].as_u64();
        match (count("issues"), count("pullRequests")) {
            (Some(0), Some(0)) => {}
            (Some(_), Some(_)) => return Ok(false),
            _ => {
                return Err(PortError::permanent(
                    "GraphQL label query answered without attachment counts",
                ));
            }
        }
        let uri = self.path(&format!("labels/{}", segment(name)));
        match self.send(Method::Delete, &uri, None).await {
            Ok(_) => Ok(true),
            Err(PortError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            "<http://x/repos/o/r/pulls?page=2&per_page=100>; rel=\"next\", <http://x/repos/o/r/pulls?page=3&per_page=100>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&headers).unwrap(),
            "http://x/repos/o/r/pulls?page=2&per_page=100"
        );
        headers.insert("link", "<http://x/?page=1>; rel=\"prev\"".parse().unwrap());
        assert!(next_link(&headers).is_none());
    }

    #[test]
    fn label_names_are_percent_encoded() {
        assert_eq!(
            segment("🎪 🚦 running"),
            "%F0%9F%8E%AA%20%F0%9F%9A%A6%20running"
        );
        assert_eq!(segment("a/b"), "a%2Fb");
    }

    #[test]
    fn configuration_from_the_actions_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let config = GitHubConfig::from_lookup(env(&[
            ("GITHUB_REPOSITORY", "apache/superset"),
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3"),
        ]))
        .unwrap();
        assert_eq!(
            (config.owner.as_str(), config.repo.as_str()),
            ("apache", "superset")
        );
        assert_eq!(config.api_url, "https://ghe.example/api/v3");
        assert!(matches!(config.auth, Auth::Token(_)));
        assert_eq!(
            GitHubConfig::from_lookup(env(&[("GITHUB_TOKEN", "t")])).unwrap_err(),
            GitHubError::MissingRepository
        );
        assert_eq!(
            GitHubConfig::from_lookup(env(&[("GITHUB_REPOSITORY", "a/b")])).unwrap_err(),
            GitHubError::MissingCredentials
        );
        assert!(GitHubConfig::new("no-slash", Auth::Token("t".into())).is_err());
        assert!(format!("{:?}", Auth::Token("secret".into())).contains('…'));
    }
}
