//! GitHub webhook deliveries: verification and parsing, nothing else.
//!
//! This module owns checking a delivery (its size, then its
//! `X-Hub-Signature-256`) and reading it into "reconcile PR N because of this
//! [`Event`], caused by this actor". It does no I/O and decides nothing: it
//! never calls GitHub, never checks permissions and never looks at labels;
//! the engine and the policy do that with the [`Request`] it returns.
//!
//! ```
//! use http::{HeaderMap, HeaderValue};
//! use showtime_core::plan::Event;
//! use showtime_github::webhook::{Outcome, Webhook, sign};
//!
//! let secret = b"It's a Secret to Everybody";
//! let body = br#"{
//!     "action": "synchronize",
//!     "number": 42,
//!     "pull_request": { "number": 42 },
//!     "repository": { "full_name": "octo-org/octo-repo" },
//!     "sender": { "login": "octocat" }
//! }"#;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("X-GitHub-Event", HeaderValue::from_static("pull_request"));
//! headers.insert("X-GitHub-Delivery", HeaderValue::from_static("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
//! headers.insert("X-Hub-Signature-256", sign(secret, body)?.parse()?);
//!
//! let webhook = Webhook::new(secret.as_slice())?;
//! let delivery = webhook.receive(&headers, body)?;
//! assert_eq!(delivery.id.as_deref(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
//! let Outcome::Reconcile(request) = delivery.outcome else { panic!("not a reconcile") };
//! assert_eq!(request.repository, "octo-org/octo-repo");
//! assert_eq!(request.pr.get(), 42);
//! assert_eq!(request.events, [Event::Push]);
//! assert_eq!(request.actor.unwrap().as_str(), "octocat");
//!
//! // Anything else signed with another secret is refused before it is read.
//! headers.insert("X-Hub-Signature-256", sign(b"guess", body)?.parse()?);
//! let refused = webhook.receive(&headers, body).unwrap_err();
//! assert_eq!(refused.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use sha2::Sha256;

use showtime_core::labels::Codec;
use showtime_core::plan::Event;
use showtime_core::{Login, PrNumber};

/// The largest body [`Webhook::receive`] accepts unless told otherwise: 1 MiB.
///
/// GitHub caps payloads at 25 MB, but the events Showtime reads are a few
/// tens of kilobytes (a comment body is at most 65,536 characters).
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// The header carrying the HMAC-SHA256 signature of the body.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The header naming the event (`pull_request`, `issue_comment`, `ping`, …).
pub const EVENT_HEADER: &str = "x-github-event";
/// The header carrying the delivery's unique id (a GUID).
pub const DELIVERY_HEADER: &str = "x-github-delivery";

/// The only signature scheme accepted, as it prefixes the signature header.
const SCHEME: &str = "sha256";
/// Length of a SHA-256 HMAC in hex digits.
const SIGNATURE_HEX_LEN: usize = 64;
/// The longest stretch of a serde message or a header quoted in an error.
const MESSAGE_CHARS: usize = 200;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery was refused.
///
/// Messages say what was wrong and what was expected; they never quote the
/// body. [`WebhookError::status`] gives the HTTP status to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The webhook secret is empty: every signature would be forgeable.
    #[error("the webhook secret is empty: configure the secret set on the GitHub webhook")]
    EmptySecret,
    /// No `X-Hub-Signature-256` header.
    #[error(
        "missing X-Hub-Signature-256 header: expected `sha256=<64 hex digits>` \
         (is a secret set on the GitHub webhook?)"
    )]
    MissingSignature,
    /// The signature header uses another scheme than `sha256=`.
    #[error(
        "unsupported signature scheme `{scheme}`: expected X-Hub-Signature-256 \
         `sha256=<64 hex digits>`"
    )]
    UnsupportedScheme {
        /// The scheme as sent (e.g. `sha1`), shortened when long.
        scheme: String,
    },
    /// The signature header is not `sha256=` followed by 64 hex digits.
    #[error("malformed X-Hub-Signature-256 header: {problem}; expected `sha256=<64 hex digits>`")]
    MalformedSignature {
        /// What is wrong with it.
        problem: String,
    },
    /// The signature does not match the body: wrong secret, or a body altered
    /// or cut short on the way.
    #[error(
        "X-Hub-Signature-256 does not match the body: check that the server and \
         the GitHub webhook share the same secret"
    )]
    SignatureMismatch,
    /// The body is larger than the configured limit.
    #[error("body of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// The body's (or the announced) size, in bytes.
        size: u64,
    },
    /// No readable `X-GitHub-Event` header.
    #[error(
        "missing or unreadable X-GitHub-Event header: expected an event name such \
         as `pull_request`"
    )]
    MissingEvent,
    /// The body is not the JSON GitHub documents for the event.
    #[error("malformed `{event}` payload: {message}")]
    Malformed {
        /// The event named by `X-GitHub-Event`.
        event: String,
        /// What was wrong (serde's message, shortened), never the body.
        message: String,
    },
}

