//! Which way a message went, seen from the organisation's own domains
//! (`[archive] local_domains`). The [`Direction`] type is
//! `search::extract`'s; this adds the configured domain list and the rule
//! the index applies (no direction when no domain is configured).

pub use super::extract::Direction;

/// Parses a `direction:` keyword (any case).
pub fn parse(s: &str) -> Option<Direction> {
    [
        Direction::Inbound,
        Direction::Outbound,
        Direction::Internal,
        Direction::External,
    ]
    .into_iter()
    .find(|d| d.as_str().eq_ignore_ascii_case(s))
}

/// The organisation's own domains; a subdomain of one is local too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalDomains {
    /// Lowercase domains without a trailing dot.
    domains: Vec<String>,
}

impl LocalDomains {
    /// From configured names (case and a trailing dot do not matter).
    pub fn new<S: AsRef<str>>(domains: impl IntoIterator<Item = S>) -> LocalDomains {
        LocalDomains {
            domains: domains
                .into_iter()
                .map(|d| d.as_ref().trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        }
    }

    /// True when no domain is configured: no direction can be known.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Whether `address` (`local@domain`) belongs to the organisation.
    pub fn is_local(&self, address: &str) -> bool {
        let Some((_, domain)) = address.trim().trim_end_matches('>').rsplit_once('@') else {
            return false;
        };
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|d| {
            domain == *d
                || (domain.len() > d.len()
                    && domain.ends_with(d.as_str())
                    && domain.as_bytes()[domain.len() - d.len() - 1] == b'.')
        })
    }

    /// The direction of a message from `sender` to `recipients`; `None`
    /// when no local domain is configured or nothing is known of either
    /// side.
    pub fn direction<'a>(
        &self,
        sender: Option<&str>,
        recipients: impl IntoIterator<Item = &'a str>,
    ) -> Option<Direction> {
        if self.is_empty() {
            return None;
        }
        let (mut any, mut local, mut remote) = (false, false, false);
        for r in recipients {
            any = true;
            if self.is_local(r) {
                local = true;
            } else {
                remote = true;
            }
        }
        let from_local = match sender {
            Some(s) if !s.is_empty() => self.is_local(s),
            _ if !any => return None,
            _ => false,
        };
        Some(match (from_local, local, remote) {
            (true, _, true) => Direction::Outbound,
            (true, _, false) => Direction::Internal,
            (false, true, _) => Direction::Inbound,
            (false, false, _) => Direction::External,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions() {
        let l = LocalDomains::new(["Example.com."]);
        assert!(l.is_local("a@example.com"));
        assert!(l.is_local("a@Mail.Example.COM"));
        assert!(!l.is_local("a@badexample.com"));
        assert!(!l.is_local("example.com"));
        let d = |s: &str, r: &[&str]| l.direction(Some(s), r.iter().copied());
        assert_eq!(
            d("x@other.org", &["a@example.com"]),
            Some(Direction::Inbound)
        );
        assert_eq!(
            d("a@example.com", &["b@example.com", "x@other.org"]),
            Some(Direction::Outbound)
        );
        assert_eq!(
            d("a@example.com", &["b@sub.example.com"]),
            Some(Direction::Internal)
        );
        assert_eq!(
            d("x@other.org", &["y@third.net"]),
            Some(Direction::External)
        );
        assert_eq!(
            l.direction(None, ["a@example.com"]),
            Some(Direction::Inbound)
        );
        assert_eq!(l.direction(None, []), None);
        assert_eq!(
            LocalDomains::default().direction(Some("a@example.com"), []),
            None
        );
        assert_eq!(parse("Outbound"), Some(Direction::Outbound));
    }
}
