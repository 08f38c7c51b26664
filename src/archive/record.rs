//! What every archived record keeps, and its canonical encoding.
//!
//! A record is stored as compact JSON produced from these structs. Field
//! order is the declaration order and `serde_json` emits no whitespace, so
//! the encoding is deterministic; verification never re-encodes anyway: it
//! hashes the stored bytes (`hash = SHA-256(prev_hash || record_bytes)`).
//! Adding a field is a format change: bump [`RECORD_FORMAT`] and document it
//! in `docs/archive-format.md`.

use serde::{Deserialize, Serialize};

/// Version of the record layout written by this build. Format 2 adds the
/// `key-rotation` body; format-1 records keep their meaning.
pub const RECORD_FORMAT: u32 = 2;
/// The newest record layout this build understands.
pub const NEWEST_RECORD_FORMAT: u32 = 2;

/// One link of the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Layout version, so a reader in ten years knows which fields to expect.
    pub format: u32,
    /// Position in the chain, starting at 1, without gaps.
    pub seq: u64,
    /// When the archive accepted the record, RFC 3339 UTC with microseconds.
    pub time: String,
    /// Lowercase hex SHA-256 of the previous record (64 zeros for seq 1).
    pub prev_hash: String,
    /// What the record says.
    pub body: RecordBody,
}

/// The kinds of records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RecordBody {
    /// A message and the context it arrived in.
    Message(Box<MessageMeta>),
    /// What happened to an archived message afterwards (the upstream's final
    /// reply arrives only after the archive commit, because the final `.` is
    /// held back until the message is durable).
    Outcome(Outcome),
    /// The seal key changed (format 2): signed by the old and the new key.
    KeyRotation(super::keys::KeyRotation),
    /// An access to the archive or a change of who may access it (format 2,
    /// see [`super::audit`]).
    Audit(Box<super::audit::AuditEvent>),
    /// The configured retention rules, chained whenever they change
    /// (format 2.3): a rule may never lose years or disappear.
    RetentionRules(crate::retention::RuleSet),
    /// Longer retention for records already archived.
    RetentionExtend(super::lifecycle::RetentionExtend),
    /// A legal hold placed or released.
    Hold(super::lifecycle::Hold),
    /// A request to delete messages before their keep-until.
    PurgeRequest(super::lifecycle::PurgeRequest),
    /// Another user's approval of such a request.
    PurgeApproval(super::lifecycle::PurgeApproval),
    /// A message record deleted: its keys are destroyed.
    Tombstone(super::lifecycle::Tombstone),
    /// A year of audit records lost its personal fields: its audit keys
    /// are destroyed.
    AuditPurge(super::lifecycle::AuditPurge),
}

impl RecordBody {
    /// The body's `type`, as stored.
    pub fn type_name(&self) -> &'static str {
        match self {
            RecordBody::Message(_) => "message",
            RecordBody::Outcome(_) => "outcome",
            RecordBody::KeyRotation(_) => "key-rotation",
            RecordBody::Audit(_) => "audit",
            RecordBody::RetentionRules(_) => "retention-rules",
            RecordBody::RetentionExtend(_) => "retention-extend",
            RecordBody::Hold(_) => "hold",
            RecordBody::PurgeRequest(_) => "purge-request",
            RecordBody::PurgeApproval(_) => "purge-approval",
            RecordBody::Tombstone(_) => "tombstone",
            RecordBody::AuditPurge(_) => "audit-purge",
        }
    }

    /// The key slots this record destroys: a tombstone's or an audit
    /// purge's (made durable first; the keys die when it is applied).
    pub fn destroys(&self) -> Option<&[u64]> {
        match self {
            RecordBody::Tombstone(t) => Some(&t.slots),
            RecordBody::AuditPurge(a) => Some(&a.slots),
            _ => None,
        }
    }

    /// The oldest record format that may hold this body.
    pub fn since_format(&self) -> u32 {
        match self {
            RecordBody::Message(_) | RecordBody::Outcome(_) => 1,
            _ => 2,
        }
    }
}

