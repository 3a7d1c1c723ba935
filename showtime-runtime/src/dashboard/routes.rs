//! The dashboard's HTTP side: one handler per route, the access rule, the
//! security headers of every answer. Actions become `/circus` commands run
//! through [`carry_out`] as the signed-in user; nothing here decides what
//! happens to an environment.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use showtime_core::commands::SlashCommand;
use showtime_core::plan::{Event, Step};
use showtime_core::{PrNumber, Ttl};

use super::Dashboard;
use super::auth::{
    self, FLASH_COOKIE, OAUTH_COOKIE, SESSION_COOKIE, SESSION_HOURS, SIGN_IN_SECS, Session,
};
use super::model::{Reading, View};
use super::page::{self, APP_CSS, APP_JS, EXTEND_BY, Flash, FlashKind, PageContext, Viewer};
use crate::request::{Done, Intent, Work, carry_out};

/// The policy of every answer: nothing from elsewhere, no inline script or
/// style, no framing, forms only to this server.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// How long an action's answer waits for the engine; a longer one (a
/// rebuild) goes on in the background and the page shows it as under way.
const ACTION_WAIT: Duration = Duration::from_secs(20);
/// The largest form accepted.
const MAX_FORM: usize = 4096;

pub(super) fn router(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/data", get(data))
        .route("/dashboard/app.js", get(script))
        .route("/dashboard/app.css", get(style))
        .route("/dashboard/action", post(action))
        .route("/dashboard/login", get(login))
        .route("/dashboard/oauth/callback", get(callback))
        .route("/dashboard/logout", post(logout))
        .layer(map_response(secure))
        .with_state(dashboard)
}

/// Adds the security headers to every answer.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

type Params = Query<BTreeMap<String, String>>;

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The page's address for a view.
fn page_url(view: &View) -> String {
    match view.query() {
        q if q.is_empty() => "/dashboard".to_owned(),
        q => format!("/dashboard?{q}"),
    }
}

impl Dashboard {
    fn viewer(&self, session: &Session) -> Viewer {
        Viewer {
            login: session.login.clone(),
            csrf: self.inner.settings.session_key.csrf(session),
        }
    }

    fn pulls(&self) -> Option<String> {
        let settings = &self.inner.settings;
        let repository = settings.repository.as_ref()?;
        Some(format!("{}/{repository}/pull/", settings.github_url))
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64) -> String {
        auth::set_cookie(name, value, max_age, self.inner.settings.secure_cookies)
    }

    /// The answer to a request that must sign in first.
    fn sign_in_first(&self) -> Response {
        html(
            StatusCode::UNAUTHORIZED,
            page::message(
                "Sign in",
                "Sign in with GitHub to see the environments.",
                self.inner.settings.sign_in.is_some(),
            ),
        )
    }

    /// What a rendering of `view` shows, from `reading`.
    fn context<'a>(
        &'a self,
        reading: &'a Reading,
        view: &'a View,
        viewer: Option<&'a Viewer>,
        flash: Option<&'a Flash>,
    ) -> PageContext<'a> {
        let settings = &self.inner.settings;
        PageContext {
            repository: settings.repository.as_deref(),
            pulls: self.pulls(),
            rows: view.select(&reading.snapshot),
            requesters: &reading.snapshot.requesters,
            month: reading.snapshot.month.as_ref(),
            view,
            viewer,
            sign_in: settings.sign_in.is_some(),
            problem: reading.problem.as_deref(),
            flash,
            now: self.now(),
            refresh_secs: settings.refresh.as_secs(),
        }
    }

    /// The current reading of the environments (see [`super::model::Cache`]).
    async fn reading(&self) -> Reading {
        self.inner
            .cache
            .get(
                &self.inner.engine,
                &self.inner.settings.costs,
                self.inner.settings.month.as_ref(),
            )
            .await
    }

    fn flash(&self, headers: &HeaderMap) -> Option<Flash> {
        let sealed = auth::cookie(headers, FLASH_COOKIE)?;
        let text = self.inner.settings.session_key.open("flash", sealed)?;
        let (kind, text) = text.split_once('|')?;
        Some(Flash {
            kind: FlashKind::parse(kind)?,
            text: text.to_owned(),
        })
    }

    fn set_flash(&self, headers: &mut HeaderMap, kind: FlashKind, text: &str) {
        let sealed = self
            .inner
            .settings
            .session_key
            .seal("flash", &format!("{}|{text}", kind.as_str()));
        auth::add_cookie(headers, &self.cookie(FLASH_COOKIE, &sealed, 60));
    }
}

