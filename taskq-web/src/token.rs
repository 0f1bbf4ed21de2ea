//! API tokens: creating them, and the salted hashes the server keeps instead of them.
//!
//! A token's secret looks like `tq_<id>_<random>`: `<id>` (8 hex digits) names the token, so
//! the server finds the one hash to check without trying every configured line, and
//! `<random>` is 256 bits from the operating system's generator. The server is configured with
//! one line per token, never the secret:
//!
//! ```text
//! <id> <role> <salt-hex> <sha256-hex>      sha256 = SHA-256(salt || secret)
//! ```
//!
//! A fast salted hash is the right tool here, unlike for passwords: a token is a long random
//! secret, not something a person chose, so there is no dictionary to try and a brute-force
//! search of 2^256 values is out of reach however fast each guess is. (Passwords need a slow
//! hash such as Argon2 precisely because they are guessable.) Comparison is constant-time
//! ([`subtle::ConstantTimeEq`]), and the secret never appears in logs or errors.
//!
//! ```
//! use taskq_web::{token, Role};
//! let (secret, line) = token::create(Role::Operator).unwrap();
//! let tokens = token::TokenSet::parse(&line).unwrap();
//! let who = tokens.verify(&secret).unwrap();
//! assert_eq!(who.role, Role::Operator);
//! assert!(tokens.verify("tq_00000000_nope").is_none());
//! ```

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{Principal, Role};

/// Environment variable: token lines, separated by newlines or `;`.
pub const TOKENS_ENV: &str = "TASKQ_WEB_TOKENS";
/// Environment variable: a file of token lines (`#` starts a comment).
pub const TOKENS_FILE_ENV: &str = "TASKQ_WEB_TOKENS_FILE";

const PREFIX: &str = "tq_";
const ID_BYTES: usize = 4;
const SECRET_BYTES: usize = 32;
const SALT_BYTES: usize = 16;

/// Why a token could not be made or a token line not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The operating system's random generator failed.
    #[error("the system random generator failed: {0}")]
    Random(getrandom::Error),
    /// A configured line is not `<id> <role> <salt-hex> <sha256-hex>`.
    #[error("token line {line}: {problem} (expected `<id> <role> <salt-hex> <sha256-hex>`, as `taskq token create` prints)")]
    BadLine {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// Two lines have the same token id.
    #[error("token line {line}: the id `{id}` is configured twice")]
    DuplicateId {
        /// The line number, from 1.
        line: usize,
        /// The id.
        id: String,
    },
    /// The tokens file could not be read.
    #[error("cannot read the tokens file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An unknown role name.
    #[error(transparent)]
    Role(#[from] crate::auth::UnknownRole),
}

/// One configured token: its id, role, salt and hash (never the secret).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's id (the `<id>` of `tq_<id>_<random>`).
    pub id: String,
    /// What it may do.
    pub role: Role,
    salt: Vec<u8>,
    hash: [u8; 32],
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl TokenRecord {
    /// The configuration line: `<id> <role> <salt-hex> <sha256-hex>`.
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.id,
            self.role,
            hex::encode(&self.salt),
            hex::encode(self.hash)
        )
    }

    fn matches(&self, secret: &str) -> bool {
        let digest = hash(&self.salt, secret);
        bool::from(digest.ct_eq(&self.hash))
    }
}

fn hash(salt: &[u8], secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().into()
}

fn random<const N: usize>() -> Result<[u8; N], TokenError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(TokenError::Random)?;
    Ok(buf)
}

/// Makes a new token for `role`: its secret (show it once, to the person who asked) and the
/// line to add to the server's configuration (`TASKQ_WEB_TOKENS` or the tokens file).
///
/// ```
/// let (secret, line) = taskq_web::token::create(taskq_web::Role::Viewer).unwrap();
/// assert!(secret.starts_with("tq_"));
/// assert!(line.split(' ').nth(1) == Some("viewer"));
/// assert!(!line.contains(&secret));
/// ```
///
/// # Errors
/// [`TokenError::Random`] if the system random generator fails.
pub fn create(role: Role) -> Result<(String, String), TokenError> {
    let id = hex::encode(random::<ID_BYTES>()?);
    let secret = format!("{PREFIX}{id}_{}", hex::encode(random::<SECRET_BYTES>()?));
    let salt = random::<SALT_BYTES>()?.to_vec();
    let record = TokenRecord {
        hash: hash(&salt, &secret),
        id,
        role,
        salt,
    };
    Ok((secret, record.line()))
}

