//! Sending requests to GitHub: the octocrab clients, one attempt per
//! request, conditional `GET`s that remember the last `ETag` and answer of
//! each URL, paging, and the mapping of GitHub's error answers to
//! [`PortError`]. It gives no endpoint a meaning: it must not build a path or
//! read a model (each caller names the `wire` reader of its answer).
//!
//! Nothing here retries: the engine is the one retry layer. A 5xx or a
//! dropped connection is [`PortError::Transient`]; a spent primary rate
//! limit or a secondary one is [`PortError::RateLimited`] naming when to try
//! again, as GitHub documents it: `Retry-After` seconds from now, else
//! `x-ratelimit-reset` when `x-ratelimit-remaining` is 0, else a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde_json::Value;
use showtime_core::ports::PortError;

use super::config::{ApiRoots, Auth, GitHubError};
use super::observe::{Exchange, Observer, template};
use super::wire::WireError;

/// How many bytes of answers the conditional cache keeps before it forgets
/// the least recently used.
const CONDITIONAL_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// How long to wait after a secondary rate limit that names no time, as
/// GitHub's documentation advises.
const SECONDARY_LIMIT_WAIT: chrono::Duration = chrono::Duration::seconds(60);

/// The clients of the REST and GraphQL roots, and the answers kept for
/// conditional requests.
pub(super) struct Transport {
    client: Octocrab,
    graphql: Octocrab,
    conditional: Mutex<Conditional>,
    observer: Option<Observer>,
}

impl Transport {
    /// Builds the clients, telling `observer` of every answer. Must be
    /// called within a tokio runtime.
    pub(super) fn new(
        roots: &ApiRoots,
        auth: &Auth,
        observer: Option<Observer>,
    ) -> Result<Self, GitHubError> {
        let client = build_client(&roots.rest, auth)?;
        // octocrab prefixes every path with its base, so GraphQL under
        // another root needs a client of its own.
        let graphql = match &roots.graphql {
            Some(root) => build_client(root, auth)?,
            None => client.clone(),
        };
        Ok(Transport {
            client,
            graphql,
            conditional: Mutex::new(Conditional::default()),
            observer,
        })
    }

    /// One attempt, told to the observer.
    async fn once(
        &self,
        client: &Octocrab,
        method: Method,
        uri: &str,
        body: Option<&Value>,
        headers: Option<HeaderMap>,
    ) -> Result<Reply, PortError> {
        let reply = send_once(client, method, uri, body, headers).await;
        if let Some(observer) = &self.observer {
            let answer = reply.as_ref().ok();
            let header = |name: &str| {
                answer
                    .and_then(|r| r.headers.get(name))
                    .and_then(|v| v.to_str().ok())
            };
            observer.observe(&Exchange {
                method: method.as_str(),
                endpoint: template(uri),
                status: answer.map(|r| r.status.as_u16()),
                rate_limit_remaining: header("x-ratelimit-remaining")
                    .and_then(|v| v.trim().parse().ok()),
                rate_limit_resource: header("x-ratelimit-resource")
                    .filter(|v| {
                        v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    })
                    .map(str::to_owned),
            });
        }
        reply
    }

    /// Sends one REST request, once.
    pub(super) async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Reply, PortError> {
        let reply = self.once(&self.client, method, uri, body, None).await?;
        checked(method, uri, reply)
    }

    /// Sends one `GET`, once, and returns an answer whose status is one of
    /// `passing` as it is, for a caller that gives it a meaning (a 404 that
    /// says "not a member"); a rate limit, and any other answer, as
    /// [`Transport::send`] would.
    pub(super) async fn get_passing(&self, uri: &str, passing: &[u16]) -> Result<Reply, PortError> {
        let reply = self
            .once(&self.client, Method::Get, uri, None, None)
            .await?;
        if passing.contains(&reply.status.as_u16()) && !is_rate_limited(&reply) {
            return Ok(reply);
        }
        checked(Method::Get, uri, reply)
    }

    /// Posts one GraphQL document, once. A `200` is returned as it is:
    /// GraphQL reports its errors in the body.
    pub(super) async fn graphql(&self, document: &Value) -> Result<Reply, PortError> {
        let reply = self
            .once(
                &self.graphql,
                Method::Post,
                "/graphql",
                Some(document),
                None,
            )
            .await?;
        checked(Method::Post, "/graphql", reply)
    }

    /// `GET`s `uri` with the `ETag` of its last answer in `If-None-Match`;
    /// a `304 Not Modified` (free of rate-limit budget) gives back that
    /// answer. Every successful answer with an `ETag` is kept for next time.
    pub(super) async fn get_conditional(&self, uri: &str) -> Result<Reply, PortError> {
        let known = self.cache().tag(uri);
        let headers = known.as_ref().and_then(|tag| {
            let value = HeaderValue::from_str(tag).ok()?;
            let mut headers = HeaderMap::new();
            headers.insert(http::header::IF_NONE_MATCH, value);
            Some(headers)
        });
        let reply = self
            .once(&self.client, Method::Get, uri, None, headers)
            .await?;
        if reply.status == StatusCode::NOT_MODIFIED {
            if let Some(kept) = self.cache().hit(uri) {
                return Ok(kept);
            }
            // Forgotten meanwhile: ask again without a tag.
            let reply = self
                .once(&self.client, Method::Get, uri, None, None)
                .await?;
            return self.keep(uri, checked(Method::Get, uri, reply));
        }
        self.keep(uri, checked(Method::Get, uri, reply))
    }

