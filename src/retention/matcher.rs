//! How one condition compares with what is known at capture: address and
//! domain patterns, folder globs, and a message's direction relative to
//! the organisation's own domains. No I/O, no configuration format.

use serde::{Deserialize, Serialize};

/// A mail address as compared: trimmed, without `<>`, lowercase, without a
/// trailing dot on the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Address {
    /// The whole address, normalised.
    full: String,
    /// Where the domain starts in `full`; `None` without an `@`.
    at: Option<usize>,
}

impl Address {
    /// Normalises `raw`; the null sender and blanks give `None`.
    pub(crate) fn parse(raw: &str) -> Option<Address> {
        let trimmed = raw.trim();
        let trimmed = trimmed.strip_prefix('<').unwrap_or(trimmed);
        let trimmed = trimmed.strip_suffix('>').unwrap_or(trimmed).trim();
        let full = trimmed.trim_end_matches('.').to_lowercase();
        if full.is_empty() {
            return None;
        }
        let at = full.rfind('@').map(|i| i + 1);
        Some(Address { full, at })
    }

    /// The domain part, empty when there is none.
    fn domain(&self) -> &str {
        self.at.map_or("", |i| &self.full[i..])
    }

    /// Whether the domain is `domain` or a subdomain of it (`domain`
    /// already lowercase, without a dot at either end).
    fn is_in(&self, domain: &str) -> bool {
        let own = self.domain();
        !domain.is_empty()
            && own
                .strip_suffix(domain)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    }
}

/// One entry of `from`, `to` or `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddressPattern {
    /// `cfo@example.com`: that address, in any case.
    Exact(String),
    /// `@example.com`: every address at that domain or below it.
    Domain(String),
}

impl AddressPattern {
    /// Reads an entry as configured; the error says what is wrong with it.
    pub(crate) fn parse(raw: &str) -> Result<AddressPattern, String> {
        let text = raw.trim().trim_end_matches('.').to_lowercase();
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(format!(
                "{raw:?} is neither an address (\"cfo@example.com\") nor a domain (\"@example.com\")"
            ));
        };
        if !is_domain(domain) {
            return Err(format!("{raw:?}: {domain:?} is not a domain name"));
        }
        if local.is_empty() {
            return Ok(AddressPattern::Domain(domain.to_owned()));
        }
        if local
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>'))
        {
            return Err(format!("{raw:?} is not a mail address"));
        }
        Ok(AddressPattern::Exact(text))
    }

    /// Whether `address` is this one or lies in this domain.
    pub(crate) fn matches(&self, address: &Address) -> bool {
        match self {
            AddressPattern::Exact(exact) => address.full == *exact,
            AddressPattern::Domain(domain) => address.is_in(domain),
        }
    }
}

/// Labels of letters, digits and `-`, not starting or ending with `-`
/// (Unicode letters allowed: SMTPUTF8 addresses carry them).
pub(crate) fn is_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// A folder pattern: `*` stands for any characters, the hierarchy
/// delimiter included (as in IMAP LIST); everything else compares exactly,
/// except that `INBOX` is case-insensitive (RFC 9051 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FolderGlob(String);

impl FolderGlob {
    /// The pattern as configured.
    pub(crate) fn new(pattern: &str) -> FolderGlob {
        FolderGlob(canonical_inbox(pattern))
    }

    /// Whether `folder` (decoded, as the user sees it) matches.
    pub(crate) fn matches(&self, folder: &str) -> bool {
        glob(self.0.as_bytes(), canonical_inbox(folder).as_bytes())
    }
}

/// `inbox`, `Inbox/Rechnungen` -> `INBOX`, `INBOX/Rechnungen`.
fn canonical_inbox(name: &str) -> String {
    let (head, rest) = name.split_at(name.get(..5).map_or(0, |_| 5));
    let delimited = rest.is_empty() || rest.starts_with(['/', '.']);
    if head.eq_ignore_ascii_case("inbox") && delimited {
        format!("INBOX{rest}")
    } else {
        name.to_owned()
    }
}

/// `*`-only wildcard matching. Bytes are enough for UTF-8: `*` is ASCII and
/// every literal run compares whole characters.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last `*` seen and the text position it currently stands up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Which way a message went relative to the organisation's own domains
/// (`[archive] local_domains`), with the same meaning as search's
/// `direction:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From outside to at least one own recipient.
    Inbound,
    /// From an own sender to at least one recipient outside.
    Outbound,
    /// From an own sender to own recipients only.
    Internal,
    /// Neither the sender nor any recipient is own: relayed mail, or a
    /// domain missing from `local_domains`.
    External,
}

