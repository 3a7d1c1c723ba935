//! GitHub teams, named `org/team-slug` as `showtime.toml`'s `[access]`
//! section writes them.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ValueKind, serde_via_str};

/// A GitHub team: its organization's login and its slug, both lowercased
/// (GitHub compares them case-insensitively).
///
/// ```
/// use showtime_core::Team;
/// let team: Team = "Apache/superset-committers".parse().unwrap();
/// assert_eq!(team.to_string(), "apache/superset-committers");
/// assert_eq!(team.org(), "apache");
/// assert!("superset-committers".parse::<Team>().is_err());
/// assert!("apache/".parse::<Team>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Team {
    org: String,
    slug: String,
}

/// The longest team slug accepted (GitHub's names are far shorter in
/// practice; the bound keeps URLs and messages small).
pub const MAX_SLUG_LEN: usize = 100;

impl Team {
    /// The organization's login.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// The team's slug, as in `github.com/orgs/{org}/teams/{slug}`.
    pub fn slug(&self) -> &str {
        &self.slug
    }
}

/// An organization login follows the rules of user logins.
fn is_valid_org(org: &str) -> bool {
    !org.is_empty()
        && org.len() <= crate::login::MAX_LOGIN_LEN
        && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !org.starts_with('-')
        && !org.ends_with('-')
}

/// A slug is what GitHub derives from a team name: letters, digits,
/// hyphens and underscores.
fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl FromStr for Team {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.split_once('/') {
            Some((org, slug)) if is_valid_org(org) && is_valid_slug(slug) => Ok(Team {
                org: org.to_ascii_lowercase(),
                slug: slug.to_ascii_lowercase(),
            }),
            _ => Err(Error::invalid(
                ValueKind::Team,
                s,
                "`org/team-slug`: an organization login, a slash, and the team's slug \
                 (letters, digits, `-` or `_`), as in `apache/superset-committers`",
            )),
        }
    }
}

impl fmt::Display for Team {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.org, self.slug)
    }
}

serde_via_str!(Team);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_names_are_org_slash_slug() {
        for good in ["a/b", "apache/superset-committers", "Org-1/team_x", "o/T"] {
            assert!(good.parse::<Team>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "apache",
            "/team",
            "apache/",
            "a/b/c",
            "-a/b",
            "a b/c",
            "a/b c",
            "a/ü",
            &format!("a/{}", "x".repeat(101)),
            &format!("{}/b", "x".repeat(40)),
        ] {
            let err = bad.parse::<Team>().err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("org/team-slug")),
                "{bad}: {err:?}"
            );
        }
        assert_eq!(
            "Apache/Committers".parse::<Team>().ok(),
            "apache/committers".parse::<Team>().ok()
        );
    }
}
