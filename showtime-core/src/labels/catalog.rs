//! Colours and descriptions: what each label kind looks like in GitHub.
//!
//! [`reference`] is the static table behind `showtime labels reference` and
//! the README; [`Codec::definition`] gives the definition of one concrete
//! label, with its value in the description, for creating it in a repository.

use super::parse::{Fact, Item, Reading};
use super::{Codec, MAX_DESCRIPTION_LEN, Trigger};
use crate::Status;

/// Green: healthy and serving.
const GREEN: &str = "28a745";
/// The circus yellow of triggers, and of work in progress.
const YELLOW: &str = "FFD700";
/// Red: failed, or blocked.
const RED: &str = "dc3545";
/// Orange: changing while serving.
const ORANGE: &str = "fd7e14";
/// Grey: going away.
const GREY: &str = "6c757d";
/// Blue: asleep (scaled to zero).
const BLUE: &str = "1d76db";
/// Pale yellow: facts about an environment.
const PALE: &str = "FFF9C4";
/// Light orange: lifetime and freezing.
const LIGHT_ORANGE: &str = "FFE4B5";
/// Purple: configuration.
const PURPLE: &str = "A855F7";

/// The colour of a status label.
pub fn status_color(status: Status) -> &'static str {
    match status {
        Status::Requested => PALE,
        Status::Building | Status::Deploying => YELLOW,
        Status::Running => GREEN,
        Status::Updating | Status::Configuring => ORANGE,
        Status::Destroying => GREY,
        Status::Failed => RED,
        Status::Sleeping => BLUE,
    }
}

/// How a label is defined in a repository: colour and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelDefinition {
    /// Six hexadecimal digits, without `#`.
    pub color: &'static str,
    /// At most [`MAX_DESCRIPTION_LEN`] characters.
    pub description: String,
}

/// One row of the label reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceEntry {
    /// The label in the seed dialect (or the only form).
    pub seed: &'static str,
    /// The label in the per-SHA dialect, when it differs.
    pub per_sha: Option<&'static str>,
    /// What it means.
    pub meaning: &'static str,
    /// Its colour, six hexadecimal digits.
    pub color: &'static str,
}

const fn row(
    seed: &'static str,
    per_sha: Option<&'static str>,
    meaning: &'static str,
    color: &'static str,
) -> ReferenceEntry {
    ReferenceEntry {
        seed,
        per_sha,
        meaning,
        color,
    }
}

