//! Moving a record's personal fields into and out of their sealed form
//! (archive format 2.3).
//!
//! The writer seals the fields that name people (addresses, the journal
//! envelope, the IMAP/POP3 user and folder, peer and HELO, replies that can
//! quote an address) under the record's own key and stores them as
//! [`SealedFields`]; the chain hashes that ciphertext. Readers open them
//! again with the key store. Once the key is destroyed by a purge, the
//! fields stay empty for ever: [`Opened::KeyDestroyed`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::audit::AuditEvent;
use super::crypt;
use super::record::{
    ImapContext, ImportContext, Interception, JournalEnvelope, MessageMeta, Outcome, Pop3Context,
    Rcpt, Record, RecordBody, SealedFields,
};
use crate::keystore::{KeyStore, SlotKind, SlotState};

/// The personal fields of a message record, in the order they are sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Personal {
    peer: Option<String>,
    helo: Option<String>,
    auth_user: Option<String>,
    mail_from: Option<String>,
    rcpts: Vec<Rcpt>,
    upstream_reply: Option<String>,
    journal: Option<JournalEnvelope>,
    imap: Option<ImapContext>,
    import: Option<ImportContext>,
    pop3: Option<Pop3Context>,
    intercepted: Option<Interception>,
}

/// The sealed part of an outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeFields {
    upstream_reply: String,
}

/// The sealed part of an audit record: who, from where, what.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditFields {
    actor: String,
    peer: Option<String>,
    session: Option<String>,
    query: Option<String>,
    detail: Option<String>,
}

fn take(m: &mut MessageMeta) -> Personal {
    Personal {
        peer: m.peer.take(),
        helo: m.helo.take(),
        auth_user: m.auth_user.take(),
        mail_from: m.mail_from.take(),
        rcpts: std::mem::take(&mut m.rcpts),
        upstream_reply: m.upstream_reply.take(),
        journal: m.journal.take(),
        imap: m.imap.take(),
        import: m.import.take(),
        pop3: m.pop3.take(),
        intercepted: m.intercepted.take(),
    }
}

fn put(m: &mut MessageMeta, p: Personal) {
    m.peer = p.peer;
    m.helo = p.helo;
    m.auth_user = p.auth_user;
    m.mail_from = p.mail_from;
    m.rcpts = p.rcpts;
    m.upstream_reply = p.upstream_reply;
    m.journal = p.journal;
    m.imap = p.imap;
    m.import = p.import;
    m.pop3 = p.pop3;
    m.intercepted = p.intercepted;
}

fn seal(key: &[u8; 32], slot: u64, seq: u64, plain: &[u8]) -> std::io::Result<SealedFields> {
    let (nonce, data) = crypt::seal_fields(key, seq, plain)?;
    Ok(SealedFields {
        slot,
        nonce: hex::encode(nonce),
        data: B64.encode(data),
    })
}

/// The stored form of a message body: its personal fields sealed under
/// `key` (kept in `slot`) for record `seq`.
pub fn seal_message(
    meta: &MessageMeta,
    key: &[u8; 32],
    slot: u64,
    seq: u64,
) -> std::io::Result<MessageMeta> {
    let mut stored = meta.clone();
    let personal = take(&mut stored);
    let plain =
        zeroize::Zeroizing::new(serde_json::to_vec(&personal).map_err(std::io::Error::other)?);
    stored.sealed = Some(seal(key, slot, seq, &plain)?);
    Ok(stored)
}

/// The stored form of an outcome whose message is sealed under `key`.
pub fn seal_outcome(
    outcome: &Outcome,
    key: &[u8; 32],
    slot: u64,
    seq: u64,
) -> std::io::Result<Outcome> {
    let plain = serde_json::to_vec(&OutcomeFields {
        upstream_reply: outcome.upstream_reply.clone(),
    })
    .map_err(std::io::Error::other)?;
    Ok(Outcome {
        upstream_reply: String::new(),
        sealed: Some(seal(key, slot, seq, &plain)?),
        ..outcome.clone()
    })
}