impl WebhookError {
    /// The HTTP status a server should answer with: 401 for a missing, bad or
    /// mismatched signature, 413 for a body over the limit, 400 for a missing
    /// event header or a malformed payload, and 500 for an empty secret (a
    /// server misconfiguration, not the sender's fault).
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::EmptySecret => 500,
            WebhookError::MissingSignature
            | WebhookError::UnsupportedScheme { .. }
            | WebhookError::MalformedSignature { .. }
            | WebhookError::SignatureMismatch => 401,
            WebhookError::TooLarge { .. } => 413,
            WebhookError::MissingEvent | WebhookError::Malformed { .. } => 400,
        }
    }
}

/// The `X-Hub-Signature-256` value GitHub sends for `body` signed with
/// `secret`: `sha256=` and 64 lowercase hex digits. For tests, fakes and
/// clients that forward deliveries.
pub fn sign(secret: &[u8], body: &[u8]) -> Result<String, WebhookError> {
    let mut mac = hmac(secret)?;
    mac.update(body);
    Ok(format!(
        "{SCHEME}={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Checks that `signature_header` (the `X-Hub-Signature-256` value) is
/// `sha256=<64 hex digits>` and is the HMAC-SHA256 of the raw `body` under
/// `secret`, comparing in constant time.
///
/// Call it on the bytes exactly as received, before parsing them.
///
/// ```
/// use showtime_github::webhook::{WebhookError, sign, verify_signature};
/// let body = br#"{"zen":"Keep it logically awesome."}"#;
/// let header = sign(b"s3cret", body).unwrap();
/// assert!(verify_signature(b"s3cret", Some(&header), body).is_ok());
/// assert_eq!(verify_signature(b"other", Some(&header), body), Err(WebhookError::SignatureMismatch));
/// assert_eq!(verify_signature(b"s3cret", None, body), Err(WebhookError::MissingSignature));
/// ```
pub fn verify_signature(
    secret: &[u8],
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    let mut mac = hmac(secret)?;
    let header = signature_header
        .ok_or(WebhookError::MissingSignature)?
        .trim();
    let Some((scheme, digits)) = header.split_once('=') else {
        return Err(WebhookError::MalformedSignature {
            problem: "no `=` after the scheme".to_owned(),
        });
    };
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(WebhookError::UnsupportedScheme {
            scheme: shorten(scheme, 16),
        });
    }
    if digits.len() != SIGNATURE_HEX_LEN {
        return Err(WebhookError::MalformedSignature {
            problem: format!(
                "{} characters after `sha256=`, expected {SIGNATURE_HEX_LEN}",
                digits.len()
            ),
        });
    }
    let mut expected = [0u8; SIGNATURE_HEX_LEN / 2];
    hex::decode_to_slice(digits, &mut expected).map_err(|_| WebhookError::MalformedSignature {
        problem: "the signature is not hexadecimal".to_owned(),
    })?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| WebhookError::SignatureMismatch)
}

fn hmac(secret: &[u8]) -> Result<HmacSha256, WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::EmptySecret);
    }
    // HMAC takes keys of any length, so this cannot fail for a non-empty one.
    HmacSha256::new_from_slice(secret).map_err(|_| WebhookError::EmptySecret)
}

/// Receives GitHub webhook deliveries for one secret.
///
/// Built once at start-up and shared; [`Webhook::receive`] takes `&self`.
/// `Debug` never prints the secret.
#[derive(Clone)]
pub struct Webhook {
    secret: Vec<u8>,
    max_body: usize,
    codec: Codec,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("secret", &"<redacted>")
            .field("max_body", &self.max_body)
            .field("codec", &self.codec)
            .finish()
    }
}

