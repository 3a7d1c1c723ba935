//! Who is signed in: GitHub's OAuth web flow, sessions in HMAC-signed
//! cookies, and the CSRF token every form carries.
//!
//! Signing in sends the browser to `{github}/login/oauth/authorize` with a
//! random `state` kept in a short-lived signed cookie; GitHub sends it back
//! to `/dashboard/oauth/callback` with a code, which is exchanged at
//! `{github}/login/oauth/access_token` (with the app's secret) for a token
//! that is used once, for `GET {api}/user`, and dropped. The session is then
//! a cookie `login.expiry.nonce.mac` (HMAC-SHA256 with the session key), so
//! a server needs no store and cannot be handed a forged login. The CSRF
//! token is an HMAC of the session's nonce: a form from this page carries
//! it, a form from anywhere else cannot.
//!
//! Cookies are `HttpOnly`, `SameSite=Lax`, `Path=/` and `Secure` unless the
//! server listens on a loopback address. Neither a token, nor the client
//! secret, nor a cookie's value is ever logged.

use std::fmt;

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, SET_COOKIE};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use serde::Deserialize;
use sha2::Sha256;
use showtime_core::Login;
use subtle::ConstantTimeEq;

use crate::http::{HttpClient, HttpError};

/// The session cookie.
pub const SESSION_COOKIE: &str = "showtime_session";
/// The cookie holding a sign-in's `state` until GitHub sends the browser back.
pub const OAUTH_COOKIE: &str = "showtime_oauth";
/// The cookie holding the message shown once after an action.
pub const FLASH_COOKIE: &str = "showtime_flash";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;
/// How long a sign-in may take, from leaving for GitHub to coming back.
pub const SIGN_IN_SECS: i64 = 600;

/// How long one call to GitHub during sign-in may take.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// The most of an answer from GitHub read during sign-in.
const MAX_ANSWER: usize = 64 * 1024;

/// A GitHub OAuth app: its client id and secret. The secret never appears
/// in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthApp {
    /// The client id (public).
    pub client_id: String,
    client_secret: String,
}

impl OAuthApp {
    /// The app with this id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        OAuthApp {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"(hidden)")
            .finish()
    }
}

/// The key sessions, CSRF tokens and signed cookies are made with. It never
/// appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(Vec<u8>);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(hidden)")
    }
}

/// The shortest session key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;

