//! Password hashes for journal SMTP AUTH users.
//!
//! The configuration only ever holds Argon2 hashes in PHC string form
//! (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`); plain-text passwords are
//! rejected at load time. `mailseal hash-password` uses [`hash_password`].

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params};
use rand::RngCore;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

/// Hashes `password` with Argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// True when `password` matches the PHC-encoded Argon2 `hash`. A malformed
/// hash never matches.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Checks that `hash` is an Argon2 PHC string with usable parameters. The
/// error text never repeats the value, which may be a plain-text password.
pub(crate) fn check_hash(hash: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected an Argon2 PHC string such as $argon2id$v=19$m=19456,t=2,p=1$...; \
         plain-text passwords are not accepted (create one with `mailseal hash-password`)";
    let parsed = PasswordHash::new(hash).map_err(|_| EXPECTED.to_owned())?;
    Algorithm::try_from(parsed.algorithm).map_err(|_| EXPECTED.to_owned())?;
    Params::try_from(&parsed).map_err(|e| format!("invalid Argon2 parameters: {e}"))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(EXPECTED.to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify_round_trip() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(check_hash(&hash).is_ok());
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse"));
        assert!(!verify_password("not a hash", "correct horse"));
    }

    #[test]
    fn rejects_plain_text_and_foreign_schemes_without_echoing_them() {
        for bad in [
            "hunter2",
            "",
            "$2b$12$abcdefghijklmnopqrstuv",
            "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA",
            "$argon2id$v=19$m=65536,t=3,p=4",
        ] {
            let message = check_hash(bad).unwrap_err();
            if !bad.is_empty() {
                assert!(!message.contains(bad), "{message}");
            }
        }
    }
}
