//! Which records a listing or an export looks at: conditions on a record's
//! [`Summary`], shared by the CLI (reading the archive itself) and the
//! daemon (answering the CLI over the control socket).

use serde::{Deserialize, Serialize};

use super::index::Summary;

/// Conditions on records. All given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Envelope or header address (sender or recipient), case-insensitive.
    pub address: Option<String>,
    /// Envelope sender or From header.
    pub from: Option<String>,
    /// Envelope recipient or To/Cc header.
    pub to: Option<String>,
    /// Subject contains this text (case-insensitive).
    pub subject: Option<String>,
    /// Message-ID (with or without angle brackets).
    pub message_id: Option<String>,
    /// Source kind: smtp-proxy, journal, imap-proxy or import.
    pub source: Option<String>,
    /// Received at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    pub since: Option<String>,
    /// Received before this time (RFC 3339 or YYYY-MM-DD, UTC).
    pub until: Option<String>,
    /// Only these record ids (`A-B` for a range).
    #[serde(default)]
    pub ids: Vec<String>,
}

impl Filter {
    /// True when the record passes. Outcome records only pass a filter
    /// that names no message property.
    pub fn matches(&self, s: &Summary) -> bool {
        let lower = |x: &str| x.to_ascii_lowercase();
        let eq = |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| lower(a) == lower(b));
        let from_ok = self
            .from
            .as_deref()
            .is_none_or(|f| eq(&s.mail_from, f) || eq(&s.headers.from, f));
        // Journal report recipients count: a Bcc recipient of an Exchange
        // journal report is in no header and not in the envelope.
        let rcpt = |a: &str| {
            s.rcpts
                .iter()
                .chain(s.headers.to.iter())
                .chain(s.journal_rcpts.iter())
                .any(|r| lower(r) == lower(a))
        };
        let to_ok = self.to.as_deref().is_none_or(rcpt);
        let addr_ok = self
            .address
            .as_deref()
            .is_none_or(|a| eq(&s.mail_from, a) || eq(&s.headers.from, a) || rcpt(a));
        let subject_ok = self.subject.as_deref().is_none_or(|t| {
            s.headers
                .subject
                .as_deref()
                .is_some_and(|sub| sub.to_lowercase().contains(&t.to_lowercase()))
        });
        let id_ok = self.message_id.as_deref().is_none_or(|m| {
            s.headers.message_id.as_deref() == Some(m.trim_matches(|c| c == '<' || c == '>'))
        });
        let source_ok = self
            .source
            .as_deref()
            .is_none_or(|k| s.source_kind.is_some_and(|sk| sk.as_str() == k));
        let since_ok = self.since.as_deref().is_none_or(|t| s.time.as_str() >= t);
        let until_ok = self.until.as_deref().is_none_or(|t| s.time.as_str() < t);
        let ids_ok = self.ids.is_empty() || self.ids.iter().any(|r| in_range(r, s.seq));
        from_ok
            && to_ok
            && addr_ok
            && subject_ok
            && id_ok
            && source_ok
            && since_ok
            && until_ok
            && ids_ok
    }

    /// True for a message record that passes: what `list` and `export` show.
    pub fn selects(&self, s: &Summary) -> bool {
        s.kind == "message" && self.matches(s)
    }
}

fn in_range(spec: &str, seq: u64) -> bool {
    match spec.split_once('-') {
        Some((a, b)) => {
            let lo = a.trim().parse().unwrap_or(u64::MAX);
            let hi = b.trim().parse().unwrap_or(0);
            (lo..=hi).contains(&seq)
        }
        None => spec.trim().parse() == Ok(seq),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_combine() {
        let mut s = Summary {
            seq: 5,
            time: "2026-11-29T06:00:00.000000Z".into(),
            ..Summary::default()
        };
        s.mail_from = Some("A@x.org".into());
        s.rcpts = vec!["b@y.org".into()];
        s.headers.subject = Some("Invoice 42".into());
        assert!(Filter::default().matches(&s));
        let f = Filter {
            from: Some("a@X.org".into()),
            subject: Some("invoice".into()),
            ..Filter::default()
        };
        assert!(f.matches(&s));
        assert!(
            !Filter {
                to: Some("c@y.org".into()),
                ..Filter::default()
            }
            .matches(&s)
        );
        assert!(
            Filter {
                since: Some("2026-11-29".into()),
                ..Filter::default()
            }
            .matches(&s)
        );
        assert!(
            !Filter {
                until: Some("2026-11-29".into()),
                ..Filter::default()
            }
            .matches(&s)
        );
        assert!(
            Filter {
                ids: vec!["3-7".into()],
                ..Filter::default()
            }
            .matches(&s)
        );
        assert!(
            !Filter {
                ids: vec!["6".into()],
                ..Filter::default()
            }
            .matches(&s)
        );
    }

    #[test]
    fn only_message_records_are_selected() {
        let message = Summary {
            kind: "message".into(),
            ..Summary::default()
        };
        let outcome = Summary {
            kind: "outcome".into(),
            ..Summary::default()
        };
        assert!(Filter::default().selects(&message));
        assert!(!Filter::default().selects(&outcome));
    }

    #[test]
    fn journal_recipients_count_as_recipients() {
        let s = Summary {
            rcpts: vec!["journal@archive.example".into()],
            journal_rcpts: vec!["ceo@example.com".into(), "board@example.com".into()],
            ..Summary::default()
        };
        for a in ["CEO@example.com", "board@example.com"] {
            let to = Filter {
                to: Some(a.into()),
                ..Filter::default()
            };
            assert!(to.matches(&s), "{a}");
            let address = Filter {
                address: Some(a.into()),
                ..Filter::default()
            };
            assert!(address.matches(&s), "{a}");
        }
    }
}
