//! Tokens: generation (`dfl_<id>_<secret>`, 192 random bits of secret), storage as the SHA-256
//! of the secret only, and verification of a bearer token — looked up by its public id, then the
//! hash compared in constant time. A revoked token stops working on the next request.

use difflore_server_db::{Role, Storage, StorageError, TokenRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "dfl_";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn random_hex(n: usize) -> Result<String, StorageError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b)
        .map_err(|e| StorageError::Unavailable(format!("no randomness: {e}")))?;
    Ok(hex(&b))
}

/// A new token: its text (shown once) and the record to store.
pub fn new_token(
    team: &str,
    name: &str,
    role: Role,
    now: String,
) -> Result<(String, TokenRecord), StorageError> {
    let id = random_hex(6)?;
    let secret = random_hex(24)?;
    let record = TokenRecord {
        id: id.clone(),
        team: team.to_string(),
        name: name.to_string(),
        role,
        secret_sha256: sha256_hex(&secret),
        created_at: now,
        revoked_at: None,
    };
    Ok((format!("{PREFIX}{id}_{secret}"), record))
}

/// Splits token text into (id, secret); `None` when it is not a difflore token.
fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (ok(id, 12) && ok(secret, 48)).then_some((id, secret))
}

/// Why a request is not authenticated.
#[derive(Debug)]
pub enum AuthError {
    Missing,
    Invalid,
    Storage(StorageError),
}

/// The token record behind `Authorization: Bearer <token>`.
pub async fn authenticate<S: Storage>(
    store: &S,
    header: Option<&str>,
) -> Result<TokenRecord, AuthError> {
    let h = header.ok_or(AuthError::Missing)?;
    let token = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .ok_or(AuthError::Missing)?
        .trim();
    let (id, secret) = split(token).ok_or(AuthError::Invalid)?;
    let rec = store
        .active_token(id)
        .await
        .map_err(AuthError::Storage)?
        .ok_or(AuthError::Invalid)?;
    let given = sha256_hex(secret);
    if bool::from(given.as_bytes().ct_eq(rec.secret_sha256.as_bytes())) {
        Ok(rec)
    } else {
        Err(AuthError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_only_the_hash_is_kept() {
        let (text, rec) = new_token("acme", "ci", Role::Ingest, "t".into()).unwrap();
        let (id, secret) = split(&text).unwrap();
        assert_eq!(id, rec.id);
        assert_eq!(rec.secret_sha256, sha256_hex(secret));
        assert!(!rec.secret_sha256.contains(secret));
        for bad in [
            "",
            "dfl_",
            "dfl_abc_def",
            "xyz_0123456789ab_0123",
            &text[..text.len() - 1],
        ] {
            assert!(split(bad).is_none(), "{bad}");
        }
    }
}
