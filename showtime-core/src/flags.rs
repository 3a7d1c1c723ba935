//! Feature flags in a PR description: `FEATURE_<NAME>=<value>` lines.
//!
//! As superset-showtime reads them, a line of the description (trimmed, and
//! optionally wrapped in backticks) that starts with `FEATURE_` sets a flag;
//! the value is `true`, `false`, `1`, `0`, `yes` or `no`, in any case. Later
//! lines win. A line that starts with `FEATURE_` but does not parse is
//! reported, not ignored, so a typo does not silently change nothing.
//!
//! When they apply: a new environment starts with the description's flags
//! (a trigger's or command's configuration of the same request on top), and
//! an edit of the description ([`Event::DescriptionEdited`]) applies the
//! flags that differ from the labels as a configuration change. Between
//! edits the labels are the record and commands change them (`/circus
//! disable X` sticks until the description is edited again): the latest
//! change wins.
//!
//! [`Event::DescriptionEdited`]: crate::plan::Event::DescriptionEdited

use std::collections::BTreeMap;

use crate::config::FeatureName;
use crate::error::{Error, ValueKind};

/// The flags a description sets, and the lines that looked like flags but
/// were not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescriptionFlags {
    /// Each flag with its value; the last line for a flag wins.
    pub flags: BTreeMap<FeatureName, bool>,
    /// One error per malformed `FEATURE_` line.
    pub errors: Vec<Error>,
}

const EXPECTED: &str = "`FEATURE_<NAME>=<value>` with NAME of 1 to 40 of A-Z, 0-9 and _ \
                        and value true, false, 1, 0, yes or no";

/// Reads the `FEATURE_<NAME>=<value>` lines of a PR description.
///
/// ```
/// use showtime_core::flags::from_description;
/// let found = from_description("Adds alerts.\n\nFEATURE_ALERT_REPORTS=true\nFEATURE_X=maybe");
/// assert_eq!(found.flags.len(), 1);
/// assert_eq!(found.errors.len(), 1);
/// ```
pub fn from_description(body: &str) -> DescriptionFlags {
    let mut out = DescriptionFlags::default();
    for line in body.lines() {
        let line = line.trim();
        let line = line
            .strip_prefix('`')
            .and_then(|l| l.strip_suffix('`'))
            .unwrap_or(line)
            .trim();
        let Some(rest) = line.strip_prefix("FEATURE_") else {
            continue;
        };
        match parse_assignment(rest) {
            Some((name, on)) => {
                out.flags.insert(name, on);
            }
            None => out
                .errors
                .push(Error::invalid(ValueKind::FeatureFlagLine, line, EXPECTED)),
        }
    }
    out
}

fn parse_assignment(rest: &str) -> Option<(FeatureName, bool)> {
    let (name, value) = rest.split_once('=')?;
    let name: FeatureName = name.trim().parse().ok()?;
    let on = match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => true,
        "false" | "0" | "no" => false,
        _ => return None,
    };
    Some((name, on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_value() {
        let body = "FEATURE_A=true\nFEATURE_B=1\nFEATURE_C=yes\nFEATURE_D=FALSE\nFEATURE_E=0\nFEATURE_F=No";
        let found = from_description(body);
        assert!(found.errors.is_empty());
        let values: Vec<bool> = found.flags.values().copied().collect();
        assert_eq!(values, [true, true, true, false, false, false]);
    }

    #[test]
    fn decorations_and_last_line_wins() {
        let found = from_description("  `FEATURE_ALERTS = true`  \r\nFEATURE_ALERTS=false\n");
        assert!(!found.flags[&"ALERTS".parse::<FeatureName>().unwrap()]);
    }

    #[test]
    fn malformed_lines_are_reported_and_prose_ignored() {
        let found = from_description(
            "We use FEATURE_X=true here.\nFEATURE_=true\nFEATURE_lower=true\nFEATURE_X=on\nFEATURE_X",
        );
        assert!(found.flags.is_empty());
        assert_eq!(found.errors.len(), 4);
        assert!(
            found.errors[0]
                .to_string()
                .contains("true, false, 1, 0, yes or no")
        );
    }
}
