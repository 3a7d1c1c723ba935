//! Prints the GitHub requests each PR-host operation makes, counted by the
//! fake GitHub over real HTTP (see `showtime_benches::github`).

fn main() {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    match runtime.block_on(showtime_benches::github::measure()) {
        Ok(counts) => print!("{}", showtime_benches::github::table(&counts)),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
