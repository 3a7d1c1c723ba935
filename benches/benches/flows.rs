//! Prints the GitHub requests each lifecycle flow makes, in both dialects,
//! counted by the fake GitHub (see `showtime_benches::flows`). Counts, not
//! times: they are exact.

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
    match runtime.block_on(showtime_benches::flows::measure(&[10, 250, 1000])) {
        Ok(counts) => print!("{}", showtime_benches::flows::table(&counts)),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
