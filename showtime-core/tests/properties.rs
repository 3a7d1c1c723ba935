//! Properties of the label codec over generated states and arbitrary text,
//! each checked on at least 1,000 cases.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::select;
use showtime_core::labels::{
    Codec, ConfTrigger, Dialect, Environment, LabelState, MAX_DESCRIPTION_LEN, MAX_LABEL_LEN,
    Requester, Trigger, diff, is_showtime_label,
};
use showtime_core::{
    Address, ConfCommand, FeatureName, ShortSha, Sizes, Status, Timestamp, Ttl, TtlUnit,
};

const CASES: u32 = 1_000;

fn short_sha() -> impl Strategy<Value = ShortSha> {
    // A small alphabet makes pointers and environments collide often.
    "[0-9a-f]{2}[ab]{5}".prop_map(|s| s.parse().unwrap())
}

fn status() -> impl Strategy<Value = Status> {
    select(Status::ALL.to_vec())
}

fn address() -> impl Strategy<Value = Address> {
    (any::<[u8; 4]>(), proptest::option::of(1u16..))
        .prop_map(|(ip, port)| Address::new(ip.into(), port.and_then(std::num::NonZeroU16::new)))
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (946_684_800i64..4_102_444_800).prop_map(|secs| {
        Timestamp::from_datetime(chrono::DateTime::from_timestamp(secs, 0).unwrap())
    })
}

fn requester() -> impl Strategy<Value = Requester> {
    ("[a-zA-Z0-9]{1,12}(-[a-zA-Z0-9]{1,12}){0,2}", any::<bool>()).prop_filter_map(
        "fits a label",
        |(name, bot)| {
            let login = if bot { format!("{name}[bot]") } else { name };
            Requester::new(login.parse().ok()?).ok()
        },
    )
}

fn ttl() -> impl Strategy<Value = Ttl> {
    prop_oneof![
        (1u32..=8736).prop_map(|n| Ttl::new(n, TtlUnit::Hours).unwrap()),
        (1u32..=364).prop_map(|n| Ttl::new(n, TtlUnit::Days).unwrap()),
        (1u32..=52).prop_map(|n| Ttl::new(n, TtlUnit::Weeks).unwrap()),
        Just(Ttl::CLOSE),
        Just(Ttl::MANUAL),
    ]
}

fn feature() -> impl Strategy<Value = FeatureName> {
    "[A-Z0-9_]{1,40}".prop_map(|s| s.parse().unwrap())
}

fn size() -> impl Strategy<Value = showtime_core::SizeName> {
    select(Sizes::default().iter().cloned().collect::<Vec<_>>())
}

fn environment() -> impl Strategy<Value = Environment> {
    (
        proptest::option::of(status()),
        proptest::option::of(address()),
        proptest::option::of(timestamp()),
        proptest::option::of(requester()),
    )
        .prop_map(|(status, address, created_at, requested_by)| Environment {
            status,
            address,
            created_at,
            requested_by,
        })
        .prop_filter("describes something", |e| *e != Environment::default())
}

fn trigger() -> impl Strategy<Value = Trigger> {
    let command = prop_oneof![
        feature().prop_map(ConfCommand::Enable),
        feature().prop_map(ConfCommand::Disable),
        feature().prop_map(ConfCommand::Toggle),
        any::<bool>().prop_map(ConfCommand::Debug),
        size().prop_map(ConfCommand::Size),
        Just(ConfCommand::NoExamples),
        Just(ConfCommand::CacheRedis),
    ];
    prop_oneof![
        Just(Trigger::Up),
        Just(Trigger::Start),
        Just(Trigger::Stop),
        Just(Trigger::Sync),
        command.prop_filter_map("fits a label", |c| ConfTrigger::new(c)
            .ok()
            .map(Trigger::Conf)),
    ]
}

