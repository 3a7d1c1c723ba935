//! The lifecycle status of one environment.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ValueKind, serde_via_str};

/// Where an environment is in its lifecycle.
///
/// `requested → building → deploying → running → updating → destroying`, plus
/// `configuring` (applying configuration without a rebuild), `sleeping`
/// (scaled to zero while idle; it still exists and its TTL still counts)
/// and `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Asked for; nothing started yet.
    Requested,
    /// The image is being built.
    Building,
    /// The *starting* stage: the image exists and the backend is starting
    /// the environment, which is not ready yet ([`Health::Starting`]; the
    /// engine waits it out with [`Backend::wait_ready`]). The word is
    /// `deploying`, as superset-showtime writes it.
    ///
    /// [`Health::Starting`]: crate::ports::Health::Starting
    /// [`Backend::wait_ready`]: crate::ports::Backend::wait_ready
    Deploying,
    /// Healthy and serving.
    Running,
    /// Serving while its replacement for a newer commit is prepared.
    Updating,
    /// Serving while new configuration is applied.
    Configuring,
    /// Being torn down.
    Destroying,
    /// A step failed; the reason is in the PR's status comment.
    Failed,
    /// Scaled to zero while idle or in quiet hours: it exists, costs
    /// nothing while asleep, and its TTL still counts. `/circus wake`, the
    /// dashboard's Wake or a new commit brings it back.
    Sleeping,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 9] = [
        Status::Requested,
        Status::Building,
        Status::Deploying,
        Status::Running,
        Status::Updating,
        Status::Configuring,
        Status::Destroying,
        Status::Failed,
        Status::Sleeping,
    ];

    /// The lowercase word used in labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Building => "building",
            Status::Deploying => "deploying",
            Status::Running => "running",
            Status::Updating => "updating",
            Status::Configuring => "configuring",
            Status::Destroying => "destroying",
            Status::Failed => "failed",
            Status::Sleeping => "sleeping",
        }
    }

    /// Whether an environment in this status answers requests.
    pub fn is_serving(self) -> bool {
        matches!(
            self,
            Status::Running | Status::Updating | Status::Configuring
        )
    }
}

impl FromStr for Status {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    ValueKind::Status,
                    s,
                    "one of requested, building, deploying, running, updating, \
                     configuring, destroying, failed, sleeping",
                )
            })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_via_str!(Status);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
        }
    }

    #[test]
    fn unknown_status_lists_the_valid_ones() {
        let err = "dancing".parse::<Status>().unwrap_err().to_string();
        assert!(err.contains("running") && err.contains("failed"), "{err}");
    }
}
