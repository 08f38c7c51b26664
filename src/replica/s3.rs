//! A small S3 client: each request is signed with AWS Signature V4
//! (query-string form, by rusty-s3, sans-IO) and sent over its own
//! HTTP/1.1 connection (hyper, plain TCP or rustls).
//!
//! Only what replication, restore and the tests need: HEAD, PUT (with
//! Object Lock headers, Content-MD5 and a SHA-256 in the metadata), GET,
//! object and version listings, DELETE and bucket creation (tests, setup;
//! those live in `listing.rs`).
//! A new connection per request keeps the code free of pool state; the
//! objects are segments and chunks, so requests are few and large.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rusty_s3::{Bucket, Method, UrlStyle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use super::xml;

/// How long a signed request stays valid.
const SIGNATURE_LIFETIME: u64 = 900;
/// Connecting may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waiting for a response head may take this long (bodies can be large and
/// are bounded by the connection making progress).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);
/// Bytes read from a file per body frame.
const BLOCK: usize = 256 * 1024;

/// Errors of the S3 client.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The server answered with an error status.
    #[error("{method} {key}: HTTP {status} {code}")]
    Status {
        /// The request method.
        method: &'static str,
        /// The object (or bucket) involved.
        key: String,
        /// The HTTP status.
        status: u16,
        /// The S3 error code (`AccessDenied`, `NoSuchKey`, …), if any.
        code: String,
    },
    /// Connecting, TLS or the HTTP exchange failed.
    #[error("{0}")]
    Transport(String),
    /// A local file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The configuration cannot make a client (bad URL, credentials).
    #[error("{0}")]
    Setup(String),
}

impl S3Error {
    /// The HTTP status, for an answer from the server.
    pub fn status(&self) -> Option<u16> {
        match self {
            S3Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What HEAD tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag without quotes (the MD5 hex of a single-part upload).
    pub etag: String,
    /// The SHA-256 hex mailseal stored in `x-amz-meta-sha256`.
    pub sha256: Option<String>,
    /// `x-amz-object-lock-mode`, when locked.
    pub lock_mode: Option<String>,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The object's full key.
    pub key: String,
    /// Its size.
    pub size: u64,
    /// The version id (version listings only).
    pub version: Option<String>,
}

/// What a PUT sends besides the bytes.
#[derive(Debug, Clone)]
pub struct PutHeaders {
    /// MD5 of the body (S3 checks it on receipt).
    pub md5: [u8; 16],
    /// SHA-256 of the body, kept as metadata for later comparisons.
    pub sha256: [u8; 32],
    /// Object Lock mode and retain-until date (RFC 3339), when locking.
    pub lock: Option<(&'static str, String)>,
}

/// Anything a request can travel over.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub(super) type Body = BoxBody<Bytes, std::io::Error>;

/// One bucket at one endpoint, with one set of credentials.
pub struct S3 {
    /// Builds the URLs (path or virtual-host style) and signs them.
    pub(super) bucket: Bucket,
    /// Access key id.
    key: String,
    /// Secret access key.
    secret: String,
    /// TLS for an https endpoint.
    tls: Option<tokio_rustls::TlsConnector>,
}

impl S3 {
    /// A client for `bucket` at `endpoint`; `ca_file` replaces the system
    /// roots for https.
    pub fn new(
        endpoint: &str,
        region: &str,
        bucket: &str,
        path_style: bool,
        ca_file: Option<&Path>,
        (key, secret): (String, String),
    ) -> Result<S3, S3Error> {
        let url: Url = endpoint
            .parse()
            .map_err(|e| S3Error::Setup(format!("endpoint {endpoint:?}: {e}")))?;
        let style = if path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let tls = match url.scheme() {
            "https" => {
                let ca = match ca_file {
                    Some(f) => crate::tls::UpstreamCa::File(f.to_path_buf()),
                    None => crate::tls::UpstreamCa::System,
                };
                let config = crate::tls::client_config(&ca, false)
                    .map_err(|e| S3Error::Setup(e.to_string()))?;
                Some(tokio_rustls::TlsConnector::from(Arc::clone(&config)))
            }
            _ => None,
        };
        let bucket = Bucket::new(url, style, bucket.to_owned(), region.to_owned())
            .map_err(|e| S3Error::Setup(format!("bucket {bucket:?} at {endpoint}: {e}")))?;
        Ok(S3 {
            bucket,
            key,
            secret,
            tls,
        })
    }

    /// HEAD of an object; `None` when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, S3Error> {
        let url = self.bucket.object_url(key);
        let resp = self
            .send(Method::Head, "HEAD", key, url, &[], &[], empty())
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(Some(ObjectInfo {
            size: header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            etag: header("etag")
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned(),
            sha256: header("x-amz-meta-sha256"),
            lock_mode: header("x-amz-object-lock-mode"),
        }))
    }

    /// PUTs bytes held in memory.
    pub async fn put_bytes(&self, key: &str, data: Vec<u8>, h: &PutHeaders) -> Result<(), S3Error> {
        let len = data.len() as u64;
        let body = Full::new(Bytes::from(data))
            .map_err(|never| match never {})
            .boxed();
        self.put(key, body, len, h).await
    }

    /// PUTs `len` bytes of `file` from `offset`, streamed.
    pub async fn put_file(
        &self,
        key: &str,
        file: &Path,
        offset: u64,
        len: u64,
        h: &PutHeaders,
    ) -> Result<(), S3Error> {
        let mut f = tokio::fs::File::open(file).await?;
        f.seek(std::io::SeekFrom::Start(offset)).await?;
        let stream = futures_util::stream::unfold((f, len), |(mut f, left)| async move {
            if left == 0 {
                return None;
            }
            let n = usize::try_from(left).map_or(BLOCK, |l| l.min(BLOCK));
            let mut buf = vec![0u8; n];
            match f.read_exact(&mut buf).await {
                Ok(_) => Some((Ok(Frame::data(Bytes::from(buf))), (f, left - n as u64))),
                Err(e) => Some((Err(e), (f, 0))),
            }
        });
        self.put(key, BodyExt::boxed(StreamBody::new(stream)), len, h)
            .await
    }

    async fn put(&self, key: &str, body: Body, len: u64, h: &PutHeaders) -> Result<(), S3Error> {
        use base64::Engine as _;
        let mut headers = vec![
            (
                "content-md5",
                base64::engine::general_purpose::STANDARD.encode(h.md5),
            ),
            ("content-length", len.to_string()),
            ("x-amz-meta-sha256", hex::encode(h.sha256)),
        ];
        if let Some((mode, until)) = &h.lock {
            headers.push(("x-amz-object-lock-mode", (*mode).to_owned()));
            headers.push(("x-amz-object-lock-retain-until-date", until.clone()));
        }
        let url = self.bucket.object_url(key);
        self.send(Method::Put, "PUT", key, url, &[], &headers, body)
            .await
            .map(drop)
    }

    /// GETs an object into `out`; returns the bytes written.
    pub async fn get_into(
        &self,
        key: &str,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, S3Error> {
        self.get_version_into(key, None, out).await
    }

    /// GETs one version of an object (the latest for `None`) into memory.
    pub async fn get_version(&self, key: &str, version: Option<&str>) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        self.get_version_into(key, version, &mut out).await?;
        Ok(out)
    }

    async fn get_version_into(
        &self,
        key: &str,
        version: Option<&str>,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, S3Error> {
        let url = self.bucket.object_url(key);
        let query: Vec<(&str, String)> = version
            .map(|v| vec![("versionId", v.to_owned())])
            .unwrap_or_default();
        let resp = self
            .send(Method::Get, "GET", key, url, &query, &[], empty())
            .await?;
        let mut body = resp.into_body();
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| S3Error::Transport(format!("GET {key}: {e}")))?;
            if let Ok(data) = frame.into_data() {
                out.write_all(&data).await?;
                n += data.len() as u64;
            }
        }
        out.flush().await?;
        Ok(n)
    }

    /// GETs a (small) object into memory.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        self.get_into(key, &mut out).await?;
        Ok(out)
    }