/// The stored form of an audit record: its personal fields sealed under
/// the year's audit `key` (kept in `slot`) for record `seq`.
pub fn seal_audit(
    event: &AuditEvent,
    key: &[u8; 32],
    slot: u64,
    seq: u64,
) -> std::io::Result<AuditEvent> {
    let mut stored = event.clone();
    let fields = AuditFields {
        actor: std::mem::take(&mut stored.actor),
        peer: stored.peer.take(),
        session: stored.session.take(),
        query: stored.query.take(),
        detail: stored.detail.take(),
    };
    let plain =
        zeroize::Zeroizing::new(serde_json::to_vec(&fields).map_err(std::io::Error::other)?);
    stored.sealed = Some(seal(key, slot, seq, &plain)?);
    Ok(stored)
}

/// What opening a record's sealed fields found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// Nothing was sealed (encryption off, or a version-1 record).
    Clear,
    /// The fields are back in place.
    Opened,
    /// The key was destroyed (the record was purged): the fields are gone.
    KeyDestroyed,
    /// No key store at hand (a copy without the master key).
    NoKeys,
}

/// Why sealed fields could not be opened although their key exists.
#[derive(Debug, thiserror::Error)]
#[error("record {seq}: sealed fields: {reason}")]
pub struct OpenError {
    /// The record.
    pub seq: u64,
    /// What failed.
    pub reason: String,
}

/// Fills the sealed fields of `record` back in, in place. `sealed` stays
/// set, so callers still see that the record is sealed; the opened record
/// no longer encodes to its stored bytes (nothing re-encodes a record to
/// verify it: the chain hashes the stored bytes).
pub fn open(record: &mut Record, keys: Option<&KeyStore>) -> Result<Opened, OpenError> {
    let seq = record.seq;
    let sealed = match &record.body {
        RecordBody::Message(m) => m.sealed.clone(),
        RecordBody::Outcome(o) => o.sealed.clone(),
        RecordBody::Audit(a) => a.sealed.clone(),
        _ => None,
    };
    let Some(sealed) = sealed else {
        return Ok(Opened::Clear);
    };
    let Some(keys) = keys else {
        return Ok(Opened::NoKeys);
    };
    let err = |reason: String| OpenError { seq, reason };
    let expected = match record.body {
        RecordBody::Audit(_) => SlotKind::Audit,
        _ => SlotKind::Record,
    };
    let key = match keys.get(sealed.slot) {
        Ok(SlotState::Live { key, kind, .. }) if kind == expected => key,
        Ok(SlotState::Live { kind, .. }) => {
            return Err(err(format!(
                "key slot {} holds a {kind:?} key, not a {expected:?} key",
                sealed.slot
            )));
        }
        Ok(SlotState::Destroyed) => return Ok(Opened::KeyDestroyed),
        Ok(SlotState::Missing) => {
            return Err(err(format!(
                "key slot {} is not in the key store",
                sealed.slot
            )));
        }
        Err(e) => return Err(err(e.to_string())),
    };
    let nonce: [u8; 12] = hex::decode(&sealed.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| err("bad nonce".into()))?;
    let data = B64
        .decode(&sealed.data)
        .map_err(|e| err(format!("bad base64: {e}")))?;
    let plain =
        crypt::open_fields(key.as_bytes(), seq, &nonce, &data).map_err(|e| err(e.to_string()))?;
    match &mut record.body {
        RecordBody::Message(m) => {
            let p: Personal =
                serde_json::from_slice(&plain).map_err(|e| err(format!("bad fields: {e}")))?;
            put(m, p);
        }
        RecordBody::Outcome(o) => {
            let f: OutcomeFields =
                serde_json::from_slice(&plain).map_err(|e| err(format!("bad fields: {e}")))?;
            o.upstream_reply = f.upstream_reply;
        }
        RecordBody::Audit(a) => {
            let f: AuditFields =
                serde_json::from_slice(&plain).map_err(|e| err(format!("bad fields: {e}")))?;
            if f.actor.is_empty() {
                return Err(err("sealed audit fields name no actor".into()));
            }
            a.actor = f.actor;
            a.peer = f.peer;
            a.session = f.session;
            a.query = f.query;
            a.detail = f.detail;
        }
        _ => {}
    }
    Ok(Opened::Opened)
}

