//! The `[web]` listener of `mailseal run`: binds the configured address,
//! speaks HTTPS with the configured certificate (or plain HTTP, which the
//! configuration allows only on loopback) and hands every request to the
//! web router, with the client's address for the audit trail.
//!
//! Connections run on the daemon's shutdown tracker like the mail
//! listeners': on a stop signal each finishes the request in flight and
//! closes, and the failed-login summaries still pending are written before
//! the archive seals its head.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::config::LoginTls;
use crate::config::WebConfig;
use crate::server::{BindError, Listener};
use crate::shutdown::Shutdown;
use crate::tls::TlsError;

use super::{Web, WebSettings, router, trail};

/// The listener's name in logs and metrics.
const NAME: &str = "web";

/// Most connections served at once.
const MAX_CONNECTIONS: usize = 512;

/// How long a client may take for the TLS handshake or a request's header.
const HANDSHAKE: Duration = Duration::from_secs(15);

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The certificate or key could not be loaded.
    #[error("web listener: {0}")]
    Tls(#[from] TlsError),
}

impl WebSettings {
    /// The settings `[web]` asks for.
    pub fn from_config(config: &WebConfig) -> Result<WebSettings, crate::tls::TlsError> {
        let imap_login = match &config.imap_login {
            Some(l) => Some(super::auth::ImapLogin {
                host: l.address.host.clone(),
                port: l.address.port,
                tls: match l.tls {
                    LoginTls::Implicit => Some(crate::tls::client_config(&l.ca, false)?),
                    LoginTls::None => None,
                },
                server_name: l.server_name.clone(),
            }),
            None => None,
        };
        Ok(WebSettings {
            users_file: config.users_file.clone(),
            session_idle: config.session_idle,
            session_absolute: config.session_absolute,
            tls: config.tls.is_some(),
            page_size: config.page_size,
            export_max: config.export_max,
            imap_login,
            ..WebSettings::default()
        })
    }
}

/// A bound web listener, not yet accepting.
pub struct WebListener {
    /// The socket.
    listener: Listener,
    /// The TLS side; `None` on a loopback plain-HTTP listener.
    tls: Option<TlsAcceptor>,
    /// What the pages share.
    web: Arc<Web>,
}

impl WebListener {
    /// Loads the certificate and binds `config.listen`, so a bad key or a
    /// taken port stops the daemon at start.
    pub async fn bind(config: &WebConfig, web: Arc<Web>) -> Result<WebListener, ListenError> {
        let tls = match &config.tls {
            Some(files) => {
                let server = crate::tls::server_config(&files.cert, &files.key)?;
                let mut server = (*server).clone();
                server.alpn_protocols = vec![b"http/1.1".to_vec()];
                Some(TlsAcceptor::from(Arc::new(server)))
            }
            None => None,
        };
        let listener = Listener::bind(NAME, config.listen, MAX_CONNECTIONS, None).await?;
        Ok(WebListener { listener, tls, web })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections on the shutdown tracker until the daemon stops;
    /// failed-login bursts are summarised into the trail meanwhile.
    pub fn serve(self, shutdown: &Shutdown) {
        shutdown.tracker.spawn(trail::summarise_failures(
            Arc::clone(&self.web),
            shutdown.token.clone(),
        ));
        let app = router(self.web);
        let tls = self.tls;
        let token = shutdown.token.clone();
        self.listener.serve(shutdown, move |tcp, peer| {
            connection(tcp, peer, tls.clone(), app.clone(), token.clone())
        });
    }
}

/// One connection: the TLS handshake if any, then HTTP/1.1 until the
/// client closes or the daemon stops.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: Router,
    token: tokio_util::sync::CancellationToken,
) {
    match tls {
        None => http(tcp, peer, app, token).await,
        Some(acceptor) => match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => http(stream, peer, app, token).await,
            Ok(Err(error)) => tracing::debug!(%error, "web TLS handshake failed"),
            Err(_) => tracing::debug!("web TLS handshake timed out"),
        },
    }
}

/// Serves HTTP/1.1 on `stream`, each request tagged with `peer`.
async fn http<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    token: tokio_util::sync::CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move { app.call(req.map(axum::body::Body::new)).await }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = token.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "web connection failed");
    }
}
