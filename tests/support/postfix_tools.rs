//! Postfix's test programs: `smtp-sink` as a fast upstream that accepts
//! and discards, and `smtp-source` as a pipelining load generator.

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::smtp::{free_port, require};

/// A running `smtp-sink`; killed when dropped.
pub struct SmtpSink {
    /// The process.
    child: Child,
    /// Where it accepts SMTP.
    pub addr: SocketAddr,
}

impl SmtpSink {
    /// Starts `smtp-sink -u nobody 127.0.0.1:PORT 100` on a free port.
    pub fn start() -> SmtpSink {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new(require("smtp-sink"))
            .args(["-u", "nobody", &addr.to_string(), "100"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Owned at once, so a failed start still reaps the process.
        let sink = SmtpSink { child, addr };
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("smtp-sink did not listen on {addr}");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `smtp-source -s sessions -m messages -l size` against `addr`.
pub fn smtp_source(addr: SocketAddr, sessions: u32, messages: u32, size: u32) -> Output {
    Command::new(require("smtp-source"))
        .args(["-s", &sessions.to_string()])
        .args(["-m", &messages.to_string()])
        .args(["-l", &size.to_string()])
        .args(["-f", "source@example.com", "-t", "sink@example.org"])
        .arg(addr.to_string())
        .output()
        .unwrap()
}
