//! The label codec against the labels real PRs carry: the examples of the
//! design, superset-showtime's per-SHA labels, mixes of both, and the
//! malformed labels a person can type.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

use showtime_core::labels::{
    AnomalyKind, Codec, Detail, Dialect, LabelState, MAX_DESCRIPTION_LEN, MAX_LABEL_LEN, Requester,
    diff, reference,
};
use showtime_core::{Address, ConfCommand, Error, Status, Timestamp, Ttl};

fn parse(labels: &[&str]) -> LabelState {
    Codec::default().parse(labels)
}

fn sha(s: &str) -> showtime_core::ShortSha {
    s.parse().unwrap()
}

#[test]
fn design_example_running_environment() {
    let state = parse(&[
        "🎪 🚦 running",
        "🎪 🎯 abc123f",
        "🎪 📅 2024-01-15T14-30",
        "🎪 🌐 52-1-2-3",
        "🎪 ⌛ 24h",
        "🎪 👤 maxime",
    ]);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.active, Some(sha("abc123f")));
    assert_eq!(state.building, None);
    assert_eq!(state.ttl, Some("24h".parse().unwrap()));
    let env = &state.environments[&sha("abc123f")];
    assert_eq!(env.status, Some(Status::Running));
    assert_eq!(env.address, Some("52.1.2.3".parse().unwrap()));
    assert_eq!(
        env.created_at,
        Some(Timestamp::from_label("2024-01-15T14-30").unwrap())
    );
    assert_eq!(
        env.requested_by.as_ref().unwrap().login().as_str(),
        "maxime"
    );
    assert_eq!(state.environments.len(), 1);
}

#[test]
fn design_example_during_rolling_update() {
    let state = parse(&[
        "🎪 🚦 updating",
        "🎪 🎯 abc123f",
        "🎪 🏗️ def456a",
        "🎪 📅 2024-01-15T14-30",
        "🎪 🌐 52-1-2-3",
        "🎪 ⌛ 24h",
        "🎪 👤 maxime",
    ]);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.active, Some(sha("abc123f")));
    assert_eq!(state.building, Some(sha("def456a")));
    // The PR-level details describe the active environment, which keeps serving.
    let active = &state.environments[&sha("abc123f")];
    assert_eq!(active.status, Some(Status::Updating));
    assert_eq!(active.address.unwrap().to_string(), "52.1.2.3");
    assert!(!state.environments.contains_key(&sha("def456a")));
}

#[test]
fn design_example_extended_environment() {
    let state = parse(&[
        "🎪 🚦 running",
        "🎪 🎯 def456a",
        "🎪 📅 2024-01-15T16-45",
        "🎪 🌐 52-4-5-6",
        "🎪 ⌛ close",
        "🎪 ⚙️ debug",
        "🎪 👤 maxime",
    ]);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.ttl, Some(Ttl::CLOSE));
    assert!(state.config.debug);
    let env = &state.environments[&sha("def456a")];
    assert_eq!(env.address.unwrap().url(), "http://52.4.5.6");
}

#[test]
fn design_examples_round_trip_in_the_seed_dialect() {
    let codec = Codec::default();
    let labels = [
        "🎪 🚦 updating",
        "🎪 🎯 abc123f",
        "🎪 🏗️ def456a",
        "🎪 📅 2024-01-15T14-30",
        "🎪 🌐 52-1-2-3",
        "🎪 ⌛ 24h",
        "🎪 👤 maxime",
    ];
    let state = codec.parse(labels);
    let encoded = codec.encode(&state, Dialect::Seed);
    assert!(diff(&labels, &encoded).is_empty(), "{encoded:?}");
}

#[test]
fn superset_showtime_per_sha_labels() {
    let state = parse(&[
        "🎪 abc123f 🚦 running",
        "🎪 abc123f 📅 2024-01-15T14-30",
        "🎪 abc123f 🌐 52.1.2.3:8080",
        "🎪 abc123f 🤡 maxime",
        "🎪 🎯 abc123f",
        "🎪 ⌛ 48h",
    ]);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    let env = &state.environments[&sha("abc123f")];
    assert_eq!(env.status, Some(Status::Running));
    assert_eq!(env.address.unwrap().url(), "http://52.1.2.3:8080");
    assert_eq!(env.requested_by.as_ref().unwrap().to_string(), "maxime");
    assert_eq!(
        state.ttl.unwrap().duration(),
        Some(chrono::Duration::hours(48))
    );
    assert_eq!(state.active, Some(sha("abc123f")));
}

