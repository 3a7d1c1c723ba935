//! The sleep schedule: when an environment that nobody uses is scaled to
//! zero (`[sleep]` in `showtime.toml`).
//!
//! Two rules, either of which puts an environment to sleep at a sweep:
//!
//! * **idle**: nothing happened on its PR for [`SleepSchedule::after_idle`];
//! * **quiet time**: it is within the quiet hours or a weekend, in the
//!   schedule's time zone, and nothing happened on the PR since that quiet
//!   time began. Someone who wakes an environment at night keeps it awake
//!   until the next quiet time (or until it is idle); nothing wakes at the
//!   end of a quiet time by itself: people wake what they use.
//!
//! "Something happened" is the PR's last activity as the PR host reports it
//! (GitHub's `updated_at`: a push, a comment, a label change, an edit) or the
//! environment's creation, whichever is later. This module only computes;
//! the planner decides with it. Time zones come from jiff's bundled tz
//! database, so quiet hours follow daylight saving time and nothing is read
//! from disk.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

use crate::error::{Error, ValueKind};

/// When environments go to sleep.
#[derive(Debug, Clone, PartialEq)]
pub struct SleepSchedule {
    /// Asleep after this long without activity; `None`: never for idleness.
    pub after_idle: Option<chrono::Duration>,
    /// Asleep every day between these local times.
    pub quiet_hours: Option<QuietHours>,
    /// Asleep all Saturday and Sunday (local time).
    pub weekends: bool,
    /// The time zone of `quiet_hours` and `weekends`.
    pub time_zone: Zone,
}

/// A time zone by its IANA name (`Europe/Paris`), or UTC.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// UTC.
    pub fn utc() -> Self {
        Zone {
            name: "UTC".to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// Its IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::utc()
    }
}

impl FromStr for Zone {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let tz = TimeZone::get(s).map_err(|_| {
            Error::invalid(
                ValueKind::TimeZone,
                s,
                "an IANA time zone name such as `Europe/Paris`, `America/New_York` or `UTC`",
            )
        })?;
        Ok(Zone {
            name: s.to_owned(),
            tz,
        })
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Local quiet hours, `HH:MM-HH:MM`; a window that ends before it starts
/// runs past midnight (`20:00-07:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: Time,
    end: Time,
}

impl FromStr for QuietHours {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                ValueKind::QuietHours,
                s,
                "`HH:MM-HH:MM` in 24-hour time, e.g. `20:00-07:00`",
            )
        };
        let (start, end) = s.split_once('-').ok_or_else(bad)?;
        let time = |t: &str| -> Result<Time, Error> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let ok = h.len() == 2 && m.len() == 2;
            let (h, m) = (
                h.parse::<i8>().map_err(|_| bad())?,
                m.parse::<i8>().map_err(|_| bad())?,
            );
            if !ok {
                return Err(bad());
            }
            Time::new(h, m, 0, 0).map_err(|_| bad())
        };
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(bad());
        }
        Ok(QuietHours { start, end })
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start.hour(),
            self.start.minute(),
            self.end.hour(),
            self.end.minute()
        )
    }
}

/// Why an environment is put to sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SleepReason {
    /// Nothing happened for this long.
    Idle(chrono::Duration),
    /// Within the quiet hours.
    QuietHours,
    /// A weekend.
    Weekend,
}

impl fmt::Display for SleepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SleepReason::Idle(d) => {
                let minutes = d.num_minutes();
                if minutes >= 60 {
                    write!(f, "idle for {}h {:02}m", minutes / 60, minutes % 60)
                } else {
                    write!(f, "idle for {minutes}m")
                }
            }
            SleepReason::QuietHours => f.write_str("quiet hours"),
            SleepReason::Weekend => f.write_str("weekend"),
        }
    }
}

impl SleepSchedule {
    /// Whether, and why, an environment whose PR last saw activity at
    /// `last_activity` goes to sleep at `now`.
    pub fn due(&self, now: DateTime<Utc>, last_activity: DateTime<Utc>) -> Option<SleepReason> {
        if let Some(window) = self.quiet_since(now) {
            if last_activity < window.0 {
                return Some(window.1);
            }
        }
        let idle = now - last_activity;
        self.after_idle
            .filter(|after| idle >= *after)
            .map(|_| SleepReason::Idle(idle))
    }

