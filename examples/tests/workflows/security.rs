//! The security properties the README promises, checked on the files:
//! least privilege per job, actions pinned to commits, no PR code before
//! authorization, no PR text in a shell, no step changing what later steps
//! run, AWS through OIDC only, and one image build per commit with a
//! registry cache.

use std::collections::BTreeMap;
use std::process::Command;

use serde_yaml_ng::Value;
use showtime_core::ports::EnvId;
use showtime_core::{PrNumber, Sha};
use showtime_runtime::config::{Overrides, Settings};

use crate::shell::{Invocation, invocations};
use crate::{PR_WORKFLOW, SHA, WORKFLOWS, job, jobs, load, scripts, source, steps, text};

/// The scopes a job may ask for, all the workflows need.
const SCOPES: [&str; 4] = ["contents", "pull-requests", "issues", "id-token"];

/// `(scope, level)` of a job's `permissions:`.
fn permissions(name: &str, id: &str, job: &Value) -> Vec<(String, String)> {
    job.get("permissions")
        .and_then(Value::as_mapping)
        .unwrap_or_else(|| panic!("{name} job {id}: list the job's permissions, scope by scope"))
        .iter()
        .map(|(scope, level)| {
            (
                scope.as_str().unwrap().to_owned(),
                level.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Whether a job assumes the AWS role.
fn uses_aws(job: &Value) -> bool {
    steps(job)
        .iter()
        .any(|step| text(step, "uses").starts_with("aws-actions/configure-aws-credentials@"))
}

#[test]
fn permissions_are_granted_per_job_least_privilege() {
    for name in WORKFLOWS {
        let doc = load(name);
        let top = doc.get("permissions").unwrap_or_else(|| {
            panic!("{name}: no top-level permissions (the default token may write everything)")
        });
        assert!(
            top.as_mapping().is_some_and(|m| m.is_empty()),
            "{name}: the workflow grants nothing (`permissions: {{}}`); each job asks for its own"
        );
        for (id, job) in jobs(&doc) {
            for (scope, level) in permissions(name, &id, job) {
                assert!(SCOPES.contains(&scope.as_str()), "{name} job {id}: {scope}");
                assert!(
                    level == "read" || level == "write",
                    "{name} job {id}: {scope}: {level}"
                );
                if scope == "contents" {
                    assert_eq!(level, "read", "{name} job {id}: contents");
                }
            }
        }
    }
    // `check` changes nothing: it reads, and asks for an OIDC token.
    let doc = load(PR_WORKFLOW);
    for (scope, level) in permissions(PR_WORKFLOW, "check", job(&doc, "check")) {
        if scope != "id-token" {
            assert_eq!(level, "read", "check: {scope}");
        }
    }
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
    let check = job(&doc, "check");
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
        for (id, job) in jobs(&doc) {
            // An OIDC token exactly where the AWS role is assumed.
            let id_token = permissions(name, &id, job)
                .into_iter()
                .find(|(scope, _)| scope == "id-token")
                .map(|(_, level)| level);
            let expected = uses_aws(job).then(|| "write".to_owned());
            assert_eq!(id_token, expected, "{name} job {id}: id-token");
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

// ---------------------------------------------------------------------------
// Supply chain and the runner's environment files.

/// `(action, commit, release)` for every `uses:` of a workflow, read from
/// its text: the release is the trailing comment, which YAML drops.
fn pins(name: &str) -> Vec<(String, String, String)> {
    source(name)
        .lines()
        .filter_map(|line| {
            let value = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses:")?;
            let (reference, release) = value.split_once(" #").unwrap_or((value, ""));
            let (action, commit) = reference
                .trim()
                .split_once('@')
                .unwrap_or_else(|| panic!("{name}: `{line}` names no version"));
            Some((
                action.to_owned(),
                commit.to_owned(),
                release.trim().to_owned(),
            ))
        })
        .collect()
}

/// `v1.2.3`.
fn is_release(text: &str) -> bool {
    let Some(numbers) = text.strip_prefix('v') else {
        return false;
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

#[test]
fn every_action_is_pinned_to_a_commit() {
    // repository → (commit, release), across both files.
    let mut pinned: BTreeMap<String, (String, String)> = BTreeMap::new();
    for name in WORKFLOWS {
        let found = pins(name);
        let doc = load(name);
        let uses = jobs(&doc)
            .iter()
            .flat_map(|(_, job)| steps(job))
            .filter(|step| step.get("uses").is_some())
            .count();
        assert_eq!(found.len(), uses, "{name}: a `uses:` the text scan missed");
        for (action, commit, release) in found {
            // A tag can be moved to other code; a commit cannot.
            assert!(
                commit.len() == 40
                    && commit
                        .chars()
                        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
                "{name}: {action}@{commit}: pin a full commit SHA, not a tag or a branch"
            );
            assert!(
                is_release(&release),
                "{name}: {action}@{commit}: name its release in a trailing comment (`# v1.2.3`), not {release:?}"
            );
            // `actions/cache/restore` lives in `actions/cache`.
            let repository = action.split('/').take(2).collect::<Vec<_>>().join("/");
            let (owner, _) = repository.split_once('/').unwrap();
            assert!(
                ["actions", "aws-actions"].contains(&owner),
                "{name}: {repository}: only GitHub's and AWS's own actions run beside the write token"
            );
            let first = pinned
                .entry(repository.clone())
                .or_insert_with(|| (commit.clone(), release.clone()));
            assert_eq!(
                *first,
                (commit, release),
                "{name}: {repository} is pinned to two commits"
            );
        }
    }
}

#[test]
fn no_step_changes_what_later_steps_run() {
    // A line appended to $GITHUB_ENV or $GITHUB_PATH changes the variables
    // or the programs of every later step (zizmor's github-env); values go
    // through step outputs and `env:`, and the binaries are called by path.
    for name in WORKFLOWS {
        for (place, script) in scripts(name) {
            for file in ["GITHUB_ENV", "GITHUB_PATH"] {
                assert!(
                    !script.contains(file),
                    "{place} writes ${file}: pass the value as a step output, through `env:`"
                );
            }
        }
    }
}

#[test]
fn the_only_accepted_audit_findings_are_the_triggers_with_their_reason() {
    let mut ignored = Vec::new();
    for name in WORKFLOWS {
        for line in source(name).lines() {
            let Some((yaml, rest)) = line.split_once("# zizmor: ignore[") else {
                continue;
            };
            let (audit, reason) = rest.split_once(']').unwrap();
            assert!(
                reason.trim().len() >= 30,
                "{name}: `{line}`: say beside the ignore why the finding is accepted"
            );
            ignored.push((name, audit.to_owned(), yaml.trim().to_owned()));
        }
    }
    assert_eq!(
        ignored,
        [
            (
                PR_WORKFLOW,
                "dangerous-triggers".to_owned(),
                "pull_request_target:".to_owned()
            ),
            (
                PR_WORKFLOW,
                "dangerous-triggers".to_owned(),
                "issue_comment:".to_owned()
            ),
        ],
        "a new ignore hides a new finding: fix the workflow instead"
    );
}

// ---------------------------------------------------------------------------
// The image: built once per commit, with a registry cache.

#[test]
fn the_image_is_built_once_per_commit_with_a_registry_cache() {
    let doc = load(PR_WORKFLOW);
    let deploy = steps(job(&doc, "deploy"));
    let at = |what: &str, is: &dyn Fn(&Value) -> bool| {
        deploy
            .iter()
            .position(is)
            .unwrap_or_else(|| panic!("deploy: no step {what}"))
    };
    let credentials = at("assumes the AWS role", &|s| {
        text(s, "uses").starts_with("aws-actions/configure-aws-credentials@")
    });
    let lookup = at("asks ECR for the tag", &|s| {
        text(s, "run").contains("aws ecr describe-images")
    });
    let checkout = at("checks out the PR", &checks_out_pr_code);
    let build = at("builds the image", &|s| {
        text(s, "run").contains("docker buildx build")
    });
    let sync = at("syncs", &|s| text(s, "run").contains("showtime sync"));
    assert!(
        credentials < lookup && lookup < checkout && checkout < build && build < sync,
        "deploy: credentials, lookup, checkout, build, sync, in this order"
    );
    assert_eq!(text(&deploy[lookup], "id"), "image");
    assert_eq!(
        text(&deploy[lookup], "if"),
        "needs.check.outputs.build_needed == 'true'"
    );
    // An image already in ECR is neither checked out nor built; nor is
    // anything when the lookup was skipped (no output at all).
    for step in [&deploy[checkout], &deploy[build]] {
        assert_eq!(text(step, "if"), "steps.image.outputs.exists == 'false'");
    }
    let script = text(&deploy[build], "run");
    for flag in [
        "--push",
        "--cache-from \"type=registry,ref=$CACHE\"",
        "--cache-to \"type=registry,ref=$CACHE,mode=max,image-manifest=true,oci-mediatypes=true\"",
    ] {
        assert!(script.contains(flag), "the build lacks {flag}: {script}");
    }
    // BuildKit gets nothing of the job's: no secret, no argument, no SSH
    // agent, no other context, no token; the context is the PR's directory.
    for flag in ["--secret", "--build-arg", "--ssh", "--build-context"] {
        assert!(!script.contains(flag), "the build passes {flag}: {script}");
    }
    assert!(script.trim_end().ends_with(" pr"), "{script}");
    let env: Vec<&str> = deploy[build]
        .get("env")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(env, ["IMAGE", "CACHE"]);
    // Only the PR's checkout may take a fork's commit under
    // pull_request_target (actions/checkout refuses it otherwise).
    for name in WORKFLOWS {
        let doc = load(name);
        for (id, job) in jobs(&doc) {
            for step in steps(job) {
                if !text(step, "uses").starts_with("actions/checkout@") {
                    continue;
                }
                let allowed = step
                    .get("with")
                    .and_then(|w| w.get("allow-unsafe-pr-checkout"))
                    == Some(&Value::Bool(true));
                assert_eq!(allowed, checks_out_pr_code(step), "{name} job {id}");
            }
        }
    }
}

/// What the lookup step did: success, its outputs, the AWS CLI's arguments.
struct Lookup {
    succeeded: bool,
    outputs: BTreeMap<String, String>,
    aws_args: String,
}

/// Runs the deploy job's lookup script as the runner would (bash, `-e`,
/// `pipefail`), with a stand-in `aws` on the PATH that answers `answer`:
/// `found`, `missing`, or anything else for an error.
fn look_up(answer: &str) -> Lookup {
    let doc = load(PR_WORKFLOW);
    let step = steps(job(&doc, "deploy"))
        .iter()
        .find(|s| text(s, "id") == "image")
        .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "showtime-workflow-lookup-{}-{answer}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let aws = dir.join("aws");
    std::fs::write(
        &aws,
        "#!/bin/sh\n\
         echo \"$@\" > \"$FAKE_ECR_ARGS\"\n\
         case \"$FAKE_ECR\" in\n\
         found) echo '{\"imageDetails\": []}' ;;\n\
         missing) echo 'An error occurred (ImageNotFoundException) when calling the DescribeImages operation' >&2; exit 254 ;;\n\
         *) echo 'An error occurred (AccessDeniedException) when calling the DescribeImages operation' >&2; exit 254 ;;\n\
         esac\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let output = dir.join("output");
    let args = dir.join("args");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(text(step, "run"))
        .env("PATH", path)
        .env("GITHUB_OUTPUT", &output)
        .env("RUNNER_TEMP", &dir)
        .env("PR_NUMBER", "42")
        .env("TARGET_SHA", SHA)
        .env("REGISTRY", "123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        .env("SHOWTIME_ECR_REPOSITORY", "superset-ci")
        .env("FAKE_ECR", answer)
        .env("FAKE_ECR_ARGS", &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    let outputs = std::fs::read_to_string(&output)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let aws_args = std::fs::read_to_string(&args).unwrap_or_default();
    std::fs::remove_dir_all(&dir).unwrap_or_default();
    Lookup {
        succeeded: status.success(),
        outputs,
        aws_args: aws_args.trim().to_owned(),
    }
}

#[test]
fn the_lookup_asks_for_the_tag_showtime_deploys() {
    let sha: Sha = SHA.parse().unwrap();
    let tag = EnvId::new(PrNumber::new(42).unwrap(), sha.short()).image_tag();
    let registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/superset-ci";

    let missing = look_up("missing");
    assert!(missing.succeeded);
    assert_eq!(
        missing.aws_args,
        format!("ecr describe-images --repository-name superset-ci --image-ids imageTag={tag}")
    );
    let expected: BTreeMap<String, String> = [
        ("name", format!("{registry}:{tag}")),
        ("cache", format!("{registry}:cache")),
        ("exists", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(missing.outputs, expected);

    let found = look_up("found");
    assert!(found.succeeded);
    assert_eq!(found.outputs["exists"], "true");
    assert_eq!(found.outputs["name"], format!("{registry}:{tag}"));

    // Any other error fails the job rather than building blind.
    let denied = look_up("denied");
    assert!(!denied.succeeded);
    assert!(
        !denied.outputs.contains_key("exists"),
        "{:?}",
        denied.outputs
    );
}

#[test]
fn every_showtime_step_reads_the_base_branch_configuration() {
    // The `config` step outputs nothing when the base branch has no
    // showtime.toml; SHOWTIME_CONFIG is then empty, which means no file.
    let env = |k: &str| (k == "SHOWTIME_CONFIG").then(String::new);
    let settings = Settings::resolve(&Overrides::default(), &env).unwrap();
    assert_eq!(settings.file_path, None);
    for name in WORKFLOWS {
        let doc = load(name);
        for (id, job) in jobs(&doc) {
            let has_config = steps(job).iter().any(|s| text(s, "id") == "config");
            for step in steps(job) {
                if invocations(text(step, "run")).is_empty() {
                    continue;
                }
                assert!(has_config, "{name} job {id}: no `config` step");
                let value = step.get("env").map(|e| text(e, "SHOWTIME_CONFIG"));
                assert_eq!(
                    value,
                    Some("${{ steps.config.outputs.file }}"),
                    "{name} job {id} step {:?}",
                    text(step, "name")
                );
            }
        }
    }
}