#[test]
fn superset_showtime_trigger_and_flag_labels() {
    let state = parse(&[
        "🎪 ⚡ showtime-trigger-start",
        "🎪 🛑 showtime-trigger-stop",
        "🎪 🧊 showtime-freeze",
        "🎪 🔒 showtime-blocked",
    ]);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    let triggers: Vec<String> = state.triggers.iter().map(ToString::to_string).collect();
    assert_eq!(triggers, ["start", "stop"]);
    assert!(state.frozen && state.blocked);
    assert!(state.other_labels.is_empty());
}

#[test]
fn superset_showtime_older_labels_are_read() {
    // Per-SHA TTL, the `built` status, the sync trigger, 🚩 flags and the
    // emoji-first form of its first releases.
    let state = parse(&[
        "🎪 abc123f ⌛ 24h",
        "🎪 abc123f 🚦 built",
        "🎪 🏗️ abc123f",
        "🎪 🔄 showtime-trigger-sync",
        "🎪 🚩 EMBEDDED_SUPERSET=true",
        "🎪 🚩 DASHBOARD_RBAC=false",
        "🎪 🌐 abc123f 52.1.2.3",
    ]);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    let env = &state.environments[&sha("abc123f")];
    assert_eq!(env.status, Some(Status::Deploying));
    assert_eq!(env.address.unwrap().to_string(), "52.1.2.3");
    assert_eq!(state.ttl.unwrap().to_string(), "24h");
    assert_eq!(state.config.features.len(), 2);
    assert_eq!(state.triggers.iter().next().unwrap().to_string(), "sync");
}

#[test]
fn legacy_trigger_and_conf_labels() {
    let state = parse(&[
        "testenv-up",
        "🎪 conf-enable-ALERTS",
        "🎪 conf-size-large",
        "🎪 conf-debug-on",
    ]);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    let triggers: Vec<String> = state.triggers.iter().map(ToString::to_string).collect();
    assert_eq!(
        triggers,
        [
            "up",
            "conf-enable-ALERTS",
            "conf-debug-on",
            "conf-size-large"
        ]
    );

    let custom = Codec::new("preview", Default::default()).unwrap();
    let state = custom.parse(["preview", "testenv-up"]);
    assert_eq!(state.triggers.len(), 1);
    assert_eq!(state.other_labels, ["testenv-up"]);
    assert!(Codec::new("🎪 up", Default::default()).is_err());
    assert!(Codec::new("", Default::default()).is_err());
}

#[test]
fn both_dialects_mixed_on_one_pr() {
    let state = parse(&[
        "🎪 🎯 abc123f",
        "🎪 🚦 updating",
        "🎪 🌐 52-1-2-3",
        "🎪 🏗️ def456a",
        "🎪 def456a 🚦 building",
        "🎪 def456a 🤡 octocat",
        "🎪 abc123f 🤡 maxime",
    ]);
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    assert_eq!(state.environments.len(), 2);
    assert_eq!(
        state.environments[&sha("def456a")].status,
        Some(Status::Building)
    );
    assert_eq!(
        state.environments[&sha("abc123f")].status,
        Some(Status::Updating)
    );
    assert_eq!(
        state.environments[&sha("abc123f")]
            .requested_by
            .as_ref()
            .unwrap()
            .to_string(),
        "maxime"
    );
}

#[test]
fn variation_selector_and_case_do_not_matter() {
    let with = parse(&["🎪 🏗️ abc123f", "🎪 ⚙️ debug", "🎪 ABC123F 🚦 RUNNING"]);
    let without = parse(&["🎪 🏗 abc123f", "🎪 ⚙ debug", "🎪 abc123f 🚦 running"]);
    assert_eq!(with, without);
    assert!(with.anomalies.is_empty(), "{:?}", with.anomalies);
    assert!(with.config.debug);
}

