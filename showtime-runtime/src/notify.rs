//! Notifications beside the PR comment: a Slack incoming webhook, or a
//! generic JSON webhook signed with a shared secret.
//!
//! A notification never blocks or fails a reconcile: each attempt is bounded
//! in time, a failed attempt is retried with backoff, and after the last one
//! the notifier reports the error, which the engine records in its audit
//! trail and otherwise ignores (the PR's status comment is the record).
//!
//! The generic payload is one JSON object:
//!
//! ```json
//! {"pr": 42, "repository": "acme/widgets", "url": "https://github.com/acme/widgets/pull/42",
//!  "text": "PR #42: environment abc123f running at http://52.1.2.3:8080", "sent_at": "2024-01-15T12:00:00Z"}
//! ```
//!
//! signed as GitHub signs its webhooks: `X-Showtime-Signature-256:
//! sha256=<HMAC-SHA256 of the body, hex>` with the configured secret.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Uri};
use serde::Deserialize;
use serde_json::json;
use showtime_core::PrNumber;
use showtime_core::ports::{Notice, Notifier, PortError};

use crate::http::{HttpClient, HttpError};

/// The header carrying the generic payload's signature.
pub const SIGNATURE_HEADER: &str = "X-Showtime-Signature-256";

/// `[notify]` in `showtime.toml`. The Slack URL is a secret and comes only
/// from `SHOWTIME_SLACK_WEBHOOK_URL`; the generic webhook's secret from
/// `SHOWTIME_NOTIFY_SECRET`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    /// Where the generic JSON notifications go (`https://…`).
    pub webhook_url: Option<String>,
    /// Seconds one attempt may take (default 5).
    pub timeout_secs: Option<u64>,
    /// Attempts in all (default 3).
    pub attempts: Option<u32>,
    /// How long before its TTL runs out a sweep warns, once, that an
    /// environment is about to expire, here and on the PR's comment
    /// (`2h` by default; `30m`, `1d`, …; `0s` never warns).
    pub expiring_warning: Option<String>,
}

/// Which payload a [`WebhookNotifier`] sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Slack's Block Kit message, for an incoming webhook.
    Slack,
    /// The documented JSON object, signed with this secret when one is set.
    Json {
        /// The HMAC key.
        secret: Option<Vec<u8>>,
    },
}

/// The most of a receiver's answer that is read (it is not used).
const MAX_ANSWER: usize = 64 * 1024;

/// A notifier that POSTs each notice to one URL.
#[derive(Clone)]
pub struct WebhookNotifier {
    url: Uri,
    format: Format,
    repository: Option<String>,
    timeout: Duration,
    attempts: u32,
    backoff: Duration,
    client: HttpClient,
}

