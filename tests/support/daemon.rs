//! The real `mailseal run` binary as a child process with a generated
//! configuration, and the CLI commands run against the same file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `mailseal run`; killed when dropped.
pub struct Daemon {
    /// The process.
    child: Child,
    /// Its configuration file.
    config: PathBuf,
    /// Its stderr (the log).
    log: PathBuf,
}

impl Daemon {
    /// Starts `mailseal --config CONFIG run` and waits until its control
    /// socket accepts connections, which the daemon binds after every
    /// listener (`listen` among them). Waiting on the socket instead of
    /// `listen` opens no session a test would then see (a proxy session
    /// contacts its upstream).
    pub fn start(config: &Path, listen: SocketAddr) -> Daemon {
        Daemon::start_with(Command::new(env!("CARGO_BIN_EXE_mailseal")), config, listen)
    }

    /// [`Daemon::start`] inside network namespace `netns` (`ip netns exec`
    /// execs the binary, so killing the child kills mailseal). The control
    /// socket is a file, so the CLI reaches it from outside.
    pub fn start_in_netns(netns: &str, config: &Path, listen: SocketAddr) -> Daemon {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", netns, env!("CARGO_BIN_EXE_mailseal")]);
        Daemon::start_with(command, config, listen)
    }

    fn start_with(mut command: Command, config: &Path, listen: SocketAddr) -> Daemon {
        let log = config.with_extension("log");
        let child = command
            .arg("--config")
            .arg(config)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut daemon = Daemon {
            child,
            config: config.to_path_buf(),
            log,
        };
        let socket = mailseal::config::Config::load(config)
            .unwrap_or_else(|e| panic!("{e}"))
            .control
            .socket;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("mailseal run exited with {status}: {}", daemon.log());
            }
            assert!(
                Instant::now() < deadline,
                "did not listen on {listen}: {}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it with SIGTERM (graceful drain, seal) and checks exit 0.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{}", self.log());
    }

    /// Runs `mailseal --config CONFIG args...`.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lives of a daemon that is killed and restarted: every life appends to
/// one log, and the process can be killed without a drain.
impl Daemon {
    /// Starts `mailseal --config CONFIG run` with stderr appended to `log`
    /// and waits (generously: a restart replays the segments' tail into
    /// the index first) until every address in `listens` accepts.
    pub fn start_logged(config: &Path, listens: &[SocketAddr], log: &Path) -> Daemon {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(config)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut daemon = Daemon {
            child,
            config: config.to_path_buf(),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        for listen in listens {
            while std::net::TcpStream::connect(listen).is_err() {
                if let Ok(Some(status)) = daemon.child.try_wait() {
                    panic!("mailseal run exited with {status}: {}", daemon.log());
                }
                assert!(Instant::now() < deadline, "not listening on {listen}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        daemon
    }

    /// Kills it with `kill -KILL` (no drain, no seal, nothing flushed) and
    /// reaps it.
    pub fn kill9(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
        assert!(sent.success(), "kill -KILL {pid} failed");
        self.child.wait().unwrap();
    }

    /// The process's peak resident set (`VmHWM` in /proc/PID/status) in
    /// KiB; `None` once it has exited.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Daemon {
    /// The process id, for reading `/proc/PID/...`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `text` (a configuration for `path`) with a `[control]` section whose
/// socket lies next to the file (or is `path` itself, a `.sock`): every
/// test daemon gets its own, and the CLI run against the same file talks
/// to that daemon and no other.
pub fn with_control(path: &Path, text: String) -> String {
    let socket = match path.extension() {
        Some(ext) if ext == "sock" => path.to_path_buf(),
        _ => path.with_file_name("control.sock"),
    };
    format!(
        "{text}\n[control]\nsocket = {:?}\n",
        socket.display().to_string()
    )
}

/// Writes `ARCHIVE.toml` beside `archive` naming it (and a control socket
/// of its own) and returns its path: `--archive` opens an archive
/// read-only, so commands that write name theirs in a configuration.
pub fn archive_config(archive: &Path) -> PathBuf {
    let config = archive.with_extension("toml");
    let text = format!("[archive]\npath = {:?}\n", archive.display().to_string());
    std::fs::write(&config, with_control(&archive.with_extension("sock"), text)).unwrap();
    config
}
