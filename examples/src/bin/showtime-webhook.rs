//! `showtime-webhook`: the webhook server of Showtime, per-PR preview
//! environments whose state lives in 🎪 labels.
//!
//! Only wiring: clap reads the options, [`showtime_runtime::config`] and
//! [`showtime_runtime::wiring`] build the engine exactly as `showtime`
//! does (same flags, variables and `showtime.toml`), and
//! [`showtime_runtime::server`] does the work.
//!
//! Environment: `GITHUB_WEBHOOK_SECRET` (required: the secret set on the
//! GitHub webhook; without it the server refuses to start), the GitHub
//! credentials (`GITHUB_TOKEN`, or the App's `SHOWTIME_GITHUB_APP_*`), and
//! the backend's settings. Deliveries about other repositories are refused
//! (`403`). The public endpoint's limits (connections, header and request
//! deadlines, header size, per-source rate) come from `[server]`.
//! The dashboard is served on the same port, at `/dashboard`, as
//! `[dashboard]` and its variables say (`SHOWTIME_OAUTH_CLIENT_SECRET`,
//! `SHOWTIME_SESSION_KEY`).
//!
//! Exit codes: 0 after a clean shutdown (SIGINT or SIGTERM, once queued work
//! has finished), 1 when serving failed, 2 for a usage or configuration
//! error.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use showtime_examples::exit_code::{BAD_INPUT, FAILURE};
use showtime_examples::{CliError, GlobalArgs};
use showtime_github::webhook::Webhook;
use showtime_runtime::config::Settings;
use showtime_runtime::dashboard::{Dashboard, DashboardSettings};
use showtime_runtime::metrics::{self, Metrics};
use showtime_runtime::queue::{DEFAULT_CONCURRENCY, QueueSettings};
use showtime_runtime::server::{DEFAULT_LISTEN, Limits, Server, ServerSettings};
use showtime_runtime::signal::shutdown;
use showtime_runtime::wiring;

/// The variable holding the webhook secret.
const SECRET_VARIABLE: &str = "GITHUB_WEBHOOK_SECRET";

/// Receives GitHub webhook deliveries and reconciles the PRs they name.
#[derive(Debug, Parser)]
#[command(name = "showtime-webhook", version)]
struct Args {
    /// Options shared with `showtime` and `showtime-sweep`.
    #[command(flatten)]
    global: GlobalArgs,
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Deliveries of different PRs handled at once
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY)]
    concurrency: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let env = |k: &str| std::env::var(k).ok();
    let started = args.global.logging(false, &env).and_then(|logging| {
        logging
            .init()
            .map_err(|e| CliError::Internal(e.to_string()))?;
        args.global.metrics("showtime-webhook", &env)
    });
    // `GET /metrics` is always served; EMF lines only when asked for.
    let (metrics, emf) = match started {
        Ok(Some(emf)) => (emf, true),
        Ok(None) => (Arc::new(Metrics::new()), false),
        Err(e) => return fail(&e.to_string(), e.exit_code()),
    };
    let secret = match std::env::var(SECRET_VARIABLE) {
        Ok(secret) if !secret.trim().is_empty() => secret,
        _ => {
            return fail(
                &format!(
                    "{SECRET_VARIABLE} is not set: set it to the secret configured on the \
                     GitHub webhook (deliveries cannot be verified without it)"
                ),
                BAD_INPUT,
            );
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}"), FAILURE),
    };
    runtime.block_on(async move {
        let settings = match Settings::resolve(&args.global.overrides(), &env) {
            Ok(settings) => settings,
            Err(e) => return fail(&e.to_string(), BAD_INPUT),
        };
        // The GitHub client must be built inside the runtime.
        let extras = wiring::Extras::default().metrics(metrics.clone());
        let engine = match wiring::engine_with(&settings, &env, extras).await {
            Ok(engine) => engine,
            Err(e) => return fail(&e.to_string(), BAD_INPUT),
        };
        let durable = match wiring::work_queue(&settings, &env).await {
            Ok(durable) => durable,
            Err(e) => return fail(&e.to_string(), BAD_INPUT),
        };
        let webhook = match Webhook::new(secret) {
            Ok(webhook) => webhook.codec(engine.policy().codec.clone()),
            Err(e) => return fail(&e.to_string(), BAD_INPUT),
        };
        let engine = Arc::new(engine);
        let audit = settings.file.audit.sink(&env);
        // The dashboard, on the same port (`[dashboard]` in showtime.toml).
        let dashboard = match DashboardSettings::resolve(&settings, &env, args.listen)
            .and_then(|d| Dashboard::new(engine.clone(), d))
        {
            Ok(dashboard) => dashboard.with_audit(audit.clone()),
            Err(e) => return fail(&e.to_string(), BAD_INPUT),
        };
        let settings = ServerSettings {
            listen: args.listen,
            queue: QueueSettings {
                concurrency: args.concurrency,
                ..QueueSettings::default()
            },
            repository: settings.repository.clone(),
            repository_id: settings.file.server.repository_id,
            limits: Limits::from_section(&settings.file.server),
            metrics: Some(metrics.clone()),
        };
        // Every environment counted from the start: one listing of open PRs.
        tokio::spawn({
            let engine = engine.clone();
            async move { Metrics::count_environments(&engine).await }
        });
        // EMF on standard output, which carries nothing else here.
        let emf_task = emf.then(|| {
            tokio::spawn(metrics::emf_every(
                metrics.clone(),
                metrics::EMF_EVERY,
                std::io::stdout(),
            ))
        });
        let mut server = Server::new(engine, webhook, settings, audit).with_dashboard(dashboard);
        if let Some(queue) = durable {
            tracing::info!("receiving only: deliveries go to the SQS work queue");
            server = server.with_work_queue(queue);
        }
        let served = server
            .run(async {
                shutdown().await;
                tracing::info!("shutting down: no new deliveries; finishing queued work");
            })
            .await;
        if let Some(task) = emf_task {
            task.abort();
            let _ = metrics.write_emf(chrono::Utc::now(), &mut std::io::stdout());
        }
        match served {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string(), FAILURE),
        }
    })
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}