impl Webhook {
    /// A receiver for deliveries signed with `secret` (the secret set on the
    /// GitHub webhook), with a [`DEFAULT_MAX_BODY`] limit and the default
    /// [`Codec`]. An empty secret is refused.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, WebhookError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        Ok(Webhook {
            secret,
            max_body: DEFAULT_MAX_BODY,
            codec: Codec::default(),
        })
    }

    /// Sets the largest body accepted, in bytes.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sets the codec: its legacy up-label is recognised in `unlabeled`
    /// events, and its sizes in `/circus size <name>` commands.
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Refuses a body of `size` bytes when it is over the limit. A server that
    /// streams bodies calls this with `Content-Length` before reading;
    /// [`Webhook::receive`] calls it on the body it is given.
    pub fn check_size(&self, size: u64) -> Result<(), WebhookError> {
        let limit = u64::try_from(self.max_body).unwrap_or(u64::MAX);
        if size > limit {
            return Err(WebhookError::TooLarge { limit, size });
        }
        Ok(())
    }

    /// Checks a delivery and reads it: first its size, then its signature,
    /// and only then its headers and JSON body.
    ///
    /// Every event or action Showtime has no use for is an
    /// [`Outcome::Ignored`], to be acknowledged (2xx) so GitHub does not
    /// report failed deliveries. On an error, answer with
    /// [`WebhookError::status`].
    pub fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, WebhookError> {
        self.check_size(u64::try_from(body.len()).unwrap_or(u64::MAX))?;
        let signature = match headers.get(SIGNATURE_HEADER) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| WebhookError::MalformedSignature {
                        problem: "the header is not visible ASCII".to_owned(),
                    })?,
            ),
        };
        verify_signature(&self.secret, signature, body)?;

        let event = header_text(headers, EVENT_HEADER).ok_or(WebhookError::MissingEvent)?;
        let id = header_text(headers, DELIVERY_HEADER);
        let outcome = read_event(&self.codec, &event, body)?;
        Ok(Delivery { id, event, outcome })
    }
}

/// Reads an event payload that needs no signature because it comes from a
/// trusted place: in GitHub Actions, the file at `GITHUB_EVENT_PATH`, named
/// by `GITHUB_EVENT_NAME`. `pull_request_target` payloads read as
/// `pull_request` ones (they are the same JSON). Webhook deliveries go
/// through [`Webhook::receive`] instead, which checks the signature first.
///
/// ```
/// use showtime_core::labels::Codec;
/// use showtime_core::plan::Event;
/// use showtime_github::webhook::{Outcome, read_event};
///
/// let payload = br#"{"action": "unlabeled", "number": 7, "label": {"name": "testenv-up"},
///     "repository": {"full_name": "o/r"}, "sender": {"login": "octocat"}}"#;
/// let Outcome::Reconcile(request) = read_event(&Codec::default(), "pull_request_target", payload)?
/// else { panic!("not a reconcile") };
/// assert_eq!(request.events, [Event::UpLabelRemoved]);
/// # Ok::<(), showtime_github::webhook::WebhookError>(())
/// ```
pub fn read_event(codec: &Codec, event: &str, body: &[u8]) -> Result<Outcome, WebhookError> {
    match event {
        "ping" => {
            let ping: Ping = parse(event, body)?;
            Ok(Outcome::Ping { zen: ping.zen })
        }
        "pull_request" | "pull_request_target" => pull_request(codec, body),
        "issue_comment" => issue_comment(codec, body),
        _ => Ok(ignored(format!(
            "event `{}` is not used",
            shorten(event, 40)
        ))),
    }
}