/// Everything known about one message when it was archived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageMeta {
    /// Which way in delivered it.
    pub source: Source,
    /// Client address as `ip:port`, when there was a network peer.
    pub peer: Option<String>,
    /// The HELO/EHLO name the client gave.
    pub helo: Option<String>,
    /// TLS of the client leg, when it was encrypted.
    pub tls: Option<TlsInfo>,
    /// The SMTP AUTH / IMAP login name, when the mechanism showed it.
    pub auth_user: Option<String>,
    /// The reverse path without angle brackets (`""` for the null sender).
    pub mail_from: Option<String>,
    /// Every RCPT TO with the reply it got.
    pub rcpts: Vec<Rcpt>,
    /// The upstream's reply to the end of DATA, if known at commit time.
    pub upstream_reply: Option<String>,
    /// Exchange / Microsoft 365 journal report envelope, for journal records.
    pub journal: Option<JournalEnvelope>,
    /// Where in an IMAP session the message was seen.
    pub imap: Option<ImapContext>,
    /// Where an importer found the message.
    pub import: Option<ImportContext>,
    /// Where in a POP3 session the message was downloaded. Left out of
    /// the JSON when absent, so every other record keeps format 1's exact
    /// shape and older readers still read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pop3: Option<Pop3Context>,
    /// Where an intercepted connection was headed (the original
    /// destination nftables redirected to mailseal). Left out of the JSON
    /// for every connection that was not intercepted, like `pop3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intercepted: Option<Interception>,
    /// The personal fields above, sealed under this record's own key
    /// (format 2.3): a purge destroys the key, and with it every readable
    /// trace of whom the message concerned. While it is set, the fields
    /// above are empty in the stored JSON; a reader fills them in again
    /// from here ([`super::sealing`]). Left out when encryption is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedFields>,
    /// The retention rule that matched at capture and the keep-until date
    /// it gives (format 2.3); left out when no rules are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::retention::RetentionField>,
    /// The message itself.
    pub content: ContentRef,
    /// A second stored content that is evidence for this record (the whole
    /// journal report the message was unwrapped from).
    pub evidence: Option<ContentRef>,
}

/// The way in and the listener or job name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// `smtp-proxy`, `journal`, `imap-proxy`, `pop3-proxy` or `import`.
    pub kind: SourceKind,
    /// The configured listener or job name (or the importer's kind).
    pub name: String,
}

/// The ways in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// The SMTP proxy (`[[smtp_proxy]]`).
    SmtpProxy,
    /// The journal receiver (`[[journal]]`).
    Journal,
    /// The IMAP proxy (`[[imap_proxy]]`).
    ImapProxy,
    /// The POP3 proxy (`[[pop3_proxy]]`).
    Pop3Proxy,
    /// An importer (CLI or `[[imap_import]]`).
    #[default]
    Import,
}

impl SourceKind {
    /// The name used in records, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::SmtpProxy => "smtp-proxy",
            SourceKind::Journal => "journal",
            SourceKind::ImapProxy => "imap-proxy",
            SourceKind::Pop3Proxy => "pop3-proxy",
            SourceKind::Import => "import",
        }
    }
}

/// Negotiated TLS parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsInfo {
    /// For example `TLSv1_3`.
    pub version: String,
    /// For example `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
}

/// One recipient and what the upstream (or mailseal) answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rcpt {
    /// The forward path without angle brackets.
    pub address: String,
    /// The full reply text, for example `250 2.1.5 Ok`.
    pub reply: Option<String>,
}

/// The envelope of an Exchange journal report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalEnvelope {
    /// `Sender:` field.
    pub sender: Option<String>,
    /// `Subject:` field.
    pub subject: Option<String>,
    /// `Message-Id:` field.
    pub message_id: Option<String>,
    /// `On-Behalf-Of:` field.
    pub on_behalf_of: Option<String>,
    /// Every `To`, `Cc`, `Bcc` and `Recipient` line, in report order.
    pub recipients: Vec<JournalRecipient>,
    /// Microsoft 365 sent this as the decrypted copy of a protected message.
    pub decrypted_copy: bool,
    /// The report claimed to be a journal report but could not be parsed;
    /// the content is then the whole report as received.
    pub malformed: Option<String>,
}

/// One recipient line of a journal report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalRecipient {
    /// `to`, `cc`, `bcc` or `recipient`.
    pub field: String,
    /// The address.
    pub address: String,
    /// The distribution list(s) this recipient was expanded from
    /// (`To: member@x, Expanded: list@x`).
    pub expanded: Vec<String>,
    /// The original recipient this one was forwarded from (`, Forwarded: ...`).
    pub forwarded: Option<String>,
}