    /// When the quiet time that `now` is in began, in UTC, and which rule
    /// it is; the earliest start when a quiet night runs into a weekend.
    fn quiet_since(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, SleepReason)> {
        let ts = jiff::Timestamp::from_second(now.timestamp()).ok()?;
        let local = ts.to_zoned(self.time_zone.tz.clone());
        let (date, time) = (local.date(), local.time());
        let mut starts: Vec<(jiff::civil::DateTime, SleepReason)> = Vec::new();
        if let Some(q) = self.quiet_hours {
            let start_day = if q.start < q.end {
                (q.start <= time && time < q.end).then_some(date)
            } else if time >= q.start {
                Some(date)
            } else if time < q.end {
                date.yesterday().ok()
            } else {
                None
            };
            if let Some(day) = start_day {
                starts.push((day.to_datetime(q.start), SleepReason::QuietHours));
            }
        }
        if self.weekends {
            let saturday = match date.weekday() {
                Weekday::Saturday => Some(date),
                Weekday::Sunday => date.yesterday().ok(),
                _ => None,
            };
            if let Some(day) = saturday {
                starts.push((day.to_datetime(Time::midnight()), SleepReason::Weekend));
            }
        }
        starts
            .into_iter()
            .filter_map(|(civil, reason)| {
                // A local time in a DST gap is taken as the instant after it.
                let zoned = civil.to_zoned(self.time_zone.tz.clone()).ok()?;
                let at = DateTime::from_timestamp(zoned.timestamp().as_second(), 0)?;
                Some((at, reason))
            })
            .min_by_key(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn paris_nights() -> SleepSchedule {
        SleepSchedule {
            after_idle: None,
            quiet_hours: Some("20:00-07:00".parse().unwrap()),
            weekends: false,
            time_zone: "Europe/Paris".parse().unwrap(),
        }
    }

    #[test]
    fn quiet_hours_follow_daylight_saving_time() {
        let s = paris_nights();
        let long_ago = utc(2024, 1, 1, 0, 0);
        // Winter: Paris is UTC+1, so 20:00 there is 19:00 UTC.
        assert_eq!(s.due(utc(2024, 1, 16, 18, 59), long_ago), None);
        assert_eq!(
            s.due(utc(2024, 1, 16, 19, 0), long_ago),
            Some(SleepReason::QuietHours)
        );
        // Summer: UTC+2, so 20:00 there is 18:00 UTC.
        assert_eq!(
            s.due(utc(2024, 7, 16, 18, 0), long_ago),
            Some(SleepReason::QuietHours)
        );
        // The morning ends it: 07:00 in summer is 05:00 UTC.
        assert_eq!(s.due(utc(2024, 7, 17, 5, 0), long_ago), None);
        assert_eq!(
            s.due(utc(2024, 7, 17, 4, 59), long_ago),
            Some(SleepReason::QuietHours)
        );
    }

    #[test]
    fn activity_within_the_quiet_time_keeps_it_awake() {
        let s = paris_nights();
        // Woken at 22:00 Paris (21:00 UTC, winter): not put back to sleep
        // that night.
        assert_eq!(
            s.due(utc(2024, 1, 16, 23, 0), utc(2024, 1, 16, 21, 0)),
            None
        );
        // The next night, it sleeps.
        assert_eq!(
            s.due(utc(2024, 1, 17, 19, 30), utc(2024, 1, 16, 21, 0)),
            Some(SleepReason::QuietHours)
        );
    }

    #[test]
    fn weekends_count_in_the_time_zone() {
        let s = SleepSchedule {
            after_idle: None,
            quiet_hours: None,
            weekends: true,
            time_zone: "America/New_York".parse().unwrap(),
        };
        let friday = utc(2024, 1, 19, 12, 0);
        // Saturday 01:00 UTC is still Friday 20:00 in New York.
        assert_eq!(s.due(utc(2024, 1, 20, 1, 0), friday), None);
        assert_eq!(
            s.due(utc(2024, 1, 20, 6, 0), friday),
            Some(SleepReason::Weekend)
        );
        assert_eq!(
            s.due(utc(2024, 1, 21, 20, 0), friday),
            Some(SleepReason::Weekend)
        );
        assert_eq!(s.due(utc(2024, 1, 22, 6, 0), friday), None);
    }

    #[test]
    fn idleness_counts_from_the_last_activity() {
        let s = SleepSchedule {
            after_idle: Some(chrono::Duration::hours(8)),
            quiet_hours: None,
            weekends: false,
            time_zone: Zone::utc(),
        };
        let last = utc(2024, 1, 16, 9, 0);
        assert_eq!(s.due(utc(2024, 1, 16, 16, 59), last), None);
        assert_eq!(
            s.due(utc(2024, 1, 16, 17, 0), last),
            Some(SleepReason::Idle(chrono::Duration::hours(8)))
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "20:00",
            "20-07",
            "25:00-07:00",
            "20:00-20:00",
            "8:00-17:00",
            "",
        ] {
            assert!(bad.parse::<QuietHours>().is_err(), "{bad}");
        }
        assert_eq!(
            "09:30-17:00".parse::<QuietHours>().unwrap().to_string(),
            "09:30-17:00"
        );
        assert!("Mars/Olympus".parse::<Zone>().is_err());
        assert_eq!("UTC".parse::<Zone>().unwrap().name(), "UTC");
    }
}
