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
    let code = run(
        cli,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}