/// The id part of a secret `tq_<id>_<random>`.
fn id_of(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(PREFIX)?;
    let (id, random) = rest.split_once('_')?;
    (!id.is_empty() && !random.is_empty()).then_some(id)
}

/// The configured tokens, by id.
#[derive(Clone, Debug, Default)]
pub struct TokenSet {
    by_id: HashMap<String, TokenRecord>,
}

impl TokenSet {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads token lines separated by newlines or `;`; blank lines and `#` comments are
    /// skipped.
    ///
    /// # Errors
    /// [`TokenError::BadLine`], [`TokenError::DuplicateId`], [`TokenError::Role`].
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let mut set = Self::new();
        set.add_lines(text)?;
        Ok(set)
    }

    /// The tokens of `TASKQ_WEB_TOKENS` and of the file `TASKQ_WEB_TOKENS_FILE` names (both
    /// when both are set; none when neither is).
    ///
    /// # Errors
    /// As [`TokenSet::parse`]; [`TokenError::File`] if the file cannot be read.
    pub fn from_env() -> Result<Self, TokenError> {
        let mut set = Self::new();
        if let Ok(text) = std::env::var(TOKENS_ENV) {
            set.add_lines(&text)?;
        }
        if let Ok(path) = std::env::var(TOKENS_FILE_ENV) {
            if !path.trim().is_empty() {
                let text =
                    std::fs::read_to_string(path.trim()).map_err(|source| TokenError::File {
                        path: path.trim().to_owned(),
                        source,
                    })?;
                set.add_lines(&text)?;
            }
        }
        Ok(set)
    }

    /// Adds token lines (as [`TokenSet::parse`] reads them).
    ///
    /// # Errors
    /// As [`TokenSet::parse`].
    pub fn add_lines(&mut self, text: &str) -> Result<&mut Self, TokenError> {
        for (n, raw) in text.split(['\n', ';']).enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let record = parse_line(n + 1, line)?;
            if self.by_id.contains_key(&record.id) {
                return Err(TokenError::DuplicateId {
                    line: n + 1,
                    id: record.id,
                });
            }
            self.by_id.insert(record.id.clone(), record);
        }
        Ok(self)
    }

    /// How many tokens.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Who presents `secret`, if it is one of these tokens.
    pub fn verify(&self, secret: &str) -> Option<Principal> {
        let record = self.by_id.get(id_of(secret.trim())?)?;
        record.matches(secret.trim()).then(|| Principal {
            role: record.role,
            token_id: Some(record.id.clone()),
        })
    }
}

fn parse_line(line: usize, text: &str) -> Result<TokenRecord, TokenError> {
    let bad = |problem| TokenError::BadLine { line, problem };
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [id, role, salt, digest] = parts.as_slice() else {
        return Err(bad("it does not have four fields"));
    };
    if id.contains('_') {
        return Err(bad("the id contains `_`"));
    }
    let salt = hex::decode(salt).map_err(|_| bad("the salt is not hex"))?;
    let digest = hex::decode(digest).map_err(|_| bad("the hash is not hex"))?;
    let hash: [u8; 32] = digest
        .try_into()
        .map_err(|_| bad("the hash is not 32 bytes (64 hex digits)"))?;
    Ok(TokenRecord {
        id: (*id).to_owned(),
        role: role.parse()?,
        salt,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let (a, la) = create(Role::Admin).unwrap();
        let (v, lv) = create(Role::Viewer).unwrap();
        let set = TokenSet::parse(&format!("{la};\n# comment\n{lv}")).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.verify(&a).unwrap().role, Role::Admin);
        assert_eq!(set.verify(&v).unwrap().role, Role::Viewer);
        // Right id, wrong random part.
        let forged = format!("{}x", &a[..a.len() - 1]);
        assert!(set.verify(&forged).is_none());
        assert!(set.verify("garbage").is_none());
        assert!(TokenSet::parse("a viewer 00").is_err());
        assert!(TokenSet::parse(&format!("{la}\n{la}")).is_err());
        assert!(!format!("{set:?}").contains(&la[20..]));
    }
}
