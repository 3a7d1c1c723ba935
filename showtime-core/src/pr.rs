//! Pull request numbers, and the ids of their comments.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use crate::error::{Error, ValueKind, serde_via_str};

/// The number of a pull request in its repository: a positive integer.
///
/// Parsed from `123` or `#123`.
///
/// ```
/// use showtime_core::PrNumber;
/// let pr: PrNumber = "#42".parse().unwrap();
/// assert_eq!(pr.get(), 42);
/// assert!("0".parse::<PrNumber>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrNumber(NonZeroU64);

impl PrNumber {
    /// A PR number from an integer; `None` for zero.
    pub fn new(n: u64) -> Option<Self> {
        NonZeroU64::new(n).map(Self)
    }

    /// The number as an integer.
    pub fn get(self) -> u64 {
        self.0.get()
    }
}

impl FromStr for PrNumber {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let digits = s.strip_prefix('#').unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(ValueKind::PrNumber, s, EXPECTED));
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| Error::invalid(ValueKind::PrNumber, s, EXPECTED))
    }
}

const EXPECTED: &str = "a positive integer such as `42` or `#42`";

impl fmt::Display for PrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

serde_via_str!(PrNumber);

/// The id of an issue comment on the PR host (GitHub's numeric comment id):
/// where the status comment is, remembered in a `🎪 💬 <id>` label so that
/// no run has to search the PR's comments for it.
///
/// ```
/// use showtime_core::pr::CommentId;
/// let id: CommentId = "1234567890".parse().unwrap();
/// assert_eq!(id.get(), 1_234_567_890);
/// assert!("12ab".parse::<CommentId>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommentId(NonZeroU64);

impl CommentId {
    /// A comment id from an integer; `None` for zero.
    pub fn new(n: u64) -> Option<Self> {
        NonZeroU64::new(n).map(Self)
    }

    /// The id as an integer.
    pub fn get(self) -> u64 {
        self.0.get()
    }
}

impl FromStr for CommentId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        // 20 digits hold every u64; a label value longer than that is no id.
        let bad = || Error::invalid(ValueKind::CommentId, s, COMMENT_EXPECTED);
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u64>().ok().and_then(Self::new).ok_or_else(bad)
    }
}

const COMMENT_EXPECTED: &str = "the positive numeric id of a comment, such as `1234567890`";

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

serde_via_str!(CommentId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_hash_forms() {
        assert_eq!("7".parse::<PrNumber>().unwrap().get(), 7);
        assert_eq!("#7".parse::<PrNumber>().unwrap().get(), 7);
    }

    #[test]
    fn rejects_zero_signs_and_overflow() {
        for bad in [
            "",
            "#",
            "0",
            "-1",
            "+1",
            "1.5",
            "99999999999999999999999",
            " 1",
        ] {
            assert!(bad.parse::<PrNumber>().is_err(), "{bad:?}");
        }
    }
}
