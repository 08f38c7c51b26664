//! The `[http]` listener: `GET /healthz` (JSON) and `GET /metrics`
//! (Prometheus/OpenMetrics text), for the admin's monitoring.
//!
//! The server knows nothing about the archive or the listeners, and nothing
//! below it knows the server: it serves the [`HealthState`] it is given
//! (see [`crate::health`], which the rest of the daemon reports to through
//! [`crate::metrics`]) and the exposition of [`crate::metrics`]. Upstream
//! reachability is passive on purpose: probing the upstream from here would
//! make every scrape open connections on the mail server and fill its log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::health::{HealthState, Status};

/// The default `[http] listen` address: loopback, so metrics are not exposed
/// until the admin decides to.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9425";

/// Monitoring requests served at once; more wait for a slot. Scrapers are
/// few, and a bound keeps a misbehaving one from taking the daemon's memory.
const MAX_CONNECTIONS: usize = 32;

/// A client has this long to send its request head (slow-loris guard).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the HTTP listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Binding the configured address failed (in use, no permission).
    #[error("cannot listen for http on {addr}: {source}")]
    Bind {
        /// The configured `[http] listen` address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// The monitoring listener, bound and ready to serve.
#[derive(Debug)]
pub struct HttpServer {
    /// The bound socket.
    listener: TcpListener,
    /// What `/healthz` reports.
    health: HealthState,
}

impl HttpServer {
    /// Binds `addr`, so the daemon can report a busy port before READY.
    pub async fn bind(addr: SocketAddr, health: HealthState) -> Result<Self, HttpError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| HttpError::Bind { addr, source })?;
        Ok(HttpServer { listener, health })
    }

    /// The bound address (tests bind port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then lets requests in flight
    /// finish and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let permit = tokio::select! {
                () = shutdown.cancelled() => break,
                p = Arc::clone(&slots).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(error) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(%error, "http accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let health = self.health.clone();
            let token = shutdown.clone();
            tracker.spawn(async move {
                serve_connection(stream, health, token).await;
                tracing::debug!(%peer, "http connection closed");
                drop(permit);
            });
        }
        tracker.close();
        tracker.wait().await;
    }
}

/// One HTTP/1.1 connection, closed gracefully on shutdown.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    health: HealthState,
    shutdown: CancellationToken,
) {
    let service = hyper::service::service_fn(move |req| {
        let health = health.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(&req, &health)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "http connection failed");
    }
}

/// Routes one request.
fn respond(req: &Request<Incoming>, health: &HealthState) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    }
    match req.uri().path() {
        "/healthz" => {
            let report = health.report(SystemTime::now());
            let code = match report.status {
                Status::Fail => StatusCode::SERVICE_UNAVAILABLE,
                Status::Ok | Status::Degraded => StatusCode::OK,
            };
            match serde_json::to_vec(&report) {
                Ok(json) => body(code, "application/json", json),
                Err(error) => internal_error(&error),
            }
        }
        "/metrics" => match crate::metrics::render() {
            Ok(text) => body(
                StatusCode::OK,
                crate::metrics::CONTENT_TYPE,
                text.into_bytes(),
            ),
            Err(error) => internal_error(&error),
        },
        _ => plain(StatusCode::NOT_FOUND, "try /healthz or /metrics\n"),
    }
}

fn internal_error(error: &dyn std::fmt::Display) -> Response<Full<Bytes>> {
    tracing::error!(%error, "http response could not be encoded");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
}

fn plain(code: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    body(code, "text/plain; charset=utf-8", text.as_bytes().to_vec())
}

fn body(code: StatusCode, content_type: &'static str, bytes: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests;
