//! A byte-exact SMTP upstream: Python's aiosmtpd writing what it received
//! (`envelope.original_content`, after dot-unstuffing) to one file per
//! message, with the envelope, AUTH login and TLS state in a JSON file
//! beside it.
//!
//! It rejects recipients starting with `reject` (`550 5.1.1`) and
//! messages containing `X-Sink-Reject: yes` at end of data (`550 5.7.1`),
//! so tests can check that the upstream's decisions reach the client.
//! Lines of any length are accepted (aiosmtpd's 1001-byte limit is lifted).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::smtp::require;

const SCRIPT: &str = r#"
import argparse, asyncio, json, os, ssl
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--auth")
p.add_argument("--auth-plain-ok", action="store_true")
args = p.parse_args()


class Unlimited(SMTP):
    line_length_limit = 256 * 1024 * 1024


count = 0


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("reject"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        global count
        if b"X-Sink-Reject: yes" in envelope.original_content:
            return "550 5.7.1 Message content rejected by sink"
        count += 1
        base = os.path.join(args.dir, "msg-%06d" % count)
        auth = session.auth_data
        meta = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "login": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "helo": session.host_name,
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Ok: queued as %d" % count


def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = args.auth.split(":", 1)
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
        and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


async def main():
    loop = asyncio.get_running_loop()
    ctx = None
    if args.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)

    def factory():
        return Unlimited(
            Handler(), data_size_limit=None, enable_SMTPUTF8=True, decode_data=False,
            hostname="sink.test", loop=loop,
            tls_context=ctx if args.tls == "starttls" else None,
            require_starttls=args.tls == "starttls",
            authenticator=authenticator if args.auth else None,
            auth_require_tls=not args.auth_plain_ok,
        )

    server = await loop.create_server(
        factory, "127.0.0.1", 0, ssl=ctx if args.tls == "implicit" else None)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
"#;

/// TLS on the sink's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkTls {
    /// Plain text, no STARTTLS.
    None,
    /// STARTTLS offered and required before MAIL.
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

impl SinkTls {
    /// The script's `--tls` value.
    fn arg(self) -> &'static str {
        match self {
            SinkTls::None => "none",
            SinkTls::Starttls => "starttls",
            SinkTls::Implicit => "implicit",
        }
    }
}

/// How to start a sink.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// TLS mode.
    pub tls: SinkTls,
    /// Certificate chain and key files, for the TLS modes.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// The one `user:password` AUTH accepts; no AUTH when `None`.
    pub auth: Option<String>,
    /// Offer AUTH without TLS.
    pub auth_plain_ok: bool,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            tls: SinkTls::None,
            cert: None,
            auth: None,
            auth_plain_ok: false,
        }
    }
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The bytes after dot-unstuffing.
    pub content: Vec<u8>,
    /// `mail_from`, `rcpt_tos`, `mail_options`, `rcpt_options`, `login`,
    /// `tls`, `helo`.
    pub meta: serde_json::Value,
}

/// A running aiosmtpd sink; killed when dropped.
pub struct Sink {
    /// The Python process.
    child: Child,
    /// Where messages are written (and the script).
    dir: tempfile::TempDir,
    /// Where it accepts SMTP.
    pub addr: SocketAddr,
}

impl Sink {
    /// A plain-text sink.
    pub fn plain() -> Sink {
        Sink::start(SinkOptions::default())
    }

    /// Starts a sink on a free port of 127.0.0.1.
    pub fn start(options: SinkOptions) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("sink.py");
        std::fs::write(&script, SCRIPT).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let mut command = Command::new(require("python3"));
        // aiosmtpd warns about its own use of a deprecated field.
        command.args(["-W", "ignore::DeprecationWarning"]);
        command.arg(&script).arg("--dir").arg(&out);
        command.args(["--tls", options.tls.arg()]);
        if let Some((cert, key)) = &options.cert {
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some(auth) = &options.auth {
            command.args(["--auth", auth]);
        }
        if options.auth_plain_ok {
            command.arg("--auth-plain-ok");
        }
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            panic!("aiosmtpd sink did not start (pip install aiosmtpd): {line:?}")
        });
        Sink {
            child,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.out())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| read_message(p)).collect()
    }

    /// Waits until at least `n` messages arrived (at most 60 s).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self.messages();
            if found.len() >= n || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the sink at once (SIGKILL): an upstream that dies.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_message(eml: &Path) -> Received {
    let content = std::fs::read(eml).unwrap();
    let meta = std::fs::read(eml.with_extension("json")).unwrap();
    Received {
        content,
        meta: serde_json::from_slice(&meta).unwrap(),
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Sink {
    /// Starts a plain sink on port 25 of every address of network
    /// namespace `netns` (IPv4 and IPv6): the real server behind an
    /// intercepting gateway. `addr` is the IPv4 address it is reached at.
    pub fn in_netns(netns: &str, addr: SocketAddr) -> Sink {
        Sink::in_netns_with(netns, addr, &SinkOptions::default())
    }

    /// [`Sink::in_netns`] with TLS (and the other options) as `options`
    /// say.
    pub fn in_netns_with(netns: &str, addr: SocketAddr, options: &SinkOptions) -> Sink {
        let any_port = "\"127.0.0.1\", 0,";
        assert!(SCRIPT.contains(any_port), "sink script changed its bind");
        let script_text = SCRIPT.replace(any_port, &format!("None, {},", addr.port()));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("sink.py");
        std::fs::write(&script, script_text).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", netns])
            .arg(require("python3"))
            .args(["-W", "ignore::DeprecationWarning"])
            .arg(&script)
            .arg("--dir")
            .arg(&out)
            .args(["--tls", options.tls.arg()])
            .args(
                options
                    .cert
                    .iter()
                    .flat_map(|(cert, key)| [Path::new("--cert"), cert, Path::new("--key"), key]),
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            addr.port().to_string(),
            "sink did not bind {addr}"
        );
        Sink { child, dir, addr }
    }

    /// Starts a sink with default options on `port` of 127.0.0.1, so an
    /// upstream that was killed comes back at the address the proxy knows.
    /// Each sink has its own output folder (a new process counts from 1).
    pub fn plain_on(port: u16) -> Sink {
        let any_port = "\"127.0.0.1\", 0,";
        assert!(SCRIPT.contains(any_port), "sink script changed its bind");
        let script_text = SCRIPT.replace(any_port, &format!("\"127.0.0.1\", {port},"));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("sink.py");
        std::fs::write(&script, script_text).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let mut child = Command::new(require("python3"))
            .args(["-W", "ignore::DeprecationWarning"])
            .arg(&script)
            .arg("--dir")
            .arg(&out)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), port.to_string(), "sink did not bind {port}");
        Sink {
            child,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}
