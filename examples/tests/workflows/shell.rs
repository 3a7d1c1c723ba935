//! A small shell reader: enough of POSIX sh to find the `showtime` and
//! `showtime-sweep` commands of a `run:` script and their words, and to
//! parse each with the program's own clap definition.

use clap::Parser;
use showtime_examples::Cli;
use showtime_examples::sweeper::SweepArgs;

use crate::{PROGRAMS, SHA};

/// One piece of a shell word.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    /// Literal text.
    Lit(String),
    /// `$NAME` or `${NAME…}`: the variable's name.
    Var(String),
    /// `${{ … }}` (filled in by Actions before the shell runs) or `$( … )`.
    Expr(String),
}

/// What the reader sees.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A word, made of parts.
    Word(Vec<Part>),
    /// A redirection (`>`, `>>`, `<`): the next word is its target.
    Redirect,
    /// Something that ends a command: a newline, `;`, `&`, `|`, `&&`, `||`,
    /// a parenthesis.
    End,
}

/// Reads `$…` after the dollar sign.
fn dollar(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Part {
    let mut rest = chars.clone();
    if rest.next() == Some('{') && rest.next() == Some('{') {
        chars.next();
        chars.next();
        let mut inner = String::new();
        while let Some(c) = chars.next() {
            if c == '}' && chars.peek() == Some(&'}') {
                chars.next();
                break;
            }
            inner.push(c);
        }
        return Part::Expr(inner.trim().to_owned());
    }
    match chars.peek().copied() {
        Some('{') => {
            chars.next();
            let inner: String = chars.by_ref().take_while(|&c| c != '}').collect();
            let name = inner
                .trim_start_matches('#')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            Part::Var(name)
        }
        Some('(') => {
            chars.next();
            let mut depth = 1;
            let mut inner = String::new();
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                inner.push(c);
            }
            Part::Expr(inner)
        }
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if !(c.is_ascii_alphanumeric() || c == '_') {
                    break;
                }
                name.push(c);
                chars.next();
            }
            Part::Var(name)
        }
        Some(c) if c.is_ascii_digit() || "?#@*$!-".contains(c) => {
            chars.next();
            Part::Var(c.to_string())
        }
        _ => Part::Lit("$".into()),
    }
}

/// Splits a script into tokens: quotes, escapes, line continuations,
/// comments, `$VAR`, `$(…)` and `${{ … }}` (one opaque part, even with
/// spaces or inside single quotes, as Actions fills it in first).
fn lex(script: &str) -> Vec<Token> {
    let script = script.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut tokens = Vec::new();
    let mut word: Vec<Part> = Vec::new();
    let mut started = false;
    let mut chars = script.chars().peekable();
    let push_lit = |word: &mut Vec<Part>, c: char| match word.last_mut() {
        Some(Part::Lit(s)) => s.push(c),
        _ => word.push(Part::Lit(c.to_string())),
    };
    let end_word = |tokens: &mut Vec<Token>, word: &mut Vec<Part>, started: &mut bool| {
        if *started {
            tokens.push(Token::Word(std::mem::take(word)));
            *started = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' => end_word(&mut tokens, &mut word, &mut started),
            '\n' | ';' | '&' | '|' | '(' | ')' => {
                end_word(&mut tokens, &mut word, &mut started);
                if (c == '&' || c == '|' || c == ';') && chars.peek() == Some(&c) {
                    chars.next();
                }
                tokens.push(Token::End);
            }
            '>' | '<' => {
                // `2>` : the digits name a file descriptor, not a word.
                let fd = matches!(word.as_slice(), [Part::Lit(s)] if s.chars().all(|c| c.is_ascii_digit()));
                if fd {
                    word.clear();
                    started = false;
                }
                end_word(&mut tokens, &mut word, &mut started);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                if chars.peek() == Some(&'&') {
                    // `>&2`: a descriptor, not a file name follows.
                    chars.next();
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    continue;
                }
                tokens.push(Token::Redirect);
            }
            '#' if !started => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        tokens.push(Token::End);
                        break;
                    }
                }
            }
            '\\' => {
                started = true;
                if let Some(next) = chars.next() {
                    push_lit(&mut word, next);
                }
            }
            '\'' => {
                started = true;
                while let Some(c) = chars.next() {
                    match c {
                        '\'' => break,
                        '$' if chars.clone().take(2).eq("{{".chars()) => {
                            word.push(dollar(&mut chars));
                        }
                        _ => push_lit(&mut word, c),
                    }
                }
            }
            '"' => {
                started = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => push_lit(&mut word, e),
                            Some('\n') | None => {}
                            Some(other) => {
                                push_lit(&mut word, '\\');
                                push_lit(&mut word, other);
                            }
                        },
                        '$' => word.push(dollar(&mut chars)),
                        _ => push_lit(&mut word, c),
                    }
                }
            }
            '$' => {
                started = true;
                word.push(dollar(&mut chars));
            }
            _ => {
                started = true;
                push_lit(&mut word, c);
            }
        }
    }
    end_word(&mut tokens, &mut word, &mut started);
    tokens
}

