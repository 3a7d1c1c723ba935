//! Slash commands in PR comments: `/circus <command>` or `/showtime <command>`.
//!
//! A command counts only at the start of a line (up to three spaces of
//! indentation, as Markdown allows), never inside fenced or indented code and
//! never in a `>` quote, so quoting someone's command does not repeat it.
//! Commands are case-insensitive. Parsing only reads: whether the author may
//! run a command is decided later, by policy.

use std::fmt;

use crate::Ttl;
use crate::config::{FeatureName, SizeName, Sizes};
use crate::error::{Error, excerpt};

/// The words that open a command line.
const PREFIXES: &[&str] = &["/circus", "/showtime"];

/// Every command with its arguments, for error messages and `help`.
pub(crate) const VALID_COMMANDS: &str = "refresh, extend [<ttl>], keep-alive, wake, status, destroy, \
                                  enable <FLAG>, disable <FLAG>, debug [on|off], size <name>, help";

/// One slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    /// Rebuild and redeploy the head commit.
    Refresh,
    /// Set the TTL (`extend 48h`).
    Extend(Ttl),
    /// Keep the environment until the PR closes (TTL `close`).
    KeepAlive,
    /// Wake the sleeping environment.
    Wake,
    /// Refresh the status comment.
    Status,
    /// Destroy the environment.
    Destroy,
    /// Turn a feature flag on.
    Enable(FeatureName),
    /// Turn a feature flag off.
    Disable(FeatureName),
    /// Debug mode on or off.
    Debug(bool),
    /// Resize the environment.
    Size(SizeName),
    /// Reply with the list of commands.
    Help,
}

impl fmt::Display for SlashCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlashCommand::Refresh => f.write_str("refresh"),
            SlashCommand::Extend(ttl) => write!(f, "extend {ttl}"),
            SlashCommand::KeepAlive => f.write_str("keep-alive"),
            SlashCommand::Wake => f.write_str("wake"),
            SlashCommand::Status => f.write_str("status"),
            SlashCommand::Destroy => f.write_str("destroy"),
            SlashCommand::Enable(name) => write!(f, "enable {name}"),
            SlashCommand::Disable(name) => write!(f, "disable {name}"),
            SlashCommand::Debug(on) => write!(f, "debug {}", if *on { "on" } else { "off" }),
            SlashCommand::Size(size) => write!(f, "size {size}"),
            SlashCommand::Help => f.write_str("help"),
        }
    }
}

/// How each command is written: name, usage, and how its argument is read.
struct Spec {
    name: &'static str,
    usage: &'static str,
    arg: Arg,
}

enum Arg {
    None(SlashCommand),
    Ttl,
    Feature(fn(FeatureName) -> SlashCommand),
    OnOff,
    Size,
}

const SPECS: &[Spec] = &[
    Spec {
        name: "refresh",
        usage: "/circus refresh",
        arg: Arg::None(SlashCommand::Refresh),
    },
    Spec {
        name: "extend",
        usage: "/circus extend [<ttl>] (e.g. 48h, 2d, 1w, close, manual; 24h when omitted)",
        arg: Arg::Ttl,
    },
    Spec {
        name: "keep-alive",
        usage: "/circus keep-alive",
        arg: Arg::None(SlashCommand::KeepAlive),
    },
    Spec {
        name: "wake",
        usage: "/circus wake",
        arg: Arg::None(SlashCommand::Wake),
    },
    Spec {
        name: "status",
        usage: "/circus status",
        arg: Arg::None(SlashCommand::Status),
    },
    Spec {
        name: "destroy",
        usage: "/circus destroy",
        arg: Arg::None(SlashCommand::Destroy),
    },
    Spec {
        name: "enable",
        usage: "/circus enable <FLAG>",
        arg: Arg::Feature(SlashCommand::Enable),
    },
    Spec {
        name: "disable",
        usage: "/circus disable <FLAG>",
        arg: Arg::Feature(SlashCommand::Disable),
    },
    Spec {
        name: "debug",
        usage: "/circus debug [on|off] (on when omitted)",
        arg: Arg::OnOff,
    },
    Spec {
        name: "size",
        usage: "/circus size <name>",
        arg: Arg::Size,
    },
    Spec {
        name: "help",
        usage: "/circus help",
        arg: Arg::None(SlashCommand::Help),
    },
];

