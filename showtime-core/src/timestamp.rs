//! The creation time written into labels.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use crate::error::{Error, ValueKind, serde_via_str};

/// A UTC time to the minute, as labels carry it: `YYYY-MM-DDTHH-MM`.
///
/// Labels cannot hold `:`-free ISO times with seconds and stay short, so the
/// time is kept to the minute. A trailing `Z` is accepted when reading.
/// [`Display`](fmt::Display) and JSON use RFC 3339 (`2024-01-15T14:30:00Z`);
/// [`FromStr`] accepts both forms.
///
/// ```
/// use showtime_core::Timestamp;
/// let t = Timestamp::from_label("2024-01-15T14-30").unwrap();
/// assert_eq!(t.label(), "2024-01-15T14-30");
/// assert_eq!(t.to_string(), "2024-01-15T14:30:00Z");
/// assert_eq!("2024-01-15T14:30:00Z".parse::<Timestamp>().unwrap(), t);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(NaiveDateTime);

const EXPECTED: &str = "a UTC time `YYYY-MM-DDTHH-MM` (optionally ending in `Z`), \
                        or RFC 3339 `YYYY-MM-DDTHH:MM:SSZ`";

impl Timestamp {
    /// The time truncated to the minute.
    pub fn from_datetime(time: DateTime<Utc>) -> Self {
        let naive = time.naive_utc();
        let minute = naive
            .time()
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(NaiveTime::MIN);
        Timestamp(naive.date().and_time(minute))
    }

    /// Reads the label form `YYYY-MM-DDTHH-MM`, with an optional trailing `Z`.
    pub fn from_label(s: &str) -> Result<Self, Error> {
        let body = s.strip_suffix(['Z', 'z']).unwrap_or(s);
        parse_fields(body, b'-', false)
            .ok_or_else(|| Error::invalid(ValueKind::Timestamp, s, EXPECTED))
    }

    /// The label form, `YYYY-MM-DDTHH-MM`.
    pub fn label(&self) -> String {
        self.0.format("%Y-%m-%dT%H-%M").to_string()
    }

    /// The time as a chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0.and_utc()
    }
}

/// Parses `YYYY-MM-DDTHH<sep>MM`, then `:SS` when `seconds` is set.
fn parse_fields(s: &str, sep: u8, seconds: bool) -> Option<Timestamp> {
    let b = s.as_bytes();
    let len = if seconds { 19 } else { 16 };
    if b.len() != len
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != sep
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let second = if seconds {
        (b[16] == b':').then_some(())?;
        num(17..19)?
    } else {
        0
    };
    let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, second)?;
    Some(Timestamp::from_datetime(date.and_time(time).and_utc()))
}

impl FromStr for Timestamp {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        if let Ok(t) = Timestamp::from_label(s) {
            return Ok(t);
        }
        let body = s
            .strip_suffix(['Z', 'z'])
            .ok_or_else(|| Error::invalid(ValueKind::Timestamp, s, EXPECTED))?;
        parse_fields(body, b':', true)
            .or_else(|| parse_fields(body, b':', false))
            .ok_or_else(|| Error::invalid(ValueKind::Timestamp, s, EXPECTED))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:00Z",
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute()
        )
    }
}

serde_via_str!(Timestamp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_form_with_and_without_z() {
        let a = Timestamp::from_label("2024-01-15T14-30").unwrap();
        let b = Timestamp::from_label("2024-01-15T14-30Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.label(), "2024-01-15T14-30");
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "2024-02-30T10-00",
            "2024-01-15T24-00",
            "2024-01-15T14-60",
            "2024-1-15T14-30",
            "2024-01-15 14-30",
            "",
            "２024-01-15T14-30",
        ] {
            assert!(Timestamp::from_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_is_read_and_written() {
        let t: Timestamp = "2024-01-15T14:30:59Z".parse().unwrap();
        assert_eq!(t.to_string(), "2024-01-15T14:30:00Z");
        assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
    }
}
