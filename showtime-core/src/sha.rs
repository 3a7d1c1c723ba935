//! Commit SHAs, full and short.
//!
//! Labels carry the 7-character short form ([`ShortSha`]); backends and the PR
//! host speak in full SHAs ([`Sha`]). Both are lowercase hexadecimal only, so a
//! SHA can be placed in a resource name or a label without escaping.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ValueKind, serde_via_str};

/// Length of the short SHA written in labels and resource names.
pub const SHORT_SHA_LEN: usize = 7;

/// A commit SHA: 7 to 40 lowercase hexadecimal digits.
///
/// ```
/// use showtime_core::Sha;
/// let sha: Sha = "abc123f9d8e7".parse().unwrap();
/// assert_eq!(sha.short().as_str(), "abc123f");
/// assert!("ABC123F".parse::<Sha>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha(String);

impl Sha {
    /// The SHA as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 7-character short form that labels carry.
    pub fn short(&self) -> ShortSha {
        ShortSha(self.0[..SHORT_SHA_LEN].to_owned())
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl FromStr for Sha {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        if (SHORT_SHA_LEN..=40).contains(&s.len()) && is_lower_hex(s) {
            Ok(Sha(s.to_owned()))
        } else {
            Err(Error::invalid(
                ValueKind::Sha,
                s,
                "7 to 40 lowercase hexadecimal digits (0-9, a-f)",
            ))
        }
    }
}

impl fmt::Display for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The short SHA of labels: exactly 7 lowercase hexadecimal digits.
///
/// ```
/// use showtime_core::ShortSha;
/// let sha: ShortSha = "abc123f".parse().unwrap();
/// assert!(sha.matches(&"abc123f0000".parse().unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShortSha(String);

impl ShortSha {
    /// The short SHA as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `sha` starts with this short SHA.
    pub fn matches(&self, sha: &Sha) -> bool {
        sha.as_str().starts_with(&self.0)
    }
}

impl FromStr for ShortSha {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        if s.len() == SHORT_SHA_LEN && is_lower_hex(s) {
            Ok(ShortSha(s.to_owned()))
        } else {
            Err(Error::invalid(
                ValueKind::ShortSha,
                s,
                "exactly 7 lowercase hexadecimal digits (0-9, a-f)",
            ))
        }
    }
}

impl From<&Sha> for ShortSha {
    fn from(sha: &Sha) -> Self {
        sha.short()
    }
}

impl fmt::Display for ShortSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_str!(Sha);
serde_via_str!(ShortSha);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_sha_bounds() {
        assert!("abc123f".parse::<Sha>().is_ok());
        assert!("a".repeat(40).parse::<Sha>().is_ok());
        for bad in [
            "abc123",
            &"a".repeat(41),
            "abc123g",
            "ABC123F",
            "abc 123f",
            "ａbc123f",
        ] {
            assert!(bad.parse::<Sha>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn short_sha_is_exactly_seven() {
        assert!("abc123f".parse::<ShortSha>().is_ok());
        assert!("abc123f0".parse::<ShortSha>().is_err());
        let err = "xyz".parse::<ShortSha>().unwrap_err().to_string();
        assert!(err.contains("exactly 7 lowercase hexadecimal"), "{err}");
    }
}