/// Why a notifier could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The URL is not an `http(s)://` URL.
    #[error("notification URL `{url}` is not valid: give an http:// or https:// URL")]
    BadUrl {
        /// What was given (without its path, which may hold a secret).
        url: String,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Seconds one attempt may take unless configured.
const DEFAULT_TIMEOUT_SECS: u64 = 5;
/// Attempts in all unless configured.
const DEFAULT_ATTEMPTS: u32 = 3;
/// The wait before the second attempt; it doubles each time.
const BACKOFF: Duration = Duration::from_secs(1);

impl WebhookNotifier {
    /// A notifier posting `format` to `url`, for PRs of `repository`
    /// (`owner/name`, for links), with the defaults: 5 s per attempt, 3
    /// attempts, 1 s backoff doubling.
    pub fn new(url: &str, format: Format, repository: Option<String>) -> Result<Self, NotifyError> {
        let bad = || NotifyError::BadUrl {
            url: url.split('/').take(3).collect::<Vec<_>>().join("/"),
        };
        let uri: Uri = url.parse().map_err(|_| bad())?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(bad());
        }
        Ok(WebhookNotifier {
            url: uri,
            format,
            repository,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            attempts: DEFAULT_ATTEMPTS,
            backoff: BACKOFF,
            client: HttpClient::new()?,
        })
    }

    /// Bounds each attempt to `timeout`, makes `attempts` in all (at least
    /// one), waiting `backoff`, then twice that, between them.
    pub fn with_limits(mut self, timeout: Duration, attempts: u32, backoff: Duration) -> Self {
        self.timeout = timeout;
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// The body sent for `notice`.
    pub fn body(&self, notice: &Notice) -> Vec<u8> {
        let url = self.repository.as_ref().map(|repo| match notice.pr {
            Some(pr) => format!("https://github.com/{repo}/pull/{pr}"),
            None => format!("https://github.com/{repo}"),
        });
        let value = match self.format {
            Format::Slack => {
                let name = notice
                    .pr
                    .map_or_else(|| "Showtime".to_owned(), |pr| format!("PR #{pr}"));
                let link = url
                    .as_ref()
                    .map_or_else(|| name.clone(), |u| format!("<{u}|{name}>"));
                json!({
                    "text": notice.text,
                    "blocks": [
                        { "type": "section",
                          "text": { "type": "mrkdwn", "text": format!("🎪 *{link}*\n{}", notice.text) } },
                    ],
                })
            }
            Format::Json { .. } => json!({
                "pr": notice.pr.map(PrNumber::get),
                "repository": self.repository,
                "url": url,
                "text": notice.text,
                "sent_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
        };
        value.to_string().into_bytes()
    }

    /// One POST of `body`, signed by `signature` when there is one.
    async fn attempt(&self, body: &Bytes, signature: Option<&str>) -> Result<(), String> {
        let mut request = Request::post(self.url.clone())
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("showtime/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        let request = request
            .body(Full::new(body.clone()))
            .map_err(|e| e.to_string())?;
        match self.client.send(request, self.timeout, MAX_ANSWER).await {
            Err(e) => Err(e.to_string()),
            Ok(answer) if answer.status.is_success() => Ok(()),
            Ok(answer) => Err(format!("answered {}", answer.status)),
        }
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, notice: &Notice) -> Result<(), PortError> {
        // Built and signed once; each attempt sends the same bytes.
        let body = Bytes::from(self.body(notice));
        let signature = match &self.format {
            Format::Json {
                secret: Some(secret),
            } => Some(
                showtime_github::webhook::sign(secret, &body)
                    .map_err(|e| PortError::permanent(e.to_string()))?,
            ),
            _ => None,
        };
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.attempt(&body, signature.as_deref()).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        // Permanent for the engine: the retries were made here, bounded,
        // because a notification must not hold up a reconcile's own retries.
        Err(PortError::permanent(format!(
            "notification to {} dropped after {} attempt(s): {last}",
            self.url.host().unwrap_or("?"),
            self.attempts
        )))
    }
}

/// Every notifier `section` and the variables configure: Slack when
/// `SHOWTIME_SLACK_WEBHOOK_URL` is set, the generic webhook when
/// `[notify] webhook_url` is.
pub fn from_settings(
    section: &NotifySection,
    env: &dyn Fn(&str) -> Option<String>,
    repository: Option<String>,
) -> Result<Vec<WebhookNotifier>, NotifyError> {
    let timeout = Duration::from_secs(section.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
    let attempts = section.attempts.unwrap_or(DEFAULT_ATTEMPTS);
    let limits = |n: WebhookNotifier| n.with_limits(timeout, attempts, BACKOFF);
    let mut notifiers = Vec::new();
    if let Some(url) = env("SHOWTIME_SLACK_WEBHOOK_URL").filter(|v| !v.trim().is_empty()) {
        notifiers.push(limits(WebhookNotifier::new(
            url.trim(),
            Format::Slack,
            repository.clone(),
        )?));
    }
    if let Some(url) = &section.webhook_url {
        let secret = env("SHOWTIME_NOTIFY_SECRET")
            .filter(|v| !v.is_empty())
            .map(String::into_bytes);
        notifiers.push(limits(WebhookNotifier::new(
            url,
            Format::Json { secret },
            repository,
        )?));
    }
    Ok(notifiers)
}

/// Several notifiers as one: each notice goes to all; the first error is
/// reported once all have been tried.
pub struct Fanout(pub Vec<WebhookNotifier>);

#[async_trait]
impl Notifier for Fanout {
    async fn notify(&self, notice: &Notice) -> Result<(), PortError> {
        let results = futures_util::future::join_all(self.0.iter().map(|n| n.notify(notice))).await;
        results
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
    }
}
