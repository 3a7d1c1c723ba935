//! `showtime-sweep`: the scheduled sweeper of Showtime. One pass and exit
//! (for a cron job or a scheduled workflow), or `--every DURATION` as a
//! long-running job. Configured exactly as `showtime` is.
//!
//! Exit codes: 0 done, 2 bad configuration, 4 a PR could not be swept.

use std::process::ExitCode;

use clap::Parser;
use showtime_examples::exit_code::FAILURE;
use showtime_examples::output::Output;
use showtime_examples::sweeper::SweepArgs;
use showtime_examples::{CliError, sweeper};
use showtime_runtime::config::Settings;
use showtime_runtime::signal::shutdown;
use showtime_runtime::wiring;

fn main() -> ExitCode {
    let args = SweepArgs::parse();
    let env = |k: &str| std::env::var(k).ok();
    let started = args.global.logging(false, &env).and_then(|logging| {
        logging
            .init()
            .map_err(|e| CliError::Internal(e.to_string()))?;
        args.global.metrics("showtime-sweep", &env)
    });
    let metrics = match started {
        Ok(metrics) => metrics,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
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
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut out = Output::new(&mut stdout, &mut stderr, args.json, &env);
    out.program = "showtime-sweep";
    out.metrics = metrics.clone();
    let result = runtime.block_on(async {
        let settings = Settings::resolve(&args.global.overrides(), &env)?;
        out.audit = settings.file.audit.sink(&env);
        let extras = wiring::Extras::default().metrics(metrics);
        let engine = wiring::engine_with(&settings, &env, extras).await?;
        let budget = sweeper::Budgeting::from_settings(&settings, &env)?;
        let budget = budget.as_ref();
        match args.every {
            None => sweeper::pass(&engine, &mut out, args.dry_run, budget).await,
            Some(every) => {
                sweeper::every(&engine, &mut out, every, args.dry_run, budget, shutdown()).await
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
