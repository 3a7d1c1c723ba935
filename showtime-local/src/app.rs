//! The preview app: the tiny web server a local environment runs when no
//! real application is configured.
//!
//! It answers `GET /health` with `200 ok`, `GET /` with an HTML page naming
//! the pull request, its full commit SHA and the configuration it was started
//! with, and everything else with `404`. It reads its configuration from the
//! environment variables the [local backend](crate::backend) sets (see
//! [`AppInfo::from_env`]), so what the page shows is what reached the
//! process. It decides nothing and keeps no state.
//!
//! The default command of the backend runs it through the `showtime`
//! program (`showtime __app`, see
//! [`LocalSettings::default_command`](crate::LocalSettings::default_command));
//! a program of your own serves it with [`run`], or embeds its [`router`].
//! This module is behind the default feature `app`, the crate's only use of
//! axum.

use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use showtime_core::{Config, FeatureName, PrNumber, Sha};
use tokio::net::TcpListener;

use crate::vars::{ENV_CONFIG, FEATURE_ENV_PREFIX};

/// What the preview app shows: which pull request and commit it serves, and
/// with which configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    /// The pull request.
    pub pr: PrNumber,
    /// The full commit SHA.
    pub sha: Sha,
    /// The configuration the environment was started with.
    pub config: Config,
}

/// Why the preview app could not read its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// `SHOWTIME_CONFIG` is not the JSON form of a configuration.
    #[error(
        "{ENV_CONFIG} is not a valid configuration ({reason}); it must be the JSON \
         form of showtime_core::Config, e.g. {{\"features\":{{\"ALERTS\":true}}}}, or unset"
    )]
    BadConfig {
        /// What the JSON parser said.
        reason: String,
    },
}

impl AppInfo {
    /// An app for `pr` at `sha` with the default configuration.
    pub fn new(pr: PrNumber, sha: Sha) -> Self {
        AppInfo {
            pr,
            sha,
            config: Config::default(),
        }
    }

    /// An app for `pr` at `sha` configured by this process's environment;
    /// see [`AppInfo::from_vars`].
    pub fn from_env(pr: PrNumber, sha: Sha) -> Result<Self, AppError> {
        Self::from_vars(
            pr,
            sha,
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// An app for `pr` at `sha` configured by `vars`:
    ///
    /// * `SHOWTIME_CONFIG`, the JSON form of [`Config`], is the base (the
    ///   default configuration when unset or empty);
    /// * each `SUPERSET_FEATURE_<FLAG>` then sets one feature flag: `true`,
    ///   `1`, `yes` or `on` (any case) turn it on, any other value off. A
    ///   variable whose `<FLAG>` is not a valid [`FeatureName`] is ignored.
    pub fn from_vars(
        pr: PrNumber,
        sha: Sha,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, AppError> {
        let mut config_json = None;
        let mut flags = Vec::new();
        for (key, value) in vars {
            if key == ENV_CONFIG {
                config_json = Some(value);
            } else if let Some(flag) = key.strip_prefix(FEATURE_ENV_PREFIX) {
                if let Ok(name) = flag.parse::<FeatureName>() {
                    let on = matches!(
                        value.trim().to_ascii_lowercase().as_str(),
                        "true" | "1" | "yes" | "on"
                    );
                    flags.push((name, on));
                }
            }
        }
        let mut config = match config_json.as_deref().map(str::trim) {
            None | Some("") => Config::default(),
            Some(json) => serde_json::from_str(json).map_err(|e| AppError::BadConfig {
                reason: e.to_string(),
            })?,
        };
        config.features.extend(flags);
        Ok(AppInfo { pr, sha, config })
    }
}

/// The app's routes, for embedding in another server or serving with
/// [`serve`].
pub fn router(info: AppInfo) -> Router {
    let page = index_page(&info);
    Router::new()
        .route("/health", get(health).fallback(not_found))
        .route(
            "/",
            get(move || {
                let page = page.clone();
                async move { Html(page) }
            })
            .fallback(not_found),
        )
        .fallback(not_found)
}

/// Serves the app on `listener` until `shutdown` completes, then finishes
/// the requests in flight and returns.
pub async fn serve<F>(listener: TcpListener, info: AppInfo, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router(info))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `listen` and serves the app until the process receives SIGTERM or
/// Ctrl-C (SIGINT). This is what `showtime __app` runs.
pub async fn run(listen: SocketAddr, info: AppInfo) -> io::Result<()> {
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on {listen}: {e}; choose a free port"),
        )
    })?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    serve(listener, info, shutdown).await
}

async fn health() -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

/// The HTML of `GET /`. Every value is escaped, although the typed values
/// cannot hold markup.
fn index_page(info: &AppInfo) -> String {
    let config = &info.config;
    let mut features = String::new();
    if config.features.is_empty() {
        features.push_str("<li>none set</li>");
    }
    for (name, on) in &config.features {
        let _ = write!(
            features,
            "<li><code>{}</code>: {}</li>",
            escape(name.as_str()),
            if *on { "on" } else { "off" }
        );
    }
    let size = config
        .size
        .as_ref()
        .map_or_else(|| "default".to_owned(), |s| escape(s.as_str()));
    let on_off = |b: bool| if b { "on" } else { "off" };
    let pr = info.pr;
    let sha = escape(info.sha.as_str());
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <title>PR #{pr} preview</title></head>\n<body>\n\
         <h1>Pull request #{pr}</h1>\n\
         <p>Commit <code>{sha}</code></p>\n\
         <h2>Configuration</h2>\n<dl>\n\
         <dt>Feature flags</dt><dd><ul>{features}</ul></dd>\n\
         <dt>Debug</dt><dd>{debug}</dd>\n\
         <dt>Size</dt><dd>{size}</dd>\n\
         <dt>Example data</dt><dd>{examples}</dd>\n\
         <dt>Redis cache</dt><dd>{redis}</dd>\n\
         </dl>\n</body>\n</html>\n",
        debug = on_off(config.debug),
        examples = if config.no_examples {
            "not loaded"
        } else {
            "loaded"
        },
        redis = on_off(config.cache_redis),
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
