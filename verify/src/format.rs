//! The parts of docs/archive-format.md this verifier reads: seals, time
//! stamps, records and their allowed fields, written again from the
//! document.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Hash;
use crate::audit::{self, AuditStep};
use crate::lifecycle::{self, Step};
use crate::sealed::{self, Sealed};

/// A seal (`S` frame), version 1 or 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// Absent in version 1; 2 for a signed tree head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Sealed record, and tree size.
    pub seq: u64,
    /// Version 2: Merkle root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// Chain hash of record `seq`.
    pub head_hash: String,
    /// When it was made.
    pub time: String,
    /// Signing key (hex).
    pub public_key: String,
    /// Signature (hex).
    pub signature: String,
}

/// A time-stamp frame (`T`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stamp {
    /// The stamped seal's seq.
    pub seq: u64,
    /// Hex SHA-256 of the seal's signed bytes.
    pub imprint: String,
    /// The authority's configured name.
    pub authority: String,
    /// Base64 DER TimeStampToken.
    pub token: String,
}

/// Parses 64 hex digits.
pub fn hex32(s: &str) -> Option<Hash> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).ok()?;
    Some(h)
}

/// Checks an Ed25519 signature given in hex by a key in hex.
pub fn ed25519_ok(key: &str, msg: &[u8], sig: &str) -> bool {
    let (Some(k), Ok(s)) = (hex32(key), hex::decode(sig)) else {
        return false;
    };
    let (Ok(k), Ok(s)) = (VerifyingKey::from_bytes(&k), Signature::from_slice(&s)) else {
        return false;
    };
    k.verify(msg, &s).is_ok()
}

impl Seal {
    /// The bytes the seal signs, by version.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, String> {
        match (self.version, &self.root) {
            (None, None) => Ok(format!(
                "mailseal seal v1\n{}\n{}\n{}\n",
                self.seq, self.head_hash, self.time
            )
            .into_bytes()),
            (Some(2), Some(root)) => Ok(format!(
                "mailseal tree head v2\n{}\n{root}\n{}\n{}\n{}\n",
                self.seq, self.head_hash, self.time, self.public_key
            )
            .into_bytes()),
            (Some(v), _) if v > 2 => Err(format!("seal version {v} is newer than this verifier")),
            _ => Err("seal fields do not fit its version".into()),
        }
    }

    /// Checks the signature with the key the seal names.
    pub fn check(&self) -> Result<(), String> {
        if ed25519_ok(&self.public_key, &self.signed_bytes()?, &self.signature) {
            Ok(())
        } else {
            Err("signature does not verify".into())
        }
    }

    /// SHA-256 of the signed bytes: what a time stamp stamps.
    pub fn imprint(&self) -> Option<Hash> {
        self.signed_bytes().ok().map(|b| Sha256::digest(b).into())
    }

    /// The root as bytes (version 2).
    pub fn root_hash(&self) -> Option<Hash> {
        self.root.as_deref().and_then(hex32)
    }
}

/// The bytes both keys of a key rotation sign.
pub fn rotation_bytes(seq: u64, prev: &str, old: &str, new: &str) -> Vec<u8> {
    format!("mailseal key rotation v2\n{seq}\n{prev}\n{old}\n{new}\n").into_bytes()
}

