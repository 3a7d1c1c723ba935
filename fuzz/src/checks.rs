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
pub const TARGETS: [(&str, Check); 6] = [
    ("labels", labels),
    ("commands", commands),
    ("flags", flags),
    ("config", config),
    ("webhook", webhook),
    ("wire", wire),
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

/// The kinds of GitHub answer the host reads, as the first line of a
/// `wire` input names them.
const ANSWERS: [&str; 12] = [
    "pull",
    "pulls",
    "labels",
    "label",
    "comments",
    "comment",
    "permission",
    "membership",
    "deployments",
    "deployment",
    "graphql",
    "label-lookup",
];

/// The longest error message a reader may give: it names what was wrong,
/// it does not echo the answer.
const MESSAGE_MAX: usize = 1_000;

/// GitHub's answers (`showtime_github::wire`, the readers the host runs on
/// every answer): the first line names the kind of answer (or, when it is
/// not a name, its first byte picks one; a label look-up's line may add how
/// many names were asked and `pull`), the rest is the body, made text as
/// the transport makes it. Any body reads or is refused with a short error;
/// what reads is consistent (node ids only for what was read, one entry per
/// label asked, no rate-limit error left in a GraphQL answer).
pub fn wire(data: &[u8]) {
    use showtime_github::wire;

    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let body = text(body);
    let head = text(head);
    let mut words = head.split(' ');
    let named = words
        .next()
        .and_then(|w| ANSWERS.iter().position(|a| *a == w));
    let bytes = head.as_bytes();
    let byte = |i: usize| bytes.get(i).copied().map_or(0, usize::from);
    let (kind, names, pull) = match named {
        Some(kind) => (
            kind,
            words.next().and_then(|n| n.parse().ok()).unwrap_or(1),
            words.next() == Some("pull"),
        ),
        None => (byte(0) % ANSWERS.len(), byte(1), byte(2) % 2 == 1),
    };
    let names = names % (wire::LABELS_PER_QUERY + 1);
    let refused = |e: wire::WireError| {
        let message = e.to_string();
        assert!(
            !message.is_empty() && message.len() <= MESSAGE_MAX,
            "{message}"
        );
    };
    let result: Result<(), wire::WireError> = match ANSWERS[kind] {
        "pull" => wire::pull(&body).map(|read| {
            for (number, _) in &read.ids.pulls {
                assert_eq!(*number, read.value.number);
            }
            assert!(read.ids.labels.len() <= read.value.labels.len());
        }),
        "pulls" => wire::pulls(&body).map(|read| {
            assert!(read.ids.pulls.len() <= read.value.len());
            for (number, _) in &read.ids.pulls {
                assert!(read.value.iter().any(|p| p.number == *number));
            }
        }),
        "labels" => wire::labels(&body).map(|read| {
            assert!(read.ids.labels.len() <= read.value.len());
        }),
        "label" => wire::label(&body).map(|read| {
            assert!(read.ids.labels.iter().all(|(name, _)| *name == read.value));
        }),
        "comments" => wire::comments(&body).map(drop),
        "comment" => wire::comment(&body).map(drop),
        "permission" => wire::permission(&body).map(drop),
        "membership" => wire::membership(&body).map(drop),
        "deployments" => wire::deployments(&body).map(|all| {
            for d in all {
                assert_eq!(d.sha, d.sha.to_ascii_lowercase());
            }
        }),
        "deployment" => wire::deployment(&body).map(drop),
        "graphql" => wire::graphql(&body).map(|answer| {
            assert!(
                answer
                    .errors
                    .iter()
                    .all(|e| e.kind.as_deref() != Some("RATE_LIMITED"))
            );
            assert!(answer.describe().chars().count() <= 300);
        }),
        _ => wire::label_lookup(&body, pull, names).map(|lookup| {
            assert_eq!(lookup.labels.len(), names);
            assert!(pull || lookup.pull.is_none());
        }),
    };
    if let Err(e) = result {
        refused(e);
    }
}