#[test]
fn other_labels_are_kept_untouched_and_sorted() {
    let state = parse(&[
        "needs review",
        "🎪 🎯 abc123f",
        "bug",
        "🎉 party",
        " 🎪 leading space",
    ]);
    assert_eq!(
        state.other_labels,
        [" 🎪 leading space", "bug", "needs review", "🎉 party"]
    );
}

#[test]
fn two_active_pointers_are_a_conflict() {
    let state = parse(&["🎪 🎯 abc123f", "🎪 🎯 def456a", "🎪 🚦 running"]);
    assert_eq!(state.active, None);
    let kinds: Vec<(AnomalyKind, &str)> = state
        .anomalies
        .iter()
        .map(|a| (a.kind, a.label.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (AnomalyKind::Conflict, "🎪 🎯 abc123f"),
            (AnomalyKind::Conflict, "🎪 🎯 def456a"),
            // With no single pointer, the PR-level status has no environment.
            (AnomalyKind::Orphaned, "🎪 🚦 running"),
        ]
    );
    assert!(state.anomalies[0].message.contains("`abc123f`, `def456a`"));
    // The planner tells a pointer conflict by its detail, not by the text.
    assert_eq!(state.anomalies[0].detail, Some(Detail::Active));
    assert_eq!(state.anomalies[2].detail, None);
}

#[test]
fn two_statuses_for_one_sha_are_a_conflict() {
    let state = parse(&[
        "🎪 abc123f 🚦 running",
        "🎪 abc123f 🚦 failed",
        "🎪 abc123f 🤡 maxime",
    ]);
    let env = &state.environments[&sha("abc123f")];
    assert_eq!(env.status, None);
    assert!(env.requested_by.is_some());
    assert_eq!(state.anomalies.len(), 2);
    assert!(
        state
            .anomalies
            .iter()
            .all(|a| a.kind == AnomalyKind::Conflict)
    );
}

#[test]
fn seed_and_per_sha_status_for_the_primary_must_agree() {
    let agree = parse(&["🎪 🎯 abc123f", "🎪 🚦 running", "🎪 abc123f 🚦 running"]);
    assert!(agree.anomalies.is_empty());
    let disagree = parse(&["🎪 🎯 abc123f", "🎪 🚦 running", "🎪 abc123f 🚦 failed"]);
    assert_eq!(disagree.anomalies.len(), 2);
}

#[test]
fn malformed_tent_labels_become_anomalies() {
    let cases = [
        ("🎪", AnomalyKind::Unrecognized),
        ("🎪x", AnomalyKind::Unrecognized),
        ("🎪 hello world", AnomalyKind::Unrecognized),
        ("🎪 🦄 magic", AnomalyKind::Unrecognized),
        ("🎪 🚦 dancing", AnomalyKind::InvalidValue),
        ("🎪 🎯 abc123", AnomalyKind::InvalidValue),
        ("🎪 🎯 abc123fff", AnomalyKind::InvalidValue),
        ("🎪 📅 2024-13-01T00-00", AnomalyKind::InvalidValue),
        ("🎪 ⌛ forever", AnomalyKind::InvalidValue),
        ("🎪 ⚡ showtime-trigger-begin", AnomalyKind::InvalidValue),
        ("🎪 ⚙️ alerts-pending", AnomalyKind::InvalidValue),
        ("🎪 ⚙️ size-huge", AnomalyKind::InvalidValue),
        ("🎪 🚩 ALERTS=maybe", AnomalyKind::InvalidValue),
        ("🎪 conf-explode", AnomalyKind::InvalidValue),
        ("🎪 abc123f 🎯 running", AnomalyKind::Unrecognized),
        ("🎪 abc123f 🚦 running extra", AnomalyKind::Unrecognized),
    ];
    for (label, kind) in cases {
        let state = parse(&[label]);
        assert_eq!(state.anomalies.len(), 1, "{label}: {:?}", state.anomalies);
        let anomaly = &state.anomalies[0];
        assert_eq!((anomaly.label.as_str(), anomaly.kind), (label, kind));
        assert!(!anomaly.message.is_empty());
        assert!(state.other_labels.is_empty());
    }
    let unknown_size = parse(&["🎪 ⚙️ size-huge"]);
    assert!(
        unknown_size.anomalies[0]
            .message
            .contains("small, medium, large, xlarge")
    );
}

