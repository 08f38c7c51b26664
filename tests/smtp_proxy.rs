//! The transparent SMTP proxy against real peers on loopback: an aiosmtpd
//! upstream that keeps exactly what it received, Postfix (smtp-sink,
//! smtp-source, a private instance trusting XCLIENT), swaks, smtplib and
//! raw protocol bytes. What the client sent, what the archive holds and
//! what the upstream received are compared by SHA-256.

// Byte-exact relaying of a message corpus; the upstream's decisions.
mod relay;
// Upstream down or killed, archive failing, smuggling, overlong lines.
mod failures;
// TLS on both legs, AUTH relayed and recorded.
mod tls;
// Postfix peers: XCLIENT/XFORWARD, smtp-sink and smtp-source pipelining.
mod postfix;
// The real `mailseal run` binary: relay, CLI, a full archive disk.
mod binary;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailseal::archive::index::Summary;
use mailseal::archive::record::RecordBody;
use mailseal::archive::{Archive, MessageMeta, Outcome};
use mailseal::config::{SmtpProxyConfig, SmtpUpstreamTls};
use mailseal::shutdown::Shutdown;
use sha2::{Digest, Sha256};

/// A proxy listener on 127.0.0.1 with its own archive.
pub struct Proxy {
    /// The archive it writes to.
    pub archive: Archive,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it.
    pub shutdown: Shutdown,
    /// Holds the archive and any files a test writes.
    pub dir: tempfile::TempDir,
}

impl Proxy {
    /// A proxy in front of the plain-text `upstream`; `configure` may
    /// change the configuration (the directory is the test's own).
    pub async fn start(
        upstream: SocketAddr,
        configure: impl FnOnce(&mut SmtpProxyConfig, &Path),
    ) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open_dir(&dir.path().join("archive")).unwrap();
        let listen = "127.0.0.1:0".parse().unwrap();
        let mut config = SmtpProxyConfig::for_test("proxy", listen, upstream);
        config.upstream.tls = SmtpUpstreamTls::None;
        configure(&mut config, dir.path());
        let shutdown = Shutdown::new();
        let addr = mailseal::smtp::listener::start_proxy(&config, &archive, &shutdown)
            .await
            .unwrap();
        Proxy {
            archive,
            addr,
            shutdown,
            dir,
        }
    }

    /// Message records so far.
    pub fn messages(&self) -> Vec<Summary> {
        let mut all = self.archive.reader().summaries().unwrap();
        all.retain(|s| s.kind == "message");
        all
    }

    /// Outcome records so far.
    pub fn outcomes(&self) -> Vec<Outcome> {
        let reader = self.archive.reader();
        let summaries = reader.summaries().unwrap();
        summaries
            .iter()
            .filter(|s| s.kind == "outcome")
            .filter_map(|s| match reader.record(s.seq).unwrap().0.body {
                RecordBody::Outcome(o) => Some(o),
                _ => None,
            })
            .collect()
    }

    /// The outcome recorded for message `seq` (waits for it a little:
    /// it is appended after the client's reply is decided).
    pub async fn outcome_of(&self, seq: u64) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(o) = self.outcomes().into_iter().find(|o| o.of == seq) {
                return o;
            }
            assert!(Instant::now() < deadline, "no outcome for record {seq}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Record `seq`: metadata and content bytes.
    pub fn stored(&self, seq: u64) -> (MessageMeta, Vec<u8>) {
        let reader = self.archive.reader();
        let (record, _) = reader.record(seq).unwrap();
        let meta = record.message().unwrap().clone();
        let mut content = Vec::new();
        reader
            .write_content(&meta.content.sha256, &mut content)
            .unwrap();
        (meta, content)
    }

    /// The newest message record: its id, metadata and content.
    pub fn latest(&self) -> (u64, MessageMeta, Vec<u8>) {
        let seq = self.messages().last().expect("no message archived").seq;
        let (meta, content) = self.stored(seq);
        (seq, meta, content)
    }

    /// Writes a file into the test's directory.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown.token.cancel();
    }
}

/// Writes a `mailseal.toml` into `dir` for `mailseal run` with one proxy
/// listener `mx` on `listen` in front of the plain-text `upstream`.
pub fn daemon_config(
    dir: &Path,
    archive: &Path,
    listen: SocketAddr,
    upstream: SocketAddr,
) -> PathBuf {
    let config = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = \"{}\"\n\n\
         [[smtp_proxy]]\nname = \"mx\"\nlisten = \"{listen}\"\nupstream = \"{upstream}\"\n\
         hostname = \"mailseal.test\"\nupstream_tls = \"none\"\n\n\
         [http]\nenabled = false\n",
        archive.display()
    );
    std::fs::write(&config, crate::support::daemon::with_control(&config, text)).unwrap();
    config
}

/// Lowercase hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The last reply line of a swaks transcript before QUIT.
pub fn swaks_final(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .rfind(|l| {
            let reply = l.starts_with("<-") || l.starts_with("<~") || l.starts_with("<**");
            reply && !l.contains(" 221 ")
        })
        .unwrap_or_default()
        .to_owned()
}

/// `--data @file` for swaks, which adds its own CRLF before the final
/// dot: the file leaves out the message's last CRLF.
pub fn swaks_data(proxy: &Proxy, name: &str, message: &[u8]) -> String {
    let body = message.strip_suffix(b"\r\n").expect("ends with CRLF");
    format!("@{}", proxy.file(name, body).display())
}