const REFERENCE: &[ReferenceEntry] = &[
    row(
        "testenv-up",
        None,
        "Legacy up-label (name configurable): keep an environment while present",
        YELLOW,
    ),
    row(
        "🎪 ⚡ showtime-trigger-start",
        None,
        "Trigger: build and deploy the head commit",
        YELLOW,
    ),
    row(
        "🎪 🛑 showtime-trigger-stop",
        None,
        "Trigger: destroy the environment and its labels",
        YELLOW,
    ),
    row(
        "🎪 🔄 showtime-trigger-sync",
        None,
        "Trigger: update the environment to the head commit",
        YELLOW,
    ),
    row(
        "🎪 conf-<command>",
        None,
        "Trigger: enable-X, disable-X, toggle-X, debug-on|off, size-<name>, no-examples, cache-redis",
        YELLOW,
    ),
    row(
        "🎪 🧊 showtime-freeze",
        None,
        "Flag: new commits do not update the environment",
        LIGHT_ORANGE,
    ),
    row(
        "🎪 🔒 showtime-blocked",
        None,
        "Flag: Showtime does nothing on this PR",
        RED,
    ),
    row(
        "🎪 🎯 <sha7>",
        None,
        "The environment receiving traffic",
        PALE,
    ),
    row(
        "🎪 🏗️ <sha7>",
        None,
        "The environment being built or deployed",
        PALE,
    ),
    row(
        "🎪 🚦 requested",
        Some("🎪 <sha7> 🚦 requested"),
        "Status, read only: asked for, nothing started (older tools write it)",
        PALE,
    ),
    row(
        "🎪 🚦 building",
        Some("🎪 <sha7> 🚦 building"),
        "Status: the image is being built",
        YELLOW,
    ),
    row(
        "🎪 🚦 deploying",
        Some("🎪 <sha7> 🚦 deploying"),
        "Status: the backend is starting it",
        YELLOW,
    ),
    row(
        "🎪 🚦 running",
        Some("🎪 <sha7> 🚦 running"),
        "Status: healthy and serving",
        GREEN,
    ),
    row(
        "🎪 🚦 updating",
        Some("🎪 <sha7> 🚦 updating"),
        "Status: serving while a newer commit is prepared",
        ORANGE,
    ),
    row(
        "🎪 🚦 configuring",
        Some("🎪 <sha7> 🚦 configuring"),
        "Status: serving while configuration is applied",
        ORANGE,
    ),
    row(
        "🎪 🚦 destroying",
        Some("🎪 <sha7> 🚦 destroying"),
        "Status: being torn down",
        GREY,
    ),
    row(
        "🎪 🚦 failed",
        Some("🎪 <sha7> 🚦 failed"),
        "Status: a step failed; the reason is in the PR comment",
        RED,
    ),
    row(
        "🎪 🚦 sleeping",
        Some("🎪 <sha7> 🚦 sleeping"),
        "Status: scaled to zero while idle; `/circus wake` or a new commit wakes it",
        BLUE,
    ),
    row(
        "🎪 📅 <YYYY-MM-DDTHH-MM>",
        Some("🎪 <sha7> 📅 <YYYY-MM-DDTHH-MM>"),
        "When the environment was created (UTC)",
        PALE,
    ),
    row(
        "🎪 🌐 <52-1-2-3>",
        Some("🎪 <sha7> 🌐 <52.1.2.3:8080>"),
        "Where the environment answers",
        PALE,
    ),
    row(
        "🎪 👤 <login>",
        Some("🎪 <sha7> 🤡 <login>"),
        "Who asked for the environment",
        PALE,
    ),
    row(
        "🎪 ⌛ <ttl>",
        None,
        "Lifetime: 24h, 2d, 1w (at most 52w), close or manual",
        LIGHT_ORANGE,
    ),
    row(
        "🎪 ⏰ <YYYY-MM-DDTHH-MM>",
        None,
        "The expiry (UTC) people were warned of, once, before it",
        LIGHT_ORANGE,
    ),
    row(
        "🎪 🩹 <sha7>",
        None,
        "Redeployed once after it failed; a second failure waits for a person",
        LIGHT_ORANGE,
    ),
    row(
        "🎪 ⚙️ <item>",
        None,
        "Configuration: debug, size-<name>, no-examples, cache-redis",
        PURPLE,
    ),
    row(
        "🎪 💬 <comment id>",
        None,
        "Where the PR's status comment is, so no run searches for it",
        PALE,
    ),
    row(
        "🎪 🚩 <FLAG>=true|false",
        None,
        "Feature flag set on or off",
        PURPLE,
    ),
];

/// Every label kind with its meaning and colour, in a stable order.
pub fn reference() -> &'static [ReferenceEntry] {
    REFERENCE
}

