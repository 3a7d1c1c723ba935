//! Rows "/circus extend 48h, keep-alive: change the ⌛ label only" and
//! "🎪 conf-… label or /circus enable X: apply configuration without a
//! rebuild", with the PR description's `FEATURE_<NAME>=…` lines.

use super::*;

// ---------------------------------------------------------------------------
// /circus extend 48h, keep-alive: change the ⌛ label only
// ---------------------------------------------------------------------------

#[test]
fn extend_command_sets_the_ttl_to_the_age_plus_the_extension() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Extend("48h".parse().unwrap())),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    // Created two hours ago: 48 more hours from now is a TTL of 50h.
    assert_eq!(r.asked, [Need::Permission]);
    assert_eq!(steps(&r.plan), ["labels: ttl 50h", "comment"]);
    assert_eq!(
        label_ops(&r.plan),
        [&LabelOp::Ttl(Some("50h".parse().unwrap()))]
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn extend_command_over_the_maximum_is_refused() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Extend("2w".parse().unwrap())),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    // Two hours old plus two weeks is over the default maximum of two weeks.
    assert_eq!(steps(&r.plan), ["comment"]);
    let text = comment(&r.plan);
    assert!(text.contains("maximum is `2w`"), "{text}");
    assert!(text.contains("338 hours"), "{text}");
    assert!(label_ops(&r.plan).is_empty());
}

#[test]
fn keep_alive_command_sets_the_ttl_to_close() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::KeepAlive),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    assert_eq!(steps(&r.plan), ["labels: ttl close", "comment"]);
    assert_eq!(label_ops(&r.plan), [&LabelOp::Ttl(Some(Ttl::CLOSE))]);
    assert!(!has_cloud_steps(&r.plan));
}

#[test]
fn status_command_only_refreshes_the_comment() {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Status),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    // A look: no permission asked, whoever asks (a refusal would write
    // the comment too).
    assert!(r.asked.is_empty(), "{:?}", r.asked);
    assert_eq!(steps(&r.plan), ["comment"]);
    assert_eq!(r.plan.next, Next::Done);

    let outsider = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Status),
        actor("mallory", None),
        None,
    );
    let r = decide(outsider, Some(Permission::None), &[]);
    assert!(r.asked.is_empty() && r.plan.refusal.is_none(), "{r:?}");
    assert_eq!(steps(&r.plan), ["comment"]);
}

#[test]
fn help_beside_a_pending_start_acts_on_the_start_too() {
    // The start label was added, then `/circus help` commented, before any
    // reconcile: both are answered, neither is lost.
    let o = obs(
        vec![START.to_owned()],
        pr(HEAD),
        Event::Command(SlashCommand::Help),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);
    assert!(
        r.plan.steps.iter().any(|s| matches!(s, Step::Build { .. })),
        "{}",
        r.plan
    );
    let help = |s: &Step| matches!(s, Step::Comment(c) if c.contains("`/circus help`"));
    assert!(r.plan.steps.iter().any(help), "{}", r.plan);

    // Alone, it only answers.
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(SlashCommand::Help),
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);
    assert_eq!(steps(&r.plan), ["comment"]);
}

// ---------------------------------------------------------------------------
// 🎪 conf-… label or /circus enable X etc.: apply configuration, no rebuild
// ---------------------------------------------------------------------------

