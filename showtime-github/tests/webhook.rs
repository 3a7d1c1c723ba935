//! Webhook deliveries end to end: GitHub-shaped payloads (tests/payloads/),
//! signed here with HMAC-SHA256, through `Webhook::receive`.

// A test fails by panicking; unwrapping known-good fixtures is the point.
#![allow(clippy::unwrap_used)]

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use sha2::Sha256;

use showtime_core::commands::SlashCommand;
use showtime_core::labels::Codec;
use showtime_core::plan::Event;
use showtime_core::{Login, Sizes};
use showtime_github::webhook::{
    DEFAULT_MAX_BODY, Delivery, Outcome, Request, Webhook, WebhookError, sign, verify_signature,
};

const SECRET: &[u8] = b"test-webhook-secret";
const DELIVERY_ID: &str = "9a1c7e40-b3b2-11ee-8d1c-2a7e6c0e6f11";

/// The HMAC-SHA256 of `body`, computed here rather than by the code under test.
fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn payload(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/payloads/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// A fixture, changed by `edit`.
fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&payload(name)).unwrap();
    edit(&mut value);
    serde_json::to_vec(&value).unwrap()
}

/// Headers as GitHub sends them (mixed case), with an optional signature.
fn headers(event: Option<&str>, signature: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    };
    put("X-GitHub-Delivery", DELIVERY_ID);
    put("X-GitHub-Hook-ID", "455162093");
    put("User-Agent", "GitHub-Hookshot/9729b30");
    put("Content-Type", "application/json");
    if let Some(event) = event {
        put("X-GitHub-Event", event);
    }
    if let Some(signature) = signature {
        put("X-Hub-Signature-256", signature);
    }
    headers
}

fn webhook() -> Webhook {
    Webhook::new(SECRET).unwrap()
}

/// Delivers `body` as `event`, signed with the right secret.
fn deliver(event: &str, body: &[u8]) -> Result<Delivery, WebhookError> {
    webhook().receive(&headers(Some(event), Some(&signature(SECRET, body))), body)
}

fn reconcile(event: &str, body: &[u8]) -> Request {
    match deliver(event, body).unwrap().outcome {
        Outcome::Reconcile(request) => request,
        other => panic!("expected a reconcile, got {other:?}"),
    }
}

fn ignored(event: &str, body: &[u8]) -> String {
    match deliver(event, body).unwrap().outcome {
        Outcome::Ignored { reason } => reason,
        other => panic!("expected ignored, got {other:?}"),
    }
}

fn login(name: &str) -> Option<Login> {
    Some(name.parse().unwrap())
}

// ---------------------------------------------------------------- signatures

#[test]
fn github_documented_test_vector() {
    // From GitHub's "Validating webhook deliveries".
    let secret = b"It's a Secret to Everybody";
    let body = b"Hello, World!";
    let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(signature(secret, body), expected);
    assert_eq!(sign(secret, body).unwrap(), expected);
    assert_eq!(verify_signature(secret, Some(expected), body), Ok(()));
}

#[test]
fn wrong_secret_is_a_mismatch() {
    let body = payload("pull_request.opened.json");
    let headers = headers(
        Some("pull_request"),
        Some(&signature(b"another-secret", &body)),
    );
    let err = webhook().receive(&headers, &body).unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
    assert_eq!(err.status(), 401);
    assert!(err.to_string().contains("secret"), "{err}");
}

#[test]
fn missing_signature_header() {
    let body = payload("pull_request.opened.json");
    let err = webhook()
        .receive(&headers(Some("pull_request"), None), &body)
        .unwrap_err();
    assert_eq!(err, WebhookError::MissingSignature);
    assert_eq!(err.status(), 401);
    assert!(err.to_string().contains("sha256="), "{err}");

    // GitHub's legacy SHA-1 header alone does not count.
    let mut legacy = headers(Some("pull_request"), None);
    legacy.insert(
        "x-hub-signature",
        HeaderValue::from_static("sha1=0123456789abcdef0123456789abcdef01234567"),
    );
    assert_eq!(
        webhook().receive(&legacy, &body).unwrap_err(),
        WebhookError::MissingSignature
    );
}