/// `GET /dashboard`.
async fn page(State(d): State<Dashboard>, Query(query): Params, headers: HeaderMap) -> Response {
    let session = d.session(&headers);
    if !d.inner.settings.public && session.is_none() {
        return d.sign_in_first();
    }
    let reading = d.reading().await;
    let view = View::from_query(&query);
    let viewer = session.as_ref().map(|s| d.viewer(s));
    let flash = d.flash(&headers);
    let ctx = d.context(&reading, &view, viewer.as_ref(), flash.as_ref());
    let mut response = html(StatusCode::OK, page::page(&ctx));
    if flash.is_some() {
        let gone = d.cookie(FLASH_COOKIE, "", 0);
        auth::add_cookie(response.headers_mut(), &gone);
    }
    response
}

/// `GET /dashboard/data`: the rows as JSON, `304` when unchanged.
async fn data(State(d): State<Dashboard>, Query(query): Params, headers: HeaderMap) -> Response {
    if !d.may_read(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "sign in with GitHub to see the environments"})),
        )
            .into_response();
    }
    let reading = d.reading().await;
    let view = View::from_query(&query);
    let ctx = d.context(&reading, &view, None, None);
    let body = page::data(&ctx).to_string();
    let tag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    );
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == tag)
        });
    let common = [
        (header::ETAG, tag),
        (header::CACHE_CONTROL, "no-cache".to_owned()),
    ];
    if unchanged {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        StatusCode::OK,
        common,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// What a form of the page asks.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Extend(PrNumber, Ttl),
    Destroy(PrNumber),
    Refresh(PrNumber),
    Wake(PrNumber),
}

impl Asked {
    fn read(form: &BTreeMap<String, String>) -> Option<Asked> {
        let (verb, pr) = form.get("do")?.split_once(':')?;
        let pr = PrNumber::new(pr.parse().ok()?)?;
        match verb {
            "extend" => {
                let ttl = form.get("ttl").map_or(EXTEND_BY[0], String::as_str);
                Some(Asked::Extend(pr, ttl.parse().ok()?))
            }
            "destroy" => Some(Asked::Destroy(pr)),
            "refresh" => Some(Asked::Refresh(pr)),
            "wake" => Some(Asked::Wake(pr)),
            _ => None,
        }
    }

    fn pr(&self) -> PrNumber {
        match self {
            Asked::Extend(pr, _) | Asked::Destroy(pr) | Asked::Refresh(pr) | Asked::Wake(pr) => *pr,
        }
    }

    fn command(&self) -> SlashCommand {
        match self {
            Asked::Extend(_, ttl) => SlashCommand::Extend(*ttl),
            Asked::Destroy(_) => SlashCommand::Destroy,
            Asked::Refresh(_) => SlashCommand::Refresh,
            Asked::Wake(_) => SlashCommand::Wake,
        }
    }
}

/// Reads a form body (`application/x-www-form-urlencoded`); the first value
/// of each field counts.
fn form(body: &[u8]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(body) {
        fields
            .entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    fields
}

/// The session of a form's sender, when its CSRF token holds; else why the
/// form is refused.
fn checked(
    d: &Dashboard,
    headers: &HeaderMap,
    fields: &BTreeMap<String, String>,
) -> Result<Session, &'static str> {
    let Some(session) = d.session(headers) else {
        return Err("Sign in with GitHub first; nothing was changed.");
    };
    let token = fields.get("csrf").map_or("", String::as_str);
    if !d.inner.settings.session_key.csrf_holds(&session, token) {
        super::log(&format!(
            "refused a form from @{} without a valid CSRF token",
            session.login
        ));
        return Err(
            "This form was not sent by the dashboard's own page (its CSRF token is missing or \
             wrong); nothing was changed. Reload the page and try again.",
        );
    }
    Ok(session)
}

/// The answer refusing a form, `403`.
fn refuse(d: &Dashboard, text: &str) -> Response {
    html(
        StatusCode::FORBIDDEN,
        page::message("Refused", text, d.inner.settings.sign_in.is_some()),
    )
}