/// A configuration command on a running environment applies without a
/// rebuild: configuring, apply, running again.
fn assert_applies_to_running(command: SlashCommand, expected: &Config) {
    let o = obs(
        running(OLD, "48h"),
        pr(OLD),
        Event::Command(command.clone()),
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(r.asked, [Need::Permission, Need::Backend], "{command}");
    assert_eq!(
        steps(&r.plan),
        [
            "labels: configuration; aaaaaaa configuring",
            "apply configuration to pr-42-aaaaaaa",
            "labels: aaaaaaa running",
            "comment",
        ],
        "{command}"
    );
    assert_eq!(
        label_ops(&r.plan),
        [
            &LabelOp::Config(expected.clone()),
            &LabelOp::Status(short(OLD), Status::Configuring),
            &LabelOp::Status(short(OLD), Status::Running),
        ],
        "{command}"
    );
    assert!(
        r.plan
            .steps
            .contains(&Step::ApplyConfig(id(PR, OLD), expected.clone())),
        "{command}"
    );
    assert_eq!(r.plan.next, Next::Done);
}

#[test]
fn enable_command_applies_to_the_running_environment() {
    assert_applies_to_running(
        SlashCommand::Enable(alerts()),
        &configured(&[ConfCommand::Enable(alerts())]),
    );
}

#[test]
fn disable_command_applies_to_the_running_environment() {
    assert_applies_to_running(
        SlashCommand::Disable(alerts()),
        &configured(&[ConfCommand::Disable(alerts())]),
    );
}

#[test]
fn debug_command_applies_to_the_running_environment() {
    assert_applies_to_running(
        SlashCommand::Debug(true),
        &configured(&[ConfCommand::Debug(true)]),
    );
}

#[test]
fn size_command_applies_to_the_running_environment() {
    let large = "large".parse().unwrap();
    assert_applies_to_running(
        SlashCommand::Size(large),
        &configured(&[ConfCommand::Size("large".parse().unwrap())]),
    );
}

#[test]
fn config_commands_without_an_environment_are_only_recorded() {
    let rows = [
        (
            SlashCommand::Enable(alerts()),
            ConfCommand::Enable(alerts()),
        ),
        (
            SlashCommand::Disable(alerts()),
            ConfCommand::Disable(alerts()),
        ),
        (SlashCommand::Debug(true), ConfCommand::Debug(true)),
        (
            SlashCommand::Size("small".parse().unwrap()),
            ConfCommand::Size("small".parse().unwrap()),
        ),
    ];
    for (command, conf) in rows {
        let o = obs(
            Vec::new(),
            pr(HEAD),
            Event::Command(command.clone()),
            actor("alice", None),
            None,
        );
        let r = decide(o, Some(Permission::Write), &[]);

        assert_eq!(
            steps(&r.plan),
            ["labels: configuration", "comment"],
            "{command}"
        );
        assert_eq!(
            label_ops(&r.plan),
            [&LabelOp::Config(configured(&[conf]))],
            "{command}"
        );
        assert!(comment(&r.plan).contains("Recorded"), "{command}");
        assert_eq!(r.plan.next, Next::Done);
    }
}

#[test]
fn conf_label_applies_like_enable_and_is_consumed() {
    let o = obs(
        with(running(OLD, "48h"), &["🎪 conf-enable-ALERTS"]),
        pr(OLD),
        Event::Look,
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    assert_eq!(
        steps(&r.plan),
        [
            "labels: consume conf-enable-ALERTS; configuration; aaaaaaa configuring",
            "apply configuration to pr-42-aaaaaaa",
            "labels: aaaaaaa running",
            "comment",
        ]
    );
    let expected = configured(&[ConfCommand::Enable(alerts())]);
    assert!(label_ops(&r.plan).contains(&&LabelOp::Config(expected.clone())));
    assert!(
        r.plan
            .steps
            .contains(&Step::ApplyConfig(id(PR, OLD), expected))
    );
    assert_eq!(r.plan.next, Next::Done);
}

// ---------------------------------------------------------------------------
// FEATURE_<NAME>=… lines of the PR description
// ---------------------------------------------------------------------------

fn described(head: &str, body: &str) -> PullRequest {
    let mut pr = pr(head);
    pr.body = body.to_owned();
    pr
}

#[test]
fn a_new_environment_starts_with_the_description_flags() {
    let o = obs(
        labels(&[START]),
        described(HEAD, "Adds alerts.\n\nFEATURE_ALERTS=true\nFEATURE_X=maybe"),
        Event::Look,
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);

    let expected = configured(&[ConfCommand::Enable(alerts())]);
    assert!(label_ops(&r.plan).contains(&&LabelOp::Config(expected.clone())));
    assert_eq!(deployment(&r.plan).config, expected);
    let text = comment(&r.plan);
    assert!(
        text.contains("FEATURE_X=maybe"),
        "malformed lines are reported: {text}"
    );
    assert_eq!(r.plan.refusal, None);
}

#[test]
fn a_command_of_the_same_request_wins_over_the_description() {
    let o = obs(
        labels(&[START, "🎪 conf-disable-ALERTS"]),
        described(HEAD, "FEATURE_ALERTS=true"),
        Event::Look,
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);
    let expected = configured(&[ConfCommand::Disable(alerts())]);
    assert_eq!(deployment(&r.plan).config, expected);
}

#[test]
fn editing_the_description_applies_its_flags_without_a_rebuild() {
    let o = obs(
        running(OLD, "48h"),
        described(OLD, "FEATURE_ALERTS=true"),
        Event::DescriptionEdited,
        actor("alice", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Write), &backend);

    let expected = configured(&[ConfCommand::Enable(alerts())]);
    assert_eq!(
        steps(&r.plan),
        [
            "labels: configuration; aaaaaaa configuring",
            "apply configuration to pr-42-aaaaaaa",
            "labels: aaaaaaa running",
            "comment",
        ]
    );
    assert!(
        r.plan
            .steps
            .contains(&Step::ApplyConfig(id(PR, OLD), expected))
    );
}

#[test]
fn between_edits_the_labels_win_over_the_description() {
    // `/circus disable ALERTS` was applied after the description said true:
    // a plain look (or a push) does not undo it.
    let labels = with(running(OLD, "48h"), &["🎪 🚩 ALERTS=false"]);
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    for event in [Event::Look, Event::Sweep] {
        let o = obs(
            labels.clone(),
            described(OLD, "FEATURE_ALERTS=true"),
            event.clone(),
            actor("alice", None),
            None,
        );
        let r = decide(o, Some(Permission::Write), &backend);
        assert!(!has_cloud_steps(&r.plan), "{event}: {:?}", r.plan);
    }
}

#[test]
fn an_edit_that_changes_no_flag_does_nothing() {
    let o = obs(
        with(running(OLD, "48h"), &["🎪 🚩 ALERTS=true"]),
        described(OLD, "Typo fixed.\nFEATURE_ALERTS=yes"),
        Event::DescriptionEdited,
        actor("mallory", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Read), &backend);
    assert!(r.plan.is_empty(), "{:?}", r.plan);
    assert_eq!(r.plan.refusal, None);
}

#[test]
fn an_outsiders_edit_that_changes_a_flag_is_refused() {
    let o = obs(
        running(OLD, "48h"),
        described(OLD, "FEATURE_ALERTS=true"),
        Event::DescriptionEdited,
        actor("mallory", None),
        None,
    );
    let backend = [env(PR, OLD, Health::Healthy, hours_ago(2))];
    let r = decide(o, Some(Permission::Read), &backend);
    assert_eq!(r.plan.refusal, Some(Refusal::Permission));
    assert!(!has_cloud_steps(&r.plan));
}

#[test]
fn an_edit_without_an_environment_waits_for_the_create() {
    let o = obs(
        labels(&[]),
        described(HEAD, "FEATURE_ALERTS=true"),
        Event::DescriptionEdited,
        actor("alice", None),
        None,
    );
    let r = decide(o, Some(Permission::Write), &[]);
    assert!(r.plan.is_empty(), "{:?}", r.plan);
}
