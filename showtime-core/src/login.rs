//! GitHub logins.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ValueKind, serde_via_str};

/// A GitHub login: 1 to 39 ASCII letters, digits and single inner hyphens,
/// optionally followed by `[bot]` as GitHub Apps act (`dependabot[bot]`).
///
/// ```
/// use showtime_core::Login;
/// assert!("maxime".parse::<Login>().is_ok());
/// assert!("dependabot[bot]".parse::<Login>().is_ok());
/// assert!("-maxime".parse::<Login>().is_err());
/// assert!("max--ime".parse::<Login>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Login(String);

/// The longest login GitHub allows.
pub const MAX_LOGIN_LEN: usize = 39;

impl Login {
    /// The login as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a GitHub App's bot account (`name[bot]`).
    pub fn is_bot(&self) -> bool {
        self.0.ends_with("[bot]")
    }
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LOGIN_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

impl FromStr for Login {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let name = s.strip_suffix("[bot]").unwrap_or(s);
        if is_valid_name(name) {
            Ok(Login(s.to_owned()))
        } else {
            Err(Error::invalid(
                ValueKind::Login,
                s,
                "1 to 39 ASCII letters, digits or single hyphens, not starting or \
                 ending with a hyphen (optionally followed by `[bot]`)",
            ))
        }
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_str!(Login);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_login_rules() {
        for good in [
            "a",
            "Maxime",
            "mistercrunch",
            "a-b-c",
            &"x".repeat(39),
            "github-actions[bot]",
        ] {
            assert!(good.parse::<Login>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            &"x".repeat(40),
            "a b",
            "a_b",
            "[bot]",
            "ünï",
            "a[bot][bot]",
        ] {
            assert!(bad.parse::<Login>().is_err(), "{bad}");
        }
    }
}