impl SessionKey {
    /// A key from configured bytes; `None` when shorter than
    /// [`MIN_KEY_LEN`].
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= MIN_KEY_LEN).then_some(SessionKey(bytes))
    }

    /// A key from the system's random source: sessions then last as long
    /// as the process.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = vec![0; MIN_KEY_LEN];
        getrandom::getrandom(&mut bytes)?;
        Ok(SessionKey(bytes))
    }

    fn mac(&self, purpose: &str, parts: &[&str]) -> Hmac<Sha256> {
        // Any key length is valid for HMAC: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(purpose.as_bytes());
        for part in parts {
            mac.update(b"\0");
            mac.update(part.as_bytes());
        }
        mac
    }

    fn sign(&self, purpose: &str, parts: &[&str]) -> String {
        hex::encode(self.mac(purpose, parts).finalize().into_bytes())
    }

    fn verify(&self, purpose: &str, parts: &[&str], signature: &str) -> bool {
        hex::decode(signature)
            .is_ok_and(|bytes| self.mac(purpose, parts).verify_slice(&bytes).is_ok())
    }

    /// `text` with a signature, for a cookie: `hex(text).signature`.
    pub fn seal(&self, purpose: &str, text: &str) -> String {
        let body = hex::encode(text);
        let signature = self.sign(purpose, &[&body]);
        format!("{body}.{signature}")
    }

    /// The text of [`SessionKey::seal`], when its signature holds.
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<String> {
        let (body, signature) = sealed.split_once('.')?;
        if !self.verify(purpose, &[body], signature) {
            return None;
        }
        String::from_utf8(hex::decode(body).ok()?).ok()
    }

    /// A new session for `login`, from `now`, and its cookie's value.
    pub fn start(
        &self,
        login: Login,
        now: DateTime<Utc>,
    ) -> Result<(Session, String), getrandom::Error> {
        let session = Session {
            login,
            nonce: new_state()?,
            expires: now.timestamp() + SESSION_HOURS * 3600,
        };
        let expires = session.expires.to_string();
        let parts = [
            session.login.as_str(),
            expires.as_str(),
            session.nonce.as_str(),
        ];
        let value = format!("{}.{}", parts.join("."), self.sign("session", &parts));
        Ok((session, value))
    }

    /// The session the request's cookie holds, when it is this key's and
    /// has not expired.
    pub fn session(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<Session> {
        let value = cookie(headers, SESSION_COOKIE)?;
        let mut parts = value.split('.');
        let (login, expires, nonce, signature) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !self.verify("session", &[login, expires, nonce], signature) {
            return None;
        }
        let expires: i64 = expires.parse().ok()?;
        (expires > now.timestamp()).then_some(())?;
        Some(Session {
            login: login.parse().ok()?,
            nonce: nonce.to_owned(),
            expires,
        })
    }

    /// The CSRF token of `session`.
    pub fn csrf(&self, session: &Session) -> String {
        self.sign("csrf", &[&session.nonce])
    }

    /// Whether `token` is `session`'s CSRF token (compared in constant time).
    pub fn csrf_holds(&self, session: &Session, token: &str) -> bool {
        self.verify("csrf", &[&session.nonce], token)
    }
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Their GitHub login.
    pub login: Login,
    nonce: String,
    expires: i64,
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`
/// when `secure`; `max_age` 0 removes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Adds a `Set-Cookie` header (several may be added).
pub fn add_cookie(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = cookie.parse() {
        headers.append(SET_COOKIE, value);
    }
}

/// Whether two secrets are equal, in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A random `state` for one sign-in.
pub fn new_state() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// GitHub could not be reached.
    #[error("GitHub could not be reached to sign in: {0}")]
    Unreachable(#[from] HttpError),
    /// GitHub answered with an error status.
    #[error("GitHub answered {status} to {what}")]
    Status {
        /// What was asked.
        what: &'static str,
        /// The status.
        status: u16,
    },
    /// GitHub refused the code (expired, used, or for another app).
    #[error("GitHub refused the sign-in ({code}); sign in again")]
    Refused {
        /// GitHub's error code, e.g. `bad_verification_code`.
        code: String,
    },
    /// GitHub's answer is not what its documentation describes.
    #[error("GitHub's answer to {0} is not what its API documents")]
    Malformed(&'static str),
    /// The `state` does not match the sign-in this browser started.
    #[error("this sign-in was not started here, or took too long; sign in again")]
    State,
    /// The system's random source failed.
    #[error("no random numbers for the session: {0}")]
    Random(String),
}

/// Where the sign-in happens: GitHub's web root and API root (no trailing
/// slashes), and the app.
#[derive(Debug, Clone)]
pub struct GitHubSignIn {
    /// GitHub's web root, `https://github.com`.
    pub web: String,
    /// GitHub's API root, `https://api.github.com`.
    pub api: String,
    /// The app.
    pub app: OAuthApp,
}

