//! Soak and crash test through the network: the real `mailseal run` with
//! an SMTP proxy (in front of an aiosmtpd sink that keeps exactly what it
//! accepted), a journal listener, an IMAP proxy and a POP3 proxy (in front
//! of a private Dovecot; POP3 clients download what they put into their
//! own maildrops), driven by many concurrent clients while a chaos thread
//! SIGKILLs the daemon and restarts it on the same config, archive and
//! ports, and kills and restarts the sink. Afterwards (daemon stopped
//! gracefully) every acknowledged message must be in the archive exactly
//! as sent, so must everything the upstreams took, and `mailseal verify`,
//! `tests/tools/verify_archive.py` and `mailseal stats` must agree.
//!
//! Length: `MAILSEAL_SOAK_SECONDS` (default 25); a long run is
//! `MAILSEAL_SOAK_SECONDS=600 cargo test --release --test tests soak:: -- --nocapture`
//! or `bench/soak.sh 600`. `MAILSEAL_SOAK_SEED` repeats a run's load.

// The unique messages the clients send.
mod message;
// Per-client ledgers of attempts and acknowledgements.
mod ledger;
// The client loop: send, retry, reconnect, count.
mod client;
// A never-panicking SMTP client (proxy and journal).
mod smtp_client;
// A never-panicking IMAP APPEND client.
mod imap_client;
// A never-panicking POP3 client that fills its maildrop and downloads it.
mod pop3_client;
// The daemon, the sink and the chaos that kills them.
mod chaos;
// The archive as the library reads it afterwards.
mod held;
// The verdict: losses, corruption, tool agreement, figures.
mod check;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::support::dovecot::{self, Dovecot, free_port};
use chaos::Plant;
use check::Report;
use client::Job;
use ledger::{Lane, Path as Way};

/// Traffic with neither kill after the chaos stopped, so the run ends
/// with every way in working.
const CALM: Duration = Duration::from_secs(3);

/// One soak run.
struct Plan {
    /// Seconds of chaos.
    seconds: u64,
    /// Seconds between two strikes of the chaos, drawn uniformly.
    strike_every: (f64, f64),
    /// Clients per way in.
    clients: [(Way, usize); 4],
}

/// The daemon's listeners.
struct Listeners {
    /// `[[smtp_proxy]]`.
    smtp: SocketAddr,
    /// `[[journal]]`.
    journal: SocketAddr,
    /// `[[imap_proxy]]`.
    imap: SocketAddr,
    /// `[[pop3_proxy]]`.
    pop3: SocketAddr,
}

impl Listeners {
    fn new() -> Listeners {
        let any = || SocketAddr::from(([127, 0, 0, 1], free_port()));
        Listeners {
            smtp: any(),
            journal: any(),
            imap: any(),
            pop3: any(),
        }
    }

