//! What a seal mail says: a short text for the witness and the seals as a
//! JSON attachment that `mailseal-verify consistency` and `mailseal verify
//! --seal` read as they are.

use ed25519_dalek::SigningKey;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde::Serialize;

use crate::archive::mark;
use crate::archive::seal::Seal;
use crate::archive::stamp::TimeStamp;

/// The attachment's file name.
pub const ATTACHMENT: &str = "mailseal-seals.json";

/// The attachment.
#[derive(Serialize)]
pub struct SealsJson<'a> {
    /// Layout version.
    pub mailseal_seals: u32,
    /// The archive's id (its first seal key).
    pub archive_id: &'a str,
    /// The seals, oldest first.
    pub seals: &'a [Seal],
    /// Time stamps of these seals known when the mail was made.
    pub timestamps: &'a [TimeStamp],
}

/// Why a mail could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the seal mail: {0}")]
pub struct BuildError(String);

/// The mail for `seals` from `from` to `to`, marked with `key`.
pub fn build(
    key: &SigningKey,
    archive_id: &str,
    from: &str,
    to: &[String],
    seals: &[Seal],
    stamps: &[TimeStamp],
) -> Result<Message, BuildError> {
    let err = |e: &dyn std::fmt::Display| BuildError(e.to_string());
    let (Some(first), Some(last)) = (seals.first(), seals.last()) else {
        return Err(BuildError("no seal".into()));
    };
    let domain = from.rsplit_once('@').map_or("mailseal.invalid", |(_, d)| d);
    let nonce: u64 = rand::random();
    let message_id = format!("<seal.{}.{nonce:016x}@{domain}>", last.seq);
    let short = &archive_id[..archive_id.len().min(16)];
    let subject = if seals.len() == 1 {
        format!("mailseal seal {} of archive {short}", last.seq)
    } else {
        format!(
            "mailseal seals {}..{} of archive {short}",
            first.seq, last.seq
        )
    };
    let mut text = format!(
        "This mail holds {} seal(s) of the mailseal archive {archive_id}.\n\
         Please keep it unchanged. A seal is the signed state of the archive;\n\
         with it anyone can later check that the archive was not rewritten:\n\n\
         \x20 mailseal-verify consistency {ATTACHMENT} ARCHIVE_COPY_OR_PROOF\n\n",
        seals.len()
    );
    for s in seals {
        text.push_str(&format!(
            "record {:>10}  {}  root {}\n",
            s.seq,
            s.time,
            s.root.as_deref().unwrap_or("(version 1)")
        ));
    }
    let json = serde_json::to_vec_pretty(&SealsJson {
        mailseal_seals: 1,
        archive_id,
        seals,
        timestamps: stamps,
    })
    .map_err(|e| err(&e))?;
    let mut builder = Message::builder()
        .from(from.parse::<Mailbox>().map_err(|e| err(&e))?)
        .subject(subject)
        .message_id(Some(message_id.clone()))
        .header(MarkHeader(mark::value(key, archive_id, &message_id)));
    for t in to {
        builder = builder.to(t.parse::<Mailbox>().map_err(|e| err(&e))?);
    }
    builder
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(text))
                .singlepart(Attachment::new(ATTACHMENT.into()).body(
                    json,
                    ContentType::parse("application/json").map_err(|e| err(&e))?,
                )),
        )
        .map_err(|e| err(&e))
}

/// `X-Mailseal-Seal`.
#[derive(Clone)]
struct MarkHeader(String);

impl lettre::message::header::Header for MarkHeader {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str(mark::HEADER)
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(MarkHeader(s.to_owned()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::tree_head;

    #[test]
    fn a_seal_mail_is_marked_and_carries_the_seals() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let id = hex::encode(key.verifying_key().as_bytes());
        let seals = vec![
            tree_head::make(
                &key,
                3,
                &[1; 32],
                &[2; 32],
                "2026-01-01T00:00:00.000000Z".into(),
            ),
            tree_head::make(
                &key,
                9,
                &[3; 32],
                &[4; 32],
                "2026-01-01T00:05:00.000000Z".into(),
            ),
        ];
        let to = vec!["auditor@example.org".to_string()];
        let m = build(&key, &id, "mailseal@example.com", &to, &seals, &[]).unwrap();
        let bytes = m.formatted();
        assert!(mark::has_mark_field(&bytes));
        assert!(mark::is_marked(&bytes, &id, &[key.verifying_key()]));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("mailseal-seals.json"), "{text}");
        assert!(
            text.contains("Subject: mailseal seals 3..9 of archive"),
            "{text}"
        );
    }
}
