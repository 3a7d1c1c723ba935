//! The dashboard: one web page of every environment, with Extend, Destroy
//! and Refresh for people signed in with GitHub (feature `server`).
//!
//! It owns the page and its data, sign-in and sessions; it decides nothing
//! about environments. Listing reads the open PRs' labels and the
//! backend, at most once per `refresh_secs` however many people look
//! ([`model::Cache`]); an action is a `/circus` command run through
//! [`carry_out`](crate::request::carry_out) as the signed-in user, so the
//! engine applies the same permission rule to it as to a comment, and its
//! mutations go to the audit trail ([`Dashboard::with_audit`]).
//!
//! `showtime-webhook` mounts it beside `/webhook` ([`Dashboard::router`]);
//! `showtime dashboard --listen ADDR` serves it alone ([`Dashboard::run`]).
//!
//! # Routes
//!
//! | route | answer |
//! |---|---|
//! | `GET /dashboard?requester=&status=&sort=` | the page: a table of every environment (PR, requester, commit, status, address, age, time left, size, flags, estimated cost), filtered and sorted by the query (`sort` = `newest`, `oldest`, `expiry`) |
//! | `GET /dashboard/data?…` | the same rows as JSON, with an `ETag`; `304` when `If-None-Match` names it |
//! | `GET /dashboard/app.js`, `/dashboard/app.css` | the embedded script and style sheet |
//! | `POST /dashboard/action` | a form: `csrf`, `do` = `extend:N`, `destroy:N`, `refresh:N` or `wake:N` (a sleeping environment), `ttl` (for extend); `303` back to the page, which says what happened; `403` without a valid CSRF token or session |
//! | `GET /dashboard/login`, `GET /dashboard/oauth/callback`, `POST /dashboard/logout` | GitHub's OAuth web flow, and signing out |
//!
//! With `public = false` the page, its data and the webhook server's
//! `GET /environments` answer `401` until the viewer signs in.
//!
//! Every answer carries `Content-Security-Policy: default-src 'self'` (with
//! `frame-ancestors 'none'`, `base-uri 'none'` and `form-action 'self'`):
//! the page loads nothing from elsewhere and runs no inline script.
//!
//! # Settings
//!
//! `[dashboard]` in `showtime.toml` ([`DashboardSection`]) and variables:
//! `SHOWTIME_OAUTH_CLIENT_ID` (or `client_id`) and
//! `SHOWTIME_OAUTH_CLIENT_SECRET` (a variable only) enable sign-in;
//! `SHOWTIME_SESSION_KEY` (at least 32 bytes, a variable only) keeps
//! sessions valid across restarts and replicas; without it a random key is
//! made at start.

pub mod auth;
pub mod model;
pub mod page;
mod routes;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use showtime_core::engine::Engine;
use tokio::net::TcpListener;

use crate::audit::Sink;
pub use crate::config::DashboardSection;
use crate::config::Settings;
use crate::cost::Costs;
use crate::http::{HttpClient, HttpError};
use crate::server::ServerError;
use auth::{GitHubSignIn, OAuthApp, Session, SessionKey};
use model::Cache;
pub use model::MonthSource;

/// Seconds listed data is reused, and between the page's polls, unless set.
pub const DEFAULT_REFRESH_SECS: u64 = 15;

/// Everything the dashboard needs to know, resolved and checked.
#[derive(Debug, Clone)]
pub struct DashboardSettings {
    /// Whether the read-only view needs no sign-in.
    pub public: bool,
    /// Where people reach the server (no trailing slash): the OAuth
    /// callback is `{base_url}/dashboard/oauth/callback`.
    pub base_url: String,
    /// `owner/name`, for links to PRs.
    pub repository: Option<String>,
    /// GitHub's web root (no trailing slash), for links to PRs and sign-in.
    pub github_url: String,
    /// Sign-in with GitHub, when an OAuth app is configured.
    pub sign_in: Option<GitHubSignIn>,
    /// The key of sessions and CSRF tokens.
    pub session_key: SessionKey,
    /// Whether cookies are `Secure` (off only on a loopback address).
    pub secure_cookies: bool,
    /// How long listed data is reused; also the page's polling period.
    pub refresh: Duration,
    /// Sizes and prices, for estimated costs.
    pub costs: Costs,
    /// Where the month's cost comes from (the audit trail), if known.
    pub month: Option<MonthSource>,
}

