//! One accepted SMTP connection, for every listener: the implicit-TLS
//! handshake when the port has one (bounded by the command timeout, a
//! failure counted and logged), then the [`Session`] to its end.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::backend::Backend;
use super::session::{Session, SessionConfig};
use crate::metrics::{self, ErrorKind};
use crate::transport::Stream;

/// Runs a session on `tcp`, after the TLS handshake when `implicit_tls`
/// is set; logs how it ended.
pub async fn serve<B: Backend>(
    tcp: TcpStream,
    peer: SocketAddr,
    implicit_tls: Option<&Arc<rustls::ServerConfig>>,
    backend: B,
    config: Arc<SessionConfig>,
    shutdown: CancellationToken,
) {
    let mut stream = Stream::tcp(tcp);
    if let Some(tls) = implicit_tls {
        match timeout(config.command_timeout, stream.accept_tls(tls.clone())).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                metrics::error(ErrorKind::Tls);
                info!(%error, "tls-failed");
                return;
            }
            Err(_) => return,
        }
    }
    let result = Session::new(stream, peer, backend, config, shutdown)
        .run()
        .await;
    match result {
        Ok(()) => debug!("closed"),
        Err(error) => info!(%error, "closed"),
    }
}
