//! End-to-end tests of the `showtime` binary: arguments in, standard input
//! piped, exit code and output checked.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// What one run of the binary gave back.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `showtime args…` with `stdin` piped in.
fn showtime(args: &[&str], stdin: &[u8]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_showtime"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the showtime binary starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    // Write from another thread so a large input cannot deadlock on a full
    // output pipe.
    let writer = std::thread::spawn(move || {
        // The binary may exit before reading everything (usage errors).
        let _ = pipe.write_all(&input);
    });
    let output = child
        .wait_with_output()
        .expect("the showtime binary finishes");
    writer.join().expect("the stdin writer finishes");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Asserts a successful run and returns its standard output.
fn success(args: &[&str], stdin: &[u8]) -> String {
    let out = showtime(args, stdin);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stderr.is_empty(), "stderr: {}", out.stderr);
    out.stdout
}

/// Asserts a bad-input failure (exit 2, `error:` on stderr, no panic) and
/// returns its standard error.
fn bad_input(args: &[&str], stdin: &[u8]) -> String {
    let out = showtime(args, stdin);
    assert_eq!(
        out.code,
        Some(2),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.starts_with("error:"), "stderr: {}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "stderr: {}", out.stderr);
    out.stderr
}

/// Labels as superset-showtime 0.5+ writes them, plus a label of the user's.
const PER_SHA: &str = "🎪 abc123f 🚦 running\n\
                       🎪 abc123f 📅 2024-01-15T14-30\n\
                       🎪 abc123f 🌐 52.1.2.3:8080\n\
                       🎪 abc123f 🤡 maxime\n\
                       🎪 🎯 abc123f\n\
                       🎪 ⌛ 48h\n\
                       bug\n";

fn parse_json(labels: &str) -> Value {
    let stdout = success(&["labels", "parse", "--json"], labels.as_bytes());
    serde_json::from_str(&stdout).expect("parse --json prints JSON")
}

#[test]
fn parse_json_reads_superset_showtime_per_sha_labels() {
    let json = parse_json(PER_SHA);
    let env = &json["environments"][0];
    assert_eq!(env["sha"], "abc123f");
    assert_eq!(env["status"], "running");
    assert_eq!(env["address"], "52.1.2.3:8080");
    assert_eq!(env["created_at"], "2024-01-15T14:30:00Z");
    assert_eq!(env["requested_by"], "maxime");
    assert_eq!(json["environments"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["active_sha"], "abc123f");
    assert_eq!(json["building_sha"], Value::Null);
    assert_eq!(json["ttl"], "48h");
    assert_eq!(json["other_labels"], serde_json::json!(["bug"]));
    assert_eq!(json["anomalies"], serde_json::json!([]));
}

#[test]
fn parse_accepts_crlf_and_blank_lines() {
    let crlf = PER_SHA.replace('\n', "\r\n\r\n");
    assert_eq!(parse_json(&crlf), parse_json(PER_SHA));
}

#[test]
fn parse_summary_shows_the_environment_for_people() {
    let text = success(&["labels", "parse"], PER_SHA.as_bytes());
    assert!(text.contains("http://52.1.2.3:8080"), "{text}");
    assert!(text.contains("abc123f"), "{text}");
    assert!(text.contains("running"), "{text}");
    assert!(text.contains("maxime"), "{text}");
    assert!(text.contains("48h"), "{text}");
    assert!(text.contains("bug"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colours: {text}");
}

#[test]
fn parse_summary_lists_anomalies() {
    let text = success(
        &["labels", "parse"],
        "🎪 🎯 abc123f\n🎪 🎯 def4567\n".as_bytes(),
    );
    assert!(text.contains("conflict"), "{text}");
    assert!(text.contains("🎪 🎯 def4567"), "{text}");
}

#[test]
fn seed_encoding_round_trips_through_json() {
    let labels = PER_SHA.replace("bug\n", "");
    let first = success(&["labels", "parse", "--json"], labels.as_bytes());
    let seed = success(&["labels", "encode", "--dialect", "seed"], first.as_bytes());
    assert!(seed.lines().any(|l| l == "🎪 🚦 running"), "{seed}");
    let second = success(&["labels", "parse", "--json"], seed.as_bytes());
    let first: Value = serde_json::from_str(&first).unwrap();
    let second: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(first, second);
}

#[test]
fn seed_is_the_default_dialect() {
    let json = success(&["labels", "parse", "--json"], PER_SHA.as_bytes());
    let default = success(&["labels", "encode"], json.as_bytes());
    let seed = success(&["labels", "encode", "--dialect", "seed"], json.as_bytes());
    assert_eq!(default, seed);
}

#[test]
fn per_sha_encoding_writes_superset_showtime_labels() {
    let json = success(&["labels", "parse", "--json"], PER_SHA.as_bytes());
    let labels = success(
        &["labels", "encode", "--dialect", "per-sha"],
        json.as_bytes(),
    );
    let lines: Vec<&str> = labels.lines().collect();
    assert!(lines.contains(&"🎪 abc123f 🚦 running"), "{labels}");
    assert!(lines.contains(&"🎪 abc123f 🌐 52.1.2.3:8080"), "{labels}");
    assert!(lines.contains(&"🎪 🎯 abc123f"), "{labels}");
    assert!(
        !lines.contains(&"bug"),
        "other labels are not written: {labels}"
    );
}

#[test]
fn malformed_json_is_refused_with_exit_2() {
    let stderr = bad_input(&["labels", "encode"], b"{\"ttl\": ");
    assert!(stderr.contains("line 1"), "{stderr}");
    bad_input(&["labels", "encode"], b"");
    bad_input(&["labels", "encode"], b"{\"unknown_field\": 1}");
}

#[test]
fn invalid_value_in_json_is_refused_with_exit_2() {
    let stderr = bad_input(&["labels", "encode"], br#"{"ttl": "forever"}"#);
    assert!(stderr.contains("52 weeks"), "{stderr}");
    bad_input(
        &["labels", "encode"],
        br#"{"environments": [{"sha": "XYZ"}]}"#,
    );
}

#[test]
fn unoffered_size_in_json_is_refused_with_exit_2() {
    let json = br#"{"config": {"size": "huge"}}"#;
    let stderr = bad_input(&["labels", "encode"], json);
    assert!(stderr.contains("huge"), "{stderr}");
    let labels = success(&["labels", "--sizes", "small,huge", "encode"], json);
    assert!(labels.contains("size-huge"), "{labels}");
}

#[test]
fn invalid_utf8_on_stdin_is_refused_without_panicking() {
    let stderr = bad_input(&["labels", "parse"], b"bug\n\xff\xfe\n");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("UTF-8"), "{stderr}");
    bad_input(&["labels", "parse", "--json"], b"\xc3\n");
    bad_input(&["labels", "encode"], b"\xff");
}

#[test]
fn very_long_lines_are_read() {
    for line in ["x".repeat(10_000), format!("🎪 {}", "x".repeat(10_000))] {
        let input = format!("{line}\n🎪 ⌛ 48h\n");
        success(&["labels", "parse"], input.as_bytes());
        let json = parse_json(&input);
        assert_eq!(json["ttl"], "48h");
    }
}

#[test]
fn reference_lists_labels_with_colours() {
    let text = success(&["labels", "reference"], b"");
    assert!(text.contains("🎪 🚦 running"), "{text}");
    assert!(text.contains("#28a745"), "{text}");
    assert!(text.contains("🎪 <sha7> 🚦 running"), "{text}");
}

#[test]
fn reference_json_is_an_array_of_rows() {
    let stdout = success(&["labels", "reference", "--json"], b"");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let rows = json.as_array().unwrap();
    let running = rows.iter().find(|r| r["seed"] == "🎪 🚦 running").unwrap();
    assert_eq!(running["per_sha"], "🎪 <sha7> 🚦 running");
    assert_eq!(running["color"], "28a745");
    assert!(running["meaning"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn legacy_trigger_is_configurable() {
    let json = parse_json("preview\n");
    assert_eq!(json["other_labels"], serde_json::json!(["preview"]));
    let stdout = success(
        &["labels", "--legacy-trigger", "preview", "parse", "--json"],
        b"preview\n",
    );
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["triggers"], serde_json::json!(["up"]));
    let reference = success(&["labels", "reference", "--legacy-trigger", "preview"], b"");
    assert!(
        reference.lines().any(|l| l.starts_with("preview ")),
        "{reference}"
    );
}

#[test]
fn bad_codec_options_exit_2() {
    bad_input(&["labels", "--sizes", "small,HUGE!", "parse"], b"");
    bad_input(&["labels", "parse", "--sizes", ""], b"");
    bad_input(&["labels", "--legacy-trigger", "🎪 up", "parse"], b"");
    bad_input(&["labels", "--legacy-trigger", "", "reference"], b"");
}

#[test]
fn usage_errors_exit_2() {
    bad_input(&["labels", "encode", "--dialect", "klingon"], b"");
    bad_input(&["labels", "frobnicate"], b"");
    // No subcommand: clap prints the help to stderr and exits 2.
    let out = showtime(&[], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("Usage:"), "{}", out.stderr);
}

#[test]
fn version_prints_the_package_version() {
    let stdout = success(&["version"], b"");
    assert_eq!(stdout, format!("showtime {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn config_check_refuses_a_secret_that_is_not_an_arn() {
    let dir = std::env::temp_dir().join(format!("showtime-cli-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[ecs.secrets]\nSUPERSET_SECRET_KEY = \
         \"arn:aws:ssm:us-west-2:123456789012:parameter/showtime/secret-key\"\n\
         DATABASE_URL = \
         \"arn:aws:secretsmanager:us-west-2:123456789012:secret:showtime/db-AbCdEf:url::\"\n",
    )
    .expect("the file is written");
    let ok = success(&["config", "check", good.to_str().expect("UTF-8")], b"");
    assert!(ok.contains("OK"), "{ok}");

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[ecs.secrets]\nSUPERSET_SECRET_KEY = \"hunter2\"\n")
        .expect("the file is written");
    let err = bad_input(&["config", "check", bad.to_str().expect("UTF-8")], b"");
    assert!(
        err.contains("[ecs.secrets] SUPERSET_SECRET_KEY") && err.contains("not an ARN"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the value is not repeated: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}