/// The fields a body type may have, by record format.
fn body_fields(format: u64, kind: &str) -> Option<&'static [&'static str]> {
    const MESSAGE: &[&str] = &[
        "type",
        "source",
        "peer",
        "helo",
        "tls",
        "auth_user",
        "mail_from",
        "rcpts",
        "upstream_reply",
        "journal",
        "imap",
        "import",
        "content",
        "evidence",
    ];
    // Format 2 (2.3): sealed personal fields and the retention decision.
    const MESSAGE_2: &[&str] = &[
        "type",
        "source",
        "peer",
        "helo",
        "tls",
        "auth_user",
        "mail_from",
        "rcpts",
        "upstream_reply",
        "journal",
        "imap",
        "import",
        "pop3",
        "intercepted",
        "sealed",
        "retention",
        "content",
        "evidence",
    ];
    const OUTCOME: &[&str] = &["type", "of", "upstream_reply", "result"];
    const OUTCOME_2: &[&str] = &["type", "of", "upstream_reply", "result", "sealed"];
    // `audit_years` (2.3): how long audit records are kept.
    const RULES: &[&str] = &["type", "rules", "audit_years"];
    // Format 2 (2.2): an access to the archive; `sealed` (2.3) its
    // personal fields under an audit key.
    const AUDIT: &[&str] = &[
        "type", "action", "outcome", "via", "actor", "role", "peer", "session", "query", "records",
        "detail", "count", "span", "sealed",
    ];
    const ROTATION: &[&str] = &[
        "type",
        "old_key",
        "new_key",
        "old_signature",
        "new_signature",
    ];
    match (format, kind) {
        (1, "message") => Some(MESSAGE),
        (2, "message") => Some(MESSAGE_2),
        (1, "outcome") => Some(OUTCOME),
        (2, "outcome") => Some(OUTCOME_2),
        (2, "key-rotation") => Some(ROTATION),
        (2, "retention-rules") => Some(RULES),
        (2, "audit") => Some(AUDIT),
        (2, "audit-purge") => Some(audit::PURGE),
        (2, kind) => lifecycle::fields(kind),
        _ => None,
    }
}

/// A message's `content` or `evidence`.
pub struct ContentRef {
    /// The original bytes' SHA-256.
    pub sha: Hash,
    /// Their length.
    pub size: u64,
    /// `stored` (format 2.3): SHA-256 of the `E` frame's ciphertext.
    pub stored: Option<Hash>,
}

