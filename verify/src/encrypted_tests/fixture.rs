//! Hand-built archives of format 2.3: segments, a key store and a master
//! key file laid out from docs/archive-format.md with the primitives
//! themselves (ChaCha20-Poly1305, SHA-256, CRC-32, zstd), not with the
//! verifier's own readers.

use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

use crate::archive::{self, Options, Outcome};
use crate::format::Seal;
use crate::keys::MasterKey;
use crate::merkle::Edge;

pub(super) const MASTER: [u8; 32] = [0x11; 32];
/// Slot keys: 0 content M1, 1 record key of records 2 and 3, 2 content
/// M2, 3 record key of record 4.
pub(super) const KEYS: [(u8, [u8; 32]); 4] = [
    (1, [0xa0; 32]),
    (2, [0xa1; 32]),
    (1, [0xa2; 32]),
    (2, [0xa3; 32]),
];

/// A segment's version and its frames (kind, payload).
pub(super) type Segment = (u32, Vec<(u8, Vec<u8>)>);

/// What a test changes in the archive it builds.
#[derive(Default)]
pub(super) struct Tweaks {
    /// Flip this byte of M1's ciphertext.
    pub(super) flip: Option<usize>,
    /// Drop M1's last (empty) chunk.
    pub(super) drop_last_chunk: bool,
    /// After a change to M1's ciphertext, hash it anew into its head and
    /// the records' `stored`, so only the key can tell.
    pub(super) rehash: bool,
    /// Record 2 names this `stored` for M1.
    pub(super) stored: Option<String>,
    /// Record 2's plaintext of sealed fields.
    pub(super) sealed_plain: Option<String>,
    /// Record 2 keeps `mail_from` in clear as well.
    pub(super) clear_mail_from: bool,
    /// M2 goes into the version-1 segment.
    pub(super) e_in_v1: bool,
    /// Record 2 names M1 one byte longer than it is.
    pub(super) longer: bool,
    /// The store holds one more live content key that nothing uses.
    pub(super) unused_slot: bool,
    /// Bodies of records 5, 6, … (format 2) after record 4.
    pub(super) later: Vec<String>,
    /// Key slots written as destroyed (96 zero bytes).
    pub(super) destroyed: Vec<usize>,
    /// More slots (kind, key) after the others: slots 4, 5, … without
    /// `unused_slot`.
    pub(super) extra_slots: Vec<(u8, [u8; 32])>,
    /// The `time` of later records, by seq (else 2026-12-08).
    pub(super) times: Vec<(u64, String)>,
}

pub(super) fn m0() -> Vec<u8> {
    b"From: old@example.org\r\n\r\nbefore encryption\r\n".to_vec()
}

pub(super) fn m2() -> Vec<u8> {
    b"From: anna@example.org\r\n\r\nhello\r\n".repeat(500)
}

pub(super) fn hash(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

pub(super) fn aead(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(key))
}

pub(super) fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    f.extend_from_slice(payload);
    let crc = crc32fast::hash(&f);
    f.extend_from_slice(&crc.to_be_bytes());
    f
}

/// An `E` payload: head, then 65,536-byte chunks, the last shorter.
pub(super) fn e_payload(original: &[u8], codec: u8, slot: u64, key: &[u8; 32]) -> Vec<u8> {
    let encoded = match codec {
        0 => original.to_vec(),
        _ => zstd::encode_all(original, 3).unwrap(),
    };
    let mut p = hash(original).to_vec();
    p.extend_from_slice(&(original.len() as u64).to_be_bytes());
    p.extend_from_slice(&[codec, 1]);
    p.extend_from_slice(&slot.to_be_bytes());
    let full = encoded.len() / 65_536;
    let mut cipher = Vec::new();
    for i in 0..=full {
        let chunk = &encoded[i * 65_536..encoded.len().min((i + 1) * 65_536)];
        let mut aad = p[..42].to_vec();
        aad.push(u8::from(i == full));
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
        let sealed = aead(key).encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: chunk,
                aad: &aad,
            },
        );
        cipher.extend(sealed.unwrap());
    }
    p.extend_from_slice(&hash(&cipher));
    p.extend(cipher);
    p
}

/// Hashes an `E` payload's ciphertext anew into its head.
pub(super) fn rehash(p: &mut [u8]) {
    let h = hash(&p[82..]);
    p[50..82].copy_from_slice(&h);
}