fn pull_request(codec: &Codec, body: &[u8]) -> Result<Outcome, WebhookError> {
    const EVENT: &str = "pull_request";
    let head: ActionOnly = parse(EVENT, body)?;
    let action = head.action.as_str();
    if !matches!(
        action,
        "opened" | "reopened" | "synchronize" | "labeled" | "unlabeled" | "closed" | "edited"
    ) {
        return Ok(ignored(format!(
            "pull_request action `{}` is not used",
            shorten(action, 40)
        )));
    }
    let payload: PullRequestEvent = parse(EVENT, body)?;
    let number = payload
        .pull_request
        .and_then(|pr| pr.number)
        .or(payload.number)
        .ok_or_else(|| malformed(EVENT, "missing field `pull_request.number`"))?;
    let event = match action {
        "synchronize" => Event::Push,
        "unlabeled"
            if payload.label.as_ref().is_some_and(|label| {
                label.name.to_lowercase() == codec.legacy_trigger().to_lowercase()
            }) =>
        {
            Event::UpLabelRemoved
        }
        // A title-only edit changes nothing Showtime reads.
        "edited" if payload.changes.is_some_and(|c| c.body.is_some()) => Event::DescriptionEdited,
        _ => Event::Look,
    };
    Ok(Outcome::Reconcile(Request {
        repository: repository(EVENT, payload.repository)?,
        pr: pr_number(EVENT, number)?,
        events: vec![event],
        actor: login(payload.sender),
        installation: payload.installation.map(|i| i.id),
        command_errors: Vec::new(),
    }))
}

fn issue_comment(codec: &Codec, body: &[u8]) -> Result<Outcome, WebhookError> {
    const EVENT: &str = "issue_comment";
    let head: ActionOnly = parse(EVENT, body)?;
    if head.action != "created" {
        return Ok(ignored(format!(
            "issue_comment action `{}` is not used (only new comments are read)",
            shorten(&head.action, 40)
        )));
    }
    let payload: IssueCommentEvent = parse(EVENT, body)?;
    if payload.issue.pull_request.is_none() {
        return Ok(ignored(format!(
            "comment on issue #{}, not on a pull request",
            payload.issue.number
        )));
    }
    let mut events = Vec::new();
    let mut command_errors = Vec::new();
    let commands = showtime_core::commands::parse(&payload.comment.body, codec.sizes());
    if commands.is_empty() {
        return Ok(ignored("comment has no /circus or /showtime command line"));
    }
    for command in commands {
        match command {
            Ok(command) => events.push(Event::Command(command)),
            Err(err) => command_errors.push(err),
        }
    }
    Ok(Outcome::Reconcile(Request {
        repository: repository(EVENT, payload.repository)?,
        pr: pr_number(EVENT, payload.issue.number)?,
        events,
        actor: login(payload.comment.user).or_else(|| login(payload.sender)),
        installation: payload.installation.map(|i| i.id),
        command_errors,
    }))
}

/// One checked and parsed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `X-GitHub-Delivery`: the same for every redelivery of one event, so a
    /// server can drop duplicates. `None` when absent or unreadable.
    pub id: Option<String>,
    /// `X-GitHub-Event`, as sent (`pull_request`, `issue_comment`, …).
    pub event: String,
    /// What the delivery asks for.
    pub outcome: Outcome,
}

/// What a delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Reconcile one PR.
    Reconcile(Request),
    /// GitHub's check that the webhook is set up; answer 2xx.
    Ping {
        /// GitHub's random zen saying, when present.
        zen: Option<String>,
    },
    /// An event or action Showtime does not use; answer 2xx and do nothing.
    Ignored {
        /// Why, in a few words (for logs).
        reason: String,
    },
}

/// "Reconcile this PR", once per event, in order.
///
/// A server runs `engine.reconcile(request.pr, event, request.actor.clone())`
/// for each of [`Request::events`] in order, and, when
/// [`Request::command_errors`] is not empty, replies on the PR with those
/// errors (each says what is valid).
///
/// A `pull_request` delivery gives exactly one event. A comment gives one
/// [`Event::Command`] per valid command line, in the order written; its
/// malformed command lines go to `command_errors`. So `events` is empty only
/// when every command line of a comment was malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The repository, `owner/name` (`repository.full_name`).
    pub repository: String,
    /// The pull request.
    pub pr: PrNumber,
    /// Why to reconcile, one reconcile per event, in order.
    pub events: Vec<Event>,
    /// Who caused it: the sender (for `synchronize`, the pusher) or the
    /// comment's author. `None` when GitHub sent no login or one that is not
    /// a valid [`Login`].
    pub actor: Option<Login>,
    /// The GitHub App installation that received the delivery
    /// (`installation.id`), for a server that authenticates per installation;
    /// `None` for a repository webhook.
    pub installation: Option<u64>,
    /// Malformed command lines of a comment, in order, to reply with.
    pub command_errors: Vec<showtime_core::Error>,
}

