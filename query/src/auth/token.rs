//! The tokens `GET /token` issues, as Orlo's did: whoever shows one may
//! write until it expires. A token is `<user>.<expiry>.<signature>`: the
//! user name in unpadded base64url, the expiry in unix seconds, and the
//! unpadded base64url HMAC-SHA256 of the two (with their dot) under
//! `TACH_TOKEN_SECRET`. No state is kept, so every replica with the same
//! secret accepts every replica's tokens. The clock is a parameter: the
//! decisions here are pure.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Shortest `TACH_TOKEN_SECRET` accepted: shorter ones can be guessed.
pub const MIN_SECRET_BYTES: usize = 16;

/// The secret tokens are signed with.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl fmt::Debug for TokenKey {
    /// Never the secret.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TokenKey(..)")
    }
}

/// A `TACH_TOKEN_SECRET` shorter than [`MIN_SECRET_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TACH_TOKEN_SECRET must be at least {MIN_SECRET_BYTES} bytes (it has {0})")]
pub struct ShortSecret(pub usize);

/// Why a token grants nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three parts, or parts that do not decode.
    #[error("not a token")]
    Malformed,
    /// Not signed with this secret, or changed since.
    #[error("bad signature")]
    BadSignature,
    /// Signed, but its time is over.
    #[error("expired")]
    Expired,
}

impl TokenKey {
    /// The key of `secret`.
    pub fn new(secret: &str) -> Result<TokenKey, ShortSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret(secret.len()));
        }
        Ok(TokenKey(secret.as_bytes().to_vec()))
    }

    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(signed.as_bytes());
        mac
    }

    /// A token for `user`, valid until `expires_at` (unix seconds).
    pub fn sign(&self, user: &str, expires_at: u64) -> String {
        let signed = format!("{}.{expires_at}", URL_SAFE_NO_PAD.encode(user));
        let signature = self.mac(&signed).finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The user of `token` when this key signed it and `now` (unix seconds)
    /// is before its expiry. The signature is checked first, in constant
    /// time, so nothing of an unsigned token is trusted.
    pub fn verify(&self, token: &str, now: u64) -> Result<String, TokenError> {
        let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (user, expires_at) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        self.mac(signed)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let expires_at: u64 = expires_at.parse().map_err(|_| TokenError::Malformed)?;
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        let user = URL_SAFE_NO_PAD
            .decode(user)
            .map_err(|_| TokenError::Malformed)?;
        String::from_utf8(user).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn key() -> TokenKey {
        TokenKey::new("a secret of replicas, long enough").unwrap()
    }

    #[test]
    fn a_token_names_its_user_until_it_expires() {
        let token = key().sign("alice", NOW + 3600);
        assert_eq!(key().verify(&token, NOW), Ok("alice".to_owned()));
        assert_eq!(key().verify(&token, NOW + 3599), Ok("alice".to_owned()));
        assert_eq!(key().verify(&token, NOW + 3600), Err(TokenError::Expired));
        assert_eq!(key().verify(&token, u64::MAX), Err(TokenError::Expired));
        let odd = key().sign("a.b:c d/é", NOW + 1);
        assert_eq!(key().verify(&odd, NOW), Ok("a.b:c d/é".to_owned()));
    }

    #[test]
    fn its_form_is_user_expiry_signature_in_header_safe_characters() {
        let token = key().sign("alice", NOW + 3600);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts[..2], ["YWxpY2U", "1700003600"]);
        assert_eq!(parts[2].len(), 43);
        assert!(token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte)));
        assert_eq!(token, key().sign("alice", NOW + 3600));
    }

    #[test]
    fn a_changed_or_foreign_token_is_refused() {
        let token = key().sign("alice", NOW + 3600);
        let other = TokenKey::new("another secret, just as long").unwrap();
        assert_eq!(other.verify(&token, NOW), Err(TokenError::BadSignature));
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let later = signed.replace("1700003600", "1800003600");
        assert_eq!(
            key().verify(&format!("{later}.{signature}"), NOW),
            Err(TokenError::BadSignature)
        );
        let mallory = format!("{}.1700003600.{signature}", URL_SAFE_NO_PAD.encode("root"));
        assert_eq!(key().verify(&mallory, NOW), Err(TokenError::BadSignature));
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            key().verify(&String::from_utf8(flipped).unwrap(), NOW),
            Err(TokenError::BadSignature)
        );
        for malformed in [
            "",
            "x",
            "a.b",
            "YWxpY2U.1700003600.not base64!",
            "..",
            "a.b.c.d",
        ] {
            assert!(
                matches!(
                    key().verify(malformed, NOW),
                    Err(TokenError::Malformed | TokenError::BadSignature)
                ),
                "{malformed}"
            );
        }
        assert_eq!(key().verify("a.b", NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert_eq!(TokenKey::new("change_me").unwrap_err(), ShortSecret(9));
        assert_eq!(
            ShortSecret(9).to_string(),
            "TACH_TOKEN_SECRET must be at least 16 bytes (it has 9)"
        );
        assert!(TokenKey::new("sixteen bytes!!!").is_ok());
        let demo = include_str!("../../../deploy/compose-secrets/token_secret");
        assert!(TokenKey::new(demo.trim_end()).is_ok());
        assert_eq!(format!("{:?}", key()), "TokenKey(..)");
    }
}