pub(super) fn store(keys: &[(u8, [u8; 32])]) -> Vec<u8> {
    let mut s = b"MSKEYS01".to_vec();
    s.extend_from_slice(&1u32.to_be_bytes());
    s.extend_from_slice(&96u32.to_be_bytes());
    s.extend_from_slice(&master_id(&MASTER));
    s.extend_from_slice(&[0; 28]);
    let crc = crc32fast::hash(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    for (n, (kind, key)) in keys.iter().enumerate() {
        let mut slot = vec![1, *kind, 0, 0, 0, 0, 0, 0];
        slot.extend_from_slice(&1_796_000_000u64.to_be_bytes());
        let nonce = [n as u8 + 1; 12];
        slot.extend_from_slice(&nonce);
        let mut aad = b"mailseal key slot ".to_vec();
        aad.extend_from_slice(&(n as u64).to_be_bytes());
        aad.push(*kind);
        let wrapped = aead(&MASTER).encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: key,
                aad: &aad,
            },
        );
        slot.extend(wrapped.unwrap());
        slot.extend_from_slice(&[0; 16]);
        let crc = crc32fast::hash(&slot);
        slot.extend_from_slice(&crc.to_be_bytes());
        s.extend(slot);
    }
    s
}

pub(super) fn master_id(key: &[u8; 32]) -> Vec<u8> {
    hash(&[b"mailseal master key id\n".as_slice(), key].concat())[..16].to_vec()
}

pub(super) fn master_file(key: &[u8; 32]) -> Vec<u8> {
    format!("mailseal master key v1\n{}\n", hex::encode(key)).into_bytes()
}

/// `"sealed":{…}` of record `seq`.
pub(super) fn sealed(slot: usize, seq: u64, plain: &str) -> String {
    sealed_with(slot, &KEYS[slot].1, seq, plain)
}

/// `"sealed":{…}` of record `seq` under `key` in `slot`.
pub(super) fn sealed_with(slot: usize, key: &[u8; 32], seq: u64, plain: &str) -> String {
    let nonce = [seq as u8; 12];
    let aad = format!("mailseal record {seq}");
    let payload = Payload {
        msg: plain.as_bytes(),
        aad: aad.as_bytes(),
    };
    let data = aead(key)
        .encrypt(Nonce::from_slice(&nonce), payload)
        .unwrap();
    format!(
        r#""sealed":{{"slot":{slot},"nonce":"{}","data":"{}"}}"#,
        hex::encode(nonce),
        base64::engine::general_purpose::STANDARD.encode(data)
    )
}

pub(super) const PLAIN: &str = r#"{"peer":"192.0.2.7:4711","helo":"mx.example.org","auth_user":null,"mail_from":"anna@example.org","rcpts":[{"address":"bob@example.net","reply":"250 2.1.5 ok"}],"upstream_reply":"250 2.0.0 ok","journal":null,"imap":null,"import":null,"pop3":null,"intercepted":null}"#;

pub(super) fn message(
    seq: u64,
    clear: &str,
    sealed: &str,
    content: &str,
    evidence: &str,
) -> String {
    format!(
        r#"{{"format":2,"seq":{seq},"time":"2026-12-07T10:00:0{seq}.000000Z","prev_hash":"PREV","body":{{"type":"message","source":{{"kind":"journal","name":"j"}},"peer":null,"helo":null,"tls":null,"auth_user":null,"mail_from":{clear},"rcpts":[],"upstream_reply":null,"journal":null,"imap":null,"import":null,{sealed},"content":{content},"evidence":{evidence}}}}}"#
    )
}

pub(super) fn reference(p: &[u8], stored: Option<&str>) -> String {
    let stored = stored.map_or_else(|| hex::encode(&p[50..82]), str::to_owned);
    let size = u64::from_be_bytes(p[32..40].try_into().unwrap());
    format!(
        r#"{{"sha256":"{}","size":{size},"stored":"{stored}"}}"#,
        hex::encode(&p[..32])
    )
}

