//! One time-stamp authority: POST the RFC 3161 request over HTTP(S), check
//! the answer completely, and return the token.
//!
//! HTTP is hyper's HTTP/1.1 client connection over a tokio TCP stream
//! (rustls for https), one connection per request: a seal is made every
//! few minutes, so there is nothing to pool.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rand::RngCore;
use tokio::net::TcpStream;

use crate::config::TimestampConfig;
use crate::tls::UpstreamCa;

/// Largest answer read from an authority.
const MAX_RESPONSE: usize = 1 << 20;

/// How far the authority's clock may be from ours.
const CLOCK_SLACK: Duration = Duration::from_secs(600);

/// Why an authority gave no usable token.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    /// Reading the configured files failed.
    #[error("{0}")]
    Setup(String),
    /// The authority could not be reached or broke HTTP.
    #[error("http: {0}")]
    Http(String),
    /// The answer was not a valid token for the request.
    #[error(transparent)]
    Token(#[from] mailseal_tsp::TspError),
    /// The token's time is far from this box's clock.
    #[error("the authority's time is {0} s away from this box's clock")]
    Clock(i64),
}

/// A configured authority, ready to ask.
pub struct Authority {
    /// Its configured name.
    pub name: String,
    /// Where requests go.
    uri: Uri,
    /// `Basic ...` when credentials are configured (never logged).
    auth: Option<HeaderValue>,
    /// CA certificates its signer must chain to.
    trust: mailseal_tsp::Trust,
    /// TLS for https URLs.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Limit for one request.
    timeout: Duration,
    /// First wait after a failure.
    pub retry: Duration,
}

impl Authority {
    /// Reads the CA and credential files of `c`.
    pub fn new(c: &TimestampConfig) -> Result<Authority, StampError> {
        let setup = |what: &str, e: &dyn std::fmt::Display| {
            StampError::Setup(format!("timestamp {}: {what}: {e}", c.name))
        };
        let uri: Uri = c.url.parse().map_err(|e| setup("url", &e))?;
        let pem = std::fs::read(&c.ca_file).map_err(|e| setup("ca_file", &e))?;
        let trust = mailseal_tsp::Trust::from_pem(&pem).map_err(|e| setup("ca_file", &e))?;
        let auth = match &c.credentials_file {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(|e| setup("credentials_file", &e))?;
                let line = text.lines().next().unwrap_or_default();
                if !line.contains(':') {
                    return Err(setup("credentials_file", &"expected user:password"));
                }
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD.encode(line);
                let mut v = HeaderValue::from_str(&format!("Basic {b64}"))
                    .map_err(|e| setup("credentials_file", &e))?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let tls = if uri.scheme_str() == Some("https") {
            Some(
                crate::tls::client_config(&UpstreamCa::System, false)
                    .map_err(|e| setup("https", &e))?,
            )
        } else {
            None
        };
        Ok(Authority {
            name: c.name.clone(),
            uri,
            auth,
            trust,
            tls,
            timeout: c.timeout,
            retry: c.retry,
        })
    }

    /// Asks for a token over `imprint` and checks it (status, imprint,
    /// nonce, signature, certificate chain, EKU, time).
    pub async fn stamp(&self, imprint: &[u8; 32]) -> Result<Vec<u8>, StampError> {
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        nonce[0] = (nonce[0] & 0x7f).max(1);
        let request = mailseal_tsp::request(imprint, &nonce)?;
        let answer = tokio::time::timeout(self.timeout, self.post(request))
            .await
            .map_err(|_| StampError::Http(format!("no answer within {:?}", self.timeout)))??;
        let token = mailseal_tsp::token_of_response(&answer)?;
        let stamp = mailseal_tsp::check_token(&token, imprint, Some(&nonce), &self.trust)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let off = stamp.gen_time.as_secs() as i64 - now.as_secs() as i64;
        if off.unsigned_abs() > CLOCK_SLACK.as_secs() {
            return Err(StampError::Clock(off));
        }
        Ok(token)
    }

    async fn post(&self, body: Vec<u8>) -> Result<Vec<u8>, StampError> {
        let http = |e: &dyn std::fmt::Display| StampError::Http(e.to_string());
        let host = self.uri.host().ok_or_else(|| http(&"URL without host"))?;
        let https = self.tls.is_some();
        let port = self.uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| http(&e))?;
        let authority = self.uri.authority().map(|a| a.as_str()).unwrap_or(host);
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut req = Request::post(path)
            .header(HOST, authority)
            .header(CONTENT_TYPE, "application/timestamp-query");
        if let Some(a) = &self.auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| http(&e))?;
        let resp = match &self.tls {
            Some(cfg) => {
                let name = rustls_pki_types::ServerName::try_from(
                    host.trim_matches(['[', ']']).to_owned(),
                )
                .map_err(|e| http(&e))?;
                let tls = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| http(&e))?;
                send(TokioIo::new(tls), req).await?
            }
            None => send(TokioIo::new(tcp), req).await?,
        };
        Ok(resp)
    }
}

async fn send<T>(io: T, req: Request<Full<Bytes>>) -> Result<Vec<u8>, StampError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let http = |e: &dyn std::fmt::Display| StampError::Http(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| http(&e))?;
    let driver = tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| http(&e))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| http(&e))?
        .to_bytes();
    driver.abort();
    if status != StatusCode::OK {
        return Err(StampError::Http(format!("status {status}")));
    }
    Ok(body.to_vec())
}
