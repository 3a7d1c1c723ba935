//! Prints the port calls each lifecycle flow makes (see
//! `showtime_benches::flows`). Counts, not times: they are exact.

fn main() {
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    let counts = runtime.block_on(showtime_benches::flows::measure(&[10, 100, 1000]));
    print!("{}", showtime_benches::flows::table(&counts));
}