#[test]
fn feature_flag_labelled_both_ways_is_on() {
    let state = parse(&[
        "🎪 🚩 ALERTS=false",
        "🎪 🚩 ALERTS=true",
        "🎪 ⚙️ standard,alerts,debug",
    ]);
    assert_eq!(state.config.features.values().collect::<Vec<_>>(), [&true]);
    assert!(state.config.debug);
    assert_eq!(state.anomalies.len(), 1);
    assert_eq!(state.anomalies[0].label, "🎪 🚩 ALERTS=false");
}

#[test]
fn migrating_per_sha_to_seed_is_one_diff() {
    let codec = Codec::default();
    let current = [
        "🎪 abc123f 🚦 running",
        "🎪 abc123f 📅 2024-01-15T14-30",
        "🎪 abc123f 🌐 52.1.2.3:8080",
        "🎪 abc123f 🤡 maxime",
        "🎪 🎯 abc123f",
        "🎪 ⌛ 48h",
        "bug",
    ];
    let state = codec.parse(current);
    let change = diff(&current, &codec.encode(&state, Dialect::Seed));
    assert_eq!(
        change.add,
        [
            "🎪 🌐 52-1-2-3:8080",
            "🎪 👤 maxime",
            "🎪 📅 2024-01-15T14-30",
            "🎪 🚦 running"
        ]
    );
    assert_eq!(change.remove.len(), 4);
    let migrated = change.apply(&current);
    assert!(migrated.contains(&"bug".to_owned()));
    assert_eq!(codec.parse(&migrated), state);

    // And back again.
    let back = diff(&migrated, &codec.encode(&state, Dialect::PerSha));
    let restored = back.apply(&migrated);
    assert_eq!(codec.parse(&restored), state);
    assert!(diff(&restored, &current).is_empty());
}

#[test]
fn diff_is_case_insensitive_and_leaves_other_labels() {
    let current = ["🎪 🚦 Running", "testenv-up", "Bug", "🎪 🦄 junk"];
    let desired = ["🎪 🚦 running", "🎪 🎯 abc123f"];
    let change = diff(&current, &desired);
    assert_eq!(change.add, ["🎪 🎯 abc123f"]);
    assert_eq!(change.remove, ["🎪 🦄 junk"]);
    // The legacy up-label is read, written by encode, but never diffed.
    let codec = Codec::default();
    let with_up = codec.encode(&codec.parse(["testenv-up"]), Dialect::Seed);
    assert_eq!(with_up, ["testenv-up"]);
    assert!(diff(&[] as &[&str], &with_up).is_empty());
}

#[test]
fn values_that_cannot_fit_are_refused_with_the_limit() {
    let login: showtime_core::Login = "x".repeat(39).parse().unwrap();
    match Requester::new(login) {
        Err(Error::LabelTooLong { len, max, .. }) => assert_eq!((len, max), (51, MAX_LABEL_LEN)),
        other => panic!("expected LabelTooLong, got {other:?}"),
    }
    let longest_fit: showtime_core::Login = "x".repeat(38).parse().unwrap();
    assert!(Requester::new(longest_fit).is_ok());

    let long_flag = ConfCommand::Enable("A".repeat(40).parse().unwrap());
    let err = showtime_core::labels::ConfTrigger::new(long_flag)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most 50"), "{err}");
    let parsed = parse(&[&format!("🎪 conf-enable-{}", "A".repeat(40))]);
    assert_eq!(parsed.anomalies[0].kind, AnomalyKind::InvalidValue);
}

#[test]
fn colours_follow_the_circus_palette() {
    let codec = Codec::default();
    let colour = |label: &str| codec.definition(label).unwrap().color;
    assert_eq!(colour("🎪 abc123f 🚦 running"), "28a745");
    assert_eq!(colour("🎪 🚦 building"), "FFD700");
    assert_eq!(colour("🎪 🚦 failed"), "dc3545");
    assert_eq!(colour("🎪 🚦 updating"), "fd7e14");
    assert_eq!(colour("🎪 ⚡ showtime-trigger-start"), "FFD700");
    assert_eq!(colour("🎪 🛑 showtime-trigger-stop"), "FFD700");
    assert!(codec.definition("bug").is_none());
    assert!(codec.definition("🎪 🦄 junk").is_none());
}