    fn of(&self, way: Way) -> SocketAddr {
        match way {
            Way::SmtpProxy => self.smtp,
            Way::Journal => self.journal,
            Way::ImapProxy => self.imap,
            Way::Pop3Proxy => self.pop3,
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The configuration every life of the daemon runs with.
fn config(dir: &Path, at: &Listeners, sink_port: u16, dovecot: &Dovecot) -> PathBuf {
    let path = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = \"{archive}\"\nseal_interval = \"2s\"\n\n\
         [[smtp_proxy]]\nname = \"mx\"\nlisten = \"{smtp}\"\n\
         upstream = \"127.0.0.1:{sink_port}\"\nhostname = \"mailseal.test\"\n\
         upstream_tls = \"none\"\n\n\
         [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\
         hostname = \"mailseal.test\"\nallowed_networks = [\"127.0.0.0/8\"]\n\n\
         [[imap_proxy]]\nname = \"imap\"\nlisten = \"{imap}\"\nupstream = \"{dovecot}\"\n\
         tls_mode = \"none\"\nupstream_tls = \"none\"\n\n\
         [[pop3_proxy]]\nname = \"pop3\"\nlisten = \"{pop3}\"\nupstream = \"{pop3_upstream}\"\n\
         upstream_tls = \"none\"\n\n\
         [http]\nenabled = false\n\n\
         [retention]\npurge = \"off\"\n[[retention.rule]]\nname = \"letters\"\nyears = 6\n",
        archive = dir.join("archive").display(),
        smtp = at.smtp,
        journal = at.journal,
        imap = at.imap,
        dovecot = dovecot.addr(),
        pop3 = at.pop3,
        pop3_upstream = dovecot.pop3_addr(),
    );
    std::fs::write(&path, crate::support::daemon::with_control(&path, text)).unwrap();
    path
}

/// Runs the clients and the chaos for `plan.seconds`; returns the clients'
/// ledgers.
fn drive(
    plan: &Plan,
    plant: &mut Plant,
    at: &Listeners,
    dovecot: &Dovecot,
    seed: u64,
) -> Vec<Lane> {
    let next = AtomicU64::new(1);
    let chaos_stop = AtomicBool::new(false);
    let client_stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut clients = Vec::new();
        let ways = plan
            .clients
            .iter()
            .flat_map(|&(w, n)| std::iter::repeat_n(w, n));
        for (lane, way) in ways.enumerate() {
            let job = Job {
                path: way,
                addr: at.of(way),
                seed,
                lane,
                next: &next,
                stop: &client_stop,
                dovecot,
            };
            if way == Way::Pop3Proxy {
                dovecot.add_user(&pop3_client::user(lane));
            }
            clients.push(s.spawn(move || match way {
                Way::ImapProxy => client::run::<imap_client::Imap>(&job),
                Way::Pop3Proxy => client::run::<pop3_client::Pop3>(&job),
                _ => client::run::<smtp_client::Smtp>(&job),
            }));
        }
        let chaos = s.spawn(|| plant.chaos(seed, plan.strike_every, &chaos_stop));
        std::thread::sleep(Duration::from_secs(plan.seconds));
        chaos_stop.store(true, Ordering::Relaxed);
        let struck = chaos.join();
        if struck.is_ok() {
            std::thread::sleep(CALM);
        }
        // Stop the clients before any panic is passed on: the scope waits
        // for them.
        client_stop.store(true, Ordering::Relaxed);
        let lanes = clients.into_iter().map(|c| c.join().unwrap()).collect();
        if let Err(panic) = struck {
            std::panic::resume_unwind(panic);
        }
        lanes
    })
}

