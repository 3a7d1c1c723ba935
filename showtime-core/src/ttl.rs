//! Time to live: how long an environment may exist.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, ValueKind, serde_via_str};

/// The longest span a TTL may name: 52 weeks.
pub const MAX_TTL_HOURS: u32 = 52 * 7 * 24;

/// How long an environment lives.
///
/// `Nh`, `Nd` or `Nw` (N ≥ 1, at most 52 weeks in all) expire that long after
/// the environment was created; `close` lives until the PR closes; `manual`
/// survives even the PR closing and is only destroyed on request.
///
/// ```
/// use showtime_core::Ttl;
/// let ttl: Ttl = "2d".parse().unwrap();
/// assert_eq!(ttl.duration(), Some(chrono::Duration::hours(48)));
/// assert_eq!(Ttl::CLOSE.duration(), None);
/// assert!("53w".parse::<Ttl>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ttl(Repr);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Repr {
    Span { amount: u32, unit: TtlUnit },
    Close,
    Manual,
}

/// The unit of a timed [`Ttl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TtlUnit {
    /// `h`
    Hours,
    /// `d`
    Days,
    /// `w`
    Weeks,
}

impl TtlUnit {
    fn hours(self) -> u32 {
        match self {
            TtlUnit::Hours => 1,
            TtlUnit::Days => 24,
            TtlUnit::Weeks => 24 * 7,
        }
    }

    fn suffix(self) -> char {
        match self {
            TtlUnit::Hours => 'h',
            TtlUnit::Days => 'd',
            TtlUnit::Weeks => 'w',
        }
    }
}

const EXPECTED: &str = "`<N>h`, `<N>d` or `<N>w` with N at least 1 and at most 52 weeks \
                        in all (e.g. `24h`, `2d`, `1w`), `close` or `manual`";

impl Ttl {
    /// Lives until the PR is closed or merged.
    pub const CLOSE: Ttl = Ttl(Repr::Close);
    /// Lives until someone destroys it, even after the PR closes.
    pub const MANUAL: Ttl = Ttl(Repr::Manual);
    /// `24h`: the default lifetime of a new environment, and what
    /// `/circus extend` without an argument adds.
    pub const DAY: Ttl = Ttl(Repr::Span {
        amount: 24,
        unit: TtlUnit::Hours,
    });

    /// A timed TTL of `amount` units; refused when zero or over 52 weeks.
    pub fn new(amount: u32, unit: TtlUnit) -> Result<Self, Error> {
        let in_range = amount >= 1
            && amount
                .checked_mul(unit.hours())
                .is_some_and(|hours| hours <= MAX_TTL_HOURS);
        if in_range {
            Ok(Ttl(Repr::Span { amount, unit }))
        } else {
            Err(Error::invalid(
                ValueKind::Ttl,
                &format!("{amount}{}", unit.suffix()),
                EXPECTED,
            ))
        }
    }

    /// The span after creation at which the environment expires, or `None`
    /// for `close` and `manual`.
    pub fn duration(self) -> Option<Duration> {
        match self.0 {
            Repr::Span { amount, unit } => Some(Duration::hours(i64::from(amount * unit.hours()))),
            Repr::Close | Repr::Manual => None,
        }
    }

    /// When an environment created at `created` expires, if it ever does by time.
    pub fn expires_at(self, created: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.duration().map(|d| created + d)
    }

    /// Whether this TTL survives the PR closing (`manual`).
    pub fn survives_close(self) -> bool {
        self.0 == Repr::Manual
    }
}

impl FromStr for Ttl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::invalid(ValueKind::Ttl, s, EXPECTED);
        match s {
            "close" => return Ok(Ttl::CLOSE),
            "manual" => return Ok(Ttl::MANUAL),
            _ => {}
        }
        let (digits, unit) = match s.as_bytes().last() {
            Some(b'h') => (&s[..s.len() - 1], TtlUnit::Hours),
            Some(b'd') => (&s[..s.len() - 1], TtlUnit::Days),
            Some(b'w') => (&s[..s.len() - 1], TtlUnit::Weeks),
            _ => return Err(invalid()),
        };
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let amount: u32 = digits.parse().map_err(|_| invalid())?;
        Ttl::new(amount, unit).map_err(|_| invalid())
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Span { amount, unit } => write!(f, "{amount}{}", unit.suffix()),
            Repr::Close => f.write_str("close"),
            Repr::Manual => f.write_str("manual"),
        }
    }
}

serde_via_str!(Ttl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_convert_to_durations() {
        let cases = [
            ("24h", 24),
            ("48h", 48),
            ("2d", 48),
            ("1w", 168),
            ("52w", 8736),
            ("364d", 8736),
        ];
        for (text, hours) in cases {
            let ttl: Ttl = text.parse().unwrap();
            assert_eq!(ttl.duration(), Some(Duration::hours(hours)), "{text}");
            assert_eq!(ttl.to_string(), text);
        }
    }

    #[test]
    fn close_and_manual_have_no_duration() {
        assert_eq!("close".parse::<Ttl>().unwrap().duration(), None);
        assert!("manual".parse::<Ttl>().unwrap().survives_close());
        assert!(!Ttl::CLOSE.survives_close());
    }

    #[test]
    fn out_of_range_and_malformed_are_refused() {
        for bad in [
            "0h",
            "53w",
            "8737h",
            "365d",
            "h",
            "24",
            "24H",
            "1.5d",
            "-1d",
            "24 h",
            "",
            "forever",
            "99999999999h",
        ] {
            let err = bad.parse::<Ttl>().unwrap_err().to_string();
            assert!(err.contains("52 weeks"), "{bad}: {err}");
        }
    }
}