impl GitHubSignIn {
    /// Where to send the browser to sign in, coming back to `redirect_uri`.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.app.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("allow_signup", "false")
            .finish();
        format!("{}/login/oauth/authorize?{query}", self.web)
    }

    /// Exchanges the `code` GitHub sent back for a token, and returns the
    /// login it belongs to. The token is used for that one request only.
    pub async fn login(
        &self,
        client: &HttpClient,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Login, AuthError> {
        #[derive(Deserialize)]
        struct Exchanged {
            access_token: Option<String>,
            error: Option<String>,
        }
        #[derive(Deserialize)]
        struct User {
            login: String,
        }
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.app.client_id)
            .append_pair("client_secret", &self.app.client_secret)
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .finish();
        let request = Request::post(format!("{}/login/oauth/access_token", self.web))
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", USER_AGENT)
            .body(Full::new(Bytes::from(form)));
        let exchanged: Exchanged = call(client, request, "the code exchange").await?;
        let token = match (exchanged.access_token, exchanged.error) {
            (Some(token), None) if !token.is_empty() => token,
            (_, Some(code)) => {
                return Err(AuthError::Refused {
                    code: code
                        .chars()
                        .filter(char::is_ascii_graphic)
                        .take(60)
                        .collect(),
                });
            }
            _ => return Err(AuthError::Malformed("the code exchange")),
        };
        let request = Request::get(format!("{}/user", self.api))
            .header("accept", "application/vnd.github+json")
            .header("authorization", format!("Bearer {token}"))
            .header("user-agent", USER_AGENT)
            .body(Full::new(Bytes::new()));
        let user: User = call(client, request, "GET /user").await?;
        user.login
            .parse()
            .map_err(|_| AuthError::Malformed("GET /user"))
    }
}

/// Sends one sign-in request to GitHub and reads its JSON answer.
async fn call<T: for<'de> Deserialize<'de>>(
    client: &HttpClient,
    request: Result<Request<Full<Bytes>>, hyper::http::Error>,
    what: &'static str,
) -> Result<T, AuthError> {
    let request = request.map_err(|_| AuthError::Malformed(what))?;
    let answer = client.send(request, CALL_TIMEOUT, MAX_ANSWER).await?;
    if !answer.status.is_success() {
        return Err(AuthError::Status {
            what,
            status: answer.status.as_u16(),
        });
    }
    serde_json::from_slice(&answer.body).map_err(|_| AuthError::Malformed(what))
}

/// How the dashboard introduces itself to GitHub.
const USER_AGENT: &str = concat!("showtime-dashboard/", env!("CARGO_PKG_VERSION"));

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key() -> SessionKey {
        SessionKey::new(vec![7; 32]).unwrap()
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            format!("a=b; {SESSION_COOKIE}={value}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn a_session_round_trips_and_resists_forgery() {
        let now = Utc::now();
        let (session, value) = key().start("alice".parse().unwrap(), now).unwrap();
        assert_eq!(
            key().session(&with_cookie(&value), now),
            Some(session.clone())
        );
        // Another login with the same signature, another key, an expired one.
        let forged = value.replacen("alice", "admin", 1);
        assert_eq!(key().session(&with_cookie(&forged), now), None);
        let other = SessionKey::new(vec![8; 32]).unwrap();
        assert_eq!(other.session(&with_cookie(&value), now), None);
        let later = now + chrono::Duration::hours(SESSION_HOURS + 1);
        assert_eq!(key().session(&with_cookie(&value), later), None);
        assert_eq!(key().session(&with_cookie("x.y.z.w"), now), None);
        assert_eq!(key().session(&HeaderMap::new(), now), None);
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let now = Utc::now();
        let (mine, _) = key().start("alice".parse().unwrap(), now).unwrap();
        let (theirs, _) = key().start("alice".parse().unwrap(), now).unwrap();
        let token = key().csrf(&mine);
        assert!(key().csrf_holds(&mine, &token));
        assert!(!key().csrf_holds(&theirs, &token));
        assert!(!key().csrf_holds(&mine, ""));
        assert!(!key().csrf_holds(&mine, "zz"));
    }

    #[test]
    fn sealed_text_opens_only_with_its_key_and_purpose() {
        let sealed = key().seal("flash", "done|Destroyed");
        assert_eq!(
            key().open("flash", &sealed).as_deref(),
            Some("done|Destroyed")
        );
        assert_eq!(key().open("oauth", &sealed), None);
        assert_eq!(key().open("flash", &sealed.replace('.', "0.")), None);
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_off_loopback() {
        let cookie = set_cookie(SESSION_COOKIE, "v", 60, true);
        assert_eq!(
            cookie,
            "showtime_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert!(!set_cookie(SESSION_COOKIE, "v", 60, false).contains("Secure"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let app = OAuthApp::new("id", "s3cr3t");
        assert!(!format!("{app:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", key()).contains('7'));
    }
}