impl Codec {
    /// Every reusable label — triggers, flags, PR-level statuses, common
    /// TTLs and configuration items, and the legacy up-label — with its
    /// definition, for `setup-labels`. Per-value labels (SHAs, times,
    /// addresses) are left to be created as they are used.
    pub fn static_labels(&self) -> Vec<(String, LabelDefinition)> {
        let concrete = REFERENCE
            .iter()
            // Only what Showtime writes: not the placeholder rows, not the
            // configurable up-label (added first, under its own name), not
            // the `requested` status it only reads.
            .filter(|row| {
                !row.seed.contains('<') && row.seed != "testenv-up" && row.seed != "🎪 🚦 requested"
            })
            .map(|row| row.seed.to_owned());
        let ttls = ["24h", "48h", "72h", "1w", "close", "manual"].map(|t| format!("🎪 ⌛ {t}"));
        let items = ["debug", "no-examples", "cache-redis"]
            .into_iter()
            .map(str::to_owned)
            .chain(self.sizes.iter().map(|s| format!("size-{s}")))
            .map(|item| format!("🎪 ⚙️ {item}"));
        std::iter::once(self.legacy_trigger.clone())
            .chain(concrete)
            .chain(ttls)
            .chain(items)
            .filter_map(|name| self.definition(&name).map(|def| (name, def)))
            .collect()
    }

    /// The colour and description to create `label` with, or `None` when it
    /// is not a well-formed Showtime label.
    ///
    /// ```
    /// use showtime_core::labels::Codec;
    /// let def = Codec::default().definition("🎪 abc123f 🚦 running").unwrap();
    /// assert_eq!(def.color, "28a745");
    /// assert_eq!(def.description, "Environment abc123f status: running");
    /// ```
    pub fn definition(&self, label: &str) -> Option<LabelDefinition> {
        let Reading::Fact(fact) = self.read(label) else {
            return None;
        };
        let env = |target: &Option<crate::ShortSha>| match target {
            Some(sha) => format!("Environment {sha}"),
            None => "Environment".to_owned(),
        };
        let (color, description) = match &fact {
            Fact::Status(target, status) => (
                status_color(*status),
                format!("{} status: {status}", env(target)),
            ),
            Fact::Active(sha) => (
                PALE,
                format!("Active environment: {sha} is receiving traffic"),
            ),
            Fact::Building(sha) => (
                PALE,
                format!("Building environment: {sha} is being prepared"),
            ),
            Fact::Created(target, time) => (
                PALE,
                format!("{} created at {} UTC", env(target), time.label()),
            ),
            Fact::Address(target, address) => {
                (PALE, format!("{} URL: {}", env(target), address.url()))
            }
            Fact::Requester(target, login) => {
                (PALE, format!("{} requested by {login}", env(target)))
            }
            Fact::Ttl(ttl) => (LIGHT_ORANGE, format!("Environment lifetime: {ttl}")),
            Fact::Warned(at) => (
                LIGHT_ORANGE,
                format!("Expiry at {} UTC announced", at.label()),
            ),
            Fact::Healed(sha) => (
                LIGHT_ORANGE,
                format!("Environment {sha} was redeployed once after it failed"),
            ),
            Fact::Items(items) => match items.as_slice() {
                [Item::Feature(name, on)] => {
                    let state = if *on { "on" } else { "off" };
                    (PURPLE, format!("Feature flag {name} is {state}"))
                }
                _ => (PURPLE, "Environment configuration".to_owned()),
            },
            Fact::Trigger(trigger) => (
                YELLOW,
                match trigger {
                    Trigger::Up => {
                        "Keep an ephemeral environment for this PR while present".to_owned()
                    }
                    Trigger::Start => "Create an ephemeral environment for this PR".to_owned(),
                    Trigger::Stop => {
                        "Destroy the ephemeral environment and clean up its resources".to_owned()
                    }
                    Trigger::Sync => "Update the environment to the latest commit".to_owned(),
                    Trigger::Conf(conf) => {
                        format!("Apply configuration `{}` without a rebuild", conf.command())
                    }
                },
            ),
            Fact::Frozen => (
                LIGHT_ORANGE,
                "Freeze: new commits do not update the environment".to_owned(),
            ),
            Fact::Blocked => (RED, "Block all Showtime operations on this PR".to_owned()),
            Fact::Comment(id) => (PALE, format!("Showtime's status comment is {id}")),
        };
        debug_assert!(description.chars().count() <= MAX_DESCRIPTION_LEN);
        Some(LabelDefinition { color, description })
    }
}