    /// Signs and sends one request; an error status becomes [`S3Error::Status`].
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send(
        &self,
        method: Method,
        name: &'static str,
        key: &str,
        url: Url,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Response<Incoming>, S3Error> {
        let host = url
            .host_str()
            .ok_or_else(|| S3Error::Setup("endpoint without a host".to_owned()))?
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        // The signer signs `host` itself; content-length is not signed.
        // It merges its own parameters into ours, so both lists go in
        // sorted by name (unsorted, the signature does not match).
        let mut signed: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(k, _)| *k != "content-length")
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        signed.sort_unstable();
        let mut query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        query.sort_unstable();
        let url = rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            method,
            url,
            &self.key,
            &self.secret,
            None,
            self.bucket.region(),
            SIGNATURE_LIFETIME,
            query.into_iter(),
            signed.into_iter(),
        );
        let target = &url[url::Position::BeforePath..];
        let mut req = Request::builder()
            .method(name_of(method))
            .uri(target)
            .header("host", authority);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req
            .body(body)
            .map_err(|e| S3Error::Setup(format!("{name} {key}: {e}")))?;
        let io = self.connect(&host, port).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| S3Error::Transport(format!("{name} {key}: {e}")))?;
        tokio::spawn(async move {
            if let Err(error) = conn.await {
                tracing::debug!(%error, "S3 connection ended with an error");
            }
        });
        let resp = tokio::time::timeout(RESPONSE_TIMEOUT, sender.send_request(req))
            .await
            .map_err(|_| {
                S3Error::Transport(format!(
                    "{name} {key}: no answer within {RESPONSE_TIMEOUT:?}"
                ))
            })?
            .map_err(|e| S3Error::Transport(format!("{name} {key}: {e}")))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let code = if method == Method::Head || status == StatusCode::NOT_MODIFIED {
            String::new()
        } else {
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            xml::top(&String::from_utf8_lossy(&bytes), "Code").unwrap_or_default()
        };
        Err(S3Error::Status {
            method: name,
            key: key.to_owned(),
            status: status.as_u16(),
            code,
        })
    }

    async fn connect(&self, host: &str, port: u16) -> Result<Box<dyn Io>, S3Error> {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
            .await
            .map_err(|_| S3Error::Transport(format!("connecting to {host}:{port}: timed out")))?
            .map_err(|e| S3Error::Transport(format!("connecting to {host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let name = rustls_pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| S3Error::Setup(format!("{host}: {e}")))?;
        let stream = tls
            .connect(name, tcp)
            .await
            .map_err(|e| S3Error::Transport(format!("TLS with {host}:{port}: {e}")))?;
        Ok(Box::new(stream))
    }
}

pub(super) fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

fn name_of(m: Method) -> hyper::Method {
    match m {
        Method::Head => hyper::Method::HEAD,
        Method::Get => hyper::Method::GET,
        Method::Put => hyper::Method::PUT,
        Method::Post => hyper::Method::POST,
        Method::Delete => hyper::Method::DELETE,
    }
}
