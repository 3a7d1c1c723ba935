//! `showtime-webhook`: the webhook server of Showtime, per-PR preview
//! environments whose state lives in 🎪 labels.
//!
//! Only wiring: clap reads the options, the environment gives the secret and
//! the GitHub settings, and [`showtime_examples::server`] does the work.
//!
//! Environment:
//!
//! * `GITHUB_WEBHOOK_SECRET` (required): the secret set on the GitHub
//!   webhook. Without it the server refuses to start (exit code 2).
//! * `GITHUB_REPOSITORY` (`owner/name`), `GITHUB_TOKEN` or the App's
//!   `SHOWTIME_GITHUB_APP_ID`, `SHOWTIME_GITHUB_APP_KEY` and
//!   `SHOWTIME_GITHUB_INSTALLATION_ID`, and optionally `GITHUB_API_URL`:
//!   where and as whom to talk to GitHub. Deliveries from other repositories
//!   are ignored.
//!
//! Exit codes: 0 after a clean shutdown (SIGINT or SIGTERM, once queued work
//! has finished), 1 when serving failed, 2 for a usage or configuration
//! error.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clap::Parser;
use showtime_core::engine::{Engine, Ports};
use showtime_core::policy::Policy;
use showtime_core::ports::{Backend, Clock, ImageBuilder};
use showtime_examples::server::{
    DEFAULT_CONCURRENCY, DEFAULT_DEDUP_CAPACITY, DEFAULT_LISTEN, Server, ServerSettings, log,
};
use showtime_github::webhook::{Webhook, WebhookError};
use showtime_github::{GitHubConfig, GitHubError, GitHubHost};

/// Exit code: serving failed.
const FAILURE: u8 = 1;
/// Exit code: a usage or configuration error.
const BAD_CONFIGURATION: u8 = 2;

/// The variable holding the webhook secret.
const SECRET_VARIABLE: &str = "GITHUB_WEBHOOK_SECRET";

/// Receives GitHub webhook deliveries and reconciles the PRs they name.
#[derive(Debug, Parser)]
#[command(name = "showtime-webhook", version)]
struct Args {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Deliveries of different PRs handled at once
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY)]
    concurrency: usize,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
enum StartError {
    /// No secret, or an empty one.
    #[error(
        "{SECRET_VARIABLE} is not set: set it to the secret configured on the GitHub \
         webhook (deliveries cannot be verified without it)"
    )]
    NoSecret,
    /// The secret is not text.
    #[error("{SECRET_VARIABLE} is not valid UTF-8")]
    SecretNotText,
    /// The webhook verifier refused the secret.
    #[error("{0}")]
    Webhook(#[from] WebhookError),
    /// The GitHub settings are missing or wrong.
    #[error("{0}")]
    GitHub(#[from] GitHubError),
    /// No environment backend or image builder is wired in yet.
    #[error(
        "no environment backend is configured: this build of showtime-webhook has \
         no backend or image builder to run environments with"
    )]
    NoBackend,
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let secret = match webhook_secret() {
        Ok(secret) => secret,
        Err(e) => return fail(&e, BAD_CONFIGURATION),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&StartError::Runtime(e), FAILURE),
    };
    runtime.block_on(async move {
        // The GitHub client must be built inside the runtime.
        let (engine, repository) = match engine_from_env() {
            Ok(built) => built,
            Err(e) => return fail(&e, BAD_CONFIGURATION),
        };
        let webhook = match Webhook::new(secret) {
            Ok(webhook) => webhook.codec(engine.policy().codec.clone()),
            Err(e) => return fail(&StartError::from(e), BAD_CONFIGURATION),
        };
        let settings = ServerSettings {
            listen: args.listen,
            concurrency: args.concurrency,
            dedup_capacity: DEFAULT_DEDUP_CAPACITY,
            repository: Some(repository),
        };
        match Server::new(Arc::new(engine), webhook, settings)
            .run(shutdown_signal())
            .await
        {
            Ok(()) => {
                log("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, FAILURE),
        }
    })
}

fn fail(error: &dyn std::error::Error, code: u8) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(code)
}

/// The webhook secret from [`SECRET_VARIABLE`]; absent or blank is an error.
fn webhook_secret() -> Result<String, StartError> {
    match std::env::var(SECRET_VARIABLE) {
        Ok(secret) if !secret.trim().is_empty() => Ok(secret),
        Ok(_) | Err(std::env::VarError::NotPresent) => Err(StartError::NoSecret),
        Err(std::env::VarError::NotUnicode(_)) => Err(StartError::SecretNotText),
    }
}

/// The engine the server reconciles with, and the repository (`owner/name`)
/// it serves: GitHub from the environment, the default policy, the system
/// clock, and the backend and builder of [`backend_and_builder_from_env`].
fn engine_from_env() -> Result<(Engine, String), StartError> {
    let config = GitHubConfig::from_lookup(|name| std::env::var(name).ok())?;
    let host = GitHubHost::new(config)?;
    let repository = host.repository();
    let BackendAndBuilder { backend, builder } = backend_and_builder_from_env()?;
    let ports = Ports {
        host: Arc::new(host),
        backend,
        builder,
        clock: Arc::new(SystemClock),
        notifier: None,
    };
    Ok((Engine::new(ports, Policy::default()), repository))
}

/// Where environments run and how their images are built.
struct BackendAndBuilder {
    backend: Arc<dyn Backend>,
    builder: Arc<dyn ImageBuilder>,
}

/// The backend and image builder the engine runs environments with.
///
/// No backend is wired in yet, so the server refuses to start with
/// [`StartError::NoBackend`]; this is the one place to construct them.
fn backend_and_builder_from_env() -> Result<BackendAndBuilder, StartError> {
    Err(StartError::NoBackend)
}

/// The system's time; sleeping is tokio's.
struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(SystemTime::now())
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // Without a handler, wait for SIGTERM alone.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    log("shutting down: no new deliveries; finishing queued work");
}
