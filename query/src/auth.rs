//! Who may write and who may see protected data.
//!
//! Release writes are open unless `TACH_API_TOKEN` or `TACH_TOKEN_SECRET`
//! is set; then a write must present a token, as `Authorization: Bearer
//! <token>` or as Orlo's `X-Auth-Token: <token>`: the static
//! `TACH_API_TOKEN`, or one `GET /token` signed with `TACH_TOKEN_SECRET`
//! and not yet expired ([`token`]). `/token` gives one for the HTTP Basic
//! credentials of a user of `TACH_HTPASSWD_FILE` ([`htpasswd`]). A handler
//! that writes takes [`WriteAccess`], so the route cannot run without it,
//! and its OpenAPI operation declares the schemes. Socorro's protected crash
//! fields need `TACH_READ_TOKEN`, presented the same two ways, when it is
//! set: a handler that shows them takes [`ReadAccess`], which says whether
//! this request may.

pub mod htpasswd;
pub mod token;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName};
use base64::Engine;

use crate::error::ApiError;
use crate::state::AppState;
pub use htpasswd::{Htpasswd, HtpasswdError};
pub use token::{ShortSecret, TokenError, TokenKey};

/// Orlo's header for a token.
pub const X_AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");

/// Orlo's default `token_ttl`: how long an issued token is valid.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Orlo's own authentication: who may get a token, what signs it, and for
/// how long it is valid.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    /// The users of `TACH_HTPASSWD_FILE`; without them `/token` answers 404.
    pub users: Option<Arc<Htpasswd>>,
    /// `TACH_TOKEN_SECRET`: signs the tokens issued here and checks those
    /// presented, whichever replica issued them. With it, writes need a token.
    pub key: Option<TokenKey>,
    /// How long an issued token is valid (`TACH_TOKEN_TTL_SECS`).
    pub ttl: Duration,
}

impl Default for TokenAuth {
    /// No users, no secret: no tokens issued or accepted.
    fn default() -> TokenAuth {
        TokenAuth {
            users: None,
            key: None,
            ttl: DEFAULT_TOKEN_TTL,
        }
    }
}

/// Settings of [`TokenAuth`] that cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenAuthError {
    /// Users to issue tokens to, but nothing to sign them with.
    #[error("TACH_HTPASSWD_FILE is set but TACH_TOKEN_SECRET is not: tokens need a secret to be signed with")]
    NoSecret,
    /// A guessable secret.
    #[error(transparent)]
    ShortSecret(#[from] ShortSecret),
}

impl TokenAuth {
    /// Token authentication from its settings: `users` of the htpasswd file
    /// need a `secret`; a secret alone checks the tokens other replicas issue.
    pub fn new(
        users: Option<Htpasswd>,
        secret: Option<&str>,
        ttl: Duration,
    ) -> Result<TokenAuth, TokenAuthError> {
        let key = secret.map(TokenKey::new).transpose()?;
        if users.is_some() && key.is_none() {
            return Err(TokenAuthError::NoSecret);
        }
        Ok(TokenAuth {
            users: users.map(Arc::new),
            key,
            ttl,
        })
    }
}

/// Proof that the request may write.
#[derive(Debug, Clone, Copy)]
pub struct WriteAccess;

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<WriteAccess, ApiError> {
        let api_token = state.api_token.as_deref();
        let key = state.tokens.key.as_ref();
        if may_write(api_token, key, &parts.headers, unix_seconds_now()) {
            Ok(WriteAccess)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// Whether `headers` let a request write at `now` (unix seconds): always
/// when neither a static token nor a token secret is set; else when they
/// present `api_token` or a token `key` signed that has not expired.
pub fn may_write(
    api_token: Option<&str>,
    key: Option<&TokenKey>,
    headers: &HeaderMap,
    now: u64,
) -> bool {
    if api_token.is_none() && key.is_none() {
        return true;
    }
    presented_tokens(headers).any(|token| {
        api_token.is_some_and(|expected| same_bytes(token.as_bytes(), expected.as_bytes()))
            || key.is_some_and(|key| key.verify(token, now).is_ok())
    })
}

/// Whether a request may see protected fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadAccess {
    /// True without `TACH_READ_TOKEN`, or with it presented.
    pub protected_fields: bool,
}

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ReadAccess, std::convert::Infallible> {
        Ok(ReadAccess {
            protected_fields: presents(state.read_token.as_deref(), &parts.headers),
        })
    }
}