/// A plausible value for a variable or an expression, from its name: the
/// workflows name their values for what they hold.
fn placeholder(name: &str) -> &'static str {
    let name = name.to_ascii_lowercase();
    if name.contains("sha") {
        SHA
    } else if name.contains("number") || name == "pr" || name.ends_with("_pr") {
        "42"
    } else if name.contains("event") {
        "push"
    } else if name.contains("actor") || name.contains("login") {
        "octocat"
    } else if name.contains("config") {
        "showtime.toml"
    } else if name.contains("ttl") || name.contains("older") || name.contains("every") {
        "48h"
    } else {
        "x"
    }
}

/// A word with every placeholder filled in.
fn fill(word: &[Part]) -> String {
    word.iter()
        .map(|part| match part {
            Part::Lit(s) => s.as_str(),
            Part::Var(name) | Part::Expr(name) => placeholder(name),
        })
        .collect()
}

/// The literal text of a word, if it has no placeholder.
fn literal(word: &[Part]) -> Option<String> {
    word.iter()
        .map(|part| match part {
            Part::Lit(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

/// Words that may come before the command itself.
const PREFIXES: [&str; 11] = [
    "if", "then", "else", "elif", "do", "while", "until", "!", "time", "exec", "command",
];

/// One call of a checked program.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Invocation {
    /// `showtime`, `showtime-sweep` or `showtime-webhook`.
    pub(crate) program: &'static str,
    /// argv, placeholders filled in.
    pub(crate) argv: Vec<String>,
}

/// Every call of a checked program in `script`.
pub(crate) fn invocations(script: &str) -> Vec<Invocation> {
    let mut commands: Vec<Vec<Vec<Part>>> = vec![Vec::new()];
    let mut redirect = false;
    for token in lex(script) {
        match token {
            Token::End => commands.push(Vec::new()),
            Token::Redirect => redirect = true,
            Token::Word(_) if redirect => redirect = false,
            Token::Word(word) => commands.last_mut().unwrap().push(word),
        }
    }
    let mut found = Vec::new();
    for command in commands {
        let mut words = command.as_slice();
        let mut after_env = false;
        while let Some((first, rest)) = words.split_first() {
            let lit = literal(first);
            let is_assignment = match first.first() {
                Some(Part::Lit(s)) => s.split_once('=').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                }),
                _ => false,
            };
            let skip = is_assignment
                || lit.as_deref().is_some_and(|w| PREFIXES.contains(&w))
                || (after_env && lit.as_deref().is_some_and(|w| w.starts_with('-')));
            if lit.as_deref() == Some("env") {
                after_env = true;
            } else if !skip {
                break;
            }
            words = rest;
        }
        let Some(program) = words.first().and_then(|w| literal(w)) else {
            continue;
        };
        let base = program.rsplit('/').next().unwrap_or_default();
        if let Some(program) = PROGRAMS.iter().find(|p| **p == base) {
            let mut argv: Vec<String> = words.iter().map(|w| fill(w)).collect();
            argv[0] = (*program).to_owned();
            found.push(Invocation { program, argv });
        }
    }
    found
}

/// Whether clap accepts an invocation, with the error if not.
fn check(invocation: &Invocation) -> Result<(), String> {
    let result = match invocation.program {
        "showtime" => Cli::try_parse_from(&invocation.argv).map(drop),
        "showtime-sweep" => SweepArgs::try_parse_from(&invocation.argv).map(drop),
        _ => {
            return Err(format!(
                "{} is a server, not a workflow step",
                invocation.program
            ));
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(format!("`{}`: {e}", invocation.argv.join(" "))),
    }
}

/// Every invocation in `script` that clap refuses, with why.
pub(crate) fn check_script(script: &str) -> Result<Vec<Invocation>, Vec<String>> {
    let found = invocations(script);
    let errors: Vec<String> = found.iter().filter_map(|i| check(i).err()).collect();
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}
