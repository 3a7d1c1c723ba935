//! # showtime-benches
//!
//! [Criterion](https://docs.rs/criterion) benchmarks of Showtime, with the
//! fixtures they share.
//!
//! Benchmarks live in `benches/`, one file per area:
//!
//! * `codec`: the 🎪 label codec of [`showtime_core::labels`] on a PR with
//!   100 labels — [`Codec::parse`](showtime_core::labels::Codec::parse),
//!   [`Codec::encode`](showtime_core::labels::Codec::encode) in both dialects,
//!   and [`diff`](showtime_core::labels::diff);
//! * the planner and the sweep will follow.
//!
//! Run them all with
//!
//! ```text
//! cargo bench -p showtime-benches
//! ```
//!
//! or one group, more briefly, with criterion's own options after `--`:
//!
//! ```text
//! cargo bench -p showtime-benches --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Reports are written to `target/criterion/`. This crate is not published;
//! its library part holds only fixtures, such as [`pr_with_labels`].

/// How many fixed labels every fixture starts with, before the repeating
/// blocks: the two pointers, the TTL, the trigger and two ordinary labels.
const HEAD_LEN: usize = 6;

/// Labels in one repeating block of [`pr_with_labels`]: one environment's
/// four per-SHA labels, two feature flags and four ordinary labels.
const BLOCK_LEN: usize = 10;

/// Logins that request environments, cycled through.
const LOGINS: &[&str] = &["maxime", "betodealmeida", "villebro", "eschutho"];

/// The `k`-th fixture SHA: seven lower-case hexadecimal digits, distinct for
/// every `k` below 2²⁸ (multiplying by an odd constant is a bijection modulo
/// 2²⁸), and scattered like real commit hashes.
fn sha7(k: usize) -> String {
    // Wrapping is intended: only the low 28 bits (seven hex digits) are kept.
    format!("{:07x}", k.wrapping_mul(0x9E37_79B1) & 0x0FFF_FFFF)
}

/// The labels that open every fixture; the pointers name the environments
/// of the first two blocks.
fn head() -> [String; HEAD_LEN] {
    [
        "bug".to_owned(),
        format!("🎪 🎯 {}", sha7(0)),
        "🎪 ⌛ 48h".to_owned(),
        "🎪 ⚡ showtime-trigger-start".to_owned(),
        format!("🎪 🏗️ {}", sha7(1)),
        "enhancement".to_owned(),
    ]
}

/// Block `k`: the environment of [`sha7`]`(k)` in the per-SHA dialect, two
/// feature flags and four ordinary labels, interleaved as a PR's labels are.
fn block(k: usize) -> [String; BLOCK_LEN] {
    let sha = sha7(k);
    let login = LOGINS[k % LOGINS.len()];
    let (day, minute) = (1 + k % 28, k % 60);
    let (octet3, octet4) = (k / 256 % 256, k % 256);
    [
        format!("🎪 {sha} 🚦 running"),
        format!("area:{k}"),
        format!("🎪 {sha} 📅 2024-01-{day:02}T14-{minute:02}"),
        format!("🎪 🚩 FLAG_{}=true", 2 * k),
        format!("team:{k}"),
        format!("🎪 {sha} 🌐 52.1.{octet3}.{octet4}:8080"),
        format!("size/{k}"),
        format!("🎪 🚩 FLAG_{}=true", 2 * k + 1),
        format!("🎪 {sha} 🤡 {login}"),
        format!("review:{k}"),
    ]
}

/// A realistic, deterministic label list of exactly `n` labels for one PR.
///
/// It opens with `bug`, the active pointer `🎪 🎯 <sha7>`, `🎪 ⌛ 48h`,
/// `🎪 ⚡ showtime-trigger-start`, a building pointer `🎪 🏗️ <sha7>` and
/// `enhancement`, then repeats blocks of ten labels: one environment in the
/// per-SHA dialect (`🎪 <sha7> 🚦 running`, `🎪 <sha7> 📅 2024-01-15T14-30`,
/// `🎪 <sha7> 🌐 52.1.2.3:8080`, `🎪 <sha7> 🤡 maxime`), two feature flags
/// `🎪 🚩 FLAG_N=true` and four ordinary labels (`area:n`, `team:n`,
/// `size/n`, `review:n`). Each block has its own valid, distinct SHA; the
/// pointers name the first two environments.
///
/// Every label is distinct and at most
/// [`MAX_LABEL_LEN`](showtime_core::labels::MAX_LABEL_LEN) characters, and
/// any prefix parses without anomalies (nothing conflicts, nothing is
/// orphaned). A list of 100 labels holds ten environments (38 of their
/// labels), 19 feature flags, 4 pointer, TTL and trigger labels and 39
/// ordinary labels.
///
/// ```
/// use showtime_benches::pr_with_labels;
/// use showtime_core::labels::Codec;
///
/// let labels = pr_with_labels(100);
/// assert_eq!(labels.len(), 100);
/// let state = Codec::default().parse(&labels);
/// assert!(state.anomalies.is_empty());
/// assert_eq!(state.environments.len(), 10);
/// ```
pub fn pr_with_labels(n: usize) -> Vec<String> {
    head()
        .into_iter()
        .chain((0..).flat_map(block))
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use showtime_core::labels::{Codec, MAX_LABEL_LEN};

    use super::*;

    #[test]
    fn hundred_labels_fit_and_parse_cleanly() {
        let labels = pr_with_labels(100);
        assert_eq!(labels.len(), 100);
        for label in &labels {
            assert!(label.chars().count() <= MAX_LABEL_LEN, "too long: {label}");
            assert!(label.chars().count() <= 50, "too long: {label}");
        }
        let state = Codec::default().parse(&labels);
        assert!(state.anomalies.is_empty(), "{:#?}", state.anomalies);
        assert_eq!(state.environments.len(), 10);
        assert_eq!(state.config.features.len(), 19);
        assert_eq!(state.other_labels.len(), 39);
        assert!(state.active.is_some() && state.building.is_some() && state.ttl.is_some());
    }

    #[test]
    fn every_length_is_exact_distinct_and_clean() {
        let codec = Codec::default();
        for n in 0..=250 {
            let labels = pr_with_labels(n);
            assert_eq!(labels.len(), n);
            let distinct: BTreeSet<&String> = labels.iter().collect();
            assert_eq!(distinct.len(), n, "duplicate label at n = {n}");
            assert!(labels.iter().all(|l| l.chars().count() <= MAX_LABEL_LEN));
            assert!(
                codec.parse(&labels).anomalies.is_empty(),
                "anomalies at n = {n}"
            );
        }
    }

    #[test]
    fn deterministic() {
        assert_eq!(pr_with_labels(100), pr_with_labels(100));
    }

    #[test]
    fn shas_are_distinct_short_shas() {
        let shas: BTreeSet<String> = (0..10_000).map(sha7).collect();
        assert_eq!(shas.len(), 10_000);
        for sha in &shas {
            assert!(sha.parse::<showtime_core::ShortSha>().is_ok(), "{sha}");
        }
    }
}

pub mod flows;
pub mod github;
