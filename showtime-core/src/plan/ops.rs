//! Label operations: the changes a plan makes to a PR's label state.

use std::fmt;

use crate::config::Config;
use crate::labels::{LabelState, Requester, Trigger};
use crate::{Address, CommentId, ShortSha, Status, Timestamp, Ttl};

/// One change to the label state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOp {
    /// Set an environment's status.
    Status(ShortSha, Status),
    /// Point `🎯` at an environment, or nowhere.
    Active(Option<ShortSha>),
    /// Point `🏗️` at an environment, or nowhere.
    Building(Option<ShortSha>),
    /// Start an environment's record afresh: creation time and requester.
    Created(ShortSha, Timestamp, Option<Requester>),
    /// Set or clear an environment's address.
    Address(ShortSha, Option<Address>),
    /// Mark an environment `destroying` and drop its other details, which
    /// no longer matter (fewer labels to write and then remove).
    Retire(ShortSha),
    /// Drop everything the labels say about an environment.
    Forget(ShortSha),
    /// Set or clear the TTL.
    Ttl(Option<Ttl>),
    /// Replace the configuration.
    Config(Config),
    /// Remove a trigger (it has been acted on, or refused).
    Consume(Trigger),
    /// Set or clear the freeze flag.
    Frozen(bool),
    /// Record the expiry time people were warned about (`🎪 ⏰`), or
    /// forget it.
    ExpiryWarned(Option<Timestamp>),
    /// Record that an environment was redeployed once after it failed
    /// (`🎪 🩹 <sha7>`), or forget it.
    Healed(Option<ShortSha>),
    /// Remove all Showtime state, keeping triggers not yet acted on, the
    /// freeze and blocked flags and where the status comment is.
    Reset,
    /// Remember where the status comment is (`🎪 💬 <id>`).
    Comment(CommentId),
}

impl fmt::Display for LabelOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelOp::Status(sha, status) => write!(f, "{sha} {status}"),
            LabelOp::Active(Some(sha)) => write!(f, "active {sha}"),
            LabelOp::Active(None) => write!(f, "no active"),
            LabelOp::Building(Some(sha)) => write!(f, "building {sha}"),
            LabelOp::Building(None) => write!(f, "no building"),
            LabelOp::Created(sha, at, _) => write!(f, "{sha} created {}", at.label()),
            LabelOp::Address(sha, Some(a)) => write!(f, "{sha} at {a}"),
            LabelOp::Address(sha, None) => write!(f, "{sha} no address"),
            LabelOp::Retire(sha) => write!(f, "retire {sha}"),
            LabelOp::Forget(sha) => write!(f, "forget {sha}"),
            LabelOp::Ttl(Some(ttl)) => write!(f, "ttl {ttl}"),
            LabelOp::Ttl(None) => write!(f, "no ttl"),
            LabelOp::Config(_) => write!(f, "configuration"),
            LabelOp::Consume(trigger) => write!(f, "consume {trigger}"),
            LabelOp::Frozen(on) => write!(f, "frozen {on}"),
            LabelOp::ExpiryWarned(Some(at)) => write!(f, "expiry {} announced", at.label()),
            LabelOp::ExpiryWarned(None) => write!(f, "no expiry announced"),
            LabelOp::Healed(Some(sha)) => write!(f, "{sha} redeployed once"),
            LabelOp::Healed(None) => write!(f, "no redeploy recorded"),
            LabelOp::Reset => write!(f, "reset"),
            LabelOp::Comment(id) => write!(f, "status comment {id}"),
        }
    }
}

impl LabelOp {
    /// Applies this change to a label state.
    pub fn apply(&self, state: &mut LabelState) {
        match self {
            LabelOp::Status(sha, status) => {
                state.environments.entry(sha.clone()).or_default().status = Some(*status);
            }
            LabelOp::Active(sha) => state.active = sha.clone(),
            LabelOp::Building(sha) => state.building = sha.clone(),
            LabelOp::Created(sha, at, requester) => {
                let env = state.environments.entry(sha.clone()).or_default();
                env.created_at = Some(*at);
                env.requested_by = requester.clone();
                env.address = None;
            }
            LabelOp::Address(sha, address) => {
                state.environments.entry(sha.clone()).or_default().address = *address;
            }
            LabelOp::Retire(sha) => {
                state.environments.insert(
                    sha.clone(),
                    crate::labels::Environment {
                        status: Some(Status::Destroying),
                        ..Default::default()
                    },
                );
            }
            LabelOp::Forget(sha) => {
                state.environments.remove(sha);
                if state.active.as_ref() == Some(sha) {
                    state.active = None;
                }
                if state.building.as_ref() == Some(sha) {
                    state.building = None;
                }
                if state.healed.as_ref() == Some(sha) {
                    state.healed = None;
                }
            }
            LabelOp::Ttl(ttl) => state.ttl = *ttl,
            LabelOp::Config(config) => state.config = config.clone(),
            LabelOp::Consume(trigger) => {
                state.triggers.remove(trigger);
            }
            LabelOp::Frozen(on) => state.frozen = *on,
            LabelOp::Comment(id) => state.comment = Some(*id),
            LabelOp::ExpiryWarned(at) => state.expiry_warned = *at,
            LabelOp::Healed(sha) => state.healed = sha.clone(),
            LabelOp::Reset => {
                *state = LabelState {
                    frozen: state.frozen,
                    blocked: state.blocked,
                    comment: state.comment,
                    triggers: std::mem::take(&mut state.triggers),
                    other_labels: std::mem::take(&mut state.other_labels),
                    ..LabelState::default()
                };
            }
        }
    }
}
