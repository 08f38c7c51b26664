//! Downloaded messages on their way to the archive: the record's POP3
//! context, the dedup lookup (one record per user and `UIDL` on one
//! upstream, as the IMAP proxy keeps one per user and UID), and the commit
//! the session awaits before it lets a `RETR`'s terminating `.` through.

use crate::archive::record::{Interception, MessageMeta, Pop3Context, Source, SourceKind, TlsInfo};
use crate::archive::{Archive, ArchiveError, NewMessage, SpooledContent};
use crate::metrics::{self, ErrorKind};

/// How a message came to be captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The client downloaded it whole with `RETR`.
    Retr,
    /// mailseal sent `RETR` in-band to complete a client's `TOP`.
    ProxyRetr,
    /// Only a `TOP` was seen (completion off or refused): headers and the
    /// first lines, not the whole message.
    Top,
}

impl Direction {
    /// The name kept in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Retr => "retr",
            Direction::ProxyRetr => "proxy-retr",
            Direction::Top => "top",
        }
    }
}

/// What is known about the session a capture comes from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The `[[pop3_proxy]]` listener name.
    pub listener: String,
    /// The client's address, `ip:port`.
    pub peer: String,
    /// TLS of the client leg, once encrypted.
    pub tls: Option<TlsInfo>,
    /// The upstream's `host:port`.
    pub upstream: String,
    /// Where an intercepted connection was headed (`None` otherwise).
    pub intercepted: Option<Interception>,
}

/// True when the archive already holds this user's message with this
/// `UIDL` from this upstream whole; a lookup failure counts as not held
/// (a second copy is better than a missing one).
pub fn archived(
    archive: &Archive,
    origin: &Origin,
    user: Option<&str>,
    uidl: Option<&str>,
) -> bool {
    let (Some(user), Some(uidl)) = (user, uidl) else {
        return false;
    };
    match archive.pop3_message(&origin.upstream, user, uidl) {
        Ok(found) => found.is_some(),
        Err(error) => {
            tracing::warn!(%error, "archive lookup failed; capturing again");
            false
        }
    }
}

/// Archives one download and returns once it is durable.
pub async fn commit(
    archive: &Archive,
    origin: &Origin,
    user: Option<&str>,
    uidl: Option<&str>,
    direction: Direction,
    content: SpooledContent,
) -> Result<(), ArchiveError> {
    let size = content.size;
    let message = NewMessage {
        meta: meta(origin, user, uidl, direction),
        content,
        evidence: None,
    };
    match archive.append(message).await {
        Ok(a) => {
            tracing::info!(
                seq = a.seq,
                hash = %hex::encode(a.hash),
                dedup = a.deduplicated,
                direction = direction.as_str(),
                uidl,
                size,
                "archived"
            );
            metrics::message_archived(&origin.listener, size);
            Ok(())
        }
        Err(error) => {
            tracing::error!(%error, direction = direction.as_str(), uidl, size, "archive failed: message NOT archived");
            metrics::error(ErrorKind::Archive);
            Err(error)
        }
    }
}

/// The record metadata of a capture.
fn meta(
    origin: &Origin,
    user: Option<&str>,
    uidl: Option<&str>,
    direction: Direction,
) -> MessageMeta {
    MessageMeta {
        source: Source {
            kind: SourceKind::Pop3Proxy,
            name: origin.listener.clone(),
        },
        peer: Some(origin.peer.clone()),
        tls: origin.tls.clone(),
        auth_user: user.map(str::to_owned),
        intercepted: origin.intercepted.clone(),
        pop3: Some(Pop3Context {
            user: user.map(str::to_owned),
            upstream: origin.upstream.clone(),
            uidl: uidl.map(str::to_owned),
            direction: direction.as_str().to_owned(),
        }),
        ..MessageMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            listener: "pop3".into(),
            peer: "127.0.0.1:5".into(),
            tls: None,
            upstream: "127.0.0.1:110".into(),
            intercepted: None,
        }
    }

    #[tokio::test]
    async fn a_whole_download_is_found_again_by_user_and_uidl_a_top_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open_dir(dir.path()).unwrap();
        let o = origin();
        let content = || SpooledContent::from_bytes(b"Subject: x\r\n\r\nbody\r\n".to_vec());
        commit(
            &archive,
            &o,
            Some("alice"),
            Some("u1"),
            Direction::Top,
            content(),
        )
        .await
        .unwrap();
        assert!(
            !archived(&archive, &o, Some("alice"), Some("u1")),
            "headers only"
        );
        commit(
            &archive,
            &o,
            Some("alice"),
            Some("u1"),
            Direction::Retr,
            content(),
        )
        .await
        .unwrap();
        assert!(archived(&archive, &o, Some("alice"), Some("u1")));
        assert!(!archived(&archive, &o, Some("bob"), Some("u1")), "per user");
        assert!(
            !archived(&archive, &o, None, Some("u1")),
            "no user, no dedup"
        );
        let other = Origin {
            upstream: "127.0.0.2:110".into(),
            ..o.clone()
        };
        assert!(
            !archived(&archive, &other, Some("alice"), Some("u1")),
            "per upstream"
        );
        let m = meta(&o, Some("alice"), Some("u1"), Direction::ProxyRetr);
        assert_eq!(m.source.kind.as_str(), "pop3-proxy");
        assert_eq!(m.pop3.unwrap().direction, "proxy-retr");
    }
}
