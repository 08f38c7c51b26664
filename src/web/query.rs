//! The search form: its fields, and how they become one query in the search
//! language of `docs/search.md` (the query box and the form are the same
//! search; the form only writes the query for the user).

use serde::Deserialize;

/// What the search page submits (`GET /search?...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchForm {
    /// The query box.
    pub q: String,
    /// Sender address or name.
    pub from: String,
    /// Any recipient.
    pub to: String,
    /// Words in the subject.
    pub subject: String,
    /// First day, `YYYY-MM-DD`.
    pub since: String,
    /// Last day, `YYYY-MM-DD`.
    pub until: String,
    /// Source kind (`journal`, `smtp-proxy`, ...); empty for all.
    pub source: String,
    /// `on` when only mail with attachments is wanted.
    pub attachment: String,
    /// Result page, from 1.
    pub page: Option<usize>,
    /// `date` (oldest first), `-date` (newest first) or `relevance`.
    pub sort: String,
}

/// The source kinds the form offers.
pub const SOURCES: [&str; 5] = [
    "journal",
    "smtp-proxy",
    "imap-proxy",
    "pop3-proxy",
    "import",
];

/// Quotes a value for the query language when it holds spaces or syntax.
pub fn quote(value: &str) -> String {
    let v = value.trim();
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | '+' | '*'))
    {
        v.to_owned()
    } else {
        format!("\"{}\"", v.replace(['"', '\\'], " "))
    }
}

fn is_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

impl SearchForm {
    /// The whole search as one query: the box, then each filled-in field.
    pub fn query(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.q.trim().is_empty() {
            parts.push(self.q.trim().to_owned());
        }
        if !self.from.trim().is_empty() {
            parts.push(format!("from:{}", quote(&self.from)));
        }
        if !self.to.trim().is_empty() {
            parts.push(format!("rcpt:{}", quote(&self.to)));
        }
        for word in self.subject.split_whitespace() {
            parts.push(format!("subject:{}", quote(word)));
        }
        let since = self.since.trim();
        let until = self.until.trim();
        match (is_day(since), is_day(until)) {
            (true, true) => parts.push(format!("date:{since}..{until}")),
            (true, false) => parts.push(format!("date:{since}..")),
            (false, true) => parts.push(format!("date:..{until}")),
            (false, false) => {}
        }
        if SOURCES.contains(&self.source.as_str()) {
            parts.push(format!("source:{}", self.source));
        }
        if self.attachment == "on" {
            parts.push("has:attachment".into());
        }
        parts.join(" ")
    }

    /// The page number, from 1.
    pub fn page(&self) -> usize {
        self.page.unwrap_or(1).clamp(1, 10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_writes_the_query_language() {
        let form = SearchForm {
            q: "Rechnung".into(),
            from: "lieferant@example.com".into(),
            to: "Eve Example".into(),
            subject: "contract 2024".into(),
            since: "2024-01-01".into(),
            until: "2024-03-31".into(),
            source: "journal".into(),
            attachment: "on".into(),
            ..Default::default()
        };
        assert_eq!(
            form.query(),
            "Rechnung from:lieferant@example.com rcpt:\"Eve Example\" subject:contract \
             subject:2024 date:2024-01-01..2024-03-31 source:journal has:attachment"
        );
    }

    #[test]
    fn junk_in_fields_cannot_break_out_of_a_value() {
        let form = SearchForm {
            from: "a\" OR x:\"".into(),
            since: "yesterday".into(),
            source: "nonsense".into(),
            ..Default::default()
        };
        assert_eq!(form.query(), "from:\"a  OR x: \"");
    }
}