/// Writes segment 1 (version 1: a plain content and record) and segment 2
/// (version 2: two encrypted contents, two sealed messages, a sealed
/// outcome and a tree head) and `keys/store`.
pub(super) fn build(dir: &Path, t: &Tweaks) {
    let m0 = m0();
    // Two full chunks and the empty last one.
    let m1: Vec<u8> = (0..131_072u32).map(|i| (i * 7 % 251) as u8).collect();
    let m2 = m2();
    let mut e1 = e_payload(&m1, 0, 0, &KEYS[0].1);
    if let Some(i) = t.flip {
        e1[82 + i] ^= 1;
    }
    if t.drop_last_chunk {
        e1.truncate(e1.len() - 16);
    }
    if t.rehash {
        rehash(&mut e1);
    }
    let e2 = e_payload(&m2, 1, 2, &KEYS[2].1);
    let mut c0 = hash(&m0).to_vec();
    c0.extend_from_slice(&(m0.len() as u64).to_be_bytes());
    c0.push(0);
    c0.extend_from_slice(&m0);
    let r1 = format!(
        r#"{{"format":1,"seq":1,"time":"2026-12-07T10:00:01.000000Z","prev_hash":"PREV","body":{{"type":"message","source":{{"kind":"journal","name":"j"}},"peer":"192.0.2.1:25","helo":"h","tls":null,"auth_user":null,"mail_from":"old@example.org","rcpts":[],"upstream_reply":null,"journal":null,"imap":null,"import":null,"content":{{"sha256":"{}","size":{}}},"evidence":null}}}}"#,
        hex::encode(hash(&m0)),
        m0.len()
    );
    let clear = if t.clear_mail_from {
        r#""anna@example.org""#
    } else {
        "null"
    };
    let plain = t.sealed_plain.as_deref().unwrap_or(PLAIN);
    let mut m1_ref = reference(&e1, t.stored.as_deref());
    if t.longer {
        m1_ref = m1_ref.replace(":131072,", ":131073,");
    }
    let r2 = message(2, clear, &sealed(1, 2, plain), &m1_ref, "null");
    let r3 = format!(
        r#"{{"format":2,"seq":3,"time":"2026-12-07T10:00:03.000000Z","prev_hash":"PREV","body":{{"type":"outcome","of":2,"upstream_reply":"","result":"accepted",{}}}}}"#,
        sealed(1, 3, r#"{"upstream_reply":"250 2.0.0 queued as 4711"}"#)
    );
    let r4 = message(
        4,
        "null",
        &sealed(3, 4, PLAIN),
        &reference(&e2, None),
        &reference(&e1, None),
    );
    let mut segs: Vec<Segment> = vec![
        (1, vec![(b'C', c0), (b'R', r1.into_bytes())]),
        (2, vec![(b'E', e1)]),
    ];
    segs[usize::from(!t.e_in_v1)].1.push((b'E', e2));
    segs[1]
        .1
        .extend([r2, r3, r4].map(|r| (b'R', r.into_bytes())));
    for (i, body) in t.later.iter().enumerate() {
        let seq = i as u64 + 5;
        let time = t
            .times
            .iter()
            .find(|(n, _)| *n == seq)
            .map_or("2026-12-08T10:00:00.000000Z", |(_, time)| time.as_str());
        let r = format!(
            r#"{{"format":2,"seq":{seq},"time":"{time}","prev_hash":"PREV","body":{body}}}"#
        );
        segs[1].1.push((b'R', r.into_bytes()));
    }
    segs[1].1.push((b'S', Vec::new()));
    let (mut prev, mut edge) = ([0u8; 32], Edge::default());
    std::fs::create_dir_all(dir.join("segments")).unwrap();
    for (n, (version, frames)) in segs.into_iter().enumerate() {
        let mut file = b"MAILSEAL".to_vec();
        file.extend_from_slice(&version.to_be_bytes());
        file.extend_from_slice(&(n as u32 + 1).to_be_bytes());
        for (kind, payload) in frames {
            let payload = match kind {
                b'R' => {
                    let json = String::from_utf8(payload)
                        .unwrap()
                        .replace("PREV", &hex::encode(prev));
                    prev = hash(&[prev.as_slice(), json.as_bytes()].concat());
                    edge.push(&prev);
                    [prev.as_slice(), json.as_bytes()].concat()
                }
                b'S' => tree_head(edge.size, &prev, &edge.root()),
                _ => payload,
            };
            file.extend(frame(kind, &payload));
        }
        std::fs::write(dir.join(format!("segments/{:012}.seg", n + 1)), file).unwrap();
    }
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    let mut keys = KEYS.to_vec();
    if t.unused_slot {
        keys.push((1, [0xa4; 32]));
    }
    keys.extend_from_slice(&t.extra_slots);
    let mut store = store(&keys);
    for &n in &t.destroyed {
        store[64 + n * 96..64 + (n + 1) * 96].fill(0);
    }
    std::fs::write(dir.join("keys/store"), store).unwrap();
}

pub(super) fn tree_head(seq: u64, head: &[u8; 32], root: &[u8; 32]) -> Vec<u8> {
    let sk = SigningKey::from_bytes(&[9; 32]);
    let mut seal = Seal {
        version: Some(2),
        seq,
        root: Some(hex::encode(root)),
        head_hash: hex::encode(head),
        time: "2026-12-07T10:01:00Z".into(),
        public_key: hex::encode(sk.verifying_key().as_bytes()),
        signature: String::new(),
    };
    seal.signature = hex::encode(sk.sign(&seal.signed_bytes().unwrap()).to_bytes());
    serde_json::to_vec(&seal).unwrap()
}

pub(super) fn verify(dir: &Path, master: Option<&[u8; 32]>) -> Outcome {
    try_verify(dir, master).unwrap()
}

pub(super) fn try_verify(dir: &Path, master: Option<&[u8; 32]>) -> std::io::Result<Outcome> {
    let opts = Options {
        master: master.map(|k| MasterKey::parse(&master_file(k)).unwrap()),
        ..Options::default()
    };
    archive::verify(dir, &opts)
}

pub(super) fn built(t: Tweaks) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &t);
    dir
}

/// The problems' kinds, e.g. `content-changed`.
pub(super) fn kinds(o: &Outcome) -> Vec<&str> {
    o.problems
        .iter()
        .filter_map(|p| p.split(": ").nth(1))
        .collect()
}
