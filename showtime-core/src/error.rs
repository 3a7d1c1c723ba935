//! The one error type of `showtime-core`.
//!
//! Every constructor of a typed value, the slash-command parser and the JSON
//! reader report problems through [`Error`]. Each message names what was wrong
//! and what would have been accepted, so it can be shown to a user as is.

use std::fmt;

/// What went wrong while reading or building a Showtime value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value did not match its grammar.
    #[error("invalid {kind} `{input}`: expected {expected}")]
    InvalidValue {
        /// Which kind of value was being read.
        kind: ValueKind,
        /// The offending input, shortened when very long.
        input: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A size name is well formed but not one of the configured sizes.
    #[error("unknown size `{input}`: expected one of {valid}")]
    UnknownSize {
        /// The size that was asked for.
        input: String,
        /// The configured sizes, comma separated.
        valid: String,
    },
    /// A label built from valid values would exceed GitHub's name limit.
    #[error(
        "label `{label}` would be {len} characters long; GitHub allows at most {max}, \
         so this value cannot be stored (use a shorter value)"
    )]
    LabelTooLong {
        /// The label that would have been written.
        label: String,
        /// Its length in characters (Unicode scalar values).
        len: usize,
        /// GitHub's limit, [`crate::labels::MAX_LABEL_LEN`].
        max: usize,
    },
    /// A repository permission that is not one of GitHub's.
    #[error("unknown permission `{input}`: expected none, read, triage, write, maintain or admin")]
    UnknownPermission {
        /// The permission as written.
        input: String,
    },
    /// A `/circus` or `/showtime` line named no known command.
    #[error("unknown command `{input}`; valid commands: {valid}")]
    UnknownCommand {
        /// The command word as written.
        input: String,
        /// Every valid command with its arguments.
        valid: &'static str,
    },
    /// A known command with a missing, extra or malformed argument.
    #[error("`{command}`: {problem}; usage: {usage}")]
    BadCommandArgument {
        /// The command word.
        command: &'static str,
        /// What was wrong with the argument.
        problem: String,
        /// How the command is written.
        usage: &'static str,
    },
}

/// The kinds of value Showtime parses, named in [`Error::InvalidValue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueKind {
    /// [`crate::PrNumber`].
    PrNumber,
    /// [`crate::Sha`].
    Sha,
    /// [`crate::ShortSha`].
    ShortSha,
    /// [`crate::Status`].
    Status,
    /// [`crate::Ttl`].
    Ttl,
    /// [`crate::Timestamp`].
    Timestamp,
    /// [`crate::Address`].
    Address,
    /// [`crate::Login`].
    Login,
    /// [`crate::FeatureName`].
    FeatureName,
    /// [`crate::SizeName`].
    SizeName,
    /// [`crate::ConfCommand`].
    ConfCommand,
    /// A configuration item such as `debug` or `size-large`.
    ConfigItem,
    /// A trigger name in the JSON form of a label model.
    Trigger,
    /// A `FEATURE_<NAME>=<value>` line of a PR description.
    FeatureFlagLine,
    /// [`crate::labels::Dialect`].
    Dialect,
    /// The name of the legacy up-label.
    LegacyTrigger,
    /// [`crate::pr::CommentId`].
    CommentId,
    /// [`crate::Team`].
    Team,
    /// [`crate::schedule::Zone`].
    TimeZone,
    /// [`crate::schedule::QuietHours`].
    QuietHours,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::PrNumber => "pull request number",
            ValueKind::Sha => "commit SHA",
            ValueKind::ShortSha => "short commit SHA",
            ValueKind::Status => "status",
            ValueKind::Ttl => "time to live",
            ValueKind::Timestamp => "timestamp",
            ValueKind::Address => "address",
            ValueKind::Login => "GitHub login",
            ValueKind::FeatureName => "feature flag name",
            ValueKind::SizeName => "size name",
            ValueKind::ConfCommand => "configuration command",
            ValueKind::ConfigItem => "configuration item",
            ValueKind::Trigger => "trigger",
            ValueKind::FeatureFlagLine => "feature flag line",
            ValueKind::Dialect => "label dialect",
            ValueKind::LegacyTrigger => "legacy trigger label",
            ValueKind::CommentId => "comment id",
            ValueKind::Team => "team",
            ValueKind::TimeZone => "time zone",
            ValueKind::QuietHours => "quiet hours",
        })
    }
}

/// The longest stretch of user input quoted back in an error message.
const EXCERPT_CHARS: usize = 60;

impl Error {
    /// An [`Error::InvalidValue`] quoting (a bounded excerpt of) `input`.
    pub(crate) fn invalid(kind: ValueKind, input: &str, expected: &'static str) -> Self {
        Error::InvalidValue {
            kind,
            input: excerpt(input),
            expected,
        }
    }
}

/// Shortens untrusted input before it is echoed, so a 10,000-character label
/// cannot flood a log line or a PR comment.
pub(crate) fn excerpt(input: &str) -> String {
    let mut chars = input.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Implements `Serialize` through `Display` and `Deserialize` through
/// `FromStr<Err = Error>`, so every value has one textual form everywhere.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_shortened_in_messages() {
        let input = "x".repeat(10_000);
        let err = Error::invalid(ValueKind::Sha, &input, "7 to 40 lowercase hex digits");
        let text = err.to_string();
        assert!(text.len() < 200, "{text}");
        assert!(text.contains('…'));
    }
}
