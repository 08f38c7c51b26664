//! The daemon and its SMTP upstream, and the chaos that strikes them: at
//! random moments `mailseal run` gets SIGKILL and is started again on the
//! same configuration, archive and ports, or the upstream sink is killed
//! and comes back on its port a little later. Before each daemon kill,
//! mail dated years ago (so past its keep-until) is imported through the
//! daemon and a `mailseal purge` is started, so the kill often lands in the
//! middle of a purge. The daemon's peak RSS is sampled across all its
//! lives.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng as _;

use super::message::sha256;
use crate::support::daemon::Daemon;
use crate::support::sink::Sink;

/// How often the daemon's peak RSS is read between strikes.
const SAMPLE: Duration = Duration::from_millis(100);

/// What the chaos did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Strikes {
    /// SIGKILLs sent to the daemon.
    pub daemon_kills: u64,
    /// Daemon starts after the first.
    pub daemon_restarts: u64,
    /// Times the daemon was found dead without having been killed (a
    /// crash: a finding, not chaos).
    pub daemon_crashes: u64,
    /// SIGKILLs sent to the upstream sink.
    pub sink_kills: u64,
    /// Sink starts after the first.
    pub sink_restarts: u64,
    /// Highest `VmHWM` seen in any life of the daemon, KiB.
    pub peak_rss_kib: u64,
    /// Purges started just before a daemon kill.
    pub purges: u64,
    /// Old messages imported for them to delete.
    pub due_imported: u64,
}

/// Old messages imported before each daemon kill, for the purge to delete.
const DUE_PER_STRIKE: u64 = 60;

/// The daemon under test and its upstream.
pub struct Plant {
    /// The current life of `mailseal run`.
    pub daemon: Daemon,
    /// The current sink.
    sink: Sink,
    /// Sinks killed earlier: what they accepted still counts.
    dead_sinks: Vec<Sink>,
    /// The daemon's configuration.
    config: PathBuf,
    /// Every listener of the daemon (a restart waits for all).
    listens: Vec<SocketAddr>,
    /// The log every life appends to.
    log: PathBuf,
    /// The sink's fixed port.
    sink_port: u16,
    /// What happened so far.
    pub strikes: Strikes,
}

impl Plant {
    /// Starts the sink on `sink_port` and the daemon.
    pub fn start(config: PathBuf, listens: Vec<SocketAddr>, sink_port: u16) -> Plant {
        let sink = Sink::plain_on(sink_port);
        let log = config.with_extension("log");
        let daemon = Daemon::start_logged(&config, &listens, &log);
        Plant {
            daemon,
            sink,
            dead_sinks: Vec::new(),
            config,
            listens,
            log,
            sink_port,
            strikes: Strikes::default(),
        }
    }

    /// Strikes at random moments (every `pause.0..pause.1` seconds) until
    /// `stop` is set; leaves the daemon and the sink running.
    pub fn chaos(&mut self, seed: u64, pause: (f64, f64), stop: &AtomicBool) {
        let mut rng = super::message::rng(seed, usize::MAX);
        while !stop.load(Ordering::Relaxed) {
            let wait = Duration::from_secs_f64(rng.gen_range(pause.0..pause.1));
            self.watch(wait, stop);
            if stop.load(Ordering::Relaxed) {
                break;
            }
            // The first strike kills the daemon, the second the sink, so
            // even a short run has both; then two of three hit the daemon.
            let strikes = self.strikes.daemon_kills + self.strikes.sink_kills;
            let daemon = match strikes {
                0 => true,
                1 => false,
                _ => rng.gen_ratio(2, 3),
            };
            if daemon {
                self.kill_daemon(
                    Duration::from_millis(rng.gen_range(0..500)),
                    Duration::from_millis(rng.gen_range(0..200)),
                );
            } else {
                self.kill_sink(Duration::from_millis(rng.gen_range(0..2000)));
            }
        }
    }

    /// Samples the daemon for `wait` (restarting it if it died by itself).
    fn watch(&mut self, wait: Duration, stop: &AtomicBool) {
        let steps = (wait.as_millis() / SAMPLE.as_millis()).max(1);
        for _ in 0..steps {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            self.sample();
            std::thread::sleep(SAMPLE);
        }
    }

    /// Reads the daemon's peak RSS; a daemon that is gone crashed.
    pub fn sample(&mut self) {
        match self.daemon.peak_rss_kib() {
            Some(kib) => self.strikes.peak_rss_kib = self.strikes.peak_rss_kib.max(kib),
            None => {
                eprintln!("soak: daemon {} died by itself", self.daemon.pid());
                self.strikes.daemon_crashes += 1;
                self.restart_daemon();
            }
        }
    }

    fn kill_daemon(&mut self, down: Duration, purging: Duration) {
        self.sample();
        let purge = self.start_purge();
        std::thread::sleep(purging);
        self.daemon.kill9();
        self.strikes.daemon_kills += 1;
        // The purge's client ends with the connection (or, had it found no
        // daemon, finishes on the archive itself): either way it is gone
        // before the next life of the daemon takes the archive.
        if let Some(mut child) = purge {
            let _ = child.wait();
        }
        std::thread::sleep(down);
        self.restart_daemon();
    }

    /// Imports mail dated 2013 through the daemon and starts `mailseal
    /// purge` in the background; `None` when the import failed (the daemon
    /// is being struck by other means: the purge waits for the next kill).
    fn start_purge(&mut self) -> Option<std::process::Child> {
        let dir = self
            .config
            .with_file_name(format!("due-{}", self.strikes.daemon_kills));
        std::fs::create_dir_all(&dir).ok()?;
        for n in 0..DUE_PER_STRIKE {
            let id = self.strikes.due_imported + n;
            let text = format!(
                "From: alt{id}@example.com\r\nTo: archiv@example.org\r\n\
                 Date: Fri, 01 Mar 2013 08:00:00 +0100\r\nSubject: due {id}\r\n\r\nlong due {id}\r\n"
            );
            std::fs::write(dir.join(format!("{id}.eml")), text).ok()?;
        }
        let import = self
            .daemon
            .cli(&["import", "eml", &dir.display().to_string()]);
        if !import.status.success() {
            return None;
        }
        self.strikes.due_imported += DUE_PER_STRIKE;
        self.strikes.purges += 1;
        std::process::Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(&self.config)
            .arg("purge")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()
    }

    fn restart_daemon(&mut self) {
        self.daemon = Daemon::start_logged(&self.config, &self.listens, &self.log);
        self.strikes.daemon_restarts += 1;
    }

    fn kill_sink(&mut self, down: Duration) {
        self.sink.kill();
        self.strikes.sink_kills += 1;
        std::thread::sleep(down);
        let fresh = Sink::plain_on(self.sink_port);
        self.dead_sinks
            .push(std::mem::replace(&mut self.sink, fresh));
        self.strikes.sink_restarts += 1;
    }

    /// SHA-256 and size of every message any life of the sink accepted
    /// (read one life at a time: a long run's sinks hold gigabytes).
    pub fn accepted(&self) -> Vec<(String, usize)> {
        let lives = self.dead_sinks.iter().chain([&self.sink]);
        let hashed = lives.flat_map(|sink| {
            let messages = sink.messages();
            let hashes: Vec<_> = messages
                .iter()
                .map(|m| (sha256(&m.content), m.content.len()))
                .collect();
            hashes
        });
        hashed.collect()
    }

    /// The daemon's log, all lives.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