fn state() -> impl Strategy<Value = LabelState> {
    let config = (
        proptest::collection::btree_map(feature(), any::<bool>(), 0..4),
        any::<bool>(),
        proptest::option::of(size()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(features, debug, size, no_examples, cache_redis)| showtime_core::Config {
                features,
                debug,
                size,
                no_examples,
                cache_redis,
            },
        );
    (
        (
            proptest::collection::btree_map(short_sha(), environment(), 0..4),
            proptest::option::of(short_sha()),
            proptest::option::of(short_sha()),
            proptest::option::of(ttl()),
            config,
            proptest::collection::btree_set(trigger(), 0..4),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            proptest::option::of(1u64..=u64::MAX),
            proptest::option::of(timestamp()),
            proptest::option::of(short_sha()),
        ),
    )
        .prop_map(
            |(
                (environments, active, building, ttl, config, triggers, frozen, blocked),
                (comment, warned, healed),
            )| {
                LabelState {
                    environments,
                    active,
                    building,
                    ttl,
                    expiry_warned: warned,
                    healed,
                    config,
                    triggers,
                    frozen,
                    blocked,
                    comment: comment.and_then(showtime_core::CommentId::new),
                    anomalies: Vec::new(),
                    other_labels: Vec::new(),
                }
            },
        )
}

/// Text meant to break a parser: emoji soup with variation selectors, zero
/// width joiners, bidi controls and NUL, arbitrary Unicode, and very long
/// names.
fn hostile_label() -> impl Strategy<Value = String> {
    let atoms = select(vec![
        "🎪",
        "🚦",
        "🎯",
        "🏗",
        "📅",
        "🌐",
        "⌛",
        "💬",
        "⏰",
        "🩹",
        "👤",
        "🤡",
        "⚙",
        "🚩",
        "⚡",
        "🛑",
        "🔄",
        "🧊",
        "🔒",
        "\u{FE0F}",
        "\u{200D}",
        "\u{202E}",
        "\u{2066}",
        "\u{0}",
        " ",
        "  ",
        "\t",
        "abc123f",
        "ABC123F",
        "running",
        "built",
        "24h",
        "53w",
        "conf-",
        "enable-",
        "size-",
        "=",
        "true",
        ",",
        "52-1-2-3",
        ":8080",
        "2024-01-15T14-30",
        "Z",
        "testenv-up",
        "ß",
        "İ",
        "👨\u{200D}👩\u{200D}👧",
    ]);
    prop_oneof![
        4 => proptest::collection::vec(atoms, 0..12).prop_map(|parts| parts.concat()),
        2 => any::<String>(),
        1 => any::<String>().prop_map(|s| format!("🎪 {s}")),
        1 => proptest::collection::vec(any::<char>(), 10_000).prop_map(|c| c.into_iter().collect()),
        1 => proptest::collection::vec(any::<char>(), 10_000)
            .prop_map(|c| format!("🎪 abc123f 🚦 {}", c.into_iter().collect::<String>())),
    ]
}

fn folded_tent_labels<S: AsRef<str>>(labels: &[S]) -> BTreeSet<String> {
    labels
        .iter()
        .map(AsRef::as_ref)
        .filter(|l| is_showtime_label(l))
        .map(str::to_lowercase)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn round_trip_in_both_dialects(state in state()) {
        let codec = Codec::default();
        for dialect in [Dialect::Seed, Dialect::PerSha] {
            let labels = codec.encode(&state, dialect);
            prop_assert_eq!(&codec.parse(&labels), &state, "{:?} {:?}", dialect, labels);
        }
    }

    #[test]
    fn every_encoded_label_fits_github(state in state()) {
        let codec = Codec::default();
        for dialect in [Dialect::Seed, Dialect::PerSha] {
            for label in codec.encode(&state, dialect) {
                prop_assert!(label.chars().count() <= MAX_LABEL_LEN, "{} is too long", label);
                let def = codec.definition(&label);
                prop_assert!(def.is_some(), "{} has no definition", label);
                let description = def.map(|d| d.description).unwrap_or_default();
                prop_assert!(description.chars().count() <= MAX_DESCRIPTION_LEN, "{}", description);
            }
        }
    }

    #[test]
    fn parse_is_total_on_arbitrary_text(labels in proptest::collection::vec(hostile_label(), 0..16)) {
        let state = Codec::default().parse(&labels);
        // Nothing is lost: every non-🎪 label is kept as is, and every
        // anomaly names a label that was given.
        let plain: Vec<&String> = labels
            .iter()
            .filter(|l| !is_showtime_label(l) && l.to_lowercase() != "testenv-up")
            .collect();
        prop_assert_eq!(state.other_labels.len(), plain.len());
        for anomaly in &state.anomalies {
            prop_assert!(labels.contains(&anomaly.label));
            prop_assert!(!anomaly.message.is_empty());
        }
    }

    #[test]
    fn parse_ignores_label_order(state in state(), seed in any::<u64>()) {
        let codec = Codec::default();
        let mut labels = codec.encode(&state, Dialect::Seed);
        labels.push("bug".to_owned());
        labels.push("🎪 🎯 0000000".to_owned());
        let forward = codec.parse(&labels);
        // A cheap deterministic shuffle driven by the seed.
        let len = labels.len();
        let mut shuffled = labels.clone();
        for i in (1..len).rev() {
            let j = (seed.wrapping_mul(i as u64 + 7) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        prop_assert_eq!(codec.parse(&shuffled), forward);
    }

    #[test]
    fn diff_reaches_exactly_the_desired_labels(
        from in state(),
        to in state(),
        others in proptest::collection::vec("[a-z: ]{1,12}", 0..4),
        junk in proptest::collection::vec(hostile_label().prop_map(|s| format!("🎪 {s}")), 0..3),
        shout in any::<bool>(),
        dialects in (any::<bool>(), any::<bool>()),
    ) {
        let codec = Codec::default();
        let pick = |b: bool| if b { Dialect::Seed } else { Dialect::PerSha };
        let mut current: Vec<String> = codec.encode(&from, pick(dialects.0));
        if shout {
            // GitHub keeps the spelling a label was created with.
            current = current.iter().map(|l| l.to_uppercase()).collect();
        }
        current.extend(others.iter().cloned());
        current.extend(junk);
        let desired = codec.encode(&to, pick(dialects.1));

        let change = diff(&current, &desired);
        let after = change.apply(&current);

        prop_assert_eq!(folded_tent_labels(&after), folded_tent_labels(&desired));
        let kept: Vec<&String> = after.iter().filter(|l| !is_showtime_label(l)).collect();
        let before: Vec<&String> = current.iter().filter(|l| !is_showtime_label(l)).collect();
        prop_assert_eq!(kept, before);
        // Minimal: nothing added that was there, nothing removed that is wanted.
        let have = folded_tent_labels(&current);
        let want = folded_tent_labels(&desired);
        prop_assert!(change.add.iter().all(|l| !have.contains(&l.to_lowercase())));
        prop_assert!(change.remove.iter().all(|l| !want.contains(&l.to_lowercase())));
        prop_assert!(change.remove.iter().all(|l| current.contains(l)));
    }
}