/// Every command line in `body`, in order, each parsed or refused.
///
/// ```
/// use showtime_core::commands::{parse, SlashCommand};
/// use showtime_core::Sizes;
/// let body = "Thanks!\n/circus extend 48h\n> /circus destroy\n```\n/circus destroy\n```";
/// let commands = parse(body, &Sizes::default());
/// assert_eq!(commands.len(), 1);
/// assert_eq!(commands[0].as_ref().unwrap(), &SlashCommand::Extend("48h".parse().unwrap()));
/// ```
pub fn parse(body: &str, sizes: &Sizes) -> Vec<Result<SlashCommand, Error>> {
    command_lines(body)
        .map(|words| parse_words(&words, sizes))
        .collect()
}

/// The words after the prefix on each line that holds a command.
fn command_lines(body: &str) -> impl Iterator<Item = Vec<&str>> {
    let mut fence: Option<(char, usize)> = None;
    body.lines().filter_map(move |line| {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let text = line.trim_start_matches(' ');
        if let Some((ch, len)) = fence {
            let run = text.chars().take_while(|&c| c == ch).count();
            if indent <= 3 && run >= len && text[run * ch.len_utf8()..].trim().is_empty() {
                fence = None;
            }
            return None;
        }
        if indent > 3 || text.starts_with('\t') {
            return None; // indented code
        }
        for ch in ['`', '~'] {
            let run = text.chars().take_while(|&c| c == ch).count();
            if run >= 3 {
                fence = Some((ch, run));
                return None;
            }
        }
        let mut words = text.split_whitespace();
        let first = words.next()?;
        PREFIXES
            .iter()
            .any(|p| first.eq_ignore_ascii_case(p))
            .then(|| words.collect())
    })
}