#[test]
fn sha1_scheme_is_unsupported() {
    let body = payload("pull_request.opened.json");
    let sha1 = "sha1=0123456789abcdef0123456789abcdef01234567";
    let err = webhook()
        .receive(&headers(Some("pull_request"), Some(sha1)), &body)
        .unwrap_err();
    assert_eq!(
        err,
        WebhookError::UnsupportedScheme {
            scheme: "sha1".to_owned()
        }
    );
    assert_eq!(err.status(), 401);
    assert!(err.to_string().contains("sha256="), "{err}");
}

#[test]
fn malformed_signatures() {
    let body = payload("ping.json");
    let good = signature(SECRET, &body);
    let hex = &good["sha256=".len()..];
    let cases = [
        "sha256".to_owned(),
        format!("sha256={}", &hex[..63]),
        format!("sha256={hex}00"),
        format!("sha256={}", "g".repeat(64)),
        "sha256=".to_owned(),
    ];
    for header in cases {
        let err = verify_signature(SECRET, Some(&header), &body).unwrap_err();
        assert!(
            matches!(err, WebhookError::MalformedSignature { .. }),
            "{header}: {err:?}"
        );
        assert_eq!(err.status(), 401);
        assert!(err.to_string().contains("64 hex digits"), "{err}");
    }
}

#[test]
fn truncated_body_is_a_mismatch() {
    let body = payload("pull_request.opened.json");
    let signed_whole = signature(SECRET, &body);
    let truncated = &body[..body.len() / 2];
    let err = webhook()
        .receive(
            &headers(Some("pull_request"), Some(&signed_whole)),
            truncated,
        )
        .unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
}

#[test]
fn signature_is_checked_before_anything_is_read() {
    // No event header and a body that is not JSON: still a 401, not a 400.
    let body = b"not json at all";
    let err = webhook()
        .receive(&headers(None, Some(&signature(b"wrong", body))), body)
        .unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
    let err = webhook().receive(&headers(None, None), body).unwrap_err();
    assert_eq!(err, WebhookError::MissingSignature);
}

#[test]
fn empty_secret_is_refused() {
    assert_eq!(Webhook::new("").unwrap_err(), WebhookError::EmptySecret);
    assert_eq!(
        Webhook::new(Vec::new()).unwrap_err(),
        WebhookError::EmptySecret
    );
    assert_eq!(sign(b"", b"{}").unwrap_err(), WebhookError::EmptySecret);
    assert_eq!(
        verify_signature(b"", Some(&signature(b"x", b"{}")), b"{}").unwrap_err(),
        WebhookError::EmptySecret
    );
    assert_eq!(WebhookError::EmptySecret.status(), 500);
}

