//! How long a message is kept, decided once at capture (format 2.3): the
//! first matching `[[retention.rule]]` and the keep-until date it gives,
//! recorded in the message record. Live mail counts from the day it was
//! archived; imported mail from its `Date:` header, because it may be
//! years old. The rules themselves are chained whenever they change, and
//! a configuration that would shorten or drop a rule is refused.

use chrono::{DateTime, NaiveDate, Utc};

use super::ArchiveError;
use super::headers::Headers;
use super::record::{MessageMeta, SourceKind};
use crate::retention::{Basis, Capture, RetentionField, RuleSet, Rules};

/// The retention decision for a message about to be archived `now`.
pub fn decide(
    rules: &Rules,
    meta: &MessageMeta,
    headers: &Headers,
    now: DateTime<Utc>,
) -> RetentionField {
    let (basis, date) = basis(meta.source.kind, headers, now);
    let mut recipients: Vec<&str> = meta.rcpts.iter().map(|r| r.address.as_str()).collect();
    if let Some(j) = &meta.journal {
        recipients.extend(j.recipients.iter().map(|r| r.address.as_str()));
    }
    // Without an envelope (imports, IMAP, POP3) the header's addresses are
    // what is known.
    if recipients.is_empty() {
        recipients.extend(headers.to.iter().map(String::as_str));
    }
    let sender = meta
        .mail_from
        .as_deref()
        .filter(|s| !s.is_empty())
        .or_else(|| meta.journal.as_ref().and_then(|j| j.sender.as_deref()))
        .or(headers.from.as_deref());
    let user = meta
        .imap
        .as_ref()
        .and_then(|i| i.user.as_deref())
        .or_else(|| meta.pop3.as_ref().and_then(|p| p.user.as_deref()))
        .or(meta.auth_user.as_deref());
    let capture = Capture {
        kind: meta.source.kind.as_str(),
        listener: &meta.source.name,
        sender,
        recipients,
        user,
        folder: meta.imap.as_ref().and_then(|i| i.mailbox.as_deref()),
    };
    rules.decide(&capture, basis, date)
}

/// Live mail counts from today; imported mail from its `Date:` header
/// when it has a plausible one (not after the import), else from today.
fn basis(kind: SourceKind, headers: &Headers, now: DateTime<Utc>) -> (Basis, NaiveDate) {
    let today = now.date_naive();
    if kind != SourceKind::Import {
        return (Basis::Capture, today);
    }
    let dated = headers
        .date
        .as_deref()
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&Utc).date_naive())
        .filter(|d| *d <= today);
    match dated {
        Some(d) => (Basis::DateHeader, d),
        None => (Basis::Capture, today),
    }
}

/// Checks the configured rules against the ones last chained; `Ok(true)`
/// when they differ and must be chained again.
pub fn check_rules(configured: &Rules, recorded: Option<&RuleSet>) -> Result<bool, ArchiveError> {
    let now = configured.recorded();
    let Some(before) = recorded else {
        return Ok(true);
    };
    let problems = crate::retention::compare(before, &now);
    if !problems.is_empty() {
        return Err(ArchiveError::Other(format!(
            "the retention rules would shorten what the archive promised to keep: {}",
            problems.join("; ")
        )));
    }
    Ok(before != &now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::record::{Rcpt, Source};
    use crate::retention::{Conditions, RecordedRule};

    fn rules() -> Rules {
        let rule = |name: &str, years, to: &[&str]| RecordedRule {
            name: name.into(),
            years,
            retired: false,
            conditions: Conditions {
                to: to.iter().map(|s| s.to_string()).collect(),
                ..Conditions::default()
            },
        };
        Rules::new(
            &[],
            vec![
                rule("books", 10, &["@buchhaltung.example"]),
                rule("letters", 6, &[]),
            ],
        )
        .unwrap()
    }

    fn meta(kind: SourceKind, rcpt: &str) -> MessageMeta {
        MessageMeta {
            source: Source {
                kind,
                name: "j".into(),
            },
            rcpts: vec![Rcpt {
                address: rcpt.into(),
                reply: None,
            }],
            ..MessageMeta::default()
        }
    }

    #[test]
    fn live_mail_counts_from_capture_and_imports_from_their_date() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let live = decide(
            &rules(),
            &meta(SourceKind::Journal, "fibu@buchhaltung.example"),
            &Headers::default(),
            now,
        );
        assert_eq!((live.rule.as_str(), live.basis), ("books", Basis::Capture));
        assert_eq!(live.keep_until.to_string(), "2036-12-31");
        let headers = Headers {
            date: Some("2019-03-01T08:00:00+01:00".into()),
            ..Headers::default()
        };
        let old = decide(
            &rules(),
            &meta(SourceKind::Import, "x@example.org"),
            &headers,
            now,
        );
        assert_eq!(
            (old.rule.as_str(), old.basis),
            ("letters", Basis::DateHeader)
        );
        assert_eq!(old.keep_until.to_string(), "2025-12-31");
        // A date in the future is not believed.
        let future = Headers {
            date: Some("2031-01-01T00:00:00Z".into()),
            ..Headers::default()
        };
        let f = decide(
            &rules(),
            &meta(SourceKind::Import, "x@example.org"),
            &future,
            now,
        );
        assert_eq!(
            (f.basis, f.basis_date.to_string()),
            (Basis::Capture, "2026-12-07".into())
        );
    }

    #[test]
    fn rules_are_chained_when_they_change_and_refused_when_they_shorten() {
        let r = rules();
        assert!(check_rules(&r, None).unwrap());
        assert!(!check_rules(&r, Some(&r.recorded())).unwrap());
        let mut longer = r.recorded();
        longer.rules[1].years = 5;
        assert!(check_rules(&r, Some(&longer)).unwrap());
        let mut shorter = r.recorded();
        shorter.rules[0].years = 11;
        let e = check_rules(&r, Some(&shorter)).unwrap_err().to_string();
        assert!(e.contains("books"), "{e}");
    }
}
