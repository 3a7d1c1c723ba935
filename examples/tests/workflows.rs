//! The GitHub Actions workflows in `examples/workflows/`.
//!
//! Every `showtime` and `showtime-sweep` command their `run:` scripts
//! contain is parsed with the programs' own clap definitions, so a renamed
//! subcommand or flag breaks this test rather than a user's CI; and the
//! security properties the README promises (least privilege, one run per
//! PR, no PR code before authorization, no PR text in a shell) are checked
//! on the files themselves.

#![allow(clippy::unwrap_used)]

use clap::Parser;
use serde_yaml_ng::Value;
use showtime_examples::Cli;
use showtime_examples::sweeper::SweepArgs;

/// The PR workflow.
const PR_WORKFLOW: &str = "showtime.yml";
/// The scheduled sweep.
const SWEEP_WORKFLOW: &str = "showtime-sweep.yml";
/// Every workflow shipped.
const WORKFLOWS: [&str; 2] = [PR_WORKFLOW, SWEEP_WORKFLOW];
/// The programs whose invocations are checked.
const PROGRAMS: [&str; 3] = ["showtime", "showtime-sweep", "showtime-webhook"];
/// A SHA for placeholders that stand for one.
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn load(name: &str) -> Value {
    let path = format!("{}/workflows/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A string field of a mapping, or "".
fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The `on:` section (YAML 1.1 readers see the key `on` as `true`).
fn triggers(doc: &Value) -> &Value {
    doc.get("on")
        .or_else(|| doc.as_mapping().and_then(|m| m.get(Value::Bool(true))))
        .unwrap()
}

/// `(job id, job)` for every job.
fn jobs(doc: &Value) -> Vec<(String, &Value)> {
    doc.get("jobs")
        .and_then(Value::as_mapping)
        .unwrap()
        .iter()
        .map(|(id, job)| (id.as_str().unwrap().to_owned(), job))
        .collect()
}

/// A job's steps.
fn steps(job: &Value) -> &[Value] {
    job.get("steps")
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// `(where, script)` for every `run:` of a workflow.
fn scripts(name: &str) -> Vec<(String, String)> {
    let doc = load(name);
    let mut found = Vec::new();
    for (id, job) in jobs(&doc) {
        for (i, step) in steps(job).iter().enumerate() {
            if let Some(run) = step.get("run").and_then(Value::as_str) {
                let step_name = step.get("name").and_then(Value::as_str).unwrap_or("");
                found.push((
                    format!("{name} job {id} step {i} ({step_name})"),
                    run.into(),
                ));
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------
// A small shell reader: enough of POSIX sh to find commands and their words.

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
struct Invocation {
    /// `showtime`, `showtime-sweep` or `showtime-webhook`.
    program: &'static str,
    /// argv, placeholders filled in.
    argv: Vec<String>,
}

/// Every call of a checked program in `script`.
fn invocations(script: &str) -> Vec<Invocation> {
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
fn check_script(script: &str) -> Result<Vec<Invocation>, Vec<String>> {
    let found = invocations(script);
    let errors: Vec<String> = found.iter().filter_map(|i| check(i).err()).collect();
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

// ---------------------------------------------------------------------------
// The commands.

#[test]
fn every_command_in_the_workflows_is_real() {
    let mut all = Vec::new();
    for name in WORKFLOWS {
        for (place, script) in scripts(name) {
            match check_script(&script) {
                Ok(found) => all.extend(found),
                Err(errors) => panic!("{place}:\n{}", errors.join("\n")),
            }
        }
    }
    let has = |program: &str, words: &[&str]| {
        all.iter()
            .any(|i| i.program == program && words.iter().all(|w| i.argv.iter().any(|a| a == w)))
    };
    assert!(has("showtime", &["sync", "--check-only"]), "{all:?}");
    assert!(has("showtime", &["sync", "--sha", SHA]), "{all:?}");
    assert!(has("showtime-sweep", &[]), "{all:?}");
    assert!(has("showtime-sweep", &["--dry-run"]), "{all:?}");
    assert!(!has("showtime-webhook", &[]), "{all:?}");
}

#[test]
fn the_checker_refuses_an_unknown_flag() {
    let errors = check_script("showtime sync 42 --no-such-flag").unwrap_err();
    assert!(errors[0].contains("--no-such-flag"), "{errors:?}");
    let errors = check_script("showtime-sweep --every 30m --no-such-flag").unwrap_err();
    assert!(errors[0].contains("--no-such-flag"), "{errors:?}");
}

#[test]
fn the_checker_refuses_an_unknown_subcommand_and_a_bad_value() {
    let errors = check_script("echo start\nshowtime frobnicate 42\n").unwrap_err();
    assert!(errors[0].contains("frobnicate"), "{errors:?}");
    assert!(check_script("showtime sync not-a-number").is_err());
    assert!(check_script("showtime sync 42 --event shove").is_err());
    assert!(check_script("showtime-webhook --listen 0.0.0.0:8080").is_err());
}

#[test]
fn the_checker_reads_shell_as_the_shell_does() {
    let script = "# showtime nonsense in a comment\n\
        echo showtime nonsense\n\
        env -i FOO=1 showtime sync \"${{ github.event.issue.number }}\" \\\n  \
        --sha '${{ needs.check.outputs.target_sha }}' --event \"$SYNC_EVENT\" || status=$?\n\
        if ./bin/showtime status \"$PR_NUMBER\" > out.txt 2>&1; then echo ok; fi\n";
    let found = check_script(script).unwrap();
    let argv: Vec<Vec<&str>> = found
        .iter()
        .map(|i| i.argv.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        argv,
        [
            vec!["showtime", "sync", "42", "--sha", SHA, "--event", "push"],
            vec!["showtime", "status", "42"],
        ]
    );
}

// ---------------------------------------------------------------------------
// Security.

#[test]
fn permissions_are_least_privilege() {
    for name in WORKFLOWS {
        let doc = load(name);
        let top = doc.get("permissions").unwrap_or_else(|| {
            panic!("{name}: no top-level permissions (the default token may write everything)")
        });
        let mut sections = vec![("top level".to_owned(), top)];
        for (id, job) in jobs(&doc) {
            if let Some(p) = job.get("permissions") {
                sections.push((format!("job {id}"), p));
            }
        }
        for (place, permissions) in sections {
            let map = permissions
                .as_mapping()
                .unwrap_or_else(|| panic!("{name} {place}: permissions must list each scope"));
            for (scope, level) in map {
                let (scope, level) = (scope.as_str().unwrap(), level.as_str().unwrap());
                assert_ne!(level, "write-all", "{name} {place}");
                let allowed = ["contents", "pull-requests", "issues", "id-token"];
                assert!(allowed.contains(&scope), "{name} {place}: {scope}");
                if scope == "contents" {
                    assert_eq!(level, "read", "{name} {place}: contents");
                }
            }
        }
    }
}

#[test]
fn one_run_per_pr_at_a_time() {
    let doc = load(PR_WORKFLOW);
    let concurrency = doc.get("concurrency").unwrap();
    let group = text(concurrency, "group");
    assert!(
        group.contains("github.event.pull_request.number"),
        "{group}"
    );
    assert!(group.contains("github.event.issue.number"), "{group}");
    assert_eq!(
        concurrency.get("cancel-in-progress"),
        Some(&Value::Bool(false))
    );
    let sweep = load(SWEEP_WORKFLOW);
    assert!(!text(sweep.get("concurrency").unwrap(), "group").is_empty());
}

#[test]
fn the_pr_workflow_listens_to_the_documented_events() {
    let doc = load(PR_WORKFLOW);
    let on = triggers(&doc);
    let types = |event: &str| -> Vec<&str> {
        on.get(event)
            .and_then(|e| e.get("types"))
            .and_then(Value::as_sequence)
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect()
    };
    assert_eq!(
        types("pull_request_target"),
        [
            "labeled",
            "unlabeled",
            "synchronize",
            "closed",
            "reopened",
            "edited"
        ]
    );
    assert_eq!(types("issue_comment"), ["created"]);
    assert!(on.get("pull_request").is_none());
    let check = doc.get("jobs").and_then(|j| j.get("check")).unwrap();
    let condition = text(check, "if");
    assert!(
        condition.contains("github.event.issue.pull_request"),
        "{condition}"
    );
    assert!(condition.contains("'/circus'"), "{condition}");
    let sweep = load(SWEEP_WORKFLOW);
    let on = triggers(&sweep);
    assert!(on.get("schedule").is_some() && on.get("workflow_dispatch").is_some());
}

/// Whether a checkout step takes something other than the event's default
/// ref (the base branch for `pull_request_target`, the default branch for
/// `issue_comment` and schedules): the PR's code.
fn checks_out_pr_code(step: &Value) -> bool {
    let Some(with) = step.get("with") else {
        return false;
    };
    with.get("ref").is_some() || with.get("repository").is_some()
}

#[test]
fn pr_code_is_checked_out_only_after_authorization() {
    let mut pr_checkouts = 0;
    for name in WORKFLOWS {
        let doc = load(name);
        for (id, job) in jobs(&doc) {
            for step in steps(job) {
                if !text(step, "uses").starts_with("actions/checkout@") {
                    continue;
                }
                let with = step.get("with").unwrap();
                assert_eq!(
                    with.get("persist-credentials"),
                    Some(&Value::Bool(false)),
                    "{name} job {id}: a checkout must not leave the token in .git/config"
                );
                if !checks_out_pr_code(step) {
                    continue;
                }
                pr_checkouts += 1;
                let needs = match job.get("needs") {
                    Some(Value::String(one)) => vec![one.as_str()],
                    Some(Value::Sequence(many)) => many.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                assert!(needs.contains(&"check"), "{name} job {id} needs {needs:?}");
                let condition = text(job, "if").replace('"', "'");
                assert!(
                    condition.contains("needs.check.outputs.auth_status == 'authorized'"),
                    "{name} job {id} checks out PR code under `if: {condition}`"
                );
                assert!(!condition.contains("||"), "{name} job {id}: {condition}");
                assert!(
                    text(with, "ref").contains("needs.check.outputs.target_sha"),
                    "{name} job {id}: check out the commit that was checked"
                );
            }
        }
    }
    assert_eq!(pr_checkouts, 1, "exactly one job builds the PR's code");
    // The check job itself runs nothing from the PR, and decides with
    // `--check-only`.
    let doc = load(PR_WORKFLOW);
    let check = doc.get("jobs").and_then(|j| j.get("check")).unwrap();
    assert!(!steps(check).iter().any(checks_out_pr_code));
    let runs: Vec<Invocation> = steps(check)
        .iter()
        .filter_map(|s| s.get("run").and_then(Value::as_str))
        .flat_map(invocations)
        .collect();
    assert!(
        runs.iter()
            .all(|i| i.argv.iter().any(|a| a == "--check-only")),
        "{runs:?}"
    );
}

#[test]
fn the_check_job_exposes_every_output() {
    let doc = load(PR_WORKFLOW);
    let check = doc.get("jobs").and_then(|j| j.get("check")).unwrap();
    let outputs = check.get("outputs").unwrap();
    for key in showtime_runtime::actions::CHECK_KEYS {
        let value = text(outputs, key);
        assert_eq!(
            value,
            format!("${{{{ steps.check.outputs.{key} }}}}"),
            "{key}"
        );
    }
}

#[test]
fn no_pr_text_reaches_a_shell() {
    const UNTRUSTED: [&str; 9] = [
        "github.event.comment.body",
        "github.event.pull_request.title",
        "github.event.pull_request.body",
        "github.event.pull_request.head.ref",
        "github.event.pull_request.head.label",
        "github.event.issue.title",
        "github.event.issue.body",
        "github.head_ref",
        "head_ref",
    ];
    for name in WORKFLOWS {
        for (place, script) in scripts(name) {
            for bad in UNTRUSTED {
                assert!(!script.contains(bad), "{place} uses {bad} in a script");
            }
            // Every value reaches a script through `env:`, quoted by the shell.
            assert!(!script.contains("${{"), "{place}: pass values through env:");
        }
    }
}

#[test]
fn aws_credentials_come_from_oidc() {
    for name in WORKFLOWS {
        let doc = load(name);
        assert_eq!(
            text(doc.get("permissions").unwrap(), "id-token"),
            "write",
            "{name}"
        );
        for (id, job) in jobs(&doc) {
            for step in steps(job) {
                if text(step, "uses").starts_with("aws-actions/configure-aws-credentials@") {
                    let with = step.get("with").unwrap();
                    assert!(with.get("role-to-assume").is_some(), "{name} job {id}");
                    assert!(with.get("aws-access-key-id").is_none(), "{name} job {id}");
                }
            }
        }
    }
}