/// The key slot of a record whose fields are sealed: a message's or
/// outcome's record key, or an audit record's audit key.
pub fn record_slot(record: &Record) -> Option<u64> {
    match &record.body {
        RecordBody::Message(m) => m.sealed.as_ref().map(|s| s.slot),
        RecordBody::Outcome(o) => o.sealed.as_ref().map(|s| s.slot),
        RecordBody::Audit(a) => a.sealed.as_ref().map(|s| s.slot),
        _ => None,
    }
}

#[cfg(test)]
mod tests {

    /// Every field of a message record is either sealed or deliberately
    /// left in clear: a field added to `MessageMeta` fails this test until
    /// it is put on one side (and `Personal`, `take` and `put` agree).
    #[test]
    fn every_message_field_is_sealed_or_deliberately_clear() {
        const CLEAR: &[&str] = &[
            "source",
            "tls",
            "sealed",
            "retention",
            "content",
            "evidence",
        ];
        let mut m = MessageMeta {
            pop3: Some(Default::default()),
            intercepted: Some(Default::default()),
            sealed: Some(Default::default()),
            retention: None,
            ..MessageMeta::default()
        };
        let fields = |v: serde_json::Value| -> Vec<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let all = fields(serde_json::to_value(&m).unwrap_or_default());
        let personal = take(&mut m);
        let sealed = fields(serde_json::to_value(&personal).unwrap_or_default());
        let mut expected: Vec<String> = all
            .into_iter()
            .filter(|f| !CLEAR.contains(&f.as_str()) && f != "retention")
            .collect();
        let mut got = sealed.clone();
        expected.sort();
        got.sort();
        assert_eq!(got, expected);
        put(&mut m, personal.clone());
        assert_eq!(take(&mut m), personal, "take and put move the same fields");
    }
    use super::*;
    use crate::archive::record::{ContentRef, Source, SourceKind};

    #[test]
    fn personal_fields_leave_the_stored_json_and_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyStore::open(dir.path(), &dir.path().join("master.key"), true).unwrap();
        let key = crate::keystore::DataKey::generate();
        let slot = keys.add(crate::keystore::SlotKind::Record, &key).unwrap();
        let meta = MessageMeta {
            source: Source {
                kind: SourceKind::Journal,
                name: "j".into(),
            },
            peer: Some("192.0.2.7:2525".into()),
            helo: Some("mx.example".into()),
            mail_from: Some("anna@example.com".into()),
            rcpts: vec![Rcpt {
                address: "bob@example.org".into(),
                reply: Some("250 ok".into()),
            }],
            content: ContentRef {
                sha256: "ab".repeat(32),
                size: 3,
                stored: None,
            },
            ..Default::default()
        };
        let stored = seal_message(&meta, key.as_bytes(), slot, 9).unwrap();
        let mut record = Record {
            format: 2,
            seq: 9,
            time: "2026-12-07T00:00:00.000000Z".into(),
            prev_hash: "00".repeat(32),
            body: RecordBody::Message(Box::new(stored)),
        };
        let json = String::from_utf8(record.encode()).unwrap();
        for secret in ["anna@", "bob@", "192.0.2.7", "mx.example", "250 ok"] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        let back = Record::decode(json.as_bytes()).unwrap();
        assert_eq!(back, record);
        assert_eq!(open(&mut record, Some(&keys)).unwrap(), Opened::Opened);
        let RecordBody::Message(m) = &record.body else {
            panic!("not a message")
        };
        assert_eq!(m.mail_from, meta.mail_from);
        assert_eq!(m.rcpts, meta.rcpts);
        assert_eq!(m.peer, meta.peer);

        // Another record's seq cannot borrow these fields.
        let mut moved = Record::decode(json.as_bytes()).unwrap();
        moved.seq = 10;
        assert!(open(&mut moved, Some(&keys)).is_err());

        keys.destroy(&[slot]).unwrap();
        let mut purged = Record::decode(json.as_bytes()).unwrap();
        assert_eq!(
            open(&mut purged, Some(&keys)).unwrap(),
            Opened::KeyDestroyed
        );
        assert_eq!(open(&mut purged, None).unwrap(), Opened::NoKeys);
    }
}
