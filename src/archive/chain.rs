//! The hash chain: `hash(n) = SHA-256(hash(n-1) || record_bytes(n))`.
//!
//! Record 1 links to 32 zero bytes. Hashes are raw 32-byte arrays inside the
//! code and lowercase hex in records and output.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hash of a record given its predecessor's hash and its stored bytes.
pub fn link(prev: &[u8; 32], record_bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(record_bytes);
    h.finalize().into()
}

/// Parses a 64-character lowercase hex hash.
pub fn parse_hex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_depends_on_both_inputs() {
        let a = link(&GENESIS, b"x");
        assert_ne!(a, link(&GENESIS, b"y"));
        assert_ne!(a, link(&a, b"x"));
        assert_eq!(parse_hex(&hex::encode(a)), Some(a));
        assert_eq!(parse_hex("zz"), None);
    }
}
