//! Sealed personal fields of archive format 2.3: a message record (and
//! its outcome) written with encryption on keeps the fields that name
//! people only in `sealed`, ChaCha20-Poly1305 under the record key in its
//! slot; an audit record keeps its own under the audit key of its year.
//! Without the master key this checks that nothing of them is left in
//! clear; with it, that they open to exactly the documented fields.

use std::fmt;

use base64::Engine;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::keys::{self, KeyStore, NoKey};

/// The fields a sealed message record holds, in their order.
const MESSAGE: [&str; 11] = [
    "peer",
    "helo",
    "auth_user",
    "mail_from",
    "rcpts",
    "upstream_reply",
    "journal",
    "imap",
    "import",
    "pop3",
    "intercepted",
];

/// The fields a sealed audit record holds, in their order. In clear
/// `actor` is `""` and the others are `null`.
const AUDIT: [&str; 5] = ["actor", "peer", "session", "query", "detail"];

/// A record's `sealed` object.
pub struct Sealed {
    /// The key's slot (kind 2, a record key; kind 3 for an audit record).
    pub slot: u64,
    /// The 12-byte nonce.
    pub nonce: [u8; 12],
    /// Ciphertext and tag.
    pub data: Vec<u8>,
}

/// What opening a sealed record found that is not an error.
pub enum Opened {
    /// It opened to the documented fields.
    Open,
    /// Its record key is destroyed.
    Purged,
}

type Bad = (&'static str, String);

/// Reads `sealed` from a message, outcome or audit body (`None` when
/// absent) and checks that the fields it replaces are empty in clear.
pub fn in_record(kind: &str, body: &Map<String, Value>) -> Result<Option<Sealed>, Bad> {
    // The format leaves `sealed` out of records written without
    // encryption; null says the same.
    let Some(v) = body.get("sealed").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = |d: String| ("record-changed", d);
    let o = v
        .as_object()
        .filter(|o| o.len() == 3)
        .ok_or_else(|| bad("`sealed` is not {slot, nonce, data}".into()))?;
    let slot = o.get("slot").and_then(Value::as_u64);
    let mut nonce = [0u8; 12];
    let nonce_ok = o
        .get("nonce")
        .and_then(Value::as_str)
        .is_some_and(|n| hex::decode_to_slice(n, &mut nonce).is_ok());
    let data = o
        .get("data")
        .and_then(Value::as_str)
        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok());
    let (Some(slot), true, Some(data)) = (slot, nonce_ok, data) else {
        return Err(bad("`sealed` is not {slot, nonce, data}".into()));
    };
    // An outcome keeps `upstream_reply` as ""; a message writes null
    // (`rcpts` []) or leaves the field out; an audit record writes
    // `actor` as "" and the others as null, all of them present.
    let empty = |name: &str| match (kind, body.get(name)) {
        ("audit", Some(Value::String(s))) => name == "actor" && s.is_empty(),
        ("audit", Some(Value::Null)) => name != "actor",
        ("audit", _) => false,
        (_, None | Some(Value::Null)) => kind != "outcome",
        (_, Some(Value::Array(a))) => name == "rcpts" && a.is_empty(),
        (_, Some(Value::String(s))) => kind == "outcome" && s.is_empty(),
        _ => false,
    };
    let names = names(kind);
    if let Some(f) = names.iter().find(|f| !empty(f)) {
        return Err(bad(format!(
            "the record is sealed but `{f}` is not empty in clear"
        )));
    }
    Ok(Some(Sealed { slot, nonce, data }))
}

/// The fields `sealed` holds in a body of `kind`, in their order.
fn names(kind: &str) -> &'static [&'static str] {
    match kind {
        "outcome" => &["upstream_reply"],
        "audit" => &AUDIT,
        _ => &MESSAGE,
    }
}

/// Opens record `seq`'s sealed fields with its record key (an audit
/// record: its audit key) and checks them.
pub fn open(store: &KeyStore, seq: u64, kind: &str, s: &Sealed) -> Result<Opened, Bad> {
    let slot_kind = if kind == "audit" {
        keys::AUDIT_KEY
    } else {
        keys::RECORD_KEY
    };
    let key = match store.key(s.slot, slot_kind) {
        Ok(k) => k,
        Err(NoKey::Destroyed) => return Ok(Opened::Purged),
        Err(NoKey::Unusable(why)) => return Err(("undecryptable", why)),
    };
    let aad = format!("mailseal record {seq}");
    let plain = keys::open(key, &s.nonce, aad.as_bytes(), &s.data).ok_or((
        "undecryptable",
        "sealed fields do not decrypt: the tag fails".to_string(),
    ))?;
    let fields = serde_json::from_slice::<Ordered>(&plain)
        .map_err(|e| {
            (
                "record-changed",
                format!("sealed fields are not a JSON object: {e}"),
            )
        })?
        .0;
    let found: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    let expected = names(kind);
    if found != expected {
        return Err((
            "unknown-field",
            format!("sealed fields {found:?}, not {expected:?}"),
        ));
    }
    for (name, v) in &fields {
        let fits = match name.as_str() {
            // Who accessed the archive: someone, as in a clear audit record.
            "actor" => v.as_str().is_some_and(|a| !a.is_empty()),
            "rcpts" => v.is_array(),
            "upstream_reply" if kind == "outcome" => v.is_string(),
            "journal" | "imap" | "import" | "pop3" | "intercepted" => v.is_null() || v.is_object(),
            _ => v.is_null() || v.is_string(),
        };
        if !fits {
            return Err((
                "record-changed",
                format!("sealed field `{name}` has the wrong shape"),
            ));
        }
    }
    Ok(Opened::Open)
}

/// A JSON object's members in their stored order (`serde_json::Map` sorts
/// them unless a feature of the whole build says otherwise).
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    v.push(kv);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(Members)
    }
}