/// `POST /dashboard/action`.
async fn action(State(d): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Response {
    if body.len() > MAX_FORM {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let fields = form(&body);
    let session = match checked(&d, &headers, &fields) {
        Ok(session) => session,
        Err(why) => return refuse(&d, why),
    };
    let back = View::from_query(&form(
        fields.get("back").map_or("", String::as_str).as_bytes(),
    ));
    let Some(asked) = Asked::read(&fields) else {
        return html(
            StatusCode::BAD_REQUEST,
            page::message(
                "Not understood",
                "The form asks for no action this dashboard knows; nothing was changed.",
                false,
            ),
        );
    };
    let pr = asked.pr();
    let mut work = Work::new(pr);
    work.push(Intent {
        event: Event::Command(asked.command()),
        actor: Some(session.login.clone()),
    });
    // The work goes on, and is logged and audited, even when the answer
    // stops waiting for it.
    let (engine, audit, clock) = (
        d.inner.engine.clone(),
        d.audit.clone(),
        d.inner.engine.ports().clock.clone(),
    );
    let running = tokio::spawn(async move {
        let done = carry_out(&engine, work, None).await;
        crate::request::report_done(
            &done,
            &["dashboard".to_owned()],
            audit.as_deref(),
            "showtime-dashboard",
            clock.now(),
        );
        done
    });
    let (kind, text) = match tokio::time::timeout(ACTION_WAIT, running).await {
        Ok(Ok(done)) => result(&done, &asked),
        Ok(Err(_)) => (
            FlashKind::Failed,
            format!("PR #{pr}: the action stopped unexpectedly; the next sweep repairs the PR."),
        ),
        Err(_) => (
            FlashKind::Pending,
            format!(
                "PR #{pr}: /circus {} is under way; the page updates when it is done.",
                asked.command()
            ),
        ),
    };
    super::log(&format!(
        "@{} asked /circus {} on PR #{pr}: {}",
        session.login,
        asked.command(),
        kind.as_str()
    ));
    d.inner.cache.invalidate().await;
    let mut response = see_other(&page_url(&back));
    d.set_flash(response.headers_mut(), kind, &text);
    response
}

/// What to tell the user about a finished action.
fn result(done: &Done, asked: &Asked) -> (FlashKind, String) {
    let pr = asked.pr();
    if let Some(refused) = done.refused() {
        // The planner's own words, as the PR's comment says them.
        let said = refused
            .plans
            .iter()
            .filter(|plan| plan.refusal.is_some())
            .flat_map(|plan| &plan.steps)
            .find_map(|step| match step {
                Step::Comment(text) if !text.is_empty() => Some(text.clone()),
                _ => None,
            });
        let reason = refused.refusal().map_or("refused", |r| r.as_str());
        return (
            FlashKind::Refused,
            format!(
                "PR #{pr}: {}",
                said.unwrap_or_else(|| format!("refused ({reason}); nothing was changed."))
            ),
        );
    }
    if let Some(e) = done.error() {
        return (
            FlashKind::Failed,
            format!("PR #{pr}: could not finish: {e}"),
        );
    }
    if let Some(failure) = done.failure() {
        return (FlashKind::Failed, format!("PR #{pr}: failed: {failure}"));
    }
    let text = match asked {
        Asked::Extend(_, ttl) => format!("PR #{pr}: extended by {ttl}."),
        Asked::Destroy(_) => format!("PR #{pr}: destroyed."),
        Asked::Refresh(_) => format!("PR #{pr}: refreshed to its head commit."),
        Asked::Wake(_) => format!("PR #{pr}: woken."),
    };
    (FlashKind::Done, text)
}

/// `GET /dashboard/login?back=…`: off to GitHub.
async fn login(State(d): State<Dashboard>, Query(query): Params) -> Response {
    let Some(sign_in) = &d.inner.settings.sign_in else {
        return html(
            StatusCode::NOT_FOUND,
            page::message(
                "Sign-in is off",
                "No GitHub OAuth app is configured.",
                false,
            ),
        );
    };
    let Ok(state) = auth::new_state() else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            page::message(
                "Sign-in failed",
                "The system's random source failed.",
                false,
            ),
        );
    };
    let back = View::from_query(&form(
        query.get("back").map_or("", String::as_str).as_bytes(),
    ));
    let sealed = d
        .inner
        .settings
        .session_key
        .seal("oauth", &format!("{state}|{}", back.query()));
    let mut response = see_other(&sign_in.authorize_url(&callback_url(&d), &state));
    let cookie = d.cookie(OAUTH_COOKIE, &sealed, SIGN_IN_SECS);
    auth::add_cookie(response.headers_mut(), &cookie);
    response
}