/// Where in an IMAP session a message crossed the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapContext {
    /// The logged-in user.
    pub user: Option<String>,
    /// The mailbox name as the server spells it.
    pub mailbox: Option<String>,
    /// UIDVALIDITY of the mailbox, when known.
    pub uidvalidity: Option<u32>,
    /// UID of the message, when known.
    pub uid: Option<u32>,
    /// `append` (client to server), `fetch` (server to client) or
    /// `proxy-fetch` (mailseal completed a partial fetch itself).
    pub direction: String,
}

/// Where in a POP3 session a message crossed the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pop3Context {
    /// The user the upstream accepted (USER, APOP, or the SASL identity).
    pub user: Option<String>,
    /// The upstream's `host:port`: a UIDL is unique only within one
    /// maildrop on one server.
    pub upstream: String,
    /// The message's unique-id listing (UIDL), when the server gave one.
    pub uidl: Option<String>,
    /// `retr` (the client downloaded it whole), `proxy-retr` (mailseal
    /// completed a `TOP` with its own `RETR`) or `top` (only the headers
    /// and first lines were seen: completion off or failed).
    pub direction: String,
}

/// How an intercepted connection reached mailseal and where it was going.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interception {
    /// `redirect` (nftables `redirect`/`dnat`) or `tproxy`.
    pub mode: String,
    /// The address the client connected to, `ip:port` (`[ip]:port` for
    /// IPv6): the server the message went to.
    pub destination: String,
    /// The upstream connection was made from the client's own address
    /// (TPROXY with `intercept_bind_client`), so the server saw the client.
    pub from_client: bool,
}

/// Where an importer found a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportContext {
    /// `eml`, `mbox`, `maildir` or `imap`.
    pub kind: String,
    /// File path, or `imap://user@host/folder`.
    pub origin: String,
    /// Position inside the origin: message number in an mbox, file name in
    /// a Maildir.
    pub position: Option<String>,
    /// UIDVALIDITY and UID for IMAP imports.
    pub uidvalidity: Option<u32>,
    /// UID for IMAP imports.
    pub uid: Option<u32>,
}

/// A reference to stored content by its SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentRef {
    /// Lowercase hex SHA-256 of the original bytes.
    pub sha256: String,
    /// Length of the original bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the stored ciphertext (an `E` frame), so
    /// the record commits to the exact bytes kept; absent for contents
    /// stored unencrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<String>,
}

pub use super::crypt::SealedFields;

/// What happened to an archived message after the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The message record this amends.
    pub of: u64,
    /// The upstream's final reply, or what went wrong with the upstream.
    pub upstream_reply: String,
    /// `accepted`, `rejected`, `deferred` or `failed`.
    pub result: String,
    /// `upstream_reply` sealed under the message record's key, when the
    /// message's personal fields are sealed (a reply can name a recipient);
    /// `upstream_reply` is then `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedFields>,
}

impl Record {
    /// The canonical bytes that are stored and hashed.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these plain structs cannot fail: no maps with
        // non-string keys, no custom serializers.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses stored record bytes.
    pub fn decode(bytes: &[u8]) -> Result<Record, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The message metadata, for message records.
    pub fn message(&self) -> Option<&MessageMeta> {
        match &self.body {
            RecordBody::Message(m) => Some(m),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_stable_and_round_trips() {
        let r = Record {
            format: RECORD_FORMAT,
            seq: 7,
            time: "2026-11-29T06:00:00.000000Z".into(),
            prev_hash: "00".repeat(32),
            body: RecordBody::Message(Box::new(MessageMeta {
                source: Source {
                    kind: SourceKind::Journal,
                    name: "j".into(),
                },
                mail_from: Some(String::new()),
                rcpts: vec![Rcpt {
                    address: "a@b".into(),
                    reply: Some("250 ok".into()),
                }],
                content: ContentRef {
                    sha256: "ab".repeat(32),
                    size: 3,
                    stored: None,
                },
                ..Default::default()
            })),
        };
        let bytes = r.encode();
        assert_eq!(bytes, r.encode());
        assert!(bytes.starts_with(br#"{"format":2,"seq":7,"time":"#));
        assert_eq!(Record::decode(&bytes).ok(), Some(r));
    }
}
