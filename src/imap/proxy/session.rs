//! One proxied IMAP session: the client leg (optionally TLS, implicit or
//! by mailseal's own STARTTLS), the upstream leg, and the two relay
//! directions between them, which share the conversation [`Context`].
//!
//! The session is generic over the client's stream, so TCP, TLS and
//! in-memory duplex streams in tests run the same code.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncWriteExt as _, BufWriter};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::capture::{Origin, Queue};
use super::client_leg::ClientLeg;
use super::completer::Captured;
use super::server_leg::ServerLeg;
use super::shared::{Settings, Shared, Stop};
use crate::archive::record::TlsInfo;
use crate::config::TlsMode;
use crate::imap::capability;
use crate::imap::context::Context;
use crate::imap::reply;
use crate::imap::upstream::{Upstream, UpstreamError};
use crate::transport::{Socket, Stream};

/// Longest wait for a client's TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a session ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The upstream could not be reached.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The client's TLS handshake failed or timed out.
    #[error("client TLS handshake: {0}")]
    Tls(std::io::Error),
    /// Writing to the client failed before the relay started.
    #[error("client: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves one client connection until it ends.
pub async fn serve<C: Socket>(
    settings: Arc<Settings>,
    client: Stream<C>,
    peer: SocketAddr,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> Result<(), SessionError> {
    let upstream = settings.upstream.clone();
    let server_tls = settings.server_tls.clone();
    serve_to(
        settings, upstream, server_tls, client, peer, shutdown, tracker,
    )
    .await
}

/// Serves one client connection with `upstream` as its server and
/// `server_tls` towards the client (an intercepted connection's original
/// destination and its certificate).
pub async fn serve_to<C: Socket>(
    settings: Arc<Settings>,
    upstream: Arc<Upstream>,
    server_tls: Option<Arc<rustls::ServerConfig>>,
    mut client: Stream<C>,
    peer: SocketAddr,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> Result<(), SessionError> {
    let mut origin = Origin {
        listener: settings.config.name.clone(),
        peer: peer.to_string(),
        tls: None,
        intercepted: upstream.interception(),
    };
    if settings.config.tls.mode == TlsMode::Implicit {
        origin.tls = Some(accept_tls(server_tls.as_ref(), &mut client).await?);
    }
    let connected = upstream.connect().await;
    crate::metrics::upstream_contacted(&settings.config.name, connected.is_ok());
    let (upstream_stream, greeting) = match connected {
        Ok(connected) => connected,
        Err(error) => {
            let _ = client.write_all(reply::BYE_UPSTREAM).await;
            let _ = client.shutdown().await;
            return Err(error.into());
        }
    };
    let shared = Shared {
        queue: Queue::start(
            settings.archive.clone(),
            settings.config.capture_queue,
            &tracker,
        ),
        ctx: Mutex::new(Context::new(
            settings.config.skip_append_folders.clone(),
            settings.config.skip_append_special_use.clone(),
        )),
        handoff: Mutex::default(),
        answered: Notify::new(),
        client_tls: AtomicBool::new(origin.tls.is_some()),
        origin: Mutex::new(origin),
        completer: Mutex::new(None),
        captured: Captured::default(),
        tracker,
        settings,
        upstream,
        server_tls,
    };
    client.write_all(&greet(&shared, greeting)).await?;
    client.flush().await?;
    tracing::info!(upstream = shared.upstream.address(), "connected");
    relay(&shared, client, upstream_stream, &shutdown).await
}

/// The greeting as the client sees it.
fn greet(shared: &Shared, greeting: Vec<u8>) -> Vec<u8> {
    let greeting = if shared.upstream.uses_starttls() {
        // Capabilities listed before the upstream's TLS are stale.
        capability::strip_code(&greeting).unwrap_or(greeting)
    } else {
        greeting
    };
    capability::rewrite(&greeting, shared.offer_starttls()).unwrap_or(greeting)
}

/// Relays both directions until the session ends, upgrading the client leg
/// when it asks for STARTTLS.
async fn relay<C: Socket>(
    shared: &Shared,
    mut client: Stream<C>,
    upstream: Stream,
    shutdown: &CancellationToken,
) -> Result<(), SessionError> {
    let max_line = shared.settings.max_line;
    let (mut up_read, up_write) = tokio::io::split(upstream);
    let mut up_write = BufWriter::new(up_write);
    let mut client_leg = ClientLeg::new(max_line);
    let mut server_leg = ServerLeg::new(max_line);
    loop {
        let (mut c_read, c_write) = tokio::io::split(client);
        let mut c_write = BufWriter::new(c_write);
        let stop = CancellationToken::new();
        let (inject_tx, mut inject_rx) = mpsc::channel(8);
        let (up, down) = tokio::join!(
            client_leg.run(shared, &mut c_read, &mut up_write, &inject_tx, &stop),
            server_leg.run(
                shared,
                &mut up_read,
                &mut c_write,
                &mut inject_rx,
                &stop,
                shutdown
            ),
        );
        client = c_read.unsplit(c_write.into_inner());
        if up == Stop::StartTls && down == Stop::StartTls {
            let info = accept_tls(shared.server_tls.as_ref(), &mut client).await?;
            shared.client_tls.store(true, Ordering::Relaxed);
            Shared::lock(&shared.origin).tls = Some(info);
            tracing::info!("client leg upgraded to TLS");
            continue;
        }
        tracing::info!(client = ?up, server = ?down, "session ended");
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = client.shutdown().await;
            let _ = up_write.shutdown().await;
        })
        .await;
        return Ok(());
    }
}

