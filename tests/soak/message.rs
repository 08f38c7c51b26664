//! The soak test's messages: every one unique (its id in a header and in
//! the body), of varying size with some of several hundred kB, with 8-bit
//! text (UTF-8 and a Latin-1 byte) and dot-leading lines.

use sha2::{Digest as _, Sha256};

use crate::support::corpus;

/// One message a client will send.
#[derive(Debug, Clone)]
pub struct Message {
    /// The content as the archive should hold it (before dot-stuffing).
    pub content: Vec<u8>,
    /// Lowercase hex SHA-256 of `content`.
    pub sha256: String,
}

/// The id written into message `n`.
pub fn id(n: u64) -> String {
    format!("soak-{n:07}")
}

/// A size: mostly a few kB, every 25th several hundred kB.
pub fn size(rng: &mut impl rand::Rng) -> usize {
    if rng.gen_ratio(1, 25) {
        rng.gen_range(200_000..600_000)
    } else {
        rng.gen_range(300..40_000)
    }
}

/// Message `n` of about `size` bytes.
pub fn message(n: u64, size: usize) -> Message {
    let id = id(n);
    let mut content = format!("X-Soak-Id: {id}\r\n").into_bytes();
    // The corpus message brings From/To/Subject/Message-ID (unique per n),
    // UTF-8 text, a `.leading dot` line and a `From ` line.
    content.extend_from_slice(&corpus::message(n as usize, size));
    content.extend_from_slice(b"Latin-1: caf\xe9\r\n");
    content.extend_from_slice(format!(".{id} ends here\r\n..\r\n").as_bytes());
    let sha256 = sha256(&content);
    Message { content, sha256 }
}

/// Lowercase hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A random generator for one client, seeded so a run can be repeated
/// load-wise (chaos timing never repeats exactly).
pub fn rng(seed: u64, lane: usize) -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(seed ^ (lane as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}
