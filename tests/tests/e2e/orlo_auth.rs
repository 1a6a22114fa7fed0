//! Orlo's own forms of authentication against real services: `GET /token`
//! checks HTTP Basic credentials against an htpasswd file made here (one
//! bcrypt user, one SHA-1 user) and answers a signed token; that token,
//! and the static `TACH_API_TOKEN`, grant release writes as `X-Auth-Token`
//! or as a bearer token; wrong passwords, changed, foreign and expired
//! tokens get 401s. The binary takes the file, the secret (from its file)
//! and the TTL from its settings, and refuses settings that cannot work.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use tach_query::auth::{self, Htpasswd, TokenAuth, TokenKey};
use tach_tests::harness::{self, http, QueryProcess, TestApi, TestDatabase};

use crate::QUERY;

/// The secret the replicas share.
const SECRET: &str = "a secret every replica shares";
/// The static token.
const STATIC: &str = "static-token";

/// An htpasswd file as `htpasswd -B` (alice, bcrypt `$2y$`) and
/// `htpasswd -s` (bob, SHA-1) write it; returns its path.
fn htpasswd_file(extra: &str) -> PathBuf {
    let bcrypt = bcrypt::hash("wonderland", 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let sha1 = base64::engine::general_purpose::STANDARD.encode(Sha1::digest(b"builder"));
    let path = std::env::temp_dir().join(format!("tach-htpasswd-{}", harness::unique_suffix()));
    std::fs::write(&path, format!("alice:{bcrypt}\nbob:{{SHA}}{sha1}\n{extra}")).unwrap();
    path
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// `GET /token` with an `Authorization` header, if any.
async fn token(api: &TestApi, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get("/token");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    api.request(request.body(Body::empty()).unwrap()).await
}

/// The token of a 200 from `/token`, after checking the whole answer.
async fn token_of(api: &TestApi, user: &str, password: &str) -> String {
    let (status, body) = token(api, Some(&basic(user, password))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(body, json!({"token": token, "duration": "3600"}));
    token
}

/// `POST /releases` with one auth header.
async fn create_release(api: &TestApi, header: (&str, &str)) -> (StatusCode, Value) {
    let body = json!({"user": "u", "platforms": ["p"]}).to_string();
    let request = Request::post("/releases")
        .header("content-type", "application/json")
        .header(header.0, header.1)
        .body(Body::from(body))
        .unwrap();
    api.request(request).await
}

fn refused() -> (StatusCode, Value) {
    (
        StatusCode::UNAUTHORIZED,
        json!({"message": "a valid token is required (Authorization: Bearer or X-Auth-Token)"}),
    )
}

fn bad_credentials() -> (StatusCode, Value) {
    (
        StatusCode::UNAUTHORIZED,
        json!({"message": "a valid user name and password are required (HTTP Basic)"}),
    )
}

fn api_with_users(db: &TestDatabase, file: &PathBuf) -> TestApi {
    let users = Htpasswd::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
    TestApi::with_state(tach_query::AppState {
        api_token: Some(STATIC.to_owned()),
        tokens: TokenAuth::new(Some(users), Some(SECRET), auth::DEFAULT_TOKEN_TTL).unwrap(),
        ..tach_query::AppState::new(db.pool.clone())
    })
}

#[tokio::test]
async fn tokens_of_htpasswd_users_and_the_static_token_grant_writes() {
    let db = TestDatabase::create().await;
    let file = htpasswd_file("");
    let api = api_with_users(&db, &file);
    let key = TokenKey::new(SECRET).unwrap();

    let alice = token_of(&api, "alice", "wonderland").await;
    let bob = token_of(&api, "bob", "builder").await;
    let now = auth::unix_seconds_now();
    assert_eq!(key.verify(&alice, now), Ok("alice".to_owned()));
    assert_eq!(key.verify(&bob, now), Ok("bob".to_owned()));
    assert_eq!(
        key.verify(&alice, now + 3601),
        Err(auth::TokenError::Expired)
    );

    let bearer = |token: &str| format!("Bearer {token}");
    let mut created = 0;
    for header in [
        ("x-auth-token", alice.clone()),
        ("authorization", bearer(&bob)),
        ("x-auth-token", STATIC.to_owned()),
        ("authorization", bearer(STATIC)),
    ] {
        let (status, body) = create_release(&api, (header.0, &header.1)).await;
        assert_eq!(status, StatusCode::OK, "{header:?}: {body}");
        created += 1;
    }

    // Wrong, unknown or missing credentials, or a token instead of them.
    for authorization in [
        Some(basic("alice", "Wonderland")),
        Some(basic("bob", "builder ")),
        Some(basic("carol", "wonderland")),
        Some(bearer(&alice)),
        None,
    ] {
        assert_eq!(
            token(&api, authorization.as_deref()).await,
            bad_credentials(),
            "{authorization:?}"
        );
    }

    // A changed signature, a changed user or expiry, another secret's
    // token, an expired one, and nothing at all.
    let (signed, signature) = alice.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged_user = alice.replacen(
        signed.split('.').next().unwrap(),
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("root"),
        1,
    );
    let (user, expiry) = signed.split_once('.').unwrap();
    let later = format!(
        "{user}.{}.{signature}",
        expiry.parse::<u64>().unwrap() + 86_400
    );
    let foreign = TokenKey::new("some other deployment's secret")
        .unwrap()
        .sign("alice", now + 3600);
    let expired = key.sign("alice", now - 1);
    for token in [
        format!("{signed}.{flipped}{}", &signature[1..]),
        forged_user,
        later,
        foreign,
        expired,
        "alice".to_owned(),
    ] {
        assert_eq!(
            create_release(&api, ("x-auth-token", &token)).await,
            refused(),
            "{token}"
        );
        assert_eq!(
            create_release(&api, ("authorization", &bearer(&token))).await,
            refused(),
            "{token}"
        );
    }
    assert_eq!(
        create_release(&api, ("authorization", &basic("alice", "wonderland"))).await,
        refused()
    );

    let (status, releases) = api.get("/releases").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(releases["releases"].as_array().unwrap().len(), created);
    std::fs::remove_file(&file).unwrap();
    db.drop_database().await;
}

#[tokio::test]
async fn without_htpasswd_no_token_is_issued_and_a_secret_alone_still_guards_writes() {
    let db = TestDatabase::create().await;
    let open = TestApi::new(db.pool.clone());
    let not_configured = (
        StatusCode::NOT_FOUND,
        json!({"message": "this tach-query issues no tokens: TACH_HTPASSWD_FILE is not set"}),
    );
    assert_eq!(
        token(&open, Some(&basic("alice", "wonderland"))).await,
        not_configured
    );
    assert_eq!(token(&open, None).await, not_configured);

    // A replica with the secret but no users accepts the others' tokens.
    let replica = TestApi::with_state(tach_query::AppState {
        tokens: TokenAuth::new(None, Some(SECRET), auth::DEFAULT_TOKEN_TTL).unwrap(),
        ..tach_query::AppState::new(db.pool.clone())
    });
    assert_eq!(token(&replica, None).await, not_configured);
    assert_eq!(
        create_release(&replica, ("x-auth-token", "anything")).await,
        refused()
    );
    let signed = TokenKey::new(SECRET)
        .unwrap()
        .sign("alice", auth::unix_seconds_now() + 60);
    let (status, body) = create_release(&replica, ("x-auth-token", &signed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    db.drop_database().await;
}

#[tokio::test]
async fn the_binary_takes_users_secret_file_and_ttl_from_its_settings() {
    let db = TestDatabase::create().await;
    let file = htpasswd_file("");
    let secret_file =
        std::env::temp_dir().join(format!("tach-token-secret-{}", harness::unique_suffix()));
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let query = QueryProcess::start(
        QUERY,
        &[
            ("DATABASE_URL", &db.url),
            ("TACH_HTPASSWD_FILE", file.to_str().unwrap()),
            ("TACH_TOKEN_SECRET_FILE", secret_file.to_str().unwrap()),
            ("TACH_TOKEN_TTL_SECS", "1"),
        ],
    );
    let address = query.address().await;

    let wrong = http(
        &address,
        "GET",
        "/token",
        &[("Authorization", &basic("bob", "nope"))],
        None,
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.header("www-authenticate"),
        Some("Basic realm=\"tach\"")
    );
    let issued_after = auth::unix_seconds_now();
    let answer = http(
        &address,
        "GET",
        "/token/",
        &[("Authorization", &basic("bob", "builder"))],
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["duration"], "1");
    let issued = body["token"].as_str().unwrap().to_owned();
    // Signed with the secret of the file, valid for one second.
    let key = TokenKey::new(SECRET).unwrap();
    assert_eq!(key.verify(&issued, issued_after), Ok("bob".to_owned()));
    let expiry: u64 = issued.split('.').nth(1).unwrap().parse().unwrap();
    assert!((issued_after + 1..=auth::unix_seconds_now() + 1).contains(&expiry));

    let write = |token: String| {
        let address = address.clone();
        async move {
            let body = json!({"user": "u", "platforms": ["p"]}).to_string();
            http(
                &address,
                "POST",
                "/releases",
                &[("X-Auth-Token", &token)],
                Some(&body),
            )
            .await
        }
    };
    // A token this binary did not issue, signed with the same secret.
    let answer = write(key.sign("alice", auth::unix_seconds_now() + 600)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Its own token expires after its second.
    harness::wait_until(
        "the one-second token to expire",
        Duration::from_secs(5),
        || {
            let answer = write(issued.clone());
            async move { answer.await.status == 401 }
        },
    )
    .await;
    let answer = write(issued.clone()).await;
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    assert_eq!(answer.json(), refused().1);

    query.stop().await;
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&secret_file).unwrap();
    db.drop_database().await;
}

#[tokio::test]
async fn settings_that_cannot_work_stop_the_start_naming_them() {
    let unsupported = htpasswd_file("carol:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n");
    let good = htpasswd_file("");
    let cases = [
        (
            vec![
                ("TACH_HTPASSWD_FILE", unsupported.to_str().unwrap()),
                ("TACH_TOKEN_SECRET", SECRET),
            ],
            format!(
                "TACH_HTPASSWD_FILE {}: line 3: the hash of user \"carol\" is neither bcrypt",
                unsupported.display()
            ),
        ),
        (
            vec![("TACH_HTPASSWD_FILE", good.to_str().unwrap())],
            "TACH_HTPASSWD_FILE is set but TACH_TOKEN_SECRET is not".to_owned(),
        ),
        (
            vec![
                ("TACH_HTPASSWD_FILE", good.to_str().unwrap()),
                ("TACH_TOKEN_SECRET", "short"),
            ],
            "TACH_TOKEN_SECRET must be at least 16 bytes (it has 5)".to_owned(),
        ),
        (
            vec![("TACH_HTPASSWD_FILE", "/nonexistent/htpasswd")],
            "TACH_HTPASSWD_FILE: cannot read /nonexistent/htpasswd".to_owned(),
        ),
    ];
    for (env, expected) in cases {
        let run = tokio::process::Command::new(QUERY)
            .env_clear()
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("the settings are checked before anything starts")
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr).replace("\n\nCaused by:\n    ", ": ");
        assert!(!output.status.success(), "{said}");
        assert!(said.contains(&expected), "{expected}\nnot in:\n{said}");
        assert!(!said.contains(SECRET), "{said}");
    }
    std::fs::remove_file(&unsupported).unwrap();
    std::fs::remove_file(&good).unwrap();
}