/// True without a token to expect, or when `headers` present it.
pub fn presents(expected: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    presented_tokens(headers).any(|token| same_bytes(token.as_bytes(), expected.as_bytes()))
}

/// The tokens a request presents: its bearer token and its `X-Auth-Token`.
fn presented_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let x_auth_token = headers
        .get(X_AUTH_TOKEN)
        .and_then(|value| value.to_str().ok());
    bearer.into_iter().chain(x_auth_token).map(str::trim)
}

/// Compares in time independent of where the first difference is, so the
/// answer's timing does not reveal a prefix of the token.
fn same_bytes(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// The user name and password of `Authorization: Basic` (RFC 7617), when
/// the header holds them.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(user, password)| (user.to_owned(), password.to_owned()))?;
    Some((user, password))
}

/// A token `GET /token` issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The token.
    pub token: String,
    /// How long it is valid, in seconds.
    pub ttl_secs: u64,
}

/// A token for the user of `headers`' HTTP Basic credentials, valid from
/// `now` (unix seconds) for the TTL; 404 when no htpasswd file is set, 401
/// for missing or wrong credentials.
pub async fn issue_token(
    tokens: &TokenAuth,
    headers: &HeaderMap,
    now: u64,
) -> Result<Issued, ApiError> {
    let (Some(users), Some(key)) = (&tokens.users, &tokens.key) else {
        return Err(ApiError::NotConfigured(
            "this tach-query issues no tokens: TACH_HTPASSWD_FILE is not set",
        ));
    };
    let (user, password) = basic_credentials(headers).ok_or(ApiError::BadCredentials)?;
    let users = users.clone();
    let checked = user.clone();
    // bcrypt is slow on purpose (tens of milliseconds): off the async workers.
    let valid = tokio::task::spawn_blocking(move || users.verify(&checked, &password))
        .await
        .map_err(|error| ApiError::Internal(error.into()))?;
    if !valid {
        return Err(ApiError::BadCredentials);
    }
    let ttl_secs = tokens.ttl.as_secs();
    Ok(Issued {
        token: key.sign(&user, now.saturating_add(ttl_secs)),
        ttl_secs,
    })
}

