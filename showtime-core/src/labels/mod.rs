//! The 🎪 label codec: a PR's label names to a typed [`LabelState`] and back.
//!
//! A PR's labels are Showtime's whole state store. This module owns their
//! grammar and nothing else: it never talks to GitHub and never decides what
//! should happen (that is the planner's job).
//!
//! * [`Codec::parse`] reads any list of label names, in either dialect or a mix
//!   of both, and never fails: labels it cannot read become [`Anomaly`]s, and
//!   labels outside the 🎪 namespace are kept, untouched, in
//!   [`LabelState::other_labels`].
//! * [`Codec::encode`] writes a state in one [`Dialect`].
//! * [`diff`] gives the minimal change from the labels a PR has to the labels
//!   it should have.
//!
//! # Dialects
//!
//! The **seed** dialect keeps PR-level keys, `🎪 <key> <value>`: `🚦` status,
//! `🎯` active SHA, `🏗️` building SHA, `📅` created, `🌐` address (dashed),
//! `⌛` TTL, `⏰` the expiry people were warned about, `🩹` the environment
//! redeployed once after it failed, `👤` requester,
//! `⚙️` configuration item. The status, created,
//! address and requester keys describe the *primary* environment: the active
//! one, or the building one when nothing is active. Any other environment is
//! written in the per-SHA form, which every reader understands.
//!
//! The **per-SHA** dialect is the one superset-showtime 0.5+ writes:
//! `🎪 <sha7> 🚦 <status>`, `🎪 <sha7> 📅 <time>`, `🎪 <sha7> 🌐 <ip>:<port>`,
//! `🎪 <sha7> 🤡 <login>`, with the shared `🎪 🎯 <sha7>`, `🎪 🏗️ <sha7>` and
//! `🎪 ⌛ <ttl>`.
//!
//! Both dialects write feature flags as `🎪 🚩 <FLAG>=true|false` (as
//! superset-showtime does) and the other configuration items as
//! `🎪 ⚙️ <item>`; `🎪 ⚙️ <flag>` (e.g. `🎪 ⚙️ alerts`) and comma lists such as
//! `🎪 ⚙️ standard,alerts,debug` are read too.
//!
//! Triggers and flags are the same in both: the legacy up-label (`testenv-up`
//! by default, see [`Codec::new`]), `🎪 ⚡ showtime-trigger-start`,
//! `🎪 🛑 showtime-trigger-stop`, `🎪 🔄 showtime-trigger-sync`,
//! `🎪 🧊 showtime-freeze`, `🎪 🔒 showtime-blocked` and `🎪 conf-<command>`.
//!
//! Emoji are matched with or without the U+FE0F variation selector, and
//! values case-insensitively, as GitHub compares label names.
//!
//! # Length
//!
//! GitHub refuses label names over [`MAX_LABEL_LEN`] characters. Every value a
//! [`LabelState`] can hold fits in every dialect: the two that could overflow
//! are checked when they are built ([`Requester::new`], [`ConfTrigger::new`]).

mod catalog;
mod diff;
mod encode;
mod json;
mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use catalog::{LabelDefinition, ReferenceEntry, reference};
pub use diff::{LabelDiff, diff, is_showtime_label};

use crate::config::{ConfCommand, Config, Sizes};
use crate::error::{Error, ValueKind, serde_via_str};
use crate::{Address, Login, ShortSha, Status, Timestamp, Ttl};

/// GitHub's limit on the length of a label name, in characters.
pub const MAX_LABEL_LEN: usize = 50;
/// GitHub's limit on the length of a label description, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 100;
/// The circus tent that starts every Showtime label.
pub const TENT: char = '🎪';

/// Which label dialect to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PR-level keys (`🎪 🚦 running`); the default.
    #[default]
    Seed,
    /// superset-showtime's per-SHA keys (`🎪 abc123f 🚦 running`).
    PerSha,
}

impl FromStr for Dialect {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "seed" => Ok(Dialect::Seed),
            "per-sha" => Ok(Dialect::PerSha),
            _ => Err(Error::invalid(ValueKind::Dialect, s, "`seed` or `per-sha`")),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Seed => "seed",
            Dialect::PerSha => "per-sha",
        })
    }
}

