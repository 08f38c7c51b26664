//! The bytes of the store's header and of one slot, and wrapping a data
//! key into a slot and out of it (`docs/archive-format.md`, 2.3, "Key
//! store"). No I/O: callers read and write the bytes.
//!
//! The AAD binds a wrapped key to its slot number and kind, so a slot
//! copied or moved to another place, or given another kind, does not
//! unwrap; the CRC only tells a damaged or torn slot from a whole one.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use zeroize::Zeroizing;

use super::{DataKey, SlotKind};

/// Bytes before slot 0.
pub const HEADER_LEN: u64 = 64;
/// Bytes of one slot.
pub const SLOT_LEN: u64 = 96;
/// One slot's bytes.
pub type SlotBytes = [u8; SLOT_LEN as usize];

/// The header's first bytes: names the file's kind and layout.
const MAGIC: &[u8; 8] = b"MSKEYS01";
/// The store version this code reads and writes.
const VERSION: u32 = 1;
/// What the AAD starts with, before the slot number and the kind.
const AAD_PREFIX: &[u8] = b"mailseal key slot ";
/// The state byte of a live slot (a destroyed slot is all zeros).
const LIVE: u8 = 1;

/// Where slot `n` starts in the file.
pub fn offset(n: u64) -> u64 {
    HEADER_LEN + SLOT_LEN * n
}

fn crc(bytes: &[u8]) -> [u8; 4] {
    crc32fast::hash(bytes).to_be_bytes()
}

/// The header of a store wrapped by the master key with this id.
pub fn header(master_id: &[u8; 16]) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_be_bytes());
    h[12..16].copy_from_slice(&(SLOT_LEN as u32).to_be_bytes());
    h[16..32].copy_from_slice(master_id);
    let sum = crc(&h[..60]);
    h[60..64].copy_from_slice(&sum);
    h
}

/// Checks a header; returns the id of the master key it names.
pub fn read_header(h: &[u8; HEADER_LEN as usize]) -> Result<[u8; 16], String> {
    if &h[0..8] != MAGIC {
        return Err("not a key store (it does not start with MSKEYS01)".into());
    }
    if h[60..64] != crc(&h[..60]) {
        return Err("the header's CRC does not match (the header is damaged)".into());
    }
    let version = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    if version != VERSION {
        return Err(format!(
            "store version {version}; this mailseal reads version {VERSION} (written by a newer mailseal?)"
        ));
    }
    let size = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
    if u64::from(size) != SLOT_LEN {
        return Err(format!("slot size {size}, not {SLOT_LEN}"));
    }
    if h[32..60].iter().any(|&b| b != 0) {
        return Err("reserved header bytes 32-59 are not zero".into());
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&h[16..32]);
    Ok(id)
}

/// A slot's bytes, checked.
pub enum Slot {
    /// A live slot, its key still wrapped.
    Live(Wrapped),
    /// 96 zero bytes.
    Destroyed,
}

/// A live slot's fields.
pub struct Wrapped {
    /// What the key encrypts; part of the AAD.
    pub kind: SlotKind,
    /// When the slot was appended, Unix seconds.
    pub created: u64,
    /// The nonce the key was sealed with.
    nonce: [u8; 12],
    /// The sealed key: 32 bytes of ciphertext, then the 16-byte tag.
    sealed: [u8; 48],
}

/// The AAD of slot `n` of `kind`.
fn aad(n: u64, kind: SlotKind) -> [u8; 27] {
    let mut a = [0u8; 27];
    a[..18].copy_from_slice(AAD_PREFIX);
    a[18..26].copy_from_slice(&n.to_be_bytes());
    a[26] = kind as u8;
    a
}

/// Checks a slot's bytes: all zeros, or a whole live slot.
pub fn decode(b: &SlotBytes) -> Result<Slot, String> {
    if b.iter().all(|&x| x == 0) {
        return Ok(Slot::Destroyed);
    }
    if b[92..96] != crc(&b[..92]) {
        return Err("the slot's CRC does not match (the slot is damaged)".into());
    }
    if b[0] != LIVE {
        return Err(format!("unknown state {}", b[0]));
    }
    let Some(kind) = SlotKind::from_byte(b[1]) else {
        return Err(format!("unknown kind {}", b[1]));
    };
    if b[2..8].iter().chain(&b[76..92]).any(|&x| x != 0) {
        return Err("reserved bytes are not zero".into());
    }
    let mut created = [0u8; 8];
    created.copy_from_slice(&b[8..16]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&b[16..28]);
    let mut sealed = [0u8; 48];
    sealed.copy_from_slice(&b[28..76]);
    Ok(Slot::Live(Wrapped {
        kind,
        created: u64::from_be_bytes(created),
        nonce,
        sealed,
    }))
}