/// The system clock in unix seconds (0 before 1970: every token expired).
pub fn unix_seconds_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const NOW: u64 = 1_700_000_000;

    fn with(name: HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn bearer(value: &str) -> HeaderMap {
        with(header::AUTHORIZATION, value)
    }

    fn key() -> TokenKey {
        TokenKey::new("the replicas' shared secret").unwrap()
    }

    #[test]
    fn read_tokens_are_presented_as_bearer_or_x_auth_token() {
        assert!(presents(None, &HeaderMap::new()));
        assert!(!presents(Some("s3cret"), &HeaderMap::new()));
        assert!(presents(Some("s3cret"), &bearer("Bearer s3cret")));
        assert!(presents(Some("s3cret"), &with(X_AUTH_TOKEN, "s3cret")));
        assert!(!presents(Some("s3cret"), &bearer("Bearer s3cre")));
        assert!(!presents(Some("s3cret"), &bearer("Basic s3cret")));
        assert!(!presents(Some("s3cret"), &with(X_AUTH_TOKEN, "s3cretx")));
    }

    #[test]
    fn writes_are_open_without_token_or_secret_and_need_one_with_either() {
        assert!(may_write(None, None, &HeaderMap::new(), NOW));
        let signed = key().sign("alice", NOW + 60);
        for headers in [
            bearer("Bearer s3cret"),
            with(X_AUTH_TOKEN, "s3cret"),
            with(X_AUTH_TOKEN, " s3cret "),
        ] {
            assert!(may_write(Some("s3cret"), None, &headers, NOW));
            assert!(may_write(Some("s3cret"), Some(&key()), &headers, NOW));
            assert!(!may_write(None, Some(&key()), &headers, NOW));
        }
        for headers in [
            bearer(&format!("Bearer {signed}")),
            with(X_AUTH_TOKEN, &signed),
        ] {
            assert!(may_write(None, Some(&key()), &headers, NOW));
            assert!(may_write(Some("s3cret"), Some(&key()), &headers, NOW + 59));
            assert!(!may_write(Some("s3cret"), Some(&key()), &headers, NOW + 60));
            // A signed token is no static token.
            assert!(!may_write(Some("s3cret"), None, &headers, NOW));
        }
        assert!(!may_write(
            Some("s3cret"),
            Some(&key()),
            &HeaderMap::new(),
            NOW
        ));
        assert!(!may_write(None, Some(&key()), &bearer("Basic YTpi"), NOW));
    }

    #[test]
    fn basic_credentials_are_user_colon_password_in_base64() {
        let basic = |value: &str| basic_credentials(&bearer(value));
        // "alice:wonder:land" — the password may hold colons, the user not.
        assert_eq!(
            basic("Basic YWxpY2U6d29uZGVyOmxhbmQ="),
            Some(("alice".to_owned(), "wonder:land".to_owned()))
        );
        assert_eq!(
            basic("basic YWxpY2U6"),
            Some(("alice".to_owned(), String::new()))
        );
        assert_eq!(basic("Basic YWxpY2U="), None);
        assert_eq!(basic("Basic !!!"), None);
        assert_eq!(basic("Bearer YWxpY2U6d29uZGVy"), None);
        assert_eq!(basic("Basic"), None);
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
    }

    #[test]
    fn users_need_a_secret_and_a_secret_may_come_alone() {
        let users = Htpasswd::parse("bob:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=").unwrap();
        assert_eq!(
            TokenAuth::new(Some(users.clone()), None, DEFAULT_TOKEN_TTL).unwrap_err(),
            TokenAuthError::NoSecret
        );
        assert_eq!(
            TokenAuth::new(Some(users.clone()), Some("short"), DEFAULT_TOKEN_TTL).unwrap_err(),
            TokenAuthError::ShortSecret(ShortSecret(5))
        );
        let alone = TokenAuth::new(None, Some("a long enough secret"), DEFAULT_TOKEN_TTL).unwrap();
        assert!(alone.users.is_none() && alone.key.is_some());
        let both = TokenAuth::new(
            Some(users),
            Some("a long enough secret"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(both.users.is_some() && both.key.is_some());
        assert_eq!(both.ttl, Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_token_is_issued_for_right_credentials_only() {
        let users = Htpasswd::parse("bob:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=").unwrap();
        let tokens = TokenAuth::new(
            Some(users),
            Some("the replicas' shared secret"),
            Duration::from_secs(60),
        )
        .unwrap();
        // "bob:builder"
        let issued = issue_token(&tokens, &bearer("Basic Ym9iOmJ1aWxkZXI="), NOW)
            .await
            .unwrap();
        assert_eq!(issued.ttl_secs, 60);
        assert_eq!(issued.token, key().sign("bob", NOW + 60));
        // "bob:Builder", none, and a bearer token instead.
        for headers in [
            bearer("Basic Ym9iOkJ1aWxkZXI="),
            HeaderMap::new(),
            bearer("Bearer s3cret"),
        ] {
            assert!(matches!(
                issue_token(&tokens, &headers, NOW).await,
                Err(ApiError::BadCredentials)
            ));
        }
        assert!(matches!(
            issue_token(
                &TokenAuth::default(),
                &bearer("Basic Ym9iOmJ1aWxkZXI="),
                NOW
            )
            .await,
            Err(ApiError::NotConfigured(_))
        ));
    }
}