/// Everything a PR's labels say, typed.
///
/// Built by [`Codec::parse`]; written back by [`Codec::encode`]. Two parses of
/// the same labels in any order are equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "json::Wire", into = "json::Wire")]
pub struct LabelState {
    /// The environments the labels describe, by short SHA.
    pub environments: BTreeMap<ShortSha, Environment>,
    /// The environment receiving traffic (`🎪 🎯 <sha7>`).
    pub active: Option<ShortSha>,
    /// The environment being built or deployed (`🎪 🏗️ <sha7>`).
    pub building: Option<ShortSha>,
    /// How long the PR's environment lives (`🎪 ⌛ <ttl>`).
    pub ttl: Option<Ttl>,
    /// The expiry time people were last warned about (`🎪 ⏰ <time>`, UTC
    /// to the minute): a sweep warns once per expiry time, so extending the
    /// TTL or a newer commit (a later creation time) warns anew.
    pub expiry_warned: Option<Timestamp>,
    /// The environment Showtime redeployed by itself, once, after it failed
    /// while serving (`🎪 🩹 <sha7>`): a second failure of it is left for a
    /// person. A person's rebuild or a new commit clears it.
    pub healed: Option<ShortSha>,
    /// The configuration the environment runs with.
    pub config: Config,
    /// Requests waiting to be acted on.
    pub triggers: BTreeSet<Trigger>,
    /// New commits do not update the environment (`🎪 🧊 showtime-freeze`).
    pub frozen: bool,
    /// Showtime does nothing on this PR (`🎪 🔒 showtime-blocked`).
    pub blocked: bool,
    /// Where the PR's status comment is (`🎪 💬 <id>`); kept through
    /// teardowns, so the PR keeps one status comment for its whole life.
    pub comment: Option<crate::CommentId>,
    /// 🎪 labels that are malformed, unknown or contradict each other.
    pub anomalies: Vec<Anomaly>,
    /// Labels outside Showtime's namespace, sorted; never changed by Showtime.
    pub other_labels: Vec<String>,
}

impl LabelState {
    /// The environment the PR-level keys of the seed dialect describe: the
    /// active one, else the building one.
    pub fn primary(&self) -> Option<&ShortSha> {
        self.active.as_ref().or(self.building.as_ref())
    }
}

/// What the labels say about one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// Its lifecycle status.
    pub status: Option<Status>,
    /// Where it answers.
    pub address: Option<Address>,
    /// When it was created (to the minute).
    pub created_at: Option<Timestamp>,
    /// Who asked for it.
    pub requested_by: Option<Requester>,
}

/// The login that requested an environment, short enough to be written in
/// every dialect: `🎪 <sha7> 🤡 <login>` leaves room for 38 characters.
///
/// ```
/// use showtime_core::labels::Requester;
/// assert!(Requester::new("maxime".parse().unwrap()).is_ok());
/// assert!(Requester::new("x".repeat(39).parse().unwrap()).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requester(Login);

impl Requester {
    /// A requester, refused when its label would exceed [`MAX_LABEL_LEN`].
    pub fn new(login: Login) -> Result<Self, Error> {
        check_len(&format!("{TENT} 0000000 🤡 {login}"))?;
        Ok(Requester(login))
    }

    /// The login.
    pub fn login(&self) -> &Login {
        &self.0
    }
}

impl FromStr for Requester {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Requester::new(s.parse()?)
    }
}

impl fmt::Display for Requester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A request carried by a label, waiting to be acted on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// The legacy up-label (`testenv-up`): an environment is wanted for as
    /// long as it is present. It belongs to people; Showtime never adds or
    /// removes it.
    Up,
    /// `🎪 ⚡ showtime-trigger-start`: build and deploy the head commit.
    Start,
    /// `🎪 🛑 showtime-trigger-stop`: destroy the environment.
    Stop,
    /// `🎪 🔄 showtime-trigger-sync`: update to the head commit.
    Sync,
    /// `🎪 conf-<command>`: change the configuration without a rebuild.
    Conf(ConfTrigger),
}

/// A [`ConfCommand`] short enough to be written as `🎪 conf-<command>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfTrigger(ConfCommand);

impl ConfTrigger {
    /// A configuration trigger, refused when its label would exceed
    /// [`MAX_LABEL_LEN`] (a feature name over 35 characters can be applied
    /// through a slash command, not a label).
    pub fn new(command: ConfCommand) -> Result<Self, Error> {
        check_len(&format!("{TENT} conf-{command}"))?;
        Ok(ConfTrigger(command))
    }

    /// The command.
    pub fn command(&self) -> &ConfCommand {
        &self.0
    }
}