/// Why the dashboard cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// A setting is wrong; the message says what is accepted.
    #[error("dashboard setting {name}: {message}")]
    Setting {
        /// The `[dashboard]` key or variable.
        name: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// No random numbers for the session key.
    #[error("cannot make a session key: the system's random source failed: {0}")]
    Random(String),
    /// The HTTP client for sign-in could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl DashboardSettings {
    /// The dashboard's settings from `settings` (`[dashboard]`, `[sizes]`,
    /// `[ecs] capacity`, `[github]`) and the variables, for a server
    /// listening on `listen`.
    pub fn resolve(
        settings: &Settings,
        env: &dyn Fn(&str) -> Option<String>,
        listen: SocketAddr,
    ) -> Result<Self, DashboardError> {
        let section = &settings.file.dashboard;
        let var = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bad = |name: &str, message: &str| DashboardError::Setting {
            name: name.to_owned(),
            message: message.to_owned(),
        };
        let public = section.public.unwrap_or(true);
        let api = settings
            .api_url
            .clone()
            .unwrap_or_else(|| showtime_github::host::DEFAULT_API_URL.to_owned());
        let api = api.trim_end_matches('/').to_owned();
        let github_url = match &section.github_url {
            Some(url) => web_url(url).ok_or_else(|| bad("github_url", "give an http(s):// URL"))?,
            None => web_root_of(&api),
        };
        let client_id = var("SHOWTIME_OAUTH_CLIENT_ID").or_else(|| section.client_id.clone());
        let secret = var("SHOWTIME_OAUTH_CLIENT_SECRET");
        let sign_in = match (client_id, secret) {
            (Some(id), Some(secret)) => Some(GitHubSignIn {
                web: github_url.clone(),
                api,
                app: OAuthApp::new(id, secret),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad(
                    "SHOWTIME_OAUTH_CLIENT_SECRET",
                    "a client id is set but no secret: set the OAuth app's secret in this \
                     variable (it is never read from the file)",
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "client_id",
                    "a client secret is set but no client id: set [dashboard] client_id or \
                     SHOWTIME_OAUTH_CLIENT_ID",
                ));
            }
        };
        if !public && sign_in.is_none() {
            return Err(bad(
                "public",
                "`public = false` needs sign-in: set [dashboard] client_id and \
                 SHOWTIME_OAUTH_CLIENT_SECRET (a GitHub OAuth app)",
            ));
        }
        let base_url = match &section.url {
            Some(url) => web_url(url).ok_or_else(|| bad("url", "give an http(s):// URL"))?,
            None => {
                let host = if listen.ip().is_unspecified() {
                    SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), listen.port())
                } else {
                    listen
                };
                format!("http://{host}")
            }
        };
        let session_key = match var("SHOWTIME_SESSION_KEY") {
            Some(key) => SessionKey::new(key.into_bytes()).ok_or_else(|| {
                bad(
                    "SHOWTIME_SESSION_KEY",
                    "too short: give at least 32 random characters",
                )
            })?,
            None => SessionKey::random().map_err(|e| DashboardError::Random(e.to_string()))?,
        };
        let refresh_secs = section.refresh_secs.unwrap_or(DEFAULT_REFRESH_SECS);
        if refresh_secs == 0 {
            return Err(bad("refresh_secs", "give at least 1 (seconds)"));
        }
        Ok(DashboardSettings {
            public,
            base_url,
            repository: settings.repository.clone(),
            github_url,
            sign_in,
            session_key,
            secure_cookies: !listen.ip().is_loopback(),
            refresh: Duration::from_secs(refresh_secs),
            costs: Costs::from_settings(settings, &var).map_err(|e| DashboardError::Setting {
                name: e.name,
                message: e.message,
            })?,
            month: settings.file.audit.file(env).map(|trail| MonthSource {
                trail,
                budget_usd: settings.file.cost.monthly_budget_usd,
            }),
        })
    }
}

/// An `http(s)://` URL without its trailing slashes.
fn web_url(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    (!rest.is_empty()).then(|| url.to_owned())
}

/// GitHub's web root for an API root: `https://github.com` for
/// `https://api.github.com`, `https://HOST` for GitHub Enterprise Server's
/// `https://HOST/api/v3`, and the root itself otherwise (a fake GitHub
/// serves both at one root).
pub fn web_root_of(api: &str) -> String {
    let api = api.trim_end_matches('/');
    if let Some(host) = api.strip_prefix("https://api.") {
        return format!("https://{host}");
    }
    api.strip_suffix("/api/v3").unwrap_or(api).to_owned()
}

/// The dashboard over one engine; cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Shared>,
    audit: Option<Arc<dyn Sink>>,
}

struct Shared {
    engine: Arc<Engine>,
    settings: DashboardSettings,
    cache: Cache,
    client: Option<HttpClient>,
}

impl Dashboard {
    /// The dashboard of `engine` as `settings` say. Must be called within a
    /// tokio runtime when sign-in is configured (it builds an HTTP client).
    pub fn new(engine: Arc<Engine>, settings: DashboardSettings) -> Result<Self, DashboardError> {
        let client = match settings.sign_in {
            Some(_) => Some(HttpClient::new()?),
            None => None,
        };
        Ok(Dashboard {
            inner: Arc::new(Shared {
                cache: Cache::new(settings.refresh),
                engine,
                settings,
                client,
            }),
            audit: None,
        })
    }

