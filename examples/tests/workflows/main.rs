//! The GitHub Actions workflows in `examples/workflows/`.
//!
//! Every `showtime` and `showtime-sweep` command their `run:` scripts
//! contain is parsed with the programs' own clap definitions, so a renamed
//! subcommand or flag breaks this test rather than a user's CI; and the
//! security properties the README promises (least privilege, one run per
//! PR, no PR code before authorization, no PR text in a shell) are checked
//! on the files themselves (`security`), which zizmor audits as well
//! (`scripts/check`).

#![allow(clippy::unwrap_used)]

mod security;
mod shell;

use serde_yaml_ng::Value;
use shell::check_script;

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

/// A workflow's text, comments included.
fn source(name: &str) -> String {
    let path = format!("{}/workflows/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load(name: &str) -> Value {
    serde_yaml_ng::from_str(&source(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
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

/// The job `id`.
fn job<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc.get("jobs")
        .and_then(|jobs| jobs.get(id))
        .unwrap_or_else(|| panic!("no job {id}"))
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
// The shape of the workflows.

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
    let check = job(&doc, "check");
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

#[test]
fn the_check_job_exposes_every_output() {
    let doc = load(PR_WORKFLOW);
    let check = job(&doc, "check");
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