/// The TLS handshake with the client, in place.
async fn accept_tls<C: Socket>(
    server_tls: Option<&Arc<rustls::ServerConfig>>,
    client: &mut Stream<C>,
) -> Result<TlsInfo, SessionError> {
    let Some(config) = server_tls else {
        return Err(SessionError::Tls(std::io::Error::other(
            "no certificate configured",
        )));
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, client.accept_tls(config.clone()))
        .await
        .map_err(|_| SessionError::Tls(std::io::ErrorKind::TimedOut.into()))?
        .map_err(SessionError::Tls)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;

    use super::*;
    use crate::archive::Archive;
    use crate::config::ImapProxyConfig;

    /// A one-connection upstream that greets with `greeting`, then answers
    /// every command line with `tag OK`.
    async fn fake_upstream(greeting: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut conn = BufReader::new(conn);
            conn.get_mut().write_all(greeting.as_bytes()).await.unwrap();
            let mut line = String::new();
            while conn.read_line(&mut line).await.unwrap_or(0) > 0 {
                let tag = line.split(' ').next().unwrap_or("*").to_owned();
                let reply = format!("* SEEN {}\r\n{tag} OK done\r\n", line.trim_end().len());
                conn.get_mut().write_all(reply.as_bytes()).await.unwrap();
                line.clear();
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_session_over_an_in_memory_stream() {
        let upstream =
            fake_upstream("* OK [CAPABILITY IMAP4rev1 STARTTLS COMPRESS=DEFLATE] hi\r\n").await;
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open_dir(dir.path()).unwrap();
        let config = ImapProxyConfig::for_test("t", "127.0.0.1:0".parse().unwrap(), upstream);
        let settings = Arc::new(Settings::new(config, archive).unwrap());
        let (client, proxy_side) = tokio::io::duplex(4096);
        let peer = "127.0.0.1:1".parse().unwrap();
        let session = serve(
            settings,
            Stream::new(proxy_side),
            peer,
            CancellationToken::new(),
            TaskTracker::new(),
        );
        let session = tokio::spawn(session);
        let mut client = BufReader::new(client);
        let mut line = String::new();
        client.read_line(&mut line).await.unwrap();
        assert_eq!(
            line, "* OK [CAPABILITY IMAP4rev1] hi\r\n",
            "STARTTLS and COMPRESS not removed"
        );
        client
            .get_mut()
            .write_all(b"a COMPRESS DEFLATE\r\nb NOOP\r\n")
            .await
            .unwrap();
        let mut replies = Vec::new();
        for _ in 0..3 {
            line.clear();
            client.read_line(&mut line).await.unwrap();
            replies.push(line.clone());
        }
        replies.sort();
        assert!(replies[0].starts_with("* SEEN 6"), "{replies:?}");
        assert!(
            replies[1].starts_with("a NO"),
            "COMPRESS reached the upstream: {replies:?}"
        );
        assert_eq!(replies[2], "b OK done\r\n");
        drop(client);
        assert!(session.await.unwrap().is_ok());
    }

    async fn read_line(client: &mut BufReader<tokio::io::DuplexStream>) -> String {
        let mut line = String::new();
        client.read_line(&mut line).await.unwrap();
        line
    }

    #[tokio::test]
    async fn literals_over_the_cap_are_refused_and_never_relayed() {
        let upstream = fake_upstream("* OK hi\r\n").await;
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open_dir(dir.path()).unwrap();
        let mut config = ImapProxyConfig::for_test("t", "127.0.0.1:0".parse().unwrap(), upstream);
        config.max_literal_size = 1000;
        let settings = Arc::new(Settings::new(config, archive).unwrap());
        let (client, proxy_side) = tokio::io::duplex(4096);
        let peer = "127.0.0.1:1".parse().unwrap();
        let token = CancellationToken::new();
        let session = tokio::spawn(serve(
            settings,
            Stream::new(proxy_side),
            peer,
            token,
            TaskTracker::new(),
        ));
        let mut c = BufReader::new(client);
        read_line(&mut c).await;
        // In step: refused, the session goes on, the upstream saw nothing.
        let append = b"a APPEND INBOX {4294967296}\r\n";
        c.get_mut().write_all(append).await.unwrap();
        let reply = read_line(&mut c).await;
        assert_eq!(reply, "a NO [TOOBIG] literal too large\r\n");
        c.get_mut().write_all(b"b NOOP\r\n").await.unwrap();
        assert_eq!(read_line(&mut c).await, "* SEEN 6\r\n");
        assert_eq!(read_line(&mut c).await, "b OK done\r\n");
        // Its data would follow at once: BAD, BYE, closed.
        let append = b"c APPEND INBOX {1001+}\r\n";
        c.get_mut().write_all(append).await.unwrap();
        let reply = read_line(&mut c).await;
        assert_eq!(reply, "c BAD [TOOBIG] literal too large\r\n");
        assert_eq!(read_line(&mut c).await, "* BYE literal too large\r\n");
        assert_eq!(read_line(&mut c).await, "", "not closed");
        assert!(session.await.unwrap().is_ok());
    }
}