fn parse_words(words: &[&str], sizes: &Sizes) -> Result<SlashCommand, Error> {
    let Some((name, args)) = words.split_first() else {
        return Err(Error::UnknownCommand {
            input: String::new(),
            valid: VALID_COMMANDS,
        });
    };
    let lower = name.to_ascii_lowercase();
    let spec = SPECS
        .iter()
        .find(|spec| spec.name == lower)
        .ok_or_else(|| Error::UnknownCommand {
            input: excerpt(name),
            valid: VALID_COMMANDS,
        })?;
    let bad = |problem: String| Error::BadCommandArgument {
        command: spec.name,
        problem,
        usage: spec.usage,
    };
    let arg = match (&spec.arg, args) {
        (Arg::None(command), []) => return Ok(command.clone()),
        (Arg::None(_), [extra, ..]) => {
            return Err(bad(format!("takes no argument, got `{}`", excerpt(extra))));
        }
        // The design's argument-less forms: `extend` adds a day, `debug`
        // turns debugging on.
        (Arg::Ttl, []) => return Ok(SlashCommand::Extend(Ttl::DAY)),
        (Arg::OnOff, []) => return Ok(SlashCommand::Debug(true)),
        (_, []) => return Err(bad("needs an argument".to_owned())),
        (_, [arg]) => *arg,
        (_, [_, extra, ..]) => {
            return Err(bad(format!(
                "takes one argument, got also `{}`",
                excerpt(extra)
            )));
        }
    };
    let reason = |err: Error| bad(err.to_string());
    match &spec.arg {
        Arg::None(command) => Ok(command.clone()),
        Arg::Ttl => arg
            .to_ascii_lowercase()
            .parse()
            .map(SlashCommand::Extend)
            .map_err(reason),
        Arg::Feature(make) => FeatureName::parse_any_case(arg).map(make).map_err(reason),
        Arg::OnOff => match arg.to_ascii_lowercase().as_str() {
            "on" => Ok(SlashCommand::Debug(true)),
            "off" => Ok(SlashCommand::Debug(false)),
            _ => Err(bad(format!(
                "expected `on` or `off`, got `{}`",
                excerpt(arg)
            ))),
        },
        Arg::Size => sizes.get(arg).map(SlashCommand::Size).map_err(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> Result<SlashCommand, Error> {
        let mut all = parse(body, &Sizes::default());
        assert_eq!(all.len(), 1, "{body:?} gave {all:?}");
        all.remove(0)
    }

    #[test]
    fn every_command_parses() {
        let cases = [
            ("/circus refresh", SlashCommand::Refresh),
            (
                "/circus extend 48h",
                SlashCommand::Extend("48h".parse().unwrap()),
            ),
            ("/circus keep-alive", SlashCommand::KeepAlive),
            ("/circus wake", SlashCommand::Wake),
            ("/circus status", SlashCommand::Status),
            ("/circus destroy", SlashCommand::Destroy),
            (
                "/circus enable ALERTS",
                SlashCommand::Enable("ALERTS".parse().unwrap()),
            ),
            (
                "/circus disable alerts",
                SlashCommand::Disable("ALERTS".parse().unwrap()),
            ),
            ("/circus debug on", SlashCommand::Debug(true)),
            ("/circus debug OFF", SlashCommand::Debug(false)),
            ("/circus debug", SlashCommand::Debug(true)),
            ("/circus extend", SlashCommand::Extend(Ttl::DAY)),
            (
                "/circus size large",
                SlashCommand::Size("large".parse().unwrap()),
            ),
            ("/circus help", SlashCommand::Help),
            ("/showtime refresh", SlashCommand::Refresh),
            ("/CIRCUS Refresh", SlashCommand::Refresh),
            ("   /circus status  ", SlashCommand::Status),
        ];
        for (body, expected) in cases {
            assert_eq!(one(body).unwrap(), expected, "{body}");
            assert_eq!(one(&format!("/circus {expected}")).unwrap(), expected);
        }
    }

    #[test]
    fn only_line_starts_outside_code_and_quotes_count() {
        let ignored = [
            "please run /circus refresh",
            "> /circus destroy",
            "```\n/circus destroy\n```",
            "~~~~\n/circus destroy\n```\n/circus destroy\n~~~~",
            "    /circus destroy",
            "\t/circus destroy",
            "/circusdestroy",
            "/circus-destroy",
        ];
        for body in ignored {
            assert!(parse(body, &Sizes::default()).is_empty(), "{body:?}");
        }
        let after_fence = "```\ncode\n```\n/circus status";
        assert_eq!(one(after_fence).unwrap(), SlashCommand::Status);
    }

    #[test]
    fn several_commands_in_order() {
        let all = parse(
            "/circus extend 2d\ntext\n/showtime enable ALERTS",
            &Sizes::default(),
        );
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[1].as_ref().unwrap(),
            &SlashCommand::Enable("ALERTS".parse().unwrap())
        );
    }

    #[test]
    fn errors_say_what_is_valid() {
        let unknown = one("/circus explode").unwrap_err().to_string();
        assert!(
            unknown.contains("explode") && unknown.contains("keep-alive"),
            "{unknown}"
        );
        let bare = one("/circus").unwrap_err();
        assert!(matches!(bare, Error::UnknownCommand { .. }));

        let cases = [
            ("/circus enable", "needs an argument"),
            ("/circus size", "needs an argument"),
            ("/circus extend forever", "52 weeks"),
            ("/circus extend 48h now", "takes one argument"),
            ("/circus refresh please", "takes no argument"),
            ("/circus enable alerts-x", "A-Z"),
            ("/circus debug maybe", "`on` or `off`"),
            ("/circus size huge", "small, medium, large, xlarge"),
        ];
        for (body, needle) in cases {
            let err = one(body).unwrap_err().to_string();
            assert!(err.contains(needle), "{body}: {err}");
            assert!(err.contains("usage: /circus"), "{body}: {err}");
        }
    }
}
