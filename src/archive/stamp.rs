//! Time-stamp frames (`T`, segment version 2): an RFC 3161 token for a seal.
//!
//! A token arrives after its seal (the authority answers later, or after
//! retries), so it is a frame of its own, not part of the hash chain: the
//! token is self-authenticating (the authority's signature covers the
//! imprint, SHA-256 of the seal's signed bytes). Deleting a time-stamp
//! frame loses evidence but cannot make anything false pass.

use serde::{Deserialize, Serialize};

/// What a `T` frame holds (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeStamp {
    /// The stamped seal's `seq` (its tree size).
    pub seq: u64,
    /// Hex SHA-256 of the stamped seal's signed bytes: the message imprint.
    pub imprint: String,
    /// The configured name of the authority.
    pub authority: String,
    /// The DER TimeStampToken (CMS ContentInfo), base64 (RFC 4648).
    pub token: String,
}

impl TimeStamp {
    /// The token's bytes.
    pub fn token_der(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&self.token)
            .ok()
    }
}
