//! `showtime-sweep`: the scheduled sweeper of Showtime. One pass and exit
//! (for a cron job or a scheduled workflow), or `--every DURATION` as a
//! long-running job. Configured exactly as `showtime` is.
//!
//! Exit codes: 0 done, 2 bad configuration, 4 a PR could not be swept.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use showtime_examples::exit_code::FAILURE;
use showtime_examples::output::Output;
use showtime_examples::server::shutdown_signal;
use showtime_examples::settings::{GlobalArgs, Settings};
use showtime_examples::{CliError, commands, sweeper, wiring};

/// Sweeps expired, closed and orphaned preview environments.
#[derive(Debug, Parser)]
#[command(name = "showtime-sweep", version)]
struct Args {
    /// Options shared with `showtime` and `showtime-webhook`.
    #[command(flatten)]
    global: GlobalArgs,
    /// Say what would be done, change nothing
    #[arg(long)]
    dry_run: bool,
    /// Keep running, one pass every DURATION (30m, 1h)
    #[arg(long, value_name = "DURATION", value_parser = commands::parse_duration)]
    every: Option<Duration>,
    /// Print each pass's summary as JSON
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(FAILURE);
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut out = Output::new(&mut stdout, &mut stderr, args.json, &env);
    let result = runtime.block_on(async {
        let settings = Settings::resolve(&args.global, &env)?;
        let engine = wiring::engine(&settings, &env).await?;
        match args.every {
            None => sweeper::pass(&engine, &mut out, args.dry_run).await,
            Some(every) => {
                sweeper::every(&engine, &mut out, every, args.dry_run, shutdown_signal()).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(CliError::exit_code(&e))
        }
    }
}
