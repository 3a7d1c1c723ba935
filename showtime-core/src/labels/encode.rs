//! [`LabelState`] to label names, in one [`Dialect`].
//!
//! Every value a state can hold fits GitHub's limit, so encoding cannot fail;
//! the order of the output is fixed (triggers, flags, pointers, environments,
//! TTL, status comment, configuration) so that the same state always gives the same list.

use super::{Codec, Dialect, Environment, LabelState, TENT, Trigger};
use crate::ShortSha;

/// The emoji as they are written (with U+FE0F where it is customary).
pub(super) mod emoji {
    pub const STATUS: &str = "🚦";
    pub const ACTIVE: &str = "🎯";
    pub const BUILDING: &str = "🏗️";
    pub const CREATED: &str = "📅";
    pub const ADDRESS: &str = "🌐";
    pub const TTL: &str = "⌛";
    pub const WARNED: &str = "⏰";
    pub const HEALED: &str = "🩹";
    pub const REQUESTER: &str = "👤";
    pub const REQUESTER_PER_SHA: &str = "🤡";
    pub const CONFIG: &str = "⚙️";
    pub const FLAG: &str = "🚩";
    pub const START: &str = "⚡";
    pub const STOP: &str = "🛑";
    pub const SYNC: &str = "🔄";
    pub const FREEZE: &str = "🧊";
    pub const BLOCKED: &str = "🔒";
    pub const COMMENT: &str = "💬";
}

impl Codec {
    /// Writes `state` as label names in `dialect`.
    ///
    /// Only Showtime's labels are written: [`LabelState::other_labels`] and
    /// [`LabelState::anomalies`] are not. The legacy up-label is written when
    /// the state holds [`Trigger::Up`], so that parsing the output gives the
    /// state back; [`diff`](super::diff) never adds or removes it.
    ///
    /// ```
    /// use showtime_core::labels::{Codec, Dialect};
    /// let codec = Codec::default();
    /// let state = codec.parse(["🎪 abc123f 🚦 running", "🎪 🎯 abc123f"]);
    /// assert_eq!(codec.encode(&state, Dialect::Seed), ["🎪 🎯 abc123f", "🎪 🚦 running"]);
    /// ```
    pub fn encode(&self, state: &LabelState, dialect: Dialect) -> Vec<String> {
        let mut out = Vec::new();
        for trigger in &state.triggers {
            out.push(match trigger {
                Trigger::Up => self.legacy_trigger.clone(),
                Trigger::Start => format!("{TENT} {} showtime-trigger-start", emoji::START),
                Trigger::Stop => format!("{TENT} {} showtime-trigger-stop", emoji::STOP),
                Trigger::Sync => format!("{TENT} {} showtime-trigger-sync", emoji::SYNC),
                Trigger::Conf(conf) => format!("{TENT} conf-{}", conf.command()),
            });
        }
        if state.frozen {
            out.push(format!("{TENT} {} showtime-freeze", emoji::FREEZE));
        }
        if state.blocked {
            out.push(format!("{TENT} {} showtime-blocked", emoji::BLOCKED));
        }
        if let Some(sha) = &state.active {
            out.push(format!("{TENT} {} {sha}", emoji::ACTIVE));
        }
        if let Some(sha) = &state.building {
            out.push(format!("{TENT} {} {sha}", emoji::BUILDING));
        }
        let primary = match dialect {
            Dialect::Seed => state.primary(),
            Dialect::PerSha => None,
        };
        for (sha, env) in &state.environments {
            if Some(sha) == primary {
                seed_env(env, &mut out);
            } else {
                per_sha_env(sha, env, &mut out);
            }
        }
        if let Some(ttl) = state.ttl {
            out.push(format!("{TENT} {} {ttl}", emoji::TTL));
        }
        if let Some(at) = state.expiry_warned {
            out.push(format!("{TENT} {} {}", emoji::WARNED, at.label()));
        }
        if let Some(sha) = &state.healed {
            out.push(format!("{TENT} {} {sha}", emoji::HEALED));
        }
        if let Some(id) = state.comment {
            out.push(format!("{TENT} {} {id}", emoji::COMMENT));
        }
        let config = &state.config;
        let items = [
            (config.debug, "debug".to_owned()),
            (config.no_examples, "no-examples".to_owned()),
            (config.cache_redis, "cache-redis".to_owned()),
        ];
        for (_, item) in items.into_iter().filter(|(on, _)| *on) {
            out.push(format!("{TENT} {} {item}", emoji::CONFIG));
        }
        if let Some(size) = &config.size {
            out.push(format!("{TENT} {} size-{size}", emoji::CONFIG));
        }
        for (name, on) in &config.features {
            out.push(format!("{TENT} {} {name}={on}", emoji::FLAG));
        }
        out
    }
}

fn seed_env(env: &Environment, out: &mut Vec<String>) {
    if let Some(status) = env.status {
        out.push(format!("{TENT} {} {status}", emoji::STATUS));
    }
    if let Some(created) = env.created_at {
        out.push(format!("{TENT} {} {}", emoji::CREATED, created.label()));
    }
    if let Some(address) = env.address {
        out.push(format!("{TENT} {} {}", emoji::ADDRESS, address.dashed()));
    }
    if let Some(requester) = &env.requested_by {
        out.push(format!("{TENT} {} {requester}", emoji::REQUESTER));
    }
}

fn per_sha_env(sha: &ShortSha, env: &Environment, out: &mut Vec<String>) {
    if let Some(status) = env.status {
        out.push(format!("{TENT} {sha} {} {status}", emoji::STATUS));
    }
    if let Some(created) = env.created_at {
        out.push(format!(
            "{TENT} {sha} {} {}",
            emoji::CREATED,
            created.label()
        ));
    }
    if let Some(address) = env.address {
        out.push(format!("{TENT} {sha} {} {address}", emoji::ADDRESS));
    }
    if let Some(requester) = &env.requested_by {
        out.push(format!(
            "{TENT} {sha} {} {requester}",
            emoji::REQUESTER_PER_SHA
        ));
    }
}