/// Sets everything up, drives it, stops the daemon gracefully and judges.
fn run(plan: &Plan) -> Option<Report> {
    if !dovecot::pop3_available() {
        return None;
    }
    let seed = env_u64("MAILSEAL_SOAK_SEED").unwrap_or_else(|| rand::random::<u32>().into());
    println!("soak: seconds = {}, seed = {seed}", plan.seconds);
    let dovecot = Dovecot::pop3(None);
    let dir = tempfile::tempdir().unwrap();
    let at = Listeners::new();
    let sink_port = free_port();
    let config = config(dir.path(), &at, sink_port, &dovecot);
    let listens = vec![at.smtp, at.journal, at.imap, at.pop3];
    let mut plant = Plant::start(config, listens, sink_port);
    let lanes = drive(plan, &mut plant, &at, &dovecot, seed);
    plant.sample();
    // What the kills interrupted was completed at each restart; this purge
    // deletes what was imported for the last one, so every message left is
    // one a client sent.
    let purge = plant.daemon.cli(&["purge"]);
    plant.daemon.stop();

    let mut r = Report::default();
    let s = plant.strikes;
    r.fig("daemon SIGKILLs", s.daemon_kills);
    r.fig("daemon restarts", s.daemon_restarts);
    r.fig("daemon crashes (died unkilled)", s.daemon_crashes);
    r.fig("sink SIGKILLs", s.sink_kills);
    r.fig("sink restarts", s.sink_restarts);
    r.fig("daemon peak RSS (VmHWM) KiB", s.peak_rss_kib);
    r.fig("purges started before a kill", s.purges);
    r.fig("old messages imported for them", s.due_imported);
    if !purge.status.success() {
        r.problems.push(format!(
            "the final purge failed: {}",
            String::from_utf8_lossy(&purge.stderr)
        ));
    }
    if s.daemon_kills == 0 {
        r.problems
            .push("the run was too short for the chaos to kill the daemon".into());
    }
    if s.daemon_crashes > 0 {
        r.problems.push(format!(
            "the daemon died by itself {} times",
            s.daemon_crashes
        ));
    }
    let archive = dir.path().join("archive");
    let held = held::read(&archive);
    let sent: BTreeSet<String> = lanes
        .iter()
        .flat_map(|l| &l.sent)
        .map(|s| s.sha256.clone())
        .collect();
    let accepted = plant.accepted();
    let stored: Vec<(String, usize)> = (dovecot.stored("INBOX").iter())
        .map(|m| (message::sha256(m), m.len()))
        .collect();
    check::acknowledged(&mut r, &lanes, &held);
    check::upstreams(&mut r, &sent, &held, &accepted, &stored);
    check::nothing_foreign(&mut r, &sent, &held);
    if held.purged != s.due_imported {
        r.problems.push(format!(
            "{} old messages were imported to be purged, {} are purged",
            s.due_imported, held.purged
        ));
    }
    check::tools(&mut r, &plant.daemon, &archive, &held);
    check::log(&mut r, &plant.log());
    r.print();
    if !r.problems.is_empty() {
        // Keep the evidence: archive, config and every life's log.
        println!("soak: evidence kept in {}", dir.keep().display());
    }
    Some(r)
}

fn seconds() -> u64 {
    env_u64("MAILSEAL_SOAK_SECONDS").unwrap_or(25)
}

/// Runs `plan` and fails on any problem: every message a client saw
/// acknowledged, the sink accepted or Dovecot stored must be archived
/// intact.
fn soak(plan: &Plan) {
    let Some(r) = run(plan) else { return };
    assert!(
        r.problems.is_empty(),
        "{} problems: {:#?}",
        r.problems.len(),
        r.problems
    );
}

/// Every way in at once, daemon and upstream killed now and then.
#[test]
fn kill9_and_upstream_kills_under_load_lose_no_acknowledged_message() {
    soak(&Plan {
        seconds: seconds(),
        strike_every: (1.0, 4.0),
        clients: [
            (Way::SmtpProxy, 6),
            (Way::Journal, 4),
            (Way::ImapProxy, 3),
            (Way::Pop3Proxy, 3),
        ],
    });
}

/// IMAP only, killed often, so a kill often falls between Dovecot's tagged
/// OK and the archive commit (the proxy must not relay the OK before it).
#[test]
fn imap_appends_acknowledged_before_a_kill9_are_archived() {
    soak(&Plan {
        seconds: seconds(),
        strike_every: (0.3, 1.2),
        clients: [
            (Way::SmtpProxy, 0),
            (Way::Journal, 0),
            (Way::ImapProxy, 6),
            (Way::Pop3Proxy, 0),
        ],
    });
}

/// POP3 only, killed often, so a kill often falls between the archive
/// commit and a RETR's terminating `.`, or mid-body: a client that got
/// the `.` must find the message archived.
#[test]
fn pop3_downloads_completed_before_a_kill9_are_archived() {
    soak(&Plan {
        seconds: seconds(),
        strike_every: (0.3, 1.2),
        clients: [
            (Way::SmtpProxy, 0),
            (Way::Journal, 0),
            (Way::ImapProxy, 0),
            (Way::Pop3Proxy, 6),
        ],
    });
}
