//! [`EnvSpec`]s for tests, by a builder with sensible defaults.

use chrono::{DateTime, Duration, Utc};

use crate::ports::{EnvId, EnvSpec};
use crate::{Config, Login, PrNumber, Sha};

/// The spec of commit `sha` (7 to 40 hex digits) of PR `pr`, to be
/// completed with [`SpecBuilder`]'s methods: by default the image
/// `registry.local/app:pr-{n}-{sha7}-ci`, the default configuration, no
/// requester, created at the [`World`](super::World)'s start time
/// (2024-01-15 12:00 UTC) and expiring 24 hours later.
///
/// ```
/// use showtime_core::testing::spec;
///
/// let spec = spec(42, "abc123f").requested_by("maxime").build();
/// assert_eq!(spec.id.name(), "pr-42-abc123f");
/// assert_eq!(spec.image, "registry.local/app:pr-42-abc123f-ci");
/// ```
///
/// # Panics
///
/// On a PR number of 0 or a malformed SHA: test fixtures are trusted.
pub fn spec(pr: u64, sha: &str) -> SpecBuilder {
    let pr = PrNumber::new(pr).expect("a PR number above zero");
    let sha: Sha = sha.parse().expect("a SHA of 7 to 40 hex digits");
    let id = EnvId::new(pr, sha.short());
    let created_at = super::start();
    SpecBuilder(EnvSpec {
        image: format!("registry.local/app:{}", id.image_tag()),
        id,
        sha,
        config: Config::default(),
        requested_by: None,
        created_at,
        expires_at: Some(created_at + Duration::hours(24)),
    })
}

/// Builds an [`EnvSpec`] for a test; see [`spec`].
#[derive(Debug, Clone)]
pub struct SpecBuilder(EnvSpec);

impl SpecBuilder {
    /// The image to run.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.0.image = image.into();
        self
    }

    /// The configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.0.config = config;
        self
    }

    /// Who asked for it.
    ///
    /// # Panics
    ///
    /// On a malformed login.
    pub fn requested_by(mut self, login: &str) -> Self {
        let login: Login = login.parse().expect("a valid login");
        self.0.requested_by = Some(login);
        self
    }

    /// When it was asked for; the expiry moves with it.
    pub fn created_at(mut self, at: DateTime<Utc>) -> Self {
        let ttl = self.0.expires_at.map(|e| e - self.0.created_at);
        self.0.created_at = at;
        self.0.expires_at = ttl.map(|ttl| at + ttl);
        self
    }

    /// When it expires, if ever.
    pub fn expires_at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.0.expires_at = at;
        self
    }

    /// The spec.
    pub fn build(self) -> EnvSpec {
        self.0
    }
}

impl From<SpecBuilder> for EnvSpec {
    fn from(builder: SpecBuilder) -> Self {
        builder.0
    }
}
