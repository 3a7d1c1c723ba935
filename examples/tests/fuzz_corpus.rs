//! The fuzz targets' committed corpus (`fuzz/corpus/<target>/`, seeds and
//! every input that once found a defect), replayed on stable through the
//! same checks the libFuzzer targets run (`fuzz/src/checks.rs`), so a
//! regression fails here without a nightly compiler: labels, commands,
//! flags, config, webhook, and wire (GitHub's answers, read by
//! `showtime_github::wire`). `scripts/fuzz` runs the targets themselves.

#![allow(clippy::unwrap_used)]

#[path = "../../fuzz/src/checks.rs"]
mod checks;

#[test]
fn the_committed_fuzz_corpus_replays_without_a_defect() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, check) in checks::TARGETS {
        let dir = root.join(name);
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let replayed = std::panic::catch_unwind(|| check(&data));
            assert!(
                replayed.is_ok(),
                "{name}: {} found a defect",
                path.display()
            );
            inputs += 1;
        }
        assert!(inputs > 0, "{name} has no corpus");
    }
    // A corpus no check replays would pass unnoticed: every directory is a
    // target's.
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_string_lossy();
        assert!(
            checks::TARGETS.iter().any(|(target, _)| *target == name),
            "fuzz/corpus/{name} has no check in fuzz/src/checks.rs"
        );
    }
}