fn ignored(reason: impl Into<String>) -> Outcome {
    Outcome::Ignored {
        reason: reason.into(),
    }
}

/// A header's value as trimmed text; `None` when absent, empty or not ASCII.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn parse<T: DeserializeOwned>(event: &str, body: &[u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body).map_err(|err| {
        if body.starts_with(b"payload=") {
            malformed(
                event,
                "the body is form-encoded: set the GitHub webhook's content type to \
                 application/json",
            )
        } else {
            malformed(event, &err.to_string())
        }
    })
}

fn malformed(event: &str, message: &str) -> WebhookError {
    WebhookError::Malformed {
        event: shorten(event, 40),
        message: shorten(message, MESSAGE_CHARS),
    }
}

fn repository(event: &str, repository: Repository) -> Result<String, WebhookError> {
    let name = repository.full_name;
    let well_formed = name
        .split_once('/')
        .is_some_and(|(owner, repo)| !owner.is_empty() && !repo.is_empty() && !repo.contains('/'));
    if well_formed {
        Ok(name)
    } else {
        Err(malformed(
            event,
            &format!(
                "`repository.full_name` is `{}`, expected `owner/name`",
                shorten(&name, 60)
            ),
        ))
    }
}

fn pr_number(event: &str, number: u64) -> Result<PrNumber, WebhookError> {
    PrNumber::new(number).ok_or_else(|| {
        malformed(
            event,
            "the pull request number is 0, expected a positive integer",
        )
    })
}

fn login(user: Option<User>) -> Option<Login> {
    user?.login?.parse().ok()
}

/// At most `max` characters of `text`, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

// The parts of GitHub's payloads that are read; everything else is skipped.

#[derive(Deserialize)]
struct ActionOnly {
    action: String,
}

#[derive(Deserialize)]
struct Ping {
    #[serde(default)]
    zen: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestEvent {
    #[serde(default)]
    number: Option<u64>,
    #[serde(default)]
    pull_request: Option<PullRequestRef>,
    #[serde(default)]
    label: Option<Label>,
    #[serde(default)]
    changes: Option<Changes>,
    repository: Repository,
    #[serde(default)]
    sender: Option<User>,
    #[serde(default)]
    installation: Option<Installation>,
}

/// What an `edited` action changed; only whether the body did matters.
#[derive(Deserialize)]
struct Changes {
    #[serde(default)]
    body: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct PullRequestRef {
    #[serde(default)]
    number: Option<u64>,
}

#[derive(Deserialize)]
struct IssueCommentEvent {
    issue: Issue,
    comment: Comment,
    repository: Repository,
    #[serde(default)]
    sender: Option<User>,
    #[serde(default)]
    installation: Option<Installation>,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    /// Present (an object of links) only when the issue is a pull request.
    #[serde(default)]
    pull_request: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Comment {
    #[serde(default)]
    body: String,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    login: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trips_and_rejects_bad_headers() {
        let body = b"{}";
        let good = sign(b"k", body).unwrap();
        assert_eq!(good.len(), 7 + 64);
        assert!(verify_signature(b"k", Some(&good), body).is_ok());
        assert!(verify_signature(b"k", Some(&good.to_uppercase()), body).is_ok());
        assert!(matches!(
            verify_signature(b"k", Some("sha256"), body),
            Err(WebhookError::MalformedSignature { .. })
        ));
        assert!(matches!(
            verify_signature(b"k", Some(&format!("sha256={}", "zz".repeat(32))), body),
            Err(WebhookError::MalformedSignature { .. })
        ));
        assert_eq!(
            verify_signature(b"", Some(&good), body),
            Err(WebhookError::EmptySecret)
        );
    }

    #[test]
    fn messages_are_bounded() {
        let long = "x".repeat(10_000);
        let err = malformed("pull_request", &long);
        assert!(err.to_string().len() < 300);
        let scheme = verify_signature(b"k", Some(&format!("{long}=00")), b"").unwrap_err();
        assert!(scheme.to_string().len() < 200);
    }
}