/// What a record says that the checks need.
pub struct RecordInfo {
    /// Its seq.
    pub seq: u64,
    /// Its predecessor's hash.
    pub prev: Hash,
    /// The contents a message names.
    pub contents: Vec<ContentRef>,
    /// Sealed personal fields (format 2.3), with the body type.
    pub sealed: Option<(&'static str, Sealed)>,
    /// A key rotation: (old key, new key).
    pub rotation: Option<(String, String)>,
    /// A message record: what holds, requests and tombstones may name.
    pub message: bool,
    /// A hold, extension, purge request, approval or tombstone (2.3).
    pub step: Option<Step>,
    /// A sealed audit record, `retention-rules` or `audit-purge` (2.3).
    pub audit: Option<AuditStep>,
}

/// Parses and checks a record's JSON against the format: `Err((kind,
/// detail))` for what does not fit.
pub fn record(json: &[u8]) -> Result<RecordInfo, (&'static str, String)> {
    let v: Value = serde_json::from_slice(json).map_err(|e| ("record-changed", e.to_string()))?;
    let o = v
        .as_object()
        .ok_or(("record-changed", "not an object".to_string()))?;
    let bad = |what: &str| ("record-changed", what.to_string());
    let format = o
        .get("format")
        .and_then(Value::as_u64)
        .ok_or(bad("no format"))?;
    if format == 0 || format > 2 {
        return Err((
            "unsupported-version",
            format!("record format {format} is not known to this verifier"),
        ));
    }
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["body", "format", "prev_hash", "seq", "time"] {
        return Err(("unknown-field", format!("record fields {keys:?}")));
    }
    let seq = o.get("seq").and_then(Value::as_u64).ok_or(bad("no seq"))?;
    let prev = o
        .get("prev_hash")
        .and_then(Value::as_str)
        .and_then(hex32)
        .ok_or(bad("no prev_hash"))?;
    let body = o
        .get("body")
        .and_then(Value::as_object)
        .ok_or(bad("no body"))?;
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .ok_or(bad("no body type"))?;
    let allowed = body_fields(format, kind).ok_or((
        "unknown-field",
        format!("body type {kind:?} is not defined for record format {format}"),
    ))?;
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(("unknown-field", format!("field {k:?} in a {kind} body")));
    }
    let mut info = RecordInfo {
        seq,
        prev,
        contents: Vec::new(),
        sealed: None,
        rotation: None,
        message: kind == "message",
        step: None,
        audit: None,
    };
    let time = o.get("time").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "message" => {
            for name in ["content", "evidence"] {
                let Some(c) = body.get(name).filter(|c| !c.is_null()) else {
                    continue;
                };
                let sha = c.get("sha256").and_then(Value::as_str).and_then(hex32);
                let size = c.get("size").and_then(Value::as_u64);
                let stored = match c.get("stored") {
                    None | Some(Value::Null) => Some(None),
                    Some(s) => s.as_str().and_then(hex32).map(Some),
                };
                match (sha, size, stored) {
                    (Some(sha), Some(size), Some(stored)) => {
                        info.contents.push(ContentRef { sha, size, stored })
                    }
                    _ => return Err(bad("bad content reference")),
                }
            }
            if info.contents.is_empty() {
                return Err(bad("message without content"));
            }
            info.sealed = sealed::in_record(kind, body)?.map(|s| ("message", s));
        }
        "outcome" => info.sealed = sealed::in_record(kind, body)?.map(|s| ("outcome", s)),
        "audit" => {
            audit::values(body, seq)?;
            if let Some(s) = sealed::in_record(kind, body)? {
                let year = audit::year(time)
                    .ok_or(bad("a sealed audit record's time is not RFC 3339 UTC"))?;
                info.audit = Some(AuditStep::Sealed { slot: s.slot, year });
                info.sealed = Some(("audit", s));
            }
        }
        "retention-rules" => info.audit = Some(audit::rules(body)?),
        "audit-purge" => info.audit = Some(audit::purge(body, time)?),
        "key-rotation" => {
            let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
            let msg = rotation_bytes(seq, &hex::encode(prev), s("old_key"), s("new_key"));
            if !ed25519_ok(s("old_key"), &msg, s("old_signature")) {
                return Err(("key-rotation-bad", "not signed by the old key".into()));
            }
            if !ed25519_ok(s("new_key"), &msg, s("new_signature")) {
                return Err(("key-rotation-bad", "not signed by the new key".into()));
            }
            info.rotation = Some((s("old_key").to_owned(), s("new_key").to_owned()));
        }
        _ => info.step = lifecycle::parse(kind, body)?,
    }
    Ok(info)
}

/// Unix seconds of an RFC 3339 UTC time as mailseal writes it
/// (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`).
pub fn unix_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || !t.ends_with('Z') || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2026-03-01T12:00:01.123456Z"),
            Some(1772366401)
        );
        assert_eq!(unix_seconds("garbage"), None);
    }

    #[test]
    fn records_are_held_to_their_format() {
        let ok = br#"{"format":2,"seq":1,"time":"t","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","body":{"type":"outcome","of":1,"upstream_reply":"250","result":"accepted"}}"#;
        assert!(record(ok).is_ok());
        let newer = String::from_utf8_lossy(ok).replace("\"format\":2", "\"format\":3");
        assert_eq!(
            record(newer.as_bytes()).err().map(|e| e.0),
            Some("unsupported-version")
        );
        let extra = String::from_utf8_lossy(ok).replace("\"result\"", "\"x\":1,\"result\"");
        assert_eq!(
            record(extra.as_bytes()).err().map(|e| e.0),
            Some("unknown-field")
        );
        let rot_in_v1 = String::from_utf8_lossy(ok)
            .replace("\"format\":2", "\"format\":1")
            .replace("\"outcome\"", "\"key-rotation\"");
        assert_eq!(
            record(rot_in_v1.as_bytes()).err().map(|e| e.0),
            Some("unknown-field")
        );
    }
}
