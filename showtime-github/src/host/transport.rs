//! Sending requests to GitHub: the octocrab clients, retries with bounded
//! backoff, paging, and the mapping of GitHub's error answers to [`PortError`].
//! It gives no endpoint a meaning: it must not build a path or read a model.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::Value;
use showtime_core::ports::PortError;

use super::config::{ApiRoots, Auth, GitHubError, RetryPolicy};

/// The clients of the REST and GraphQL roots, and how requests are retried.
pub(super) struct Transport {
    client: Octocrab,
    graphql: Octocrab,
    retry: RetryPolicy,
}

impl Transport {
    /// Builds the clients. Must be called within a tokio runtime.
    pub(super) fn new(
        roots: &ApiRoots,
        auth: &Auth,
        retry: RetryPolicy,
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
            retry,
        })
    }

    /// Sends one REST request, retrying as the `host` module's documentation
    /// describes.
    pub(super) async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Reply, PortError> {
        self.send_with(&self.client, method, uri, body).await
    }

    /// Posts one GraphQL document, retrying as [`Transport::send`] does.
    pub(super) async fn graphql(&self, document: &Value) -> Result<Reply, PortError> {
        self.send_with(&self.graphql, Method::Post, "/graphql", Some(document))
            .await
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

    pub(super) async fn json<T: for<'de> Deserialize<'de>>(
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
    pub(super) async fn pages<T: for<'de> Deserialize<'de>>(
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

/// The HTTP methods the adapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
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

/// A whole answer: status, headers and body.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
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