#[test]
fn every_reference_row_is_a_valid_label_kind() {
    let codec = Codec::default();
    for row in reference() {
        assert_eq!(row.color.len(), 6, "{row:?}");
        assert!(row.color.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(row.seed.chars().count() <= MAX_LABEL_LEN);
        // Concrete rows (no placeholder) must parse cleanly and agree on colour.
        if !row.seed.contains('<') {
            let def = codec
                .definition(row.seed)
                .unwrap_or_else(|| panic!("{}", row.seed));
            assert_eq!(def.color, row.color, "{}", row.seed);
            assert!(def.description.chars().count() <= MAX_DESCRIPTION_LEN);
        }
    }
}

#[test]
fn json_form_is_stable_and_round_trips() {
    let state = parse(&[
        "🎪 abc123f 🚦 running",
        "🎪 abc123f 📅 2024-01-15T14-30",
        "🎪 abc123f 🌐 52.1.2.3:8080",
        "🎪 abc123f 🤡 maxime",
        "🎪 🎯 abc123f",
        "🎪 ⌛ 48h",
        "🎪 🚩 ALERTS=true",
        "🎪 conf-enable-ALERTS",
        "🎪 🦄 junk",
        "bug",
    ]);
    let json = serde_json::to_value(&state).unwrap();
    let expected = serde_json::json!({
        "environments": [{
            "sha": "abc123f", "status": "running", "address": "52.1.2.3:8080",
            "created_at": "2024-01-15T14:30:00Z", "requested_by": "maxime"
        }],
        "active_sha": "abc123f",
        "building_sha": null,
        "ttl": "48h",
        "config": {"features": {"ALERTS": true}, "debug": false, "size": null,
                   "no_examples": false, "cache_redis": false},
        "triggers": ["conf-enable-ALERTS"],
        "frozen": false,
        "blocked": false,
        "comment_id": null,
        "anomalies": [{"label": "🎪 🦄 junk", "kind": "unrecognized",
                       "message": state.anomalies[0].message}],
        "other_labels": ["bug"]
    });
    assert_eq!(json, expected);
    let back: LabelState = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
}

#[test]
fn json_input_is_validated() {
    let bad = [
        (r#"{"ttl": "forever"}"#, "52 weeks"),
        (r#"{"environments": [{"sha": "xyz"}]}"#, "hexadecimal"),
        (
            r#"{"environments": [{"sha": "abc123f"}, {"sha": "abc123f"}]}"#,
            "listed twice",
        ),
        (r#"{"triggers": ["launch"]}"#, "conf-<command>"),
        (r#"{"colour": "red"}"#, "unknown field"),
        (
            r#"{"environments": [{"sha": "abc123f", "requested_by": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]}"#,
            "at most 50",
        ),
    ];
    for (input, needle) in bad {
        let err = serde_json::from_str::<LabelState>(input)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{input}: {err}");
    }
    let sized: LabelState = serde_json::from_str(r#"{"config": {"size": "huge"}}"#).unwrap();
    assert!(Codec::default().check(&sized).is_err());
}

#[test]
fn address_with_port_survives_the_seed_dialect() {
    let codec = Codec::default();
    let mut state = LabelState {
        active: Some(sha("abc123f")),
        ..Default::default()
    };
    state
        .environments
        .entry(sha("abc123f"))
        .or_default()
        .address = Some("10.0.0.1:8080".parse::<Address>().unwrap());
    let labels = codec.encode(&state, Dialect::Seed);
    assert!(labels.contains(&"🎪 🌐 10-0-0-1:8080".to_owned()));
    assert_eq!(codec.parse(&labels), state);
}

#[test]
fn readme_label_reference_matches_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md at the workspace root");
    for row in reference() {
        let seed = format!("`{}`", row.seed.replace('|', "\\|"));
        let line = readme
            .lines()
            .find(|l| l.starts_with(&format!("| {seed} |")))
            .unwrap_or_else(|| panic!("README has no reference row for {seed}"));
        assert!(line.contains(&format!("`#{}`", row.color)), "{line}");
        if let Some(per_sha) = row.per_sha {
            assert!(line.contains(&format!("`{per_sha}`")), "{line}");
        }
    }
}

#[test]
fn destroying_reads_over_the_status_it_sits_beside() {
    let codec = Codec::default();
    for labels in [
        vec!["🎪 🎯 abc123f", "🎪 🚦 running", "🎪 🚦 destroying"],
        vec!["🎪 abc123f 🚦 destroying", "🎪 abc123f 🚦 building"],
    ] {
        let state = codec.parse(&labels);
        let sha: showtime_core::ShortSha = "abc123f".parse().unwrap();
        assert_eq!(
            state.environments[&sha].status,
            Some(Status::Destroying),
            "{labels:?}"
        );
        // The stale status is reported, so a repair would take it off.
        assert_eq!(state.anomalies.len(), 1, "{:?}", state.anomalies);
        assert!(
            state.anomalies[0].label.ends_with("g")
                && !state.anomalies[0].label.contains("destroying")
        );
    }
    // Two statuses without `destroying` stay a conflict with no winner.
    let state = codec.parse(["🎪 🎯 abc123f", "🎪 🚦 running", "🎪 🚦 building"]);
    assert_eq!(state.environments.values().next().unwrap().status, None);
}

#[test]
fn the_status_comment_label_round_trips_in_both_dialects() {
    let codec = Codec::default();
    let state = codec.parse(["🎪 🎯 abc123f", "🎪 🚦 running", "🎪 💬 4200000001"]);
    assert_eq!(state.comment.map(|c| c.get()), Some(4_200_000_001));
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    for dialect in [Dialect::Seed, Dialect::PerSha] {
        let labels = codec.encode(&state, dialect);
        assert!(
            labels.contains(&"🎪 💬 4200000001".to_owned()),
            "{labels:?}"
        );
        assert_eq!(codec.parse(&labels).comment, state.comment);
    }
    // Two runs at once each posted one: the oldest is kept, the other is
    // reported for the planner to delete.
    let two = codec.parse(["🎪 💬 9000002", "🎪 🎯 abc123f", "🎪 💬 9000001"]);
    assert_eq!(two.comment.map(|c| c.get()), Some(9_000_001));
    assert_eq!(two.anomalies.len(), 1, "{:?}", two.anomalies);
    assert_eq!(two.anomalies[0].label, "🎪 💬 9000002");
    assert_eq!(two.anomalies[0].detail, Some(Detail::Comment));
    let bad = codec.parse(["🎪 💬 twelve"]);
    assert_eq!(bad.comment, None);
    assert!(
        bad.anomalies[0].message.contains("comment"),
        "{:?}",
        bad.anomalies
    );
}

#[test]
fn the_expiry_warning_reads_and_writes_in_both_dialects() {
    let codec = Codec::default();
    let state = codec.parse(["🎪 🎯 abc123f", "🎪 🚦 running", "🎪 ⏰ 2025-06-01T13-00"]);
    let warned = state.expiry_warned.expect("the ⏰ label is read");
    assert_eq!(warned.label(), "2025-06-01T13-00");
    assert!(state.anomalies.is_empty(), "{:?}", state.anomalies);
    for dialect in [Dialect::Seed, Dialect::PerSha] {
        let labels = codec.encode(&state, dialect);
        assert!(
            labels.contains(&"🎪 ⏰ 2025-06-01T13-00".to_owned()),
            "{labels:?}"
        );
        assert_eq!(codec.parse(&labels), state);
    }
    let two = codec.parse(["🎪 ⏰ 2025-06-01T13-00", "🎪 ⏰ 2025-06-01T14-00"]);
    assert_eq!(two.expiry_warned, None, "two records contradict each other");
    assert_eq!(two.anomalies.len(), 2);
    let bad = codec.parse(["🎪 ⏰ soon"]);
    assert_eq!(bad.anomalies[0].kind, AnomalyKind::InvalidValue);
    // In the JSON form only when set.
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["expiry_warned"], "2025-06-01T13:00:00Z");
    assert!(
        serde_json::to_value(LabelState::default())
            .unwrap()
            .get("expiry_warned")
            .is_none()
    );
}
