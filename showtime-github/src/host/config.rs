//! Where and as whom the adapter talks to GitHub: [`GitHubConfig`], [`Auth`],
//! the API roots, and [`GitHubError`] when they are unusable.
//! It reads and checks settings: it must not build a client or send a request.

/// The default REST API root.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// How Showtime authenticates to GitHub.
#[derive(Clone)]
pub enum Auth {
    /// A token: `GITHUB_TOKEN` in Actions, or a personal access token.
    Token(String),
    /// A GitHub App installation.
    App {
        /// The App's id.
        app_id: u64,
        /// The App's private key, PEM.
        private_key: String,
        /// The installation in the repository's organisation or account.
        installation_id: u64,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Auth::Token(_) => f.write_str("Auth::Token(…)"),
            Auth::App {
                app_id,
                installation_id,
                ..
            } => write!(
                f,
                "Auth::App {{ app_id: {app_id}, installation_id: {installation_id}, .. }}"
            ),
        }
    }
}

/// Where and as whom to talk to GitHub.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// The repository owner.
    pub owner: String,
    /// The repository name.
    pub repo: String,
    /// The REST API root (`https://api.github.com`, or
    /// `https://HOST/api/v3` for GitHub Enterprise Server).
    pub api_url: String,
    /// Credentials.
    pub auth: Auth,
    /// Told of every answer GitHub gives (for metrics); none by default.
    pub observer: Option<super::Observer>,
}

/// Why the adapter could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GitHubError {
    /// No repository was given.
    #[error("no repository: set GITHUB_REPOSITORY=owner/name or pass --repo owner/name")]
    MissingRepository,
    /// The repository is not `owner/name`.
    #[error("repository `{0}` is not of the form owner/name")]
    BadRepository(String),
    /// No credentials were given.
    #[error(
        "no GitHub credentials: set GITHUB_TOKEN, or SHOWTIME_GITHUB_APP_ID, \
         SHOWTIME_GITHUB_APP_KEY and SHOWTIME_GITHUB_INSTALLATION_ID"
    )]
    MissingCredentials,
    /// A setting has a bad value.
    #[error("{name} is invalid: {reason}")]
    BadSetting {
        /// The setting.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the GitHub client: {0}")]
    Client(String),
}

impl GitHubConfig {
    /// A configuration for `repository` (`owner/name`) on github.com.
    pub fn new(repository: &str, auth: Auth) -> Result<Self, GitHubError> {
        let (owner, repo) = split_repository(repository)?;
        Ok(GitHubConfig {
            owner,
            repo,
            api_url: DEFAULT_API_URL.to_owned(),
            auth,
            observer: None,
        })
    }

    /// A configuration from the environment GitHub Actions provides:
    /// `GITHUB_REPOSITORY`, `GITHUB_API_URL`, and `GITHUB_TOKEN` or the App's
    /// `SHOWTIME_GITHUB_APP_ID`, `SHOWTIME_GITHUB_APP_KEY` (PEM) and
    /// `SHOWTIME_GITHUB_INSTALLATION_ID`. `lookup` reads one variable
    /// (`|k| std::env::var(k).ok()` in programs).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, GitHubError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let repository = get("GITHUB_REPOSITORY").ok_or(GitHubError::MissingRepository)?;
        let auth = match (
            get("SHOWTIME_GITHUB_APP_ID"),
            get("SHOWTIME_GITHUB_APP_KEY"),
            get("SHOWTIME_GITHUB_INSTALLATION_ID"),
        ) {
            (Some(app_id), Some(private_key), Some(installation_id)) => Auth::App {
                app_id: parse_id("SHOWTIME_GITHUB_APP_ID", &app_id)?,
                private_key,
                installation_id: parse_id("SHOWTIME_GITHUB_INSTALLATION_ID", &installation_id)?,
            },
            _ => Auth::Token(get("GITHUB_TOKEN").ok_or(GitHubError::MissingCredentials)?),
        };
        let mut config = GitHubConfig::new(&repository, auth)?;
        if let Some(url) = get("GITHUB_API_URL") {
            config.api_url = url;
        }
        Ok(config)
    }

    /// Overrides the repository (`owner/name`), as `--repo` does.
    pub fn with_repository(mut self, repository: &str) -> Result<Self, GitHubError> {
        (self.owner, self.repo) = split_repository(repository)?;
        Ok(self)
    }

    /// Overrides the API root, as `--github-api-url` does.
    pub fn with_api_url(mut self, url: &str) -> Self {
        self.api_url = url.to_owned();
        self
    }

    /// Tells `observer` of every answer GitHub gives: method, route
    /// template, status and rate-limit budget left (see
    /// [`Exchange`](super::Exchange)).
    pub fn with_observer(mut self, observer: super::Observer) -> Self {
        self.observer = Some(observer);
        self
    }
}