    fn keep(&self, uri: &str, reply: Result<Reply, PortError>) -> Result<Reply, PortError> {
        match &reply {
            Ok(answer) => self.cache().store(uri, answer),
            Err(_) => self.cache().forget(uri),
        }
        reply
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Conditional> {
        self.conditional.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one REST request, once, and reads its answer with `read`.
    pub(super) async fn json<T>(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
        read: impl FnOnce(&str) -> Result<T, WireError>,
    ) -> Result<(T, HeaderMap), PortError> {
        let reply = self.send(method, uri, body).await?;
        reply.read(method, uri, read)
    }

    /// Every page of a list, following `Link: rel="next"`, each read with
    /// `read`; each page is a conditional request when `conditional` is
    /// set.
    pub(super) async fn pages<T>(
        &self,
        first: String,
        conditional: bool,
        read: impl Fn(&str) -> Result<T, WireError>,
    ) -> Result<Vec<T>, PortError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(uri) = next.take() {
            let reply = if conditional {
                self.get_conditional(&uri).await?
            } else {
                self.send(Method::Get, &uri, None).await?
            };
            let (page, headers) = reply.read(Method::Get, &uri, &read)?;
            out.push(page);
            next = next_link(&headers);
        }
        Ok(out)
    }
}

/// The last answer of each URL read conditionally, least recently used
/// first out once they hold more than [`CONDITIONAL_CACHE_BYTES`].
#[derive(Default)]
struct Conditional {
    entries: HashMap<String, Kept>,
    bytes: usize,
    clock: u64,
}

struct Kept {
    etag: String,
    reply: Reply,
    used: u64,
}

impl Conditional {
    fn tag(&self, uri: &str) -> Option<String> {
        self.entries.get(uri).map(|kept| kept.etag.clone())
    }

    fn hit(&mut self, uri: &str) -> Option<Reply> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(uri).map(|kept| {
            kept.used = clock;
            kept.reply.clone()
        })
    }

    fn store(&mut self, uri: &str, reply: &Reply) {
        self.forget(uri);
        let Some(etag) = reply
            .headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        let size = reply.body.len() + uri.len();
        if size > CONDITIONAL_CACHE_BYTES {
            return;
        }
        while self.bytes + size > CONDITIONAL_CACHE_BYTES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, kept)| kept.used)
                .map(|(uri, _)| uri.clone());
            match oldest {
                Some(uri) => self.forget(&uri),
                None => break,
            }
        }
        self.clock += 1;
        self.bytes += size;
        self.entries.insert(
            uri.to_owned(),
            Kept {
                etag: etag.to_owned(),
                reply: reply.clone(),
                used: self.clock,
            },
        );
    }

    fn forget(&mut self, uri: &str) {
        if let Some(kept) = self.entries.remove(uri) {
            self.bytes = self.bytes.saturating_sub(kept.reply.body.len() + uri.len());
        }
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
/// One attempt of a request: status, headers and body. `headers` go with a
/// `GET` only.
async fn send_once(
    client: &Octocrab,
    method: Method,
    uri: &str,
    body: Option<&Value>,
    headers: Option<HeaderMap>,
) -> Result<Reply, PortError> {
    let response = match method {
        Method::Get => client._get_with_headers(uri, headers).await,
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

/// The HTTP methods the adapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A whole answer: status, headers and body.
#[derive(Clone)]
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

impl Reply {
    /// The body read by `read` (one of [`wire`](super::wire)'s readers),
    /// with the headers. An answer that does not read is a permanent error
    /// naming the request; a spent GraphQL rate limit is
    /// [`PortError::RateLimited`] at the time the headers name.
    pub(super) fn read<T>(
        self,
        method: Method,
        uri: &str,
        read: impl FnOnce(&str) -> Result<T, WireError>,
    ) -> Result<(T, HeaderMap), PortError> {
        match read(&self.body) {
            Ok(value) => Ok((value, self.headers)),
            Err(WireError::RateLimited) => Err(PortError::RateLimited {
                reset: self.retry_at(),
            }),
            Err(e) => Err(PortError::permanent(format!(
                "{} {uri}: {e}",
                method.as_str()
            ))),
        }
    }

    /// When to try again after a rate-limit answer, as GitHub documents it:
    /// `Retry-After` seconds from now, else `x-ratelimit-reset` when the
    /// budget is spent, else a minute from now.
    pub(super) fn retry_at(&self) -> DateTime<Utc> {
        let now = Utc::now();
        if let Some(secs) = header_u64(&self.headers, "retry-after") {
            let secs = i64::try_from(secs).unwrap_or(i64::MAX);
            return now + chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX);
        }
        let reset = header_u64(&self.headers, "x-ratelimit-reset")
            .and_then(|s| i64::try_from(s).ok())
            .and_then(|s| DateTime::from_timestamp(s, 0));
        match reset {
            Some(reset) if header_u64(&self.headers, "x-ratelimit-remaining") == Some(0) => reset,
            _ => now + SECONDARY_LIMIT_WAIT,
        }
    }
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

/// A successful answer as it is; any other as the error it means.
fn checked(method: Method, uri: &str, reply: Reply) -> Result<Reply, PortError> {
    if reply.status.is_success() {
        return Ok(reply);
    }
    let status = reply.status.as_u16();
    if matches!(status, 403 | 429) && is_rate_limited(&reply) {
        return Err(PortError::RateLimited {
            reset: reply.retry_at(),
        });
    }
    let detail = describe(method, uri, &reply);
    Err(match status {
        500..=599 => PortError::transient(detail),
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
pub(super) fn next_link(headers: &HeaderMap) -> Option<String> {
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
}