/// Slot `n`'s bytes: `key` sealed under `master` with `nonce`, which must
/// never have been used with `master` before (callers draw it at random).
pub fn seal(
    n: u64,
    kind: SlotKind,
    created: u64,
    nonce: &[u8; 12],
    key: &DataKey,
    master: &ChaCha20Poly1305,
) -> Result<SlotBytes, String> {
    let mut buf = Zeroizing::new([0u8; 32]);
    buf.copy_from_slice(key.as_bytes());
    let tag = master
        .encrypt_in_place_detached(Nonce::from_slice(nonce), &aad(n, kind), &mut buf[..])
        .map_err(|_| "the key could not be sealed".to_string())?;
    let mut b = [0u8; SLOT_LEN as usize];
    b[0] = LIVE;
    b[1] = kind as u8;
    b[8..16].copy_from_slice(&created.to_be_bytes());
    b[16..28].copy_from_slice(nonce);
    b[28..60].copy_from_slice(&buf[..]);
    b[60..76].copy_from_slice(&tag);
    let sum = crc(&b[..92]);
    b[92..96].copy_from_slice(&sum);
    Ok(b)
}

impl Wrapped {
    /// The data key, if this slot is slot `n` sealed under `master`.
    pub fn open(&self, n: u64, master: &ChaCha20Poly1305) -> Result<DataKey, String> {
        let mut buf = Zeroizing::new([0u8; 32]);
        buf.copy_from_slice(&self.sealed[..32]);
        master
            .decrypt_in_place_detached(
                Nonce::from_slice(&self.nonce),
                &aad(n, self.kind),
                &mut buf[..],
                Tag::from_slice(&self.sealed[32..]),
            )
            .map_err(|_| {
                "the key does not unwrap (wrong master key, or the slot was altered or moved)"
                    .to_string()
            })?;
        Ok(DataKey(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20poly1305::{Key, KeyInit};

    fn master(b: u8) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&[b; 32]))
    }

    fn live(b: &SlotBytes) -> Wrapped {
        match decode(b) {
            Ok(Slot::Live(w)) => w,
            _ => panic!("not a live slot"),
        }
    }

    #[test]
    fn a_sealed_key_opens_only_in_its_own_slot_kind_and_master_key() {
        let key = DataKey::from_bytes([7; 32]);
        let b = seal(
            5,
            SlotKind::Record,
            1_700_000_000,
            &[9; 12],
            &key,
            &master(1),
        )
        .unwrap();
        assert_eq!(b[0], 1);
        assert_eq!(b[1], 2);
        assert!(!b.windows(32).any(|w| w == [7; 32]), "the key is in clear");
        let w = live(&b);
        assert_eq!((w.kind, w.created), (SlotKind::Record, 1_700_000_000));
        assert_eq!(w.open(5, &master(1)).unwrap().as_bytes(), &[7; 32]);
        assert!(w.open(6, &master(1)).is_err(), "moved to slot 6");
        assert!(w.open(5, &master(2)).is_err(), "another master key");
        // Another kind with a CRC made to match: the CRC passes, the tag not.
        let mut other = b;
        other[1] = SlotKind::Content as u8;
        let sum = crc(&other[..92]);
        other[92..96].copy_from_slice(&sum);
        assert!(live(&other).open(5, &master(1)).is_err(), "kind changed");
    }

    #[test]
    fn zeros_are_destroyed_and_damage_is_named() {
        assert!(matches!(decode(&[0; 96]), Ok(Slot::Destroyed)));
        let key = DataKey::from_bytes([7; 32]);
        let b = seal(0, SlotKind::Content, 1, &[3; 12], &key, &master(1)).unwrap();
        for i in 0..96 {
            let mut flipped = b;
            flipped[i] ^= 0x10;
            assert!(decode(&flipped).is_err(), "bit flipped in byte {i} passed");
        }
    }

    #[test]
    fn the_header_names_its_master_key_and_refuses_what_it_does_not_know() {
        let h = header(&[4; 16]);
        assert_eq!(&h[..16], b"MSKEYS01\0\0\0\x01\0\0\0\x60");
        assert_eq!(read_header(&h).unwrap(), [4; 16]);
        let mut newer = h;
        newer[11] = 2;
        let sum = crc(&newer[..60]);
        newer[60..64].copy_from_slice(&sum);
        assert!(read_header(&newer).unwrap_err().contains("version 2"));
        let mut damaged = h;
        damaged[20] ^= 1;
        assert!(read_header(&damaged).unwrap_err().contains("CRC"));
        assert!(read_header(&[0; 64]).unwrap_err().contains("MSKEYS01"));
    }
}