/// The roots [`GitHubHost`](super::GitHubHost) sends requests under, from
/// [`GitHubConfig::api_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiRoots {
    /// The REST root, without a trailing `/`.
    pub(super) rest: String,
    /// The root of `/graphql` when it is not the REST root: GitHub
    /// Enterprise Server serves REST under `/api/v3` and GraphQL at
    /// `/api/graphql`.
    pub(super) graphql: Option<String>,
}

impl GitHubConfig {
    /// The checked API roots: [`api_url`](Self::api_url) must be a URL with
    /// a scheme and a host.
    pub(super) fn api_roots(&self) -> Result<ApiRoots, GitHubError> {
        let rest = self.api_url.trim_end_matches('/').to_owned();
        let bad_url = |reason: String| GitHubError::BadSetting {
            name: "GITHUB_API_URL",
            reason,
        };
        let uri: http::Uri = rest
            .parse()
            .map_err(|e| bad_url(format!("`{rest}` is not a URL: {e}")))?;
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(bad_url(format!("`{rest}` needs a scheme and a host")));
        }
        let graphql = rest
            .strip_suffix("/api/v3")
            .map(|root| format!("{root}/api"));
        Ok(ApiRoots { rest, graphql })
    }
}

fn parse_id(name: &'static str, value: &str) -> Result<u64, GitHubError> {
    value.trim().parse().map_err(|_| GitHubError::BadSetting {
        name,
        reason: format!("`{value}` is not a number"),
    })
}

fn split_repository(repository: &str) -> Result<(String, String), GitHubError> {
    let valid = |part: &str| {
        !part.is_empty()
            && part.len() <= 100
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match repository.split_once('/') {
        Some((owner, repo)) if valid(owner) && valid(repo) => {
            Ok((owner.to_owned(), repo.to_owned()))
        }
        _ => Err(GitHubError::BadRepository(repository.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_from_the_actions_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let config = GitHubConfig::from_lookup(env(&[
            ("GITHUB_REPOSITORY", "apache/superset"),
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3"),
        ]))
        .unwrap();
        assert_eq!(
            (config.owner.as_str(), config.repo.as_str()),
            ("apache", "superset")
        );
        assert_eq!(config.api_url, "https://ghe.example/api/v3");
        assert!(matches!(config.auth, Auth::Token(_)));
        assert_eq!(
            GitHubConfig::from_lookup(env(&[("GITHUB_TOKEN", "t")])).unwrap_err(),
            GitHubError::MissingRepository
        );
        assert_eq!(
            GitHubConfig::from_lookup(env(&[("GITHUB_REPOSITORY", "a/b")])).unwrap_err(),
            GitHubError::MissingCredentials
        );
        assert!(GitHubConfig::new("no-slash", Auth::Token("t".into())).is_err());
        assert!(format!("{:?}", Auth::Token("secret".into())).contains('…'));
    }

    #[test]
    fn enterprise_server_has_its_own_graphql_root() {
        let config = GitHubConfig::new("o/r", Auth::Token("t".into())).unwrap();
        let roots = config
            .clone()
            .with_api_url("https://api.github.com/")
            .api_roots();
        assert_eq!(
            roots.unwrap(),
            ApiRoots {
                rest: "https://api.github.com".into(),
                graphql: None
            }
        );
        let roots = config
            .clone()
            .with_api_url("https://ghe.example/api/v3")
            .api_roots();
        assert_eq!(
            roots.unwrap().graphql.as_deref(),
            Some("https://ghe.example/api")
        );
        assert!(config.with_api_url("ghe.example").api_roots().is_err());
    }
}
