//! A local RFC 3161 time-stamp authority: a test CA and a TSA certificate
//! with the timeStamping EKU (`tests/tools/tsa-setup.sh`, OpenSSL), behind
//! the tiny HTTP responder `tests/tools/tsa_server.py`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const TOOLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools");

/// A running authority; killed when dropped.
pub struct Tsa {
    child: Child,
    dir: tempfile::TempDir,
    /// Its URL.
    pub url: String,
}

impl Tsa {
    /// Makes a CA and a TSA, and starts answering on a free port.
    pub fn start() -> Tsa {
        let dir = tempfile::tempdir().unwrap();
        let made = Command::new("bash")
            .arg(format!("{TOOLS}/tsa-setup.sh"))
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let mut child = Command::new("python3")
            .arg(format!("{TOOLS}/tsa_server.py"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("tsa_server.py prints its port");
        Tsa {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}/tsa"),
        }
    }

    /// The test CA's certificate (PEM).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// The TSA's own certificate (PEM).
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("tsa.crt")
    }

    /// The directory of the CA and TSA files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How the next requests are answered: `ok`, `garbage`,
    /// `wrong-imprint` or `down`.
    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.path().join("mode"), mode).unwrap();
    }

    /// Accept only this `user:password` (HTTP basic).
    pub fn require_auth(&self, credentials: &str) {
        std::fs::write(self.dir.path().join("auth"), credentials).unwrap();
    }

    /// One line per request: the mode it met and whether it had auth.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
