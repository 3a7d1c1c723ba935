//! GitHub's OAuth web flow, faked for one configured test user: the
//! authorize page, the code exchange and `GET /user`.
//!
//! * `GET /login/oauth/authorize?client_id&redirect_uri&state` redirects
//!   (`302`) at once to `redirect_uri?code=…&state=…`, as GitHub does once a
//!   user has authorized the app, signing in as the user set with
//!   [`FakeGitHub::set_oauth_user`]; with no user set it redirects with
//!   `error=access_denied`, as GitHub does when the user cancels. An
//!   unknown `client_id` is a `404`, as on GitHub.
//! * `POST /login/oauth/access_token` (parameters in the query or a form
//!   body) exchanges a code once for a `gho_fake…` token. It answers JSON
//!   (as GitHub does for `Accept: application/json`): `{"access_token",
//!   "token_type": "bearer", "scope": ""}`, or, status 200 as on GitHub,
//!   `{"error": "bad_verification_code"}` for an unknown or used code,
//!   `incorrect_client_credentials` for a wrong id or secret and
//!   `redirect_uri_mismatch` when the `redirect_uri` differs from the
//!   authorize request's.
//! * `GET /user` with `Authorization: Bearer <token>` (or `token <token>`)
//!   answers `{"login", "id", "type": "User"}`; another credential is a
//!   `401`.
//!
//! These are not charged to the rate-limit budgets (a user's token has its
//! own on GitHub) but are logged like every request. Under GitHub
//! Enterprise Server, OAuth lives at the host's root and `/user` under
//! `/api/v3`, as in the fake.

use std::collections::BTreeMap;

use serde_json::json;

use super::FakeGitHub;
use super::server::{Ctx, Reply, error};
use super::state::{State, bearer_token};
use super::util::{Query, percent_encode, stable_id};

const OAUTH_DOCS: &str =
    "https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps";
const USER_DOCS: &str = "https://docs.github.com/rest/users/users#get-the-authenticated-user";

/// The OAuth side of the fake's state.
#[derive(Debug, Default)]
pub(super) struct OAuth {
    /// The app's client id and secret.
    app: Option<(String, String)>,
    /// Who signs in at the authorize page.
    user: Option<String>,
    /// Codes not yet exchanged: code → (login, redirect_uri).
    codes: BTreeMap<String, (String, String)>,
    /// Tokens issued: token → login.
    tokens: BTreeMap<String, String>,
    next: u64,
}

impl OAuth {
    fn mint(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!(
            "{prefix}{:016x}{}",
            stable_id(&format!("{prefix}{}", self.next)),
            self.next
        )
    }
}

/// Serves the OAuth routes; `None` for any other path.
pub(super) fn route(state: &mut State, ctx: &Ctx<'_>, segments: &[&str]) -> Option<Reply> {
    Some(match (ctx.method, segments) {
        ("GET", ["login", "oauth", "authorize"]) => authorize(state, &ctx.query),
        ("POST", ["login", "oauth", "access_token"]) => {
            let body = String::from_utf8_lossy(ctx.body);
            let from_body = Query::parse(Some(&body));
            let param = |key: &str| ctx.query.get(key).or_else(|| from_body.get(key));
            access_token(state, &param)
        }
        ("GET", ["user"]) => user(state, ctx.authorization),
        _ => return None,
    })
}

fn authorize(state: &mut State, query: &Query) -> Reply {
    let oauth = &mut state.oauth;
    let known = matches!((&oauth.app, query.get("client_id")), (Some((id, _)), Some(given)) if *id == given);
    let Some(redirect) = query.get("redirect_uri").filter(|_| known) else {
        return error(404, "Not Found", OAUTH_DOCS);
    };
    let state_param = query.get("state").unwrap_or_default();
    let separator = if redirect.contains('?') { '&' } else { '?' };
    let location = match oauth.user.clone() {
        Some(login) => {
            let code = oauth.mint("code");
            oauth.codes.insert(code.clone(), (login, redirect.clone()));
            format!(
                "{redirect}{separator}code={code}&state={}",
                percent_encode(&state_param)
            )
        }
        None => format!(
            "{redirect}{separator}error=access_denied&state={}",
            percent_encode(&state_param)
        ),
    };
    Reply::empty(302).header("location", location)
}

fn access_token(state: &mut State, param: &dyn Fn(&str) -> Option<String>) -> Reply {
    let oauth = &mut state.oauth;
    let refuse = |code: &str| Reply::json(200, json!({ "error": code, "error_uri": OAUTH_DOCS }));
    let credentials = (param("client_id"), param("client_secret"));
    let Some((id, secret)) = &oauth.app else {
        return refuse("incorrect_client_credentials");
    };
    if credentials != (Some(id.clone()), Some(secret.clone())) {
        return refuse("incorrect_client_credentials");
    }
    let Some((login, redirect)) = param("code").and_then(|code| oauth.codes.remove(&code)) else {
        return refuse("bad_verification_code");
    };
    if param("redirect_uri").is_some_and(|given| given != redirect) {
        return refuse("redirect_uri_mismatch");
    }
    let token = oauth.mint("gho_fake");
    oauth.tokens.insert(token.clone(), login);
    Reply::json(
        200,
        json!({ "access_token": token, "token_type": "bearer", "scope": "" }),
    )
}

fn user(state: &State, authorization: Option<&str>) -> Reply {
    let login = authorization
        .and_then(bearer_token)
        .and_then(|token| state.oauth.tokens.get(token));
    match login {
        Some(login) => Reply::json(
            200,
            json!({ "login": login, "id": stable_id(login), "type": "User" }),
        ),
        None => error(401, "Requires authentication", USER_DOCS),
    }
}

impl FakeGitHub {
    /// Registers the OAuth app the fake's OAuth endpoints accept.
    pub fn set_oauth_app(&self, client_id: &str, client_secret: &str) {
        self.state().oauth.app = Some((client_id.to_owned(), client_secret.to_owned()));
    }

    /// Who signs in at `/login/oauth/authorize` from now on; `None` makes
    /// the next sign-ins cancelled (`error=access_denied`).
    pub fn set_oauth_user(&self, login: Option<&str>) {
        self.state().oauth.user = login.map(str::to_owned);
    }
}