fn callback_url(d: &Dashboard) -> String {
    format!("{}/dashboard/oauth/callback", d.inner.settings.base_url)
}

/// `GET /dashboard/oauth/callback?code=…&state=…`: back from GitHub.
async fn callback(
    State(d): State<Dashboard>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    let failed = |status: StatusCode, text: &str| {
        let mut response = html(status, page::message("Sign-in failed", text, true));
        let gone = d.cookie(OAUTH_COOKIE, "", 0);
        auth::add_cookie(response.headers_mut(), &gone);
        response
    };
    let (Some(sign_in), Some(client)) = (&d.inner.settings.sign_in, &d.inner.client) else {
        return failed(StatusCode::NOT_FOUND, "No GitHub OAuth app is configured.");
    };
    if query.contains_key("error") {
        return failed(
            StatusCode::UNAUTHORIZED,
            "GitHub did not authorize the sign-in.",
        );
    }
    let started = auth::cookie(&headers, OAUTH_COOKIE)
        .and_then(|sealed| d.inner.settings.session_key.open("oauth", sealed));
    let (Some(started), Some(state), Some(code)) = (started, query.get("state"), query.get("code"))
    else {
        return failed(StatusCode::BAD_REQUEST, &auth::AuthError::State.to_string());
    };
    let (expected, back) = started.split_once('|').unwrap_or((started.as_str(), ""));
    if !auth::same_secret(expected, state) {
        return failed(StatusCode::BAD_REQUEST, &auth::AuthError::State.to_string());
    }
    let login = match sign_in.login(client, code, &callback_url(&d)).await {
        Ok(login) => login,
        Err(e) => {
            super::log(&format!("sign-in failed: {e}"));
            return failed(StatusCode::BAD_GATEWAY, &e.to_string());
        }
    };
    let Ok((_, value)) = d.inner.settings.session_key.start(login.clone(), d.now()) else {
        return failed(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The system's random source failed.",
        );
    };
    super::log(&format!("@{login} signed in"));
    let view = View::from_query(&form(back.as_bytes()));
    let mut response = see_other(&page_url(&view));
    let headers = response.headers_mut();
    auth::add_cookie(headers, &d.cookie(OAUTH_COOKIE, "", 0));
    auth::add_cookie(
        headers,
        &d.cookie(SESSION_COOKIE, &value, SESSION_HOURS * 3600),
    );
    d.set_flash(headers, FlashKind::Done, &format!("Signed in as @{login}."));
    response
}

/// `POST /dashboard/logout`.
async fn logout(State(d): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Response {
    if body.len() > MAX_FORM {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    if let Err(why) = checked(&d, &headers, &form(&body)) {
        return refuse(&d, why);
    }
    let mut response = see_other("/dashboard");
    auth::add_cookie(response.headers_mut(), &d.cookie(SESSION_COOKIE, "", 0));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn forms_name_an_action_and_a_pr() {
        let pr = PrNumber::new(12).unwrap();
        assert_eq!(
            Asked::read(&fields(&[("do", "extend:12")])),
            Some(Asked::Extend(pr, Ttl::DAY))
        );
        assert_eq!(
            Asked::read(&fields(&[("do", "extend:12"), ("ttl", "1w")])),
            Some(Asked::Extend(pr, "1w".parse().unwrap()))
        );
        assert_eq!(
            Asked::read(&fields(&[("do", "destroy:12")])),
            Some(Asked::Destroy(pr))
        );
        assert_eq!(
            Asked::read(&fields(&[("do", "wake:12")])),
            Some(Asked::Wake(pr))
        );
        for bad in ["destroy:0", "destroy:x", "launch:12", "destroy", ""] {
            assert_eq!(Asked::read(&fields(&[("do", bad)])), None, "{bad}");
        }
        assert_eq!(
            Asked::read(&fields(&[("do", "extend:12"), ("ttl", "forever")])),
            None
        );
    }

    #[test]
    fn only_the_first_value_of_a_field_counts() {
        let parsed = form(b"csrf=a&csrf=b&do=destroy%3A3");
        assert_eq!(parsed.get("csrf").map(String::as_str), Some("a"));
        assert_eq!(parsed.get("do").map(String::as_str), Some("destroy:3"));
    }
}
