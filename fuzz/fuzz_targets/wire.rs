#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| showtime_fuzz::checks::wire(data));
