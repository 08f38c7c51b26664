//! Messages received by the journal listener: the Exchange journal report
//! parser (`smtp::journal_report::parse`) and the header parser every
//! archived message goes through (`archive::headers::parse`).
//!
//! Checked besides "no panic":
//! - an unwrapped message (original or decrypted copy) is never longer than
//!   the report it came from (base64 and quoted-printable only shrink);
//! - a malformed report says why;
//! - the envelope, stored as record JSON in the chain, survives its own
//!   encoding: `Record::decode(encode(r)) == r`, so `verify` can read back
//!   whatever a report put into a record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::archive::headers;
use mailseal::archive::record::{JournalEnvelope, MessageMeta, Record, RecordBody};
use mailseal::smtp::journal_report::{self, JournalParse};

fuzz_target!(|data: &[u8]| {
    let _ = headers::parse(data);
    match journal_report::parse(data) {
        JournalParse::NotAReport => {}
        JournalParse::Report(report) => {
            assert!(
                report.inner.len() <= data.len(),
                "inner message longer than the report"
            );
            if let Some(d) = &report.decrypted {
                assert!(
                    d.len() <= data.len(),
                    "decrypted copy longer than the report"
                );
            }
            let _ = report.version.as_str();
            let messages = report.into_messages();
            assert!(matches!(messages.len(), 1 | 2));
            for (inner, envelope) in messages {
                let h = headers::parse(&inner);
                round_trip(envelope, h.subject);
            }
        }
        JournalParse::Malformed { reason } => {
            assert!(!reason.is_empty(), "malformed without a reason");
            round_trip(journal_report::malformed_envelope(&reason), None);
        }
    }
});

/// Puts `envelope` (and a parsed subject, as text from the same input) into
/// a record and checks the record's JSON reads back unchanged.
fn round_trip(envelope: JournalEnvelope, subject: Option<String>) {
    let record = Record {
        format: 1,
        seq: 1,
        time: "2026-01-01T00:00:00.000000Z".into(),
        prev_hash: "0".repeat(64),
        body: RecordBody::Message(Box::new(MessageMeta {
            journal: Some(envelope),
            helo: subject,
            ..Default::default()
        })),
    };
    let bytes = record.encode();
    assert!(!bytes.is_empty(), "record did not encode");
    let back = Record::decode(&bytes).expect("record JSON does not read back");
    assert_eq!(back, record, "record changed through its JSON");
}
