//! Which way a message went relative to the organisation, from its own
//! domains (`[archive] local_domains`): the `direction:` of search, and
//! what retention rules and the web interface filter on.

use std::fmt;

use serde::Serialize;

/// A message's direction relative to the organisation's own domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From outside to at least one local recipient.
    Inbound,
    /// From a local sender to at least one recipient outside.
    Outbound,
    /// From a local sender to local recipients only: nothing left the
    /// organisation.
    Internal,
    /// Neither the sender nor any recipient is local: mail relayed for
    /// others, or a domain missing from `local_domains`. Kept apart so
    /// that a configuration gap shows instead of hiding under "inbound".
    External,
}

impl Direction {
    /// The lowercase name search and JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
            Direction::External => "external",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies a message by its sender and recipients (addresses as
/// `local@domain`; envelope or header, whichever the caller trusts).
///
/// An address is local when its domain equals one of `local_domains` or is
/// a subdomain of one (`sales.example.com` under `example.com`), compared
/// case-insensitively and ignoring a trailing dot. Addresses without a
/// domain (an empty `MAIL FROM:<>` bounce) are not local. With no
/// recipients at all, a local sender counts as internal and any other as
/// inbound.
pub fn local_direction<D, R>(local_domains: &[D], sender: Option<&str>, recipients: R) -> Direction
where
    D: AsRef<str>,
    R: IntoIterator,
    R::Item: AsRef<str>,
{
    let local = |addr: &str| is_local(local_domains, addr);
    let sender_local = sender.is_some_and(local);
    let (mut any_local, mut any_foreign) = (false, false);
    for r in recipients {
        if local(r.as_ref()) {
            any_local = true;
        } else {
            any_foreign = true;
        }
    }
    match (sender_local, any_local, any_foreign) {
        (true, _, true) => Direction::Outbound,
        (true, _, false) => Direction::Internal,
        (false, true, _) => Direction::Inbound,
        (false, false, true) => Direction::External,
        (false, false, false) => Direction::Inbound,
    }
}

/// Whether `address`'s domain is one of `local_domains` or below one.
pub fn is_local<D: AsRef<str>>(local_domains: &[D], address: &str) -> bool {
    let Some((_, domain)) = address.trim().trim_end_matches('>').rsplit_once('@') else {
        return false;
    };
    let domain = domain.trim_end_matches('.');
    if domain.is_empty() {
        return false;
    }
    let domain = domain.as_bytes();
    local_domains.iter().any(|d| {
        let d = d.as_ref().trim().trim_end_matches('.').as_bytes();
        // Bytes, not str slicing: a Unicode domain has no char boundary
        // at an arbitrary offset.
        let Some(start) = domain.len().checked_sub(d.len()) else {
            return false;
        };
        !d.is_empty()
            && domain[start..].eq_ignore_ascii_case(d)
            && (start == 0 || domain[start - 1] == b'.')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: [&str; 2] = ["example.com", "Example.DE."];

    fn dir(sender: Option<&str>, rcpts: &[&str]) -> Direction {
        local_direction(&LOCAL, sender, rcpts)
    }

    #[test]
    fn classifies_by_sender_and_recipients() {
        use Direction::*;
        assert_eq!(dir(Some("a@x.org"), &["b@example.com"]), Inbound);
        assert_eq!(dir(Some("a@x.org"), &["b@example.com", "c@y.org"]), Inbound);
        assert_eq!(dir(Some("a@example.com"), &["b@x.org"]), Outbound);
        assert_eq!(
            dir(Some("a@example.com"), &["b@example.de", "c@x.org"]),
            Outbound
        );
        assert_eq!(
            dir(Some("a@example.com"), &["b@sales.example.com"]),
            Internal
        );
        assert_eq!(dir(Some("a@x.org"), &["b@y.org"]), External);
        assert_eq!(dir(Some("a@example.com"), &[]), Internal);
        assert_eq!(dir(None, &["b@example.com"]), Inbound);
        assert_eq!(dir(Some(""), &[]), Inbound);
    }

    #[test]
    fn matches_domains_exactly_or_below_case_insensitively() {
        assert!(is_local(&LOCAL, "A@EXAMPLE.COM"));
        assert!(is_local(&LOCAL, "a@mail.example.de."));
        assert!(is_local(&LOCAL, "<a@example.com>"));
        assert!(!is_local(&LOCAL, "a@notexample.com"));
        assert!(!is_local(&LOCAL, "a@example.com.evil.org"));
        assert!(!is_local(&LOCAL, "example.com"));
        assert!(!is_local(&LOCAL, "a@"));
        assert!(!is_local(&[""], "a@x.org"));
        assert!(is_local(&["bücher.de"], "a@shop.bücher.de"));
        assert!(!is_local(&["x.de"], "a@ü.de"));
    }
}
