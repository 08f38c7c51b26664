//! SMTP peers for integration tests: a raw protocol client, swaks, Python's
//! smtplib, and a private Postfix instance (recipes in PEERS.md).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use mailseal::smtp::data::stuff;
use mailseal::smtp::reply::{Reply, ReplyParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A client that speaks raw SMTP, with assertions that read like the
/// protocol: `client.cmd("MAIL FROM:<>", "250").await`.
pub struct SmtpClient {
    stream: TcpStream,
    buf: Vec<u8>,
    parser: ReplyParser,
}

impl SmtpClient {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> SmtpClient {
        SmtpClient::wrap(TcpStream::connect(addr).await.unwrap())
    }

    /// Connects to `addr` from the local address `from` (for example
    /// 127.0.0.2, to test network restrictions on loopback).
    pub async fn connect_from(from: IpAddr, addr: SocketAddr) -> SmtpClient {
        let socket = match from {
            IpAddr::V4(_) => TcpSocket::new_v4().unwrap(),
            IpAddr::V6(_) => TcpSocket::new_v6().unwrap(),
        };
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        SmtpClient::wrap(socket.connect(addr).await.unwrap())
    }

    fn wrap(stream: TcpStream) -> SmtpClient {
        SmtpClient {
            stream,
            buf: Vec::new(),
            parser: ReplyParser::new(),
        }
    }

    /// Reads one reply; its text must start with `expected` (`"250"`,
    /// `"554 5.7.1"`).
    pub async fn expect(&mut self, expected: &str) -> Reply {
        loop {
            if let Some(reply) = self.parser.next_reply(&mut self.buf).unwrap() {
                let text = reply.text();
                assert!(
                    text.starts_with(expected),
                    "expected {expected}, got {text}"
                );
                return reply;
            }
            let mut chunk = [0u8; 8192];
            let read = tokio::time::timeout(Duration::from_secs(30), self.stream.read(&mut chunk));
            let n = read.await.expect("reply timed out").unwrap();
            assert!(n > 0, "connection closed while expecting {expected}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `line` with CRLF and checks the reply.
    pub async fn cmd(&mut self, line: &str, expected: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.expect(expected).await
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// MAIL, RCPT, DATA and the dot-stuffed `content`; returns the final
    /// reply, which must start with `expected`.
    pub async fn send_message(
        &mut self,
        from: &str,
        to: &str,
        content: &[u8],
        expected: &str,
    ) -> Reply {
        self.cmd(&format!("MAIL FROM:<{from}>"), "250").await;
        self.cmd(&format!("RCPT TO:<{to}>"), "250").await;
        self.cmd("DATA", "354").await;
        self.send(&stuff(content)).await;
        self.expect(expected).await
    }

    /// True when the server has closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk));
        matches!(read.await, Ok(Ok(0) | Err(_)))
    }
}

/// The record ids in a `250 2.0.0 Ok: archived as 7` reply.
pub fn archived_ids(reply_text: &str) -> Vec<u64> {
    let list = reply_text.split_once("archived as ").map_or("", |(_, l)| l);
    list.split(' ').filter_map(|w| w.parse().ok()).collect()
}

/// Finds a program on PATH, or fails the test saying how to install it.
pub fn require(program: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("{program} not found: install it (.ci/install-deps, PEERS.md)"))
}

/// Runs swaks against `addr` with extra arguments; returns its output
/// (stdout holds the transcript).
pub fn swaks(addr: SocketAddr, args: &[&str]) -> Output {
    let server = addr.to_string();
    Command::new(require("swaks"))
        .args(["--server", &server, "--timeout", "30"])
        .args(args)
        .output()
        .unwrap()
}

/// Sends the file at `message` with Python's smtplib; returns the final
/// reply as `CODE text` (or the refusal smtplib raised).
pub fn smtplib_send(addr: SocketAddr, from: &str, to: &str, message: &Path) -> String {
    let script = r#"
import smtplib, sys
host, port, sender, rcpt, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
data = open(path, "rb").read()
with smtplib.SMTP(host, port, timeout=30) as s:
    s.ehlo("smtplib.test")
    s.mail(sender)
    s.rcpt(rcpt)
    code, text = s.data(data)
    print(code, text.decode("utf-8", "replace"))
"#;
    let out = Command::new(require("python3"))
        .args(["-c", script])
        .args([&addr.ip().to_string(), &addr.port().to_string(), from, to])
        .arg(message)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        stdout
    } else {
        format!("error: {}", String::from_utf8_lossy(&out.stderr))
    }
}

/// A free TCP port on 127.0.0.1 for helpers like Postfix that need a port
/// number up front ([`super::ports::free`]).
pub fn free_port() -> u16 {
    super::ports::free()
}

/// A private Postfix instance listening on 127.0.0.1, configured by the
/// test; stopped when dropped.
pub struct Postfix {
    /// Its configuration, queue and log directory.
    dir: tempfile::TempDir,
    /// Where it accepts SMTP.
    pub addr: SocketAddr,
}

impl Postfix {
    /// Starts Postfix on a free port of 127.0.0.1, relaying everything to
    /// `relay` and applying the extra `main.cf` lines (for example
    /// `always_bcc = ...`).
    pub fn start(relay: SocketAddr, extra_main_cf: &str) -> Postfix {
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        Postfix::start_at(None, addr, relay, extra_main_cf)
    }

    /// Starts Postfix inside network namespace `netns` (when given) on
    /// `addr`, relaying to `relay`; `mynetworks` is every address the
    /// tests use, so it accepts relaying from the client namespace too.
    pub fn start_at(
        netns: Option<&str>,
        addr: SocketAddr,
        relay: SocketAddr,
        extra_main_cf: &str,
    ) -> Postfix {
        let postfix = require("postfix");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(p.join(sub)).unwrap();
        }
        let chown = Command::new("chown")
            .arg("postfix")
            .arg(p.join("data"))
            .status();
        assert!(chown.unwrap().success(), "chown postfix failed");
        let main_cf = format!(
            "compatibility_level = 3.6\nqueue_directory = {q}\ndata_directory = {d}\n\
             mail_owner = postfix\nsetgid_group = postdrop\ninet_interfaces = {ip}\n\
             inet_protocols = {family}\nmyhostname = pf.test\nmydestination =\n\
             mynetworks = 127.0.0.0/8 10.231.0.0/16\nrelayhost = [{rip}]:{rport}\nalias_maps =\n\
             alias_database =\nmaillog_file = {log}\nmaillog_file_prefixes = /tmp\n\
             smtp_tls_security_level = none\n{extra_main_cf}\n",
            q = p.join("queue").display(),
            d = p.join("data").display(),
            ip = addr.ip(),
            family = if addr.is_ipv4() { "ipv4" } else { "ipv6" },
            rip = relay.ip(),
            rport = relay.port(),
            log = p.join("maillog").display(),
        );
        std::fs::write(p.join("etc/main.cf"), main_cf).unwrap();
        let master = std::fs::read_to_string("/etc/postfix/master.cf").unwrap();
        let master: String = master
            .lines()
            .map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                if l.starts_with("smtp ") && fields.get(1) == Some(&"inet") {
                    format!("{addr} inet n - n - - smtpd\n")
                } else if !l.starts_with(['#', ' ']) && fields.len() >= 8 && fields[4] == "y" {
                    // No chroot: the private instance has no chroot tree.
                    let mut fields = fields;
                    fields[4] = "n";
                    format!("{}\n", fields.join(" "))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(p.join("etc/master.cf"), master).unwrap();
        // `postfix start` has been seen to fail once in a full suite run on
        // the loaded 2-core box, with its reason only in the instance's log:
        // try again, and show that log if it keeps failing. In a namespace,
        // `ip netns exec` runs it there and the master inherits it.
        let start = || {
            let mut command = match netns {
                Some(netns) => {
                    let mut c = Command::new("ip");
                    c.args(["netns", "exec", netns]).arg(&postfix);
                    c
                }
                None => Command::new(&postfix),
            };
            command
                .args(["-c"])
                .arg(p.join("etc"))
                .arg("start")
                .output()
                .unwrap()
        };
        let mut out = start();
        for _ in 0..2 {
            if out.status.success() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            out = start();
        }
        assert!(
            out.status.success(),
            "postfix start: {}{}\nlog:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(p.join("maillog")).unwrap_or_default()
        );
        let listening = || match netns {
            Some(netns) => Command::new("ip")
                .args(["netns", "exec", netns, "ss", "-Htln"])
                .arg(format!("sport = :{}", addr.port()))
                .output()
                .is_ok_and(|o| !o.stdout.is_empty()),
            None => std::net::TcpStream::connect(addr).is_ok(),
        };
        for _ in 0..100 {
            if listening() {
                return Postfix { dir, addr };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("postfix did not listen on {addr}");
    }

    /// Runs `postqueue -f` on this instance: deliver the queue now instead
    /// of at the next retry (minutes away).
    pub fn flush(&self) {
        let out = Command::new(require("postqueue"))
            .args(["-c"])
            .arg(self.dir.path().join("etc"))
            .arg("-f")
            .output()
            .unwrap();
        assert!(out.status.success(), "postqueue -f: {out:?}");
    }

    /// Postfix's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(require("postfix"))
            .args(["-c"])
            .arg(self.dir.path().join("etc"))
            .arg("stop")
            .output();
    }
}

impl SmtpClient {
    /// The raw connection and any bytes read but not yet parsed, for tests
    /// that go on below the reply level (trickling, flooding).
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buf)
    }
}
