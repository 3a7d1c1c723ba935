//! `showtime-worker`: carries out the deliveries `showtime-webhook` sends to
//! the SQS FIFO work queue (`[queue] sqs_url` or `SHOWTIME_SQS_QUEUE_URL`),
//! one batch of a PR at a time, until SIGINT or SIGTERM. Run as many as
//! needed, anywhere: SQS keeps each PR's deliveries in order and in one
//! worker's hands (see the README's "Scaling out"). Configured exactly as
//! `showtime` is.
//!
//! Exit codes: 0 stopped, 2 bad configuration (no queue, or not FIFO).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use showtime_examples::exit_code::{BAD_INPUT, FAILURE};
use showtime_examples::{CliError, GlobalArgs};
use showtime_runtime::config::Settings;
use showtime_runtime::signal::shutdown;
use showtime_runtime::wiring;
use showtime_runtime::worker::{self, EngineHandler, WorkerSettings};

/// The command line of `showtime-worker`.
#[derive(Debug, Parser)]
#[command(
    name = "showtime-worker",
    version,
    about = "Carries out the deliveries of Showtime's SQS FIFO work queue.",
    long_about = None
)]
struct Args {
    /// Options shared with `showtime` and `showtime-webhook`.
    #[command(flatten)]
    global: GlobalArgs,
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let env = |k: &str| std::env::var(k).ok();
    if let Err(e) = args.global.logging(false, &env).and_then(|logging| {
        logging
            .init()
            .map_err(|e| CliError::Internal(e.to_string()))
    }) {
        return fail(&e.to_string(), e.exit_code());
    }
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
        let queue = match wiring::work_queue(&settings, &env).await {
            Ok(Some(queue)) => queue,
            Ok(None) => {
                return fail(
                    "no work queue: set [queue] sqs_url in showtime.toml or \
                     SHOWTIME_SQS_QUEUE_URL to the SQS FIFO queue showtime-webhook sends to",
                    BAD_INPUT,
                );
            }
            Err(e) => return fail(&e.to_string(), BAD_INPUT),
        };
        let engine = match wiring::engine(&settings, &env, None).await {
            Ok(engine) => Arc::new(engine),
            Err(e) => return fail(&e.to_string(), BAD_INPUT),
        };
        let defaults = WorkerSettings::default();
        let worker_settings = WorkerSettings {
            visibility: settings
                .file
                .queue
                .visibility_secs
                .map_or(defaults.visibility, Duration::from_secs),
            ..defaults
        };
        let handler = EngineHandler::new(engine);
        worker::run(&*queue, &handler, worker_settings, shutdown()).await;
        ExitCode::SUCCESS
    })
}
