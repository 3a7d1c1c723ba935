//! `showtime`: the command line of Showtime, per-PR preview environments
//! whose state lives in 🎪 labels.
//!
//! Only wiring: clap parses the arguments (usage errors exit with 2), and
//! [`showtime_examples::run`] does the work on the process's standard streams.

use std::process::ExitCode;

use clap::Parser;
use showtime_examples::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Quiet: standard error already shows progress to people; logs below
    // `warn` only in JSON (`--log-format json`), for machines.
    let env = |k: &str| std::env::var(k).ok();
    let logging = cli.global.logging(true, &env).and_then(|logging| {
        logging
            .init()
            .map_err(|e| showtime_examples::CliError::Internal(e.to_string()))
    });
    if let Err(e) = logging {
        eprintln!("error: {e}");
        return ExitCode::from(e.exit_code());
    }
    // The streams are not locked for the whole run: log lines from the
    // runtime's other threads write to standard error meanwhile.
    let code = run(
        cli,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(code)
}