    /// The same dashboard recording every mutation its actions cause in
    /// `audit` (as `showtime-dashboard`), when one is given.
    pub fn with_audit(mut self, audit: Option<Arc<dyn Sink>>) -> Self {
        self.audit = audit;
        self
    }

    /// Its settings.
    pub fn settings(&self) -> &DashboardSettings {
        &self.inner.settings
    }

    /// The signed-in user of a request, if any.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        self.inner.settings.session_key.session(headers, self.now())
    }

    /// Now, by the engine's clock.
    pub(super) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.engine.ports().clock.now()
    }

    /// Whether a request may see the environments: always when the view is
    /// public, else with a session. The webhook server's `/environments`
    /// follows this too.
    pub fn may_read(&self, headers: &HeaderMap) -> bool {
        self.inner.settings.public || self.session(headers).is_some()
    }

    /// The dashboard's routes (see the [module documentation](self)), to
    /// serve alone or merge into another router.
    pub fn router(&self) -> Router {
        routes::router(self.clone())
    }

    /// Serves [`Dashboard::router`] on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Listens on `listen` and [`serve`](Dashboard::serve)s until `shutdown`
    /// resolves.
    pub async fn run(
        self,
        listen: SocketAddr,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: listen,
                source,
            })?;
        let bound = listener.local_addr().unwrap_or(listen);
        log(&format!(
            "serving the dashboard at http://{bound}/dashboard"
        ));
        self.serve(listener, shutdown)
            .await
            .map_err(ServerError::Serve)
    }
}

/// Writes one line to standard error, as the webhook server does.
fn log(message: &str) {
    crate::server::log_as("showtime-dashboard", message);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::{FileConfig, Overrides};
    use crate::cost::Prices;

    fn settings(file: &str) -> Settings {
        let mut settings = Settings::resolve(&Overrides::default(), &|_| None).unwrap();
        settings.file = FileConfig::parse(file, std::path::Path::new("showtime.toml")).unwrap();
        settings
    }

    fn resolve(
        file: &str,
        vars: &[(&str, &str)],
        listen: &str,
    ) -> Result<DashboardSettings, DashboardError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        DashboardSettings::resolve(&settings(file), &env, listen.parse().unwrap())
    }

    #[test]
    fn github_web_roots_follow_the_api_root() {
        assert_eq!(web_root_of("https://api.github.com"), "https://github.com");
        assert_eq!(
            web_root_of("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com"
        );
        assert_eq!(web_root_of("http://127.0.0.1:9/"), "http://127.0.0.1:9");
    }

    #[test]
    fn defaults_are_public_on_demand_and_secure_off_loopback() {
        let s = resolve("", &[], "127.0.0.1:8080").unwrap();
        assert!(s.public && s.sign_in.is_none() && !s.secure_cookies);
        assert_eq!(s.base_url, "http://127.0.0.1:8080");
        assert_eq!(s.github_url, "https://github.com");
        assert_eq!(s.costs.prices, Prices::ON_DEMAND);
        assert_eq!(s.refresh, Duration::from_secs(DEFAULT_REFRESH_SECS));
        let s = resolve("", &[], "0.0.0.0:8080").unwrap();
        assert!(s.secure_cookies);
        assert_eq!(s.base_url, "http://127.0.0.1:8080");
        let spot = resolve("[ecs]\ncapacity = \"fargate-spot\"\n", &[], "127.0.0.1:1").unwrap();
        assert_eq!(spot.costs.prices, Prices::spot());
    }

    #[test]
    fn sign_in_needs_both_halves_and_the_secret_only_from_a_variable() {
        let file = "[dashboard]\npublic = false\nclient_id = \"Iv1.x\"\n";
        let err = resolve(file, &[], "127.0.0.1:1").err().unwrap().to_string();
        assert!(err.contains("SHOWTIME_OAUTH_CLIENT_SECRET"), "{err}");
        let s = resolve(
            file,
            &[("SHOWTIME_OAUTH_CLIENT_SECRET", "s3cr3t")],
            "127.0.0.1:1",
        )
        .unwrap();
        assert!(!s.public);
        assert!(!format!("{s:?}").contains("s3cr3t"));
        let err = resolve("[dashboard]\npublic = false\n", &[], "127.0.0.1:1")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("needs sign-in"), "{err}");
        assert!(
            FileConfig::parse(
                "[dashboard]\nclient_secret = \"x\"\n",
                std::path::Path::new("showtime.toml")
            )
            .is_err()
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for (file, vars) in [
            ("[cost]\nprice_gb_hour = -1.0\n", vec![]),
            ("[dashboard]\nrefresh_secs = 0\n", vec![]),
            ("[dashboard]\nurl = \"showtime.example.com\"\n", vec![]),
            ("", vec![("SHOWTIME_SESSION_KEY", "short")]),
        ] {
            assert!(
                resolve(file, &vars, "127.0.0.1:1").is_err(),
                "{file} {vars:?}"
            );
        }
    }
}
