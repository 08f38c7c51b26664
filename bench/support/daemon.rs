//! The release `mailseal run` as the journal benchmarks start it (included
//! by path): a config with one `[[journal]]` listener, `/healthz` and
//! `/metrics`, a control socket and whatever the benchmark adds; plus the
//! small helpers every such benchmark needs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A numeric option from the environment.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Bytes of every file under `dir`.
pub fn tree_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => tree_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// One running `mailseal run`, stopped with SIGTERM by [`Daemon::stop`].
pub struct Daemon {
    /// The process.
    pub child: Child,
    /// Its journal listener's port.
    pub journal: u16,
    /// Its `/healthz` and `/metrics` port.
    pub http: u16,
    /// Its config file.
    pub config: PathBuf,
    /// The binary, for [`Daemon::cli`].
    bin: String,
}

impl Daemon {
    /// Writes `dir/bench.toml` (archive `dir/archive`, one journal listener
    /// named `name`, then `extra`), starts `bin` on it (log in
    /// `dir/daemon.log`) and waits until the journal listener answers.
    pub fn start(bin: &str, dir: &Path, name: &str, extra: &str) -> Daemon {
        let (journal, http) = (free_port(), free_port());
        let config = dir.join("bench.toml");
        let text = format!(
            "[archive]\npath = \"{archive}\"\n\
             [[journal]]\nname = \"{name}\"\nlisten = \"127.0.0.1:{journal}\"\nmax_connections = 100\n\
             [http]\nlisten = \"127.0.0.1:{http}\"\n[log]\nlevel = \"warn\"\n\
             [control]\nsocket = \"{socket}\"\n{extra}",
            archive = dir.join("archive").display(),
            socket = dir.join("control.sock").display(),
        );
        std::fs::write(&config, text).unwrap();
        let log = std::fs::File::create(dir.join("daemon.log")).unwrap();
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .arg("run")
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e} (build it: cargo build --release)"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", journal)).is_err() {
            assert!(Instant::now() < deadline, "the daemon did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Daemon {
            child,
            journal,
            http,
            config,
            bin: bin.to_owned(),
        }
    }

    /// The body of `GET path` on the http port.
    pub fn get(&self, path: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.http)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n").as_bytes())
            .ok()?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).ok()?;
        reply
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
    }

    /// Runs `mailseal --config CONFIG ARGS` (through the daemon's control
    /// socket), requires success; returns how long it took and its output.
    pub fn cli(&self, args: &[&str]) -> (Duration, String) {
        let t = Instant::now();
        let out = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let took = t.elapsed();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "mailseal {args:?}: {text}");
        (took, text)
    }

    /// SIGTERM (seal and drain), then waits for the exit; [`Daemon::cli`]
    /// still works (without the daemon, the CLI opens the archive itself).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
