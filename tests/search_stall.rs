//! The search index stalled while mail keeps arriving, through the real
//! daemon: a full disk under the index (a tmpfs the test mounts over
//! `<archive>/search`, root only) and an index directory the daemon may
//! not write (a read-only bind mount for root, a mode for anyone else). Ingest goes on with `250`s, `/healthz` turns `degraded`
//! once the lag passes `[search] max_lag` (and `/metrics` shows indexed
//! seq against head), and when the index can be written again it catches
//! up, health is `ok` again and `search --check` is clean.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::daemon::{self, Daemon};
use crate::support::dovecot::free_port;
use crate::support::mount::Tmpfs;
use crate::support::smtp::smtplib_send;
use crate::support::{WAIT, wait_until};

/// How long a stalled or recovering indexer may take: its retries back
/// off (doubling from half a second), so this is longer than [`WAIT`].
const RECOVERY: Duration = Duration::from_secs(120);

/// The search series of `/metrics`.
const SEARCH_METRICS: [&str; 3] = [
    "mailseal_search_indexed_seq",
    "mailseal_search_head_seq",
    "mailseal_search_lag_records",
];

/// `[search] max_lag` of these tests.
const MAX_LAG: u64 = 3;

struct Setup {
    /// Keeps the files.
    _dir: tempfile::TempDir,
    /// The configuration.
    config: PathBuf,
    /// The archive.
    archive: PathBuf,
    /// The journal listener.
    journal: SocketAddr,
    /// `/healthz` and `/metrics`.
    http: SocketAddr,
    /// Where messages to send are written.
    files: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let journal: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("mailseal.toml");
    let body = format!(
        "[archive]\npath = {:?}\n\n\
         [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
         [http]\nlisten = \"{http}\"\n\n[search]\nmax_lag = {MAX_LAG}\n",
        archive.display().to_string()
    );
    std::fs::write(&config, daemon::with_control(&config, body)).unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    Setup {
        config,
        archive,
        journal,
        http,
        files,
        _dir: dir,
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Polls `probe` until it returns `Some`, for up to [`RECOVERY`].
fn wait_long<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + RECOVERY;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Setup {
    fn start(&self) -> Daemon {
        let log = self.config.with_extension("log");
        let d = Daemon::start_logged(&self.config, &[self.journal, self.http], &log);
        let socket = self.config.with_file_name("control.sock");
        wait_until("the control socket", || {
            std::os::unix::net::UnixStream::connect(&socket).ok()
        });
        d
    }

    /// Sends message `i` with smtplib and checks the 250: ingest goes on
    /// whatever the index does.
    fn send(&self, i: usize) {
        let path = self.files.join(format!("m{i}.eml"));
        let message = format!(
            "From: lieferant{i}@fabrikam.com\r\nTo: bob@contoso.com\r\n\
             Subject: Lieferschein {i}\r\nMessage-ID: <stall{i}@fabrikam.com>\r\n\r\n\
             Lieferung Nummer {i}, Palette\r\n{}\r\n",
            "Zeile mit Inhalt der Lieferung\r\n".repeat(200)
        );
        std::fs::write(&path, message).unwrap();
        let reply = smtplib_send(self.journal, "a@fabrikam.com", "j@archive.test", &path);
        assert!(reply.starts_with("250"), "message {i}: {reply}");
    }

    fn cli(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("MAILSEAL_CONFIG")
            .output()
            .unwrap()
    }

    /// How many records `query` finds (`None` while the daemon refuses).
    fn found(&self, query: &str) -> Option<usize> {
        let o = self.cli(&["search", "--json", "--limit", "10000", query]);
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).lines().count())
    }

    /// `(status, search entry)` of `/healthz`.
    fn health(&self) -> (String, serde_json::Value) {
        let v: serde_json::Value = serde_json::from_str(&get(self.http, "/healthz")).unwrap();
        (
            v["status"].as_str().unwrap().to_string(),
            v["search"].clone(),
        )
    }

    /// The samples of `names` from one scrape of `/metrics`.
    fn metrics<const N: usize>(&self, names: [&str; N]) -> [u64; N] {
        let scrape = get(self.http, "/metrics");
        names.map(|name| {
            scrape
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or_else(|| panic!("{name} not in /metrics")) as u64
        })
    }

