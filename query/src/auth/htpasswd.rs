//! The users of `TACH_HTPASSWD_FILE`, as Apache's `htpasswd` writes them:
//! `user:hash` a line. Orlo checked `GET /token`'s HTTP Basic credentials
//! against such a file; tach takes the two hashes that are safe to keep —
//! bcrypt (`htpasswd -B`: `$2y$`, `$2b$`, `$2a$`) and, for old files, SHA-1
//! (`htpasswd -s`: `{SHA}` and the base64 of the digest). Any other entry
//! (MD5 `$apr1$`, crypt, plain text) stops the start with the line and the
//! user named, rather than lock that user out without a word.

use std::fmt;

use base64::Engine;
use sha1::{Digest, Sha1};

/// One user's password hash.
#[derive(Clone, PartialEq, Eq)]
enum PasswordHash {
    /// A bcrypt hash, checked by the `bcrypt` crate.
    Bcrypt(String),
    /// The SHA-1 digest of the password.
    Sha1([u8; 20]),
}

/// The users of an htpasswd file.
#[derive(Clone, PartialEq, Eq)]
pub struct Htpasswd {
    users: Vec<(String, PasswordHash)>,
}

impl fmt::Debug for Htpasswd {
    /// The user names only: the hashes stay out of logs.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.users.iter().map(|(name, _)| name.as_str()).collect();
        formatter
            .debug_struct("Htpasswd")
            .field("users", &names)
            .finish()
    }
}

/// What is wrong with a line of an htpasswd file (1-based line numbers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HtpasswdError {
    /// No `user:hash` on the line.
    #[error("line {line}: expected user:hash")]
    NotAnEntry {
        /// The line.
        line: usize,
    },
    /// A hash of a kind tach does not check.
    #[error(
        "line {line}: the hash of user {user:?} is neither bcrypt ($2y$, $2b$, $2a$) nor SHA-1 \
         ({{SHA}}); make it again with htpasswd -B"
    )]
    UnsupportedHash {
        /// The line.
        line: usize,
        /// Whose hash it is.
        user: String,
    },
    /// A bcrypt or SHA-1 hash that does not parse.
    #[error("line {line}: the hash of user {user:?} is malformed")]
    MalformedHash {
        /// The line.
        line: usize,
        /// Whose hash it is.
        user: String,
    },
    /// A user listed twice: which password counts would be a guess.
    #[error("line {line}: user {user:?} is listed twice")]
    DuplicateUser {
        /// The second line.
        line: usize,
        /// The user.
        user: String,
    },
    /// No user at all: no one could get a token.
    #[error("no users")]
    NoUsers,
}

impl Htpasswd {
    /// Parses a file's text; blank lines and lines starting with `#` are skipped.
    pub fn parse(text: &str) -> Result<Htpasswd, HtpasswdError> {
        let mut users: Vec<(String, PasswordHash)> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let entry = raw.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let (user, hash) = entry
                .split_once(':')
                .filter(|(user, hash)| !user.is_empty() && !hash.is_empty())
                .ok_or(HtpasswdError::NotAnEntry { line })?;
            if users.iter().any(|(known, _)| known == user) {
                return Err(HtpasswdError::DuplicateUser {
                    line,
                    user: user.to_owned(),
                });
            }
            users.push((user.to_owned(), parse_hash(line, user, hash)?));
        }
        if users.is_empty() {
            return Err(HtpasswdError::NoUsers);
        }
        Ok(Htpasswd { users })
    }

    /// Whether `password` is `user`'s. An unknown user is not.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let Some((_, hash)) = self.users.iter().find(|(known, _)| known == user) else {
            return false;
        };
        match hash {
            // A hash that parsed but fails to verify (bcrypt's own checks)
            // lets no one in.
            PasswordHash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            PasswordHash::Sha1(digest) => {
                let given: [u8; 20] = Sha1::digest(password.as_bytes()).into();
                super::same_bytes(&given, digest)
            }
        }
    }
}

