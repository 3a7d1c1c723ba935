//! Benchmarks of the 🎪 label codec on one PR with 100 labels
//! ([`pr_with_labels`]): parsing them, encoding the parsed state in both
//! dialects, and diffing the current labels against the seed encoding (the
//! migration a reconcile would apply).
//!
//! Throughput is reported in labels per second of the input PR (100 per
//! iteration).
//!
//! ```text
//! cargo bench -p showtime-benches --bench codec
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use showtime_benches::pr_with_labels;
use showtime_core::labels::{Codec, Dialect, diff};

/// Labels on the benchmarked PR.
const LABELS: usize = 100;

fn codec(c: &mut Criterion) {
    let codec = Codec::default();
    let labels = pr_with_labels(LABELS);
    let state = codec.parse(&labels);
    assert!(state.anomalies.is_empty(), "the fixture must parse cleanly");
    let seed = codec.encode(&state, Dialect::Seed);

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(LABELS as u64));

    group.bench_function("parse", |b| {
        b.iter(|| codec.parse(black_box(&labels)));
    });
    group.bench_function("encode_seed", |b| {
        b.iter(|| codec.encode(black_box(&state), black_box(Dialect::Seed)));
    });
    group.bench_function("encode_per_sha", |b| {
        b.iter(|| codec.encode(black_box(&state), black_box(Dialect::PerSha)));
    });
    group.bench_function("diff", |b| {
        b.iter(|| diff(black_box(&labels), black_box(&seed)));
    });

    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