impl FromStr for Trigger {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "up" => Ok(Trigger::Up),
            "start" => Ok(Trigger::Start),
            "stop" => Ok(Trigger::Stop),
            "sync" => Ok(Trigger::Sync),
            _ => match s.strip_prefix("conf-") {
                Some(command) => Ok(Trigger::Conf(ConfTrigger::new(command.parse()?)?)),
                None => Err(Error::invalid(
                    ValueKind::Trigger,
                    s,
                    "`up`, `start`, `stop`, `sync` or `conf-<command>`",
                )),
            },
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Up => f.write_str("up"),
            Trigger::Start => f.write_str("start"),
            Trigger::Stop => f.write_str("stop"),
            Trigger::Sync => f.write_str("sync"),
            Trigger::Conf(conf) => write!(f, "conf-{}", conf.0),
        }
    }
}

serde_via_str!(Requester);
serde_via_str!(Trigger);

/// A 🎪 label the codec could not take at face value.
///
/// Reconcile repairs anomalies: the label is removed, and a value that was
/// readable but contradicted is decided again from the backend's view.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Anomaly {
    /// The label as found on the PR.
    pub label: String,
    /// What kind of problem it is.
    pub kind: AnomalyKind,
    /// For a [`AnomalyKind::Conflict`], the detail the labels disagree on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// What is wrong and what would be accepted.
    pub message: String,
}

/// A detail of the label state that labels can disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// The active pointer, `🎯`.
    Active,
    /// The building pointer, `🏗️`.
    Building,
    /// The TTL, `⌛`.
    Ttl,
    /// The expiry warned about, `⏰`.
    Warned,
    /// The environment redeployed once, `🩹`.
    Healed,
    /// The size.
    Size,
    /// A feature flag.
    Feature,
    /// An environment's status, `🚦`.
    Status,
    /// An environment's creation time, `📅`.
    Created,
    /// An environment's address, `🌐`.
    Address,
    /// An environment's requester.
    Requester,
    /// The status comment's id, `💬`.
    Comment,
}

/// The kinds of [`Anomaly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A 🎪 label that fits no grammar.
    Unrecognized,
    /// A known key with a value that does not parse.
    InvalidValue,
    /// Two labels give different values for one fact (two `🎯`, two statuses
    /// for one SHA, …).
    Conflict,
    /// A PR-level detail (`🎪 🚦 running`) with no `🎯`/`🏗️` pointer naming
    /// the environment it describes.
    Orphaned,
}

/// Reads and writes label names, with the configurable parts of the grammar:
/// the legacy up-label and the offered sizes.
#[derive(Debug, Clone)]
pub struct Codec {
    legacy_trigger: String,
    sizes: Sizes,
}

/// The default legacy up-label.
pub const DEFAULT_LEGACY_TRIGGER: &str = "testenv-up";

impl Default for Codec {
    fn default() -> Self {
        Codec {
            legacy_trigger: DEFAULT_LEGACY_TRIGGER.to_owned(),
            sizes: Sizes::default(),
        }
    }
}

impl Codec {
    /// A codec with a custom legacy up-label and size set.
    ///
    /// The up-label must be a plain label name: 1 to 50 characters, no
    /// surrounding spaces, not in the 🎪 namespace.
    pub fn new(legacy_trigger: &str, sizes: Sizes) -> Result<Self, Error> {
        let ok = !legacy_trigger.is_empty()
            && legacy_trigger.chars().count() <= MAX_LABEL_LEN
            && legacy_trigger.trim() == legacy_trigger
            && !is_showtime_label(legacy_trigger);
        if !ok {
            return Err(Error::invalid(
                ValueKind::LegacyTrigger,
                legacy_trigger,
                "a label name of 1 to 50 characters, without surrounding spaces, \
                 not starting with 🎪",
            ));
        }
        Ok(Codec {
            legacy_trigger: legacy_trigger.to_owned(),
            sizes,
        })
    }

    /// The legacy up-label's name.
    pub fn legacy_trigger(&self) -> &str {
        &self.legacy_trigger
    }

    /// The offered sizes.
    pub fn sizes(&self) -> &Sizes {
        &self.sizes
    }

    /// Checks what the JSON form cannot: every size named in `state` is offered.
    pub fn check(&self, state: &LabelState) -> Result<(), Error> {
        let conf_sizes = state.triggers.iter().filter_map(|t| match t {
            Trigger::Conf(ConfTrigger(ConfCommand::Size(size))) => Some(size),
            _ => None,
        });
        for size in state.config.size.iter().chain(conf_sizes) {
            self.sizes.get(size.as_str())?;
        }
        Ok(())
    }
}

/// Refuses a label over GitHub's limit, naming the limit.
pub(crate) fn check_len(label: &str) -> Result<(), Error> {
    let len = label.chars().count();
    if len > MAX_LABEL_LEN {
        return Err(Error::LabelTooLong {
            label: crate::error::excerpt(label),
            len,
            max: MAX_LABEL_LEN,
        });
    }
    Ok(())
}