/// Classifies by sender and recipients. With no recipients, an own sender
/// counts as internal and any other (the null sender too) as inbound.
pub(crate) fn direction(own: &[String], sender: Option<&Address>, rcpts: &[Address]) -> Direction {
    let is_own = |a: &Address| own.iter().any(|d| a.is_in(d));
    let sender_own = sender.is_some_and(is_own);
    let any_own = rcpts.iter().any(is_own);
    let any_foreign = rcpts.iter().any(|a| !is_own(a));
    match (sender_own, any_own, any_foreign) {
        (true, _, true) => Direction::Outbound,
        (true, _, false) => Direction::Internal,
        (false, true, _) => Direction::Inbound,
        (false, false, true) => Direction::External,
        (false, false, false) => Direction::Inbound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    fn pattern(s: &str) -> AddressPattern {
        AddressPattern::parse(s).unwrap()
    }

    #[test]
    fn addresses_compare_case_insensitively_without_brackets() {
        let p = pattern("CFO@Example.com");
        assert!(p.matches(&addr("cfo@example.com")));
        assert!(p.matches(&addr("<Cfo@EXAMPLE.COM>")));
        assert!(p.matches(&addr(" cfo@example.com. ")));
        assert!(!p.matches(&addr("cfo@sub.example.com")));
        assert!(!p.matches(&addr("xcfo@example.com")));
        assert_eq!(Address::parse("<>"), None);
        assert_eq!(Address::parse("  "), None);
    }

    #[test]
    fn a_domain_covers_its_subdomains_only() {
        let p = pattern("@Tax.Example.");
        assert!(p.matches(&addr("a@tax.example")));
        assert!(p.matches(&addr("a@BERLIN.tax.example")));
        assert!(!p.matches(&addr("a@mytax.example")));
        assert!(!p.matches(&addr("a@tax.example.org")));
        assert!(!p.matches(&addr("tax.example")));
        assert!(pattern("@bücher.de").matches(&addr("a@shop.BÜCHER.de")));
    }

    #[test]
    fn bad_patterns_say_why() {
        for bad in [
            "example.com",
            "@",
            "a@",
            "@bad..dots",
            "@-x.de",
            "a b@x.de",
            "<a@x.de>",
        ] {
            assert!(AddressPattern::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(
            AddressPattern::parse("example.com")
                .unwrap_err()
                .contains("@example.com")
        );
    }

    #[test]
    fn folder_globs() {
        let g = FolderGlob::new("Archiv/*");
        assert!(g.matches("Archiv/2024"));
        assert!(g.matches("Archiv/2024/Q1"));
        assert!(g.matches("Archiv/"));
        assert!(!g.matches("Archiv"));
        assert!(!g.matches("archiv/2024"));
        let exact = FolderGlob::new("Rechnungen");
        assert!(exact.matches("Rechnungen"));
        assert!(!exact.matches("Rechnungen/alt"));
        assert!(!exact.matches("rechnungen"));
        assert!(FolderGlob::new("*rechnung*").matches("Eingang/Kundenrechnungen 2024"));
        assert!(FolderGlob::new("a*b*c").matches("aXbYbZc"));
        assert!(!FolderGlob::new("a*b*c").matches("aXbYc!"));
        assert!(FolderGlob::new("*").matches(""));
        assert!(FolderGlob::new("Entwürfe*").matches("Entwürfe alt"));
    }

    #[test]
    fn inbox_is_case_insensitive() {
        assert!(FolderGlob::new("INBOX").matches("inbox"));
        assert!(FolderGlob::new("Inbox/*").matches("INBOX/Rechnungen"));
        assert!(FolderGlob::new("INBOX.Rechnungen").matches("inbox.Rechnungen"));
        assert!(!FolderGlob::new("INBOX/Rechnungen").matches("inbox/rechnungen"));
        assert!(!FolderGlob::new("INBOX").matches("Inboxes"));
        assert!(!FolderGlob::new("Inboxes").matches("INBOXes"));
    }

    #[test]
    fn directions_follow_the_own_domains() {
        use Direction::*;
        let own = vec!["example.com".to_owned(), "example.de".to_owned()];
        let dir = |sender: &str, rcpts: &[&str]| {
            let sender = Address::parse(sender);
            let rcpts: Vec<Address> = rcpts.iter().filter_map(|r| Address::parse(r)).collect();
            direction(&own, sender.as_ref(), &rcpts)
        };
        assert_eq!(dir("a@x.org", &["b@example.com"]), Inbound);
        assert_eq!(dir("a@x.org", &["b@example.com", "c@y.org"]), Inbound);
        assert_eq!(dir("a@Example.COM", &["b@x.org"]), Outbound);
        assert_eq!(dir("a@example.com", &["b@example.de", "c@x.org"]), Outbound);
        assert_eq!(dir("a@example.com", &["b@sales.example.com"]), Internal);
        assert_eq!(dir("a@x.org", &["b@y.org"]), External);
        assert_eq!(dir("a@example.com", &[]), Internal);
        assert_eq!(dir("", &["b@example.com"]), Inbound);
        assert_eq!(dir("", &[]), Inbound);
        assert_eq!(dir("a@notexample.com", &["b@x.org"]), External);
    }
}