#[test]
fn debug_never_shows_the_secret() {
    let shown = format!("{:?}", webhook());
    assert!(!shown.contains("test-webhook-secret"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

// ---------------------------------------------------------------- size

#[test]
fn oversized_body_is_refused_before_verifying() {
    // The signature is wrong: TooLarge proves it was never checked.
    let body = payload("pull_request.opened.json");
    let small = webhook().max_body(1024);
    let err = small
        .receive(&headers(Some("pull_request"), Some("sha256=bogus")), &body)
        .unwrap_err();
    assert_eq!(
        err,
        WebhookError::TooLarge {
            limit: 1024,
            size: body.len() as u64
        }
    );
    assert_eq!(err.status(), 413);

    let huge = vec![b' '; DEFAULT_MAX_BODY + 1];
    let err = webhook()
        .receive(&headers(Some("pull_request"), None), &huge)
        .unwrap_err();
    assert!(matches!(err, WebhookError::TooLarge { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("1048577") && message.contains("1048576"),
        "{message}"
    );
}

#[test]
fn body_at_the_limit_is_accepted() {
    let mut body = br#"{"zen":"Approachable is better than simple.","hook_id":1}"#.to_vec();
    body.resize(DEFAULT_MAX_BODY, b' ');
    let delivery = deliver("ping", &body).unwrap();
    assert_eq!(
        delivery.outcome,
        Outcome::Ping {
            zen: Some("Approachable is better than simple.".to_owned())
        }
    );
}

#[test]
fn content_length_can_be_checked_before_reading() {
    let small = webhook().max_body(100);
    assert_eq!(small.check_size(100), Ok(()));
    assert_eq!(
        small.check_size(101),
        Err(WebhookError::TooLarge {
            limit: 100,
            size: 101
        })
    );
    assert!(webhook().check_size(u64::MAX).is_err());
}

// ---------------------------------------------------------------- headers

#[test]
fn delivery_id_and_event_are_exposed() {
    let delivery = deliver("ping", &payload("ping.json")).unwrap();
    assert_eq!(delivery.id.as_deref(), Some(DELIVERY_ID));
    assert_eq!(delivery.event, "ping");

    let body = payload("ping.json");
    let mut headers = headers(Some("ping"), Some(&signature(SECRET, &body)));
    headers.remove("x-github-delivery");
    assert_eq!(webhook().receive(&headers, &body).unwrap().id, None);
}

#[test]
fn missing_event_header() {
    let body = payload("pull_request.opened.json");
    let err = webhook()
        .receive(&headers(None, Some(&signature(SECRET, &body))), &body)
        .unwrap_err();
    assert_eq!(err, WebhookError::MissingEvent);
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("X-GitHub-Event"), "{err}");

    let err = webhook()
        .receive(&headers(Some(""), Some(&signature(SECRET, &body))), &body)
        .unwrap_err();
    assert_eq!(err, WebhookError::MissingEvent);
}

#[test]
fn unknown_events_are_acknowledged_and_ignored() {
    let reason = ignored("push", &payload("push.json"));
    assert!(reason.contains("push"), "{reason}");
    let reason = ignored("x-unknown-event", b"{}");
    assert!(reason.contains("x-unknown-event"), "{reason}");
}

// ---------------------------------------------------------------- ping

#[test]
fn ping() {
    let delivery = deliver("ping", &payload("ping.json")).unwrap();
    assert_eq!(
        delivery.outcome,
        Outcome::Ping {
            zen: Some("Keep it logically awesome.".to_owned())
        }
    );
    assert_eq!(
        deliver("ping", b"{}").unwrap().outcome,
        Outcome::Ping { zen: None }
    );
}

// ---------------------------------------------------------------- pull_request

#[test]
fn pull_request_actions_map_to_events() {
    let cases = [
        ("pull_request.opened.json", Event::Look, "maxime"),
        ("pull_request.reopened.json", Event::Look, "octocat"),
        ("pull_request.labeled.json", Event::Look, "maxime"),
        ("pull_request.closed.json", Event::Look, "octocat"),
        (
            "pull_request.edited.json",
            Event::DescriptionEdited,
            "maxime",
        ),
        (
            "pull_request.synchronize.json",
            Event::Push,
            "dependabot[bot]",
        ),
        (
            "pull_request.unlabeled.json",
            Event::UpLabelRemoved,
            "octocat",
        ),
    ];
    for (file, event, actor) in cases {
        let request = reconcile("pull_request", &payload(file));
        assert_eq!(
            request,
            Request {
                repository: "octo-org/hello-circus".to_owned(),
                pr: "42".parse().unwrap(),
                events: vec![event],
                actor: login(actor),
                installation: Some(45872313),
                command_errors: Vec::new(),
            },
            "{file}"
        );
    }
}

#[test]
fn synchronize_by_a_bot_keeps_the_bot_as_actor() {
    let request = reconcile("pull_request", &payload("pull_request.synchronize.json"));
    assert_eq!(request.events, [Event::Push]);
    let actor = request.actor.unwrap();
    assert_eq!(actor.as_str(), "dependabot[bot]");
    assert!(actor.is_bot());
}

#[test]
fn unlabeled_up_label_is_matched_case_insensitively_and_by_codec() {
    let body = edited("pull_request.unlabeled.json", |v| {
        v["label"]["name"] = json!("TestEnv-UP");
    });
    assert_eq!(
        reconcile("pull_request", &body).events,
        [Event::UpLabelRemoved]
    );

    let other = edited("pull_request.unlabeled.json", |v| {
        v["label"]["name"] = json!("bug");
    });
    assert_eq!(reconcile("pull_request", &other).events, [Event::Look]);

    // With a custom up-label, `testenv-up` is just another label.
    let codec = Codec::new("preview", Sizes::default()).unwrap();
    let custom = webhook().codec(codec);
    let body = payload("pull_request.unlabeled.json");
    let delivery = custom
        .receive(
            &headers(Some("pull_request"), Some(&signature(SECRET, &body))),
            &body,
        )
        .unwrap();
    let Outcome::Reconcile(request) = delivery.outcome else {
        panic!("{delivery:?}")
    };
    assert_eq!(request.events, [Event::Look]);

    // Removing a 🎪 label is just a change.
    let tent = edited("pull_request.unlabeled.json", |v| {
        v["label"]["name"] = json!("🎪 🎯 abc123f");
    });
    assert_eq!(reconcile("pull_request", &tent).events, [Event::Look]);
}

#[test]
fn other_pull_request_actions_are_ignored() {
    let reason = ignored(
        "pull_request",
        &payload("pull_request.review_requested.json"),
    );
    assert!(reason.contains("review_requested"), "{reason}");
    for action in [
        "assigned",
        "unassigned",
        "ready_for_review",
        "converted_to_draft",
        "auto_merge_enabled",
        "milestoned",
    ] {
        let body = edited("pull_request.opened.json", |v| v["action"] = json!(action));
        let reason = ignored("pull_request", &body);
        assert!(reason.contains(action), "{reason}");
    }
}

#[test]
fn unparsable_sender_login_means_no_actor() {
    for sender in [json!({"login": "not a login"}), json!({}), Value::Null] {
        let body = edited("pull_request.opened.json", |v| v["sender"] = sender.clone());
        let request = reconcile("pull_request", &body);
        assert_eq!(request.actor, None, "{sender}");
        assert_eq!(request.events, [Event::Look]);
    }
    let body = edited("pull_request.opened.json", |v| {
        v.as_object_mut().unwrap().remove("sender");
        v.as_object_mut().unwrap().remove("installation");
    });
    let request = reconcile("pull_request", &body);
    assert_eq!((request.actor, request.installation), (None, None));
}

#[test]
fn pr_number_falls_back_to_the_top_level_number() {
    let body = edited("pull_request.opened.json", |v| {
        v.as_object_mut().unwrap().remove("pull_request");
        v["number"] = json!(7);
    });
    assert_eq!(reconcile("pull_request", &body).pr.get(), 7);
    let body = edited("pull_request.opened.json", |v| {
        v.as_object_mut().unwrap().remove("number");
    });
    assert_eq!(reconcile("pull_request", &body).pr.get(), 42);
}

// ---------------------------------------------------------------- malformed

fn malformed(event: &str, body: &[u8]) -> String {
    let err = deliver(event, body).unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    match &err {
        WebhookError::Malformed { event: named, .. } => assert_eq!(named, event),
        other => panic!("expected malformed, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.len() < 400, "{message}");
    message
}

#[test]
fn malformed_json_with_a_valid_signature() {
    let message = malformed("pull_request", b"{\"action\": \"opened\", \"number\": ");
    assert!(message.contains("EOF"), "{message}");

    let body = payload("pull_request.opened.json");
    let message = malformed("pull_request", &body[..body.len() - 10]);
    assert!(!message.contains("hello-circus"), "{message}");

    malformed("issue_comment", b"[1, 2, 3]");
    malformed("ping", b"");
}

#[test]
fn wrong_types_and_missing_fields() {
    let body = edited("pull_request.opened.json", |v| {
        v["pull_request"]["number"] = json!("42");
    });
    let message = malformed("pull_request", &body);
    assert!(message.contains("invalid type"), "{message}");

    let body = edited("pull_request.opened.json", |v| {
        v.as_object_mut().unwrap().remove("repository");
    });
    let message = malformed("pull_request", &body);
    assert!(message.contains("repository"), "{message}");

    let body = edited("pull_request.opened.json", |v| {
        v.as_object_mut().unwrap().remove("number");
        v["pull_request"].as_object_mut().unwrap().remove("number");
    });
    let message = malformed("pull_request", &body);
    assert!(message.contains("number"), "{message}");

    let body = edited("pull_request.opened.json", |v| {
        v["pull_request"]["number"] = json!(0);
    });
    let message = malformed("pull_request", &body);
    assert!(message.contains("positive"), "{message}");

    let body = edited("pull_request.opened.json", |v| {
        v["repository"]["full_name"] = json!("no-slash");
    });
    let message = malformed("pull_request", &body);
    assert!(message.contains("owner/name"), "{message}");

    let body = edited("pull_request.opened.json", |v| {
        v.as_object_mut().unwrap().remove("action");
    });
    let message = malformed("pull_request", &body);
    assert!(message.contains("action"), "{message}");

    let body = edited("issue_comment.created.json", |v| {
        v["issue"].as_object_mut().unwrap().remove("number");
    });
    let message = malformed("issue_comment", &body);
    assert!(message.contains("number"), "{message}");
}

#[test]
fn messages_never_echo_the_body() {
    let marker = "x".repeat(5_000);
    let body = format!(r#"{{"action": "opened", "number": "{marker}"}}"#);
    let message = malformed("pull_request", body.as_bytes());
    assert!(!message.contains(&marker), "{message}");

    let body = format!(
        r#"{{"action": "opened", "number": 1, "repository": {{"full_name": "{marker}"}}}}"#
    );
    let message = malformed("pull_request", body.as_bytes());
    assert!(!message.contains(&marker), "{message}");
}

#[test]
fn form_encoded_bodies_are_explained() {
    let message = malformed("ping", b"payload=%7B%22zen%22%3A%22hi%22%7D");
    assert!(message.contains("application/json"), "{message}");
}

// ---------------------------------------------------------------- comments

#[test]
fn comment_on_a_pull_request_gives_one_event_per_command() {
    let delivery = deliver("issue_comment", &payload("issue_comment.created.json")).unwrap();
    assert_eq!(delivery.event, "issue_comment");
    assert_eq!(delivery.id.as_deref(), Some(DELIVERY_ID));
    let Outcome::Reconcile(request) = delivery.outcome else {
        panic!("{delivery:?}")
    };
    assert_eq!(
        request,
        Request {
            repository: "octo-org/hello-circus".to_owned(),
            pr: "42".parse().unwrap(),
            // In order; the quoted `> /circus destroy` is not a command.
            events: vec![
                Event::Command(SlashCommand::Extend("48h".parse().unwrap())),
                Event::Command(SlashCommand::Enable("ALERTS".parse().unwrap())),
            ],
            actor: login("octocat"),
            installation: Some(45872313),
            command_errors: Vec::new(),
        }
    );
}

#[test]
fn invalid_commands_are_reported_beside_valid_ones() {
    let request = reconcile(
        "issue_comment",
        &payload("issue_comment.created_invalid.json"),
    );
    assert_eq!(request.events, [Event::Command(SlashCommand::Status)]);
    assert_eq!(
        request.command_errors.len(),
        2,
        "{:?}",
        request.command_errors
    );
    let first = request.command_errors[0].to_string();
    assert!(first.contains("usage: /circus extend"), "{first}");
    let second = request.command_errors[1].to_string();
    assert!(
        second.contains("explode") && second.contains("keep-alive"),
        "{second}"
    );

    // Only malformed lines: still a request, with no event, so the server
    // can reply.
    let body = edited("issue_comment.created.json", |v| {
        v["comment"]["body"] = json!("/circus size huge");
    });
    let request = reconcile("issue_comment", &body);
    assert!(request.events.is_empty());
    assert_eq!(request.command_errors.len(), 1);
}

#[test]
fn sizes_come_from_the_codec() {
    let body = edited("issue_comment.created.json", |v| {
        v["comment"]["body"] = json!("/circus size huge");
    });
    let sizes = Sizes::new(["small".parse().unwrap(), "huge".parse().unwrap()]);
    let custom = webhook().codec(Codec::new("testenv-up", sizes).unwrap());
    let delivery = custom
        .receive(
            &headers(Some("issue_comment"), Some(&signature(SECRET, &body))),
            &body,
        )
        .unwrap();
    let Outcome::Reconcile(request) = delivery.outcome else {
        panic!("{delivery:?}")
    };
    assert_eq!(
        request.events,
        [Event::Command(SlashCommand::Size("huge".parse().unwrap()))]
    );
}

#[test]
fn comment_on_a_plain_issue_is_ignored() {
    let reason = ignored(
        "issue_comment",
        &payload("issue_comment.created_issue.json"),
    );
    assert!(reason.contains("issue #7"), "{reason}");
    assert!(reason.contains("pull request"), "{reason}");
}

#[test]
fn comment_without_a_command_is_ignored() {
    for text in [
        "LGTM 🎉",
        "please run /circus refresh",
        "> /circus destroy",
        "```\n/circus destroy\n```",
        "",
    ] {
        let body = edited("issue_comment.created.json", |v| {
            v["comment"]["body"] = json!(text);
        });
        let reason = ignored("issue_comment", &body);
        assert!(reason.contains("command"), "{text:?}: {reason}");
    }
}

#[test]
fn edited_and_deleted_comments_are_ignored() {
    for action in ["edited", "deleted"] {
        let body = edited("issue_comment.created.json", |v| {
            v["action"] = json!(action);
        });
        let reason = ignored("issue_comment", &body);
        assert!(reason.contains(action), "{reason}");
    }
}

#[test]
fn comment_actor_is_the_author_else_the_sender() {
    let body = edited("issue_comment.created.json", |v| {
        v["comment"]["user"]["login"] = json!("maxime");
    });
    assert_eq!(reconcile("issue_comment", &body).actor, login("maxime"));

    let body = edited("issue_comment.created.json", |v| {
        v["comment"]["user"] = Value::Null;
        v["sender"]["login"] = json!("github-actions[bot]");
    });
    assert_eq!(
        reconcile("issue_comment", &body).actor,
        login("github-actions[bot]")
    );
}

// ---------------------------------------------------------------- statuses

#[test]
fn every_error_has_a_status_and_a_message() {
    let cases = [
        (WebhookError::EmptySecret, 500),
        (WebhookError::MissingSignature, 401),
        (
            WebhookError::UnsupportedScheme {
                scheme: "sha1".to_owned(),
            },
            401,
        ),
        (
            WebhookError::MalformedSignature {
                problem: "x".to_owned(),
            },
            401,
        ),
        (WebhookError::SignatureMismatch, 401),
        (WebhookError::TooLarge { limit: 1, size: 2 }, 413),
        (WebhookError::MissingEvent, 400),
        (
            WebhookError::Malformed {
                event: "ping".to_owned(),
                message: "x".to_owned(),
            },
            400,
        ),
    ];
    for (err, status) in cases {
        assert_eq!(err.status(), status, "{err:?}");
        assert!(err.to_string().len() > 20, "{err:?}");
    }
}