    /// Waits until every one of `n` messages is searchable, health says
    /// `ok` with no lag, and `search --check` is clean.
    fn caught_up(&self, n: usize) {
        wait_long("every message searchable", || {
            (self.found("palette") == Some(n)).then_some(())
        });
        let search = wait_long("health ok", || {
            let (status, search) = self.health();
            (status == "ok" && search["lag"] == 0).then_some(search)
        });
        assert_eq!(search["lagging"], false, "{search}");
        assert_eq!(search["failing"], false, "{search}");
        let [indexed, head, lag] = self.metrics(SEARCH_METRICS);
        assert_eq!((indexed, lag), (head, 0), "metrics");
        let o = self.cli(&["search", "--check", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["clean"], true, "{v}");
        assert_eq!(v["report"]["expected"], n, "{v}");
    }

    /// Waits until `/healthz` satisfies `ready`; returns (status, search
    /// entry). On a timeout the message shows the last answer.
    fn wait_health(
        &self,
        what: &str,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> (String, serde_json::Value) {
        let deadline = Instant::now() + RECOVERY;
        loop {
            let (status, search) = self.health();
            if ready(&search) {
                return (status, search);
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {status} {search}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends messages `from..to` while the index cannot be written, and
    /// shows the lag bound at work: within [`MAX_LAG`] the search entry is
    /// not `lagging`; past it, it is and the status is `degraded`;
    /// `/metrics` shows the index behind the head. (The head counts seal
    /// records too, so the lag may exceed the messages sent.)
    fn stalled_burst(&self, from: usize, to: usize) {
        assert!(to - from > MAX_LAG as usize + 1);
        self.send(from);
        let (_, search) = self.wait_health("the indexer failing", |s| {
            s["failing"] == true && s["lag"].as_u64() >= Some(1)
        });
        let lag = search["lag"].as_u64().unwrap();
        assert!(lag <= MAX_LAG, "{search}");
        assert_eq!(search["lagging"], false, "within the bound: {search}");
        for i in from + 1..to {
            self.send(i);
        }
        let behind = (to - from) as u64;
        let (status, search) = self.wait_health("the lag over the bound", |s| {
            s["lag"].as_u64() >= Some(behind)
        });
        assert_eq!(search["lagging"], true, "{search}");
        assert_eq!(status, "degraded", "{search}");
        let [indexed, head, lag] = self.metrics(SEARCH_METRICS);
        assert!(
            head >= indexed + behind && lag == head - indexed,
            "metrics: indexed {indexed}, head {head}, lag {lag}"
        );
        // Searches meanwhile are refused (the daemon reopens the index
        // between failed commits) or find only what was indexed before.
        if let Some(found) = self.found("palette") {
            assert!(found <= from, "{found} found while stalled");
        }
    }
}

/// One GET over HTTP/1.1; the body.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: mailseal\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (_, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    body.to_owned()
}

/// Waits until the daemon has an index in `dir` holding `n` messages.
fn indexed(s: &Setup, dir: &Path, n: usize) {
    wait_long("the index in its directory", || {
        (dir.join("meta.json").exists() && s.found("palette") == Some(n)).then_some(())
    });
}

#[test]
fn a_full_disk_under_the_index_does_not_stop_ingest_and_the_index_catches_up() {
    let s = setup();
    // The mounts are declared before the daemon, so it ends before they
    // are unmounted.
    let Some(fs) = Tmpfs::mount("4m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let dir = s.archive.join("search");
    let _unbind = Unmount(dir.clone());
    let _d = s.start();
    s.send(0);
    indexed(&s, &dir, 1);
    // The index moves to a small disk of its own: the daemon finds its
    // directory empty (the mount hides the old one) and rebuilds there.
    let mounted = std::process::Command::new("mount")
        .args(["--bind"])
        .arg(fs.path())
        .arg(&dir)
        .status()
        .unwrap();
    assert!(mounted.success());
    indexed(&s, &dir, 1);
    assert!(fs.path().join("meta.json").exists(), "index on the tmpfs");

    let filler = fs.fill("filler");
    s.stalled_burst(1, 9);
    std::fs::remove_file(&filler).unwrap();
    s.send(9);
    s.caught_up(10);
}

#[test]
fn an_unwritable_index_degrades_health_past_max_lag_until_caught_up() {
    let s = setup();
    let _d = s.start();
    s.send(0);
    let dir = s.archive.join("search");
    indexed(&s, &dir, 1);
    // Root writes anywhere, so it gets a full disk instead of a mode.
    let stall = Stall::new(&dir);
    s.stalled_burst(1, 2 * MAX_LAG as usize + 2);
    drop(stall);
    s.caught_up(2 * MAX_LAG as usize + 2);
}

/// Unmounts a bind mount on drop (nothing when it was never mounted).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let ok = std::process::Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
}

/// The index directory made unwritable: read-only for a normal user; for
/// root (who ignores modes) a read-only bind mount of it over itself.
/// Undone on drop.
struct Stall {
    /// The directory and the mode to restore.
    mode: Option<(PathBuf, u32)>,
    /// The bind mount to remove.
    _mount: Option<Unmount>,
}

impl Stall {
    fn new(dir: &Path) -> Stall {
        use std::os::unix::fs::PermissionsExt;
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if !root {
            let mode = std::fs::metadata(dir).unwrap().permissions().mode();
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();
            return Stall {
                mode: Some((dir.to_path_buf(), mode)),
                _mount: None,
            };
        }
        let bound = std::process::Command::new("mount")
            .arg("--bind")
            .arg(dir)
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(bound, "bind mount of the index directory");
        let guard = Unmount(dir.to_path_buf());
        let ro = std::process::Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ro, "read-only remount of the index directory");
        Stall {
            mode: None,
            _mount: Some(guard),
        }
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        if let Some((dir, mode)) = &self.mode {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(*mode));
        }
    }
}
