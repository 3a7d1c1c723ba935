//! GitHub's OAuth web flow for one test user: authorize redirects back with
//! a code, the code is exchanged once for a token, `/user` names the user.

use std::net::SocketAddr;

use serde_json::Value;

use super::start;

/// One HTTP/1.1 exchange: (status, `Location`, JSON body or `Null`).
async fn exchange(addr: SocketAddr, request: String) -> (u16, Option<String>, Value) {
    let response = super::exchange(addr, request).await;
    let (head, body) = response.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let location = head
        .lines()
        .find_map(|line| line.strip_prefix("location: "))
        .map(str::to_owned);
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, location, body)
}

async fn get(addr: SocketAddr, path: &str, authorization: &str) -> (u16, Option<String>, Value) {
    let auth = if authorization.is_empty() {
        String::new()
    } else {
        format!("Authorization: {authorization}\r\n")
    };
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"),
    )
    .await
}

async fn exchange_code(addr: SocketAddr, form: &str) -> Value {
    let request = format!(
        "POST /login/oauth/access_token HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{form}",
        form.len()
    );
    let (status, _, body) = exchange(addr, request).await;
    assert_eq!(status, 200, "{body}");
    body
}

const BACK: &str = "http://127.0.0.1:1/cb";

#[tokio::test]
async fn a_configured_user_signs_in_once_per_code() {
    let (fake, _) = start().await;
    fake.set_oauth_app("Iv1.app", "s3cr3t");
    fake.set_oauth_user(Some("alice"));
    fake.require_token(Some("bot-token"));
    let addr = fake.addr();

    let (status, location, _) = get(
        addr,
        "/login/oauth/authorize?client_id=Iv1.app&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&state=xyz",
        "",
    )
    .await;
    assert_eq!(status, 302);
    let location = location.expect("a redirect");
    let (to, query) = location.split_once('?').expect("a query");
    assert_eq!(to, BACK);
    assert!(query.ends_with("&state=xyz"), "{query}");
    let code = query
        .strip_prefix("code=")
        .and_then(|rest| rest.split('&').next())
        .expect("a code");

    let form = format!("client_id=Iv1.app&client_secret=s3cr3t&code={code}");
    let wrong = exchange_code(addr, &form.replace("s3cr3t", "guess")).await;
    assert_eq!(wrong["error"], "incorrect_client_credentials");
    let token = exchange_code(addr, &form).await;
    let token = token["access_token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("gho_fake"), "{token}");
    let again = exchange_code(addr, &form).await;
    assert_eq!(again["error"], "bad_verification_code");

    // The user's token names the user, even where the API wants the bot's.
    let (status, _, user) = get(addr, "/user", &format!("Bearer {token}")).await;
    assert_eq!((status, user["login"].as_str()), (200, Some("alice")));
    let (status, _, user) = get(addr, "/api/v3/user", &format!("token {token}")).await;
    assert_eq!((status, user["login"].as_str()), (200, Some("alice")));
    let (status, _, _) = get(addr, "/user", "Bearer bot-token").await;
    assert_eq!(status, 401);
    assert_eq!(fake.count("POST", "/login/oauth/access_token"), 3);
}

#[tokio::test]
async fn unknown_apps_and_cancelled_sign_ins_are_refused() {
    let (fake, _) = start().await;
    fake.set_oauth_app("Iv1.app", "s3cr3t");
    let addr = fake.addr();
    let (status, _, _) = get(
        addr,
        "/login/oauth/authorize?client_id=other&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb",
        "",
    )
    .await;
    assert_eq!(status, 404);
    // No user set: the user "cancelled".
    let (status, location, _) = get(
        addr,
        "/login/oauth/authorize?client_id=Iv1.app&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&state=s",
        "",
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(
        location.as_deref(),
        Some("http://127.0.0.1:1/cb?error=access_denied&state=s")
    );

    // A code must come back with the redirect_uri it was issued for.
    fake.set_oauth_user(Some("bob"));
    let (_, location, _) = get(
        addr,
        "/login/oauth/authorize?client_id=Iv1.app&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb",
        "",
    )
    .await;
    let location = location.expect("a redirect");
    let code = location
        .split_once("code=")
        .and_then(|(_, rest)| rest.split('&').next())
        .expect("a code");
    let mismatch = exchange_code(
        addr,
        &format!(
            "client_id=Iv1.app&client_secret=s3cr3t&code={code}&redirect_uri=http%3A%2F%2Fevil"
        ),
    )
    .await;
    assert_eq!(mismatch["error"], "redirect_uri_mismatch");
}
