//! mailseal-verify: checks a copy of a mailseal archive, an export bundle,
//! a single proof, or that an archive extends a seal kept earlier, on the
//! auditor's own machine.
//!
//! This is a second implementation of docs/archive-format.md, separate from
//! the daemon's (a mistake in one is not copied into the other; the Python
//! verifier in tests/tools is a third). Only the RFC 3161 token checks come
//! from the shared crate `mailseal-tsp`.

pub mod archive;
pub mod audit;
pub mod content;
pub mod format;
pub mod keys;
pub mod lifecycle;
pub mod merkle;
pub mod proof;
pub mod sealed;

#[cfg(test)]
mod encrypted_tests;

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// Checks a stored time-stamp token for `seal` against `trust`, and that
/// the authority did not stamp before the seal was made.
pub fn stamp_check(
    stamp: &format::Stamp,
    imprint: &Hash,
    seal: &format::Seal,
    trust: &mailseal_tsp::Trust,
) -> Result<(), String> {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD
        .decode(&stamp.token)
        .map_err(|_| "token is not base64".to_string())?;
    let s = mailseal_tsp::check_token(&token, imprint, None, trust).map_err(|e| e.to_string())?;
    if let Some(sealed) = format::unix_seconds(&seal.time)
        && (s.gen_time.as_secs() as i64) + 300 < sealed
    {
        return Err(format!("stamped before the seal's own time {}", seal.time));
    }
    Ok(())
}
