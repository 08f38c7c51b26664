//! The record bodies of archive format 2.3 that keep, hold and delete
//! messages: `retention-extend`, `hold`, `purge-request`, `purge-approval`
//! and `tombstone`. Here each body's fields are checked for presence and
//! type as docs/archive-format.md lists them, and the parts the later
//! checks need are read out. What the bodies say about each other (a
//! tombstone names an earlier message, an approval another actor's
//! request) is checked along the walk (`archive::purge`); a tombstone's
//! slots are held against the key store once the walk is over.

use serde_json::{Map, Value};

/// `hold`: `records` is `[]` for `release`, which releases the whole case.
pub const HOLD: &[&str] = &[
    "type", "action", "case", "reason", "query", "records", "actor",
];
/// `purge-request`: message records to delete before their keep-until.
pub const PURGE_REQUEST: &[&str] = &["type", "records", "reason", "actor"];
/// `purge-approval`: another actor approves a request.
pub const PURGE_APPROVAL: &[&str] = &["type", "request", "actor"];
/// `tombstone`: a message record was purged, its keys destroyed.
pub const TOMBSTONE: &[&str] = &[
    "type",
    "of",
    "slots",
    "content",
    "rule",
    "keep_until",
    "reason",
    "actor",
    "backups_forget_by",
];
/// `retention-extend`: later keep-until dates for message records.
pub const RETENTION_EXTEND: &[&str] = &["type", "records", "keep_until", "reason", "actor"];

/// The fields of these bodies (record format 2 only).
pub fn fields(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "hold" => Some(HOLD),
        "purge-request" => Some(PURGE_REQUEST),
        "purge-approval" => Some(PURGE_APPROVAL),
        "tombstone" => Some(TOMBSTONE),
        "retention-extend" => Some(RETENTION_EXTEND),
        _ => None,
    }
}

/// What the walk needs of such a body.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// `hold`: whether it adds (or releases), its case, the records it holds.
    Hold {
        /// `add`; `false` for `release`.
        add: bool,
        /// The case id: a release releases every record the case held.
        case: String,
        /// The message records held (`[]` for a release).
        records: Vec<u64>,
    },
    /// `retention-extend`: the message records it names.
    Extend(Vec<u64>),
    /// `purge-request`: the records to delete and who asked.
    Request {
        /// The message records to delete.
        records: Vec<u64>,
        /// Who asked: the approval must come from someone else.
        actor: String,
    },
    /// `purge-approval`: which request, and who approved.
    Approval {
        /// The `purge-request`'s seq.
        request: u64,
        /// Who approved: not the requester.
        actor: String,
    },
    /// `tombstone`.
    Tombstone {
        /// The purged message record.
        of: u64,
        /// The key slots destroyed: contents and records under them are
        /// purged, not undecryptable.
        slots: Vec<u64>,
        /// `request N`: the approved request it carries out; `None` for
        /// `retention`.
        request: Option<u64>,
    },
}

/// (problem kind, detail).
type Bad = (&'static str, String);

/// Reads a body of one of these types (`None` for other types). Its
/// fields were already checked to be among the allowed ones.
pub fn parse(kind: &str, body: &Map<String, Value>) -> Result<Option<Step>, Bad> {
    let Some(names) = fields(kind) else {
        return Ok(None);
    };
    if let Some(missing) = names.iter().find(|n| !body.contains_key(**n)) {
        return Err((
            "record-changed",
            format!("a {kind} body without `{missing}`"),
        ));
    }
    let f = Fields { kind, body };
    let step = match kind {
        "hold" => {
            f.text("reason")?;
            f.optional("query", Fields::text)?;
            let add = match f.text("action")?.as_str() {
                "add" => true,
                "release" => false,
                other => return Err(f.bad(format!("action {other:?} is neither add nor release"))),
            };
            let records = f.seqs("records")?;
            if !add && !records.is_empty() {
                return Err(f.bad("a release names records; it releases the whole case".into()));
            }
            f.actor()?;
            Step::Hold {
                add,
                case: f.name("case")?,
                records,
            }
        }
        "retention-extend" => {
            f.date("keep_until")?;
            f.text("reason")?;
            f.actor()?;
            Step::Extend(f.seqs("records")?)
        }
        "purge-request" => {
            f.text("reason")?;
            Step::Request {
                records: f.seqs("records")?,
                actor: f.actor()?,
            }
        }
        "purge-approval" => Step::Approval {
            request: f.seq("request")?,
            actor: f.actor()?,
        },
        _ => {
            f.optional("content", Fields::hex)?;
            f.optional("rule", Fields::text)?;
            f.optional("keep_until", Fields::date)?;
            f.date("backups_forget_by")?;
            f.actor()?;
            let slots = f.slots()?;
            let reason = f.text("reason")?;
            let request = match reason.strip_prefix("request ") {
                _ if reason == "retention" => None,
                Some(n) if !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(n.parse().map_err(|_| f.bad(format!("reason {reason:?}")))?)
                }
                _ => {
                    let why = format!("reason {reason:?} is neither `retention` nor `request N`");
                    return Err(f.bad(why));
                }
            };
            Step::Tombstone {
                of: f.seq("of")?,
                slots,
                request,
            }
        }
    };
    Ok(Some(step))
}

