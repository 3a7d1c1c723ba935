//! The JSON form of [`LabelState`], a stable interface for scripts.
//!
//! ```json
//! {
//!   "environments": [{"sha": "abc123f", "status": "running", "address": "52.1.2.3:8080",
//!                     "created_at": "2024-01-15T14:30:00Z", "requested_by": "maxime"}],
//!   "active_sha": "abc123f", "building_sha": null, "ttl": "48h",
//!   "config": {"features": {"ALERTS": true}, "debug": false, "size": null,
//!              "no_examples": false, "cache_redis": false},
//!   "triggers": ["start", "conf-enable-ALERTS"], "frozen": false, "blocked": false,
//!   "comment_id": "1234567890",
//!   "anomalies": [{"label": "🎪 🎯 def456a", "kind": "conflict", "detail": "active",
//!                  "message": "…"}],
//!   "other_labels": ["bug"]
//! }
//! ```
//!
//! `expiry_warned` (the `🎪 ⏰` time, RFC 3339) and `healed_sha` (the `🎪 🩹`
//! environment, redeployed once after a failure) appear only when set.
//! Every field may be omitted when reading; unknown fields are refused.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Anomaly, Environment, LabelState, Requester, Trigger};
use crate::config::Config;
use crate::{Address, CommentId, ShortSha, Status, Timestamp, Ttl};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Wire {
    #[serde(default)]
    environments: Vec<WireEnvironment>,
    #[serde(default)]
    active_sha: Option<ShortSha>,
    #[serde(default)]
    building_sha: Option<ShortSha>,
    #[serde(default)]
    ttl: Option<Ttl>,
    /// Written only when set, so a PR never warned reads as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_warned: Option<Timestamp>,
    /// Written only when set, like `expiry_warned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    healed_sha: Option<ShortSha>,
    #[serde(default)]
    config: Config,
    #[serde(default)]
    triggers: BTreeSet<Trigger>,
    #[serde(default)]
    frozen: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    comment_id: Option<CommentId>,
    #[serde(default)]
    anomalies: Vec<Anomaly>,
    #[serde(default)]
    other_labels: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvironment {
    sha: ShortSha,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    address: Option<Address>,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    requested_by: Option<Requester>,
}

impl TryFrom<Wire> for LabelState {
    type Error = DuplicateEnvironment;

    fn try_from(wire: Wire) -> Result<Self, DuplicateEnvironment> {
        let mut environments = BTreeMap::new();
        for env in wire.environments {
            let value = Environment {
                status: env.status,
                address: env.address,
                created_at: env.created_at,
                requested_by: env.requested_by,
            };
            if environments.insert(env.sha.clone(), value).is_some() {
                return Err(DuplicateEnvironment(env.sha));
            }
        }
        Ok(LabelState {
            environments,
            active: wire.active_sha,
            building: wire.building_sha,
            ttl: wire.ttl,
            expiry_warned: wire.expiry_warned,
            healed: wire.healed_sha,
            config: wire.config,
            triggers: wire.triggers,
            frozen: wire.frozen,
            blocked: wire.blocked,
            comment: wire.comment_id,
            anomalies: wire.anomalies,
            other_labels: wire.other_labels,
        })
    }
}

impl From<LabelState> for Wire {
    fn from(state: LabelState) -> Self {
        Wire {
            environments: state
                .environments
                .into_iter()
                .map(|(sha, env)| WireEnvironment {
                    sha,
                    status: env.status,
                    address: env.address,
                    created_at: env.created_at,
                    requested_by: env.requested_by,
                })
                .collect(),
            active_sha: state.active,
            building_sha: state.building,
            ttl: state.ttl,
            expiry_warned: state.expiry_warned,
            healed_sha: state.healed,
            config: state.config,
            triggers: state.triggers,
            frozen: state.frozen,
            blocked: state.blocked,
            comment_id: state.comment,
            anomalies: state.anomalies,
            other_labels: state.other_labels,
        }
    }
}

/// Two entries of `environments` with one SHA.
#[derive(Debug)]
pub(super) struct DuplicateEnvironment(ShortSha);

impl std::fmt::Display for DuplicateEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "environment {} is listed twice; list each SHA once",
            self.0
        )
    }
}
