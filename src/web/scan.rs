//! The interim finder: answers a query by looking at every message record,
//! until the full-text index (`src/search`) answers instead.
//!
//! It understands the subset of the search language the form writes
//! (`from: rcpt: to: cc: bcc: subject: date:A..B source: has:attachment`,
//! free words, "phrases") with AND between terms, and treats other syntax
//! as words. Slow on large archives by design: it is the brute-force
//! reference, not the search engine.

use super::mail::{Hit, MailError, MailStore, Stored};
use super::role::Scope;

/// One condition of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    /// A field and its value, lowercase.
    Field(String, String),
    /// A word or phrase anywhere (headers, addresses, body), lowercase.
    Text(String),
}

/// Splits a query into terms, honouring double quotes.
fn terms(query: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut chars = query.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            break;
        };
        let mut word = String::new();
        let mut quoted = false;
        if first == '"' {
            chars.next();
            quoted = true;
        }
        while let Some(&c) = chars.peek() {
            if quoted && c == '"' {
                chars.next();
                break;
            }
            if !quoted && c.is_whitespace() {
                break;
            }
            if !quoted && c == '"' && word.ends_with(':') {
                chars.next();
                quoted = true;
                continue;
            }
            word.push(c);
            chars.next();
        }
        let word = word.to_lowercase();
        if word.is_empty() || word == "and" {
            continue;
        }
        match word.split_once(':') {
            Some((f, v))
                if !f.is_empty() && f.chars().all(|c| c.is_ascii_alphabetic() || c == '-') =>
            {
                out.push(Term::Field(f.to_owned(), v.to_owned()))
            }
            _ => out.push(Term::Text(word)),
        }
    }
    out
}

/// What one message offers to the terms.
struct Candidate<'a> {
    stored: &'a Stored,
    addresses: Vec<String>,
    body: Option<String>,
    attachment: Option<bool>,
}

impl Candidate<'_> {
    fn subject(&self) -> String {
        self.stored
            .summary
            .headers
            .subject
            .clone()
            .unwrap_or_default()
            .to_lowercase()
    }

    fn from(&self) -> Vec<String> {
        let s = &self.stored.summary;
        s.mail_from
            .iter()
            .chain(s.headers.from.iter())
            .map(|a| a.to_lowercase())
            .collect()
    }

    fn day(&self) -> String {
        let s = &self.stored.summary;
        s.headers
            .date
            .as_deref()
            .unwrap_or(&s.time)
            .chars()
            .take(10)
            .collect()
    }
}

fn in_range(day: &str, range: &str) -> bool {
    match range.split_once("..") {
        Some((a, b)) => (a.is_empty() || day >= a) && (b.is_empty() || day <= b),
        None => day.starts_with(range),
    }
}

/// Every visible match with a relevance score (terms matched in the subject).
pub fn matching(
    store: &dyn MailStore,
    query: &str,
    scope: &Scope,
) -> Result<Vec<(Hit, usize)>, MailError> {
    let terms = terms(query);
    let reader = store.archive().reader();
    let mut out = Vec::new();
    for summary in reader.summaries()? {
        if summary.source_kind.is_none() {
            continue;
        }
        let Some(stored) = store.open(summary.seq)? else {
            continue;
        };
        let facts = stored.facts();
        if !scope.allows(&facts) {
            continue;
        }
        let mut c = Candidate {
            stored: &stored,
            addresses: facts.addresses,
            body: None,
            attachment: None,
        };
        let mut score = 0;
        let mut ok = true;
        for t in &terms {
            let hit = match t {
                Term::Field(f, v) => field_matches(store, &mut c, f, v)?,
                Term::Text(w) => {
                    let in_head = c.subject().contains(w.as_str())
                        || c.addresses.iter().any(|a| a.contains(w.as_str()));
                    score += usize::from(c.subject().contains(w.as_str()));
                    in_head || body(store, &mut c)?.contains(w.as_str())
                }
            };
            if !hit {
                ok = false;
                break;
            }
        }
        if ok {
            let attachment = match c.attachment {
                Some(a) => a,
                None => raw(store, &stored).is_ok_and(|b| super::message::has_attachment(&b)),
            };
            out.push((
                Hit {
                    summary: stored.summary.clone(),
                    attachment,
                    snippet: None,
                },
                score,
            ));
        }
    }
    Ok(out)
}

fn raw(store: &dyn MailStore, stored: &Stored) -> Result<Vec<u8>, MailError> {
    let mut bytes = Vec::new();
    store.write_content(&stored.summary.sha256, &mut bytes)?;
    Ok(bytes)
}

fn body(store: &dyn MailStore, c: &mut Candidate<'_>) -> Result<String, MailError> {
    if c.body.is_none() {
        let bytes = raw(store, c.stored)?;
        let view = super::message::view(&bytes);
        c.attachment = Some(!view.attachments.is_empty());
        c.body = Some(view.text.unwrap_or_default().to_lowercase());
    }
    Ok(c.body.clone().unwrap_or_default())
}

fn field_matches(
    store: &dyn MailStore,
    c: &mut Candidate<'_>,
    field: &str,
    value: &str,
) -> Result<bool, MailError> {
    let v = value.trim_end_matches('*');
    Ok(match field {
        "from" => c.from().iter().any(|a| a.contains(v)),
        "to" | "cc" | "bcc" | "rcpt" => c.addresses.iter().any(|a| a.contains(v)),
        "subject" => c.subject().contains(v),
        "body" => body(store, c)?.contains(v),
        "date" => in_range(&c.day(), v),
        "received" => in_range(
            &c.stored.summary.time.chars().take(10).collect::<String>(),
            v,
        ),
        "source" => c
            .stored
            .summary
            .source_kind
            .is_some_and(|k| k.as_str() == v),
        "listener" => c.stored.summary.source_name.to_lowercase() == v,
        "message-id" => c
            .stored
            .summary
            .headers
            .message_id
            .as_deref()
            .is_some_and(|m| {
                m.to_lowercase().trim_matches(['<', '>']) == v.trim_matches(['<', '>'])
            }),
        "has" if v == "attachment" => {
            body(store, c)?;
            c.attachment == Some(true)
        }
        _ => {
            return Err(MailError::Query(format!(
                "the field {field}: is not supported yet"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields_words_and_phrases() {
        assert_eq!(
            terms(r#"Rechnung from:a@b.c subject:"big deal" "exact phrase" AND date:2024.."#),
            vec![
                Term::Text("rechnung".into()),
                Term::Field("from".into(), "a@b.c".into()),
                Term::Field("subject".into(), "big deal".into()),
                Term::Text("exact phrase".into()),
                Term::Field("date".into(), "2024..".into()),
            ]
        );
        assert!(in_range("2024-02-01", "2024-01-01..2024-03-31"));
        assert!(!in_range("2024-04-01", "2024-01-01..2024-03-31"));
        assert!(in_range("2024-04-01", "2024"));
    }
}