/// A body's fields, read with the type the document gives them (also for
/// the audit bodies in `audit`).
pub(crate) struct Fields<'a> {
    /// The body type, for messages and the `-bad` kind.
    pub(crate) kind: &'a str,
    /// The body.
    pub(crate) body: &'a Map<String, Value>,
}

impl Fields<'_> {
    /// A value of the right type that the format does not allow.
    pub(crate) fn bad(&self, why: String) -> Bad {
        let kind = match self.kind {
            "hold" => "hold-bad",
            "purge-request" => "purge-request-bad",
            "purge-approval" => "purge-approval-bad",
            "retention-extend" => "retention-extend-bad",
            "retention-rules" => "retention-rules-bad",
            "audit-purge" => "audit-purge-bad",
            _ => "tombstone-bad",
        };
        (kind, why)
    }

    /// A field of the wrong JSON type.
    pub(crate) fn shape(&self, name: &str, what: &str) -> Bad {
        (
            "record-changed",
            format!("`{name}` of a {} body is not {what}", self.kind),
        )
    }

    pub(crate) fn value(&self, name: &str) -> &Value {
        self.body.get(name).unwrap_or(&Value::Null)
    }

    pub(crate) fn text(&self, name: &str) -> Result<String, Bad> {
        self.value(name)
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.shape(name, "a string"))
    }

    /// A string that names someone or something: not empty.
    fn name(&self, name: &str) -> Result<String, Bad> {
        Some(self.text(name)?)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.shape(name, "a non-empty string"))
    }

    pub(crate) fn actor(&self) -> Result<String, Bad> {
        self.name("actor")
    }

    /// `null`, or what `read` accepts.
    fn optional<T>(&self, name: &str, read: fn(&Self, &str) -> Result<T, Bad>) -> Result<(), Bad> {
        if !self.value(name).is_null() {
            read(self, name)?;
        }
        Ok(())
    }

    /// A record number: a positive integer.
    fn seq(&self, name: &str) -> Result<u64, Bad> {
        self.value(name)
            .as_u64()
            .filter(|&n| n > 0)
            .ok_or_else(|| self.shape(name, "a record number"))
    }

    fn seqs(&self, name: &str) -> Result<Vec<u64>, Bad> {
        let shape = || self.shape(name, "an array of record numbers");
        let list = self.value(name).as_array().ok_or_else(shape)?;
        list.iter()
            .map(|v| v.as_u64().filter(|&n| n > 0).ok_or_else(shape))
            .collect()
    }

    /// Key slots, ascending (each named once).
    pub(crate) fn slots(&self) -> Result<Vec<u64>, Bad> {
        let shape = || self.shape("slots", "an array of key slot numbers");
        let list = self.value("slots").as_array().ok_or_else(shape)?;
        let slots = list
            .iter()
            .map(|v| v.as_u64().ok_or_else(shape))
            .collect::<Result<Vec<u64>, Bad>>()?;
        if slots.windows(2).any(|w| w[0] >= w[1]) {
            return Err(self.bad(format!("slots {slots:?} are not ascending")));
        }
        Ok(slots)
    }

    /// A day, exactly `YYYY-MM-DD`.
    pub(crate) fn date(&self, name: &str) -> Result<(), Bad> {
        let text = self.text(name)?;
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| {
            b.get(r.clone())
                .filter(|d| d.iter().all(u8::is_ascii_digit))
                .and_then(|_| text.get(r)?.parse::<u32>().ok())
        };
        let ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && digits(0..4).is_some()
            && digits(5..7).is_some_and(|m| (1..=12).contains(&m))
            && digits(8..10).is_some_and(|d| (1..=31).contains(&d));
        if ok {
            Ok(())
        } else {
            Err(self.shape(name, "a date YYYY-MM-DD"))
        }
    }

    /// A content hash: 64 lowercase hex digits.
    fn hex(&self, name: &str) -> Result<(), Bad> {
        let text = self.text(name)?;
        if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(())
        } else {
            Err(self.shape(name, "a SHA-256 in lowercase hex"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    fn kind(json: &str) -> Option<&'static str> {
        let b = body(json);
        let t = b["type"].as_str().unwrap().to_owned();
        parse(&t, &b).err().map(|e| e.0)
    }

    const TOMB: &str = r#"{"type":"tombstone","of":4,"slots":[2,3],"content":null,"rule":"letters","keep_until":"2032-12-31","reason":"retention","actor":"purge","backups_forget_by":"2033-03-31"}"#;

    #[test]
    fn bodies_read_their_fields_with_their_types() {
        assert_eq!(
            parse("tombstone", &body(TOMB)).unwrap(),
            Some(Step::Tombstone {
                of: 4,
                slots: vec![2, 3],
                request: None
            })
        );
        let early = TOMB.replace(r#""retention""#, r#""request 12""#);
        assert!(matches!(
            parse("tombstone", &body(&early)).unwrap(),
            Some(Step::Tombstone {
                request: Some(12),
                ..
            })
        ));
        let hold = r#"{"type":"hold","action":"release","case":"K-1","reason":"done","query":null,"records":[],"actor":"anna"}"#;
        assert_eq!(kind(hold), None);
        let extend = r#"{"type":"retention-extend","records":[1,2],"keep_until":"2040-12-31","reason":"audit","actor":"anna"}"#;
        assert_eq!(kind(extend), None);
        assert_eq!(
            kind(r#"{"type":"purge-approval","request":5,"actor":"bert"}"#),
            None
        );
        assert_eq!(parse("audit", &body("{}")).unwrap(), None);
    }

    #[test]
    fn missing_fields_wrong_types_and_values_are_found() {
        let cases = [
            (TOMB.replace(r#""of":4,"#, ""), "record-changed"),
            (TOMB.replace(r#""of":4"#, r#""of":"4""#), "record-changed"),
            (TOMB.replace(r#""of":4"#, r#""of":0"#), "record-changed"),
            (TOMB.replace("[2,3]", "[3,2]"), "tombstone-bad"),
            (TOMB.replace("[2,3]", "[2,2]"), "tombstone-bad"),
            (TOMB.replace("[2,3]", "[2,-3]"), "record-changed"),
            (TOMB.replace("2033-03-31", "2033-3-31"), "record-changed"),
            (TOMB.replace("2032-12-31", "2032-13-31"), "record-changed"),
            (TOMB.replace(r#""content":null"#, r#""content":"AB""#), "record-changed"),
            (TOMB.replace(r#""retention""#, r#""request 012""#), "tombstone-bad"),
            (TOMB.replace(r#""retention""#, r#""expired""#), "tombstone-bad"),
            (TOMB.replace(r#""actor":"purge""#, r#""actor":"""#), "record-changed"),
            (
                r#"{"type":"hold","action":"release","case":"K","reason":"","query":null,"records":[3],"actor":"a"}"#.into(),
                "hold-bad",
            ),
            (
                r#"{"type":"hold","action":"freeze","case":"K","reason":"","query":null,"records":[3],"actor":"a"}"#.into(),
                "hold-bad",
            ),
            (
                r#"{"type":"purge-request","records":[true],"reason":"","actor":"a"}"#.into(),
                "record-changed",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(kind(&json), Some(want), "{json}");
        }
    }
}
