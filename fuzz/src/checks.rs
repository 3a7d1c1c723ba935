//! What each fuzz target checks, on one input. Shared by the libFuzzer
//! targets (`fuzz/fuzz_targets/`, run by `scripts/fuzz`) and by
//! `examples/tests/fuzz_corpus.rs`, which replays the committed corpus on
//! stable as an ordinary test. Each function panics only on a real defect:
//! a parser that panics, or a property that does not hold.

use std::path::Path;

use showtime_core::Sizes;
use showtime_core::labels::{Codec, Dialect};

/// A check of one input.
pub type Check = fn(&[u8]);

/// The targets, by name, as `fuzz/corpus/<name>/` and `cargo fuzz run
/// <name>` know them.
pub const TARGETS: [(&str, Check); 5] = [
    ("labels", labels),
    ("commands", commands),
    ("flags", flags),
    ("config", config),
    ("webhook", webhook),
];

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The label codec: any set of labels (one per line) parses, and parsing
/// what it encodes is a fixed point in both dialects (encode ∘ parse is
/// idempotent), every encoded label within GitHub's 50 characters.
pub fn labels(data: &[u8]) {
    let text = text(data);
    let labels: Vec<&str> = text.lines().collect();
    let codec = Codec::default();
    let state = codec.parse(&labels);
    for dialect in [Dialect::Seed, Dialect::PerSha] {
        let encoded = codec.encode(&state, dialect);
        for label in &encoded {
            assert!(label.chars().count() <= 50, "{label:?} is too long");
        }
        let again = codec.encode(&codec.parse(&encoded), dialect);
        assert_eq!(again, encoded, "{dialect:?}: {labels:?}");
    }
}

/// Slash commands: any comment body parses into commands or errors that
/// say what was wrong.
pub fn commands(data: &[u8]) {
    for parsed in showtime_core::commands::parse(&text(data), &Sizes::default()) {
        if let Err(e) = parsed {
            assert!(!e.to_string().is_empty());
        }
    }
}

/// PR-description flags: any body reads.
pub fn flags(data: &[u8]) {
    let _ = showtime_core::flags::from_description(&text(data));
}

/// `showtime.toml`: any text parses or is refused with an error naming the
/// file; what parses yields a policy or an error.
pub fn config(data: &[u8]) {
    let path = Path::new("showtime.toml");
    match showtime_runtime::config::FileConfig::parse(&text(data), path) {
        Ok(file) => {
            let _ = showtime_runtime::config::policy(&file);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Webhook deliveries: the first line names the event, the rest is the
/// body. Signed with the right secret (so that parsing is reached) and
/// with a wrong one (refused, never parsed); every refusal has a status.
pub fn webhook(data: &[u8]) {
    const SECRET: &[u8] = b"fuzz";
    const EVENTS: [&str; 6] = [
        "pull_request",
        "issue_comment",
        "ping",
        "push",
        "installation",
        "check_run",
    ];
    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let event = EVENTS[head.first().map_or(0, |b| usize::from(*b) % EVENTS.len())];
    let Ok(webhook) = showtime_github::webhook::Webhook::new(SECRET) else {
        return;
    };
    for secret in [SECRET, b"wrong"] {
        let Ok(signature) = showtime_github::webhook::sign(secret, body) else {
            return;
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("x-github-event", http::HeaderValue::from_static(event));
        if let Ok(value) = http::HeaderValue::from_str(&signature) {
            headers.insert("x-hub-signature-256", value);
        }
        match webhook.receive(&headers, body) {
            Ok(_) => assert_eq!(secret, SECRET, "a wrong signature was accepted"),
            Err(e) => assert!((400..500).contains(&e.status()), "{e}"),
        }
    }
}