fn parse_hash(line: usize, user: &str, hash: &str) -> Result<PasswordHash, HtpasswdError> {
    let malformed = || HtpasswdError::MalformedHash {
        line,
        user: user.to_owned(),
    };
    if let Some(encoded) = hash.strip_prefix("{SHA}") {
        let digest = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| malformed())?;
        return digest
            .try_into()
            .map(PasswordHash::Sha1)
            .map_err(|_| malformed());
    }
    if ["$2y$", "$2b$", "$2a$"]
        .iter()
        .any(|prefix| hash.starts_with(prefix))
    {
        // bcrypt's own range of costs; a hash outside it fails every check.
        return match hash.parse::<bcrypt::HashParts>() {
            Ok(parts) if (4..=31).contains(&parts.get_cost()) => {
                Ok(PasswordHash::Bcrypt(hash.to_owned()))
            }
            _ => Err(malformed()),
        };
    }
    Err(HtpasswdError::UnsupportedHash {
        line,
        user: user.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `htpasswd -nbs bob builder`: `{SHA}` and base64 of SHA-1("builder").
    const BOB: &str = "bob:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=";

    /// As `htpasswd -nbB alice wonderland` writes it (`$2y$`), at the
    /// lowest cost to keep the test fast.
    fn alice() -> String {
        let hash = bcrypt::hash("wonderland", 4).unwrap();
        format!("alice:{}", hash.replacen("$2b$", "$2y$", 1))
    }

    #[test]
    fn bcrypt_and_sha1_users_get_in_with_their_password_only() {
        let file = Htpasswd::parse(&format!("# users\n{}\n\n{BOB}\n", alice())).unwrap();
        assert!(file.verify("alice", "wonderland"));
        assert!(!file.verify("alice", "Wonderland"));
        assert!(!file.verify("alice", ""));
        assert!(file.verify("bob", "builder"));
        assert!(!file.verify("bob", "builder "));
        assert!(!file.verify("carol", "builder"));
        assert!(!file.verify("", ""));
    }

    #[test]
    fn every_bcrypt_prefix_htpasswd_and_others_write_is_checked() {
        for prefix in ["$2y$", "$2b$", "$2a$"] {
            let hash = bcrypt::hash("pw", 4).unwrap().replacen("$2b$", prefix, 1);
            let file = Htpasswd::parse(&format!("u:{hash}")).unwrap();
            assert!(file.verify("u", "pw"), "{prefix}");
            assert!(!file.verify("u", "pW"), "{prefix}");
        }
    }

    #[test]
    fn other_hashes_and_broken_lines_are_errors_naming_line_and_user() {
        let cases = [
            (
                "carol:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/",
                HtpasswdError::UnsupportedHash {
                    line: 1,
                    user: "carol".into(),
                },
            ),
            (
                "dave:plaintext",
                HtpasswdError::UnsupportedHash {
                    line: 1,
                    user: "dave".into(),
                },
            ),
            (
                "\nerin:{SHA}not base64!",
                HtpasswdError::MalformedHash {
                    line: 2,
                    user: "erin".into(),
                },
            ),
            (
                "frank:{SHA}AAAA",
                HtpasswdError::MalformedHash {
                    line: 1,
                    user: "frank".into(),
                },
            ),
            (
                "hal:$2y$99$......................YgIDy4hFBdVlc/6LHnD9mX488r9cLd2",
                HtpasswdError::MalformedHash {
                    line: 1,
                    user: "hal".into(),
                },
            ),
            (
                "gina:$2y$05$short",
                HtpasswdError::MalformedHash {
                    line: 1,
                    user: "gina".into(),
                },
            ),
            ("no separator", HtpasswdError::NotAnEntry { line: 1 }),
            (
                ":{SHA}9SMYoF5RilWWASry7TjeaKwmpGg=",
                HtpasswdError::NotAnEntry { line: 1 },
            ),
            (
                &format!("{BOB}\n{BOB}"),
                HtpasswdError::DuplicateUser {
                    line: 2,
                    user: "bob".into(),
                },
            ),
            ("# nobody\n\n", HtpasswdError::NoUsers),
        ];
        for (text, expected) in cases {
            assert_eq!(Htpasswd::parse(text), Err(expected), "{text}");
        }
        assert_eq!(
            Htpasswd::parse("carol:$apr1$x$y").unwrap_err().to_string(),
            "line 1: the hash of user \"carol\" is neither bcrypt ($2y$, $2b$, $2a$) nor SHA-1 \
             ({SHA}); make it again with htpasswd -B"
        );
    }

    #[test]
    fn the_demo_file_of_the_compose_deployment_lets_its_user_in() {
        let file =
            Htpasswd::parse(include_str!("../../../deploy/compose-secrets/htpasswd")).unwrap();
        assert!(file.verify("tach", "tach"));
    }

    #[test]
    fn its_debug_form_leaves_the_hashes_out() {
        let file = Htpasswd::parse(BOB).unwrap();
        assert_eq!(format!("{file:?}"), "Htpasswd { users: [\"bob\"] }");
    }
}
