//! Scheduled jobs: a message added to the server shows up in the archive
//! within one interval, through the library and inside `mailseal run`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailseal::archive::Archive;
use mailseal::config::{Config, ImapCredential, ImapImportConfig};
use mailseal::import::imap::schedule::spawn_jobs;
use mailseal::shutdown::Shutdown;

use super::mailbox::{append, archived, by_uid, origin, snapshot};
use super::{Lab, messages};
use crate::support::dovecot::USER;

/// Waits until the archive at `dir` holds `n` import records.
fn wait_for(dir: &Path, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let have = if dir.join("segments").exists() {
            archived(dir).len()
        } else {
            0
        };
        if have >= n || Instant::now() > deadline {
            return have;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_job_picks_up_a_new_message() {
    let Some(lab) = tokio::task::spawn_blocking(Lab::start).await.unwrap() else {
        return;
    };
    let lab = std::sync::Arc::new(lab);
    append(&lab.dovecot, "INBOX", &messages(0, 3));
    let archive = Archive::open_dir(&lab.archive()).unwrap();
    let mut config = Config::for_test(&lab.archive());
    let mut job = ImapImportConfig::for_test(
        "alice-inbox",
        lab.dovecot.addr(),
        USER,
        ImapCredential::PasswordFile(lab.password_file()),
    );
    job.interval = Duration::from_secs(1);
    config.imap_import.push(job);
    let shutdown = Shutdown::new();
    spawn_jobs(&config, &archive, &shutdown);

    let count = |archive: &Archive| {
        let reader = archive.reader();
        reader.summaries().unwrap().len()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&archive) < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&archive), 3);
    let l = lab.clone();
    tokio::task::spawn_blocking(move || append(&l.dovecot, "INBOX", &messages(100, 1)))
        .await
        .unwrap();
    let added = Instant::now();
    while count(&archive) < 4 && added.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&archive), 4, "picked up within the interval");
    shutdown.drain(Duration::from_secs(10)).await;
    let (record, _) = archive.reader().record(4).unwrap();
    let meta = record.message().unwrap();
    assert_eq!(meta.source.name, "alice-inbox");
    assert_eq!(meta.import.as_ref().unwrap().origin, origin("INBOX"));
}

/// `mailseal run` with one job every 2 s.
fn daemon(lab: &Lab) -> Child {
    let config = lab.dir.path().join("mailseal.toml");
    let toml = format!(
        "[archive]\npath = {:?}\n\n[[imap_import]]\nname = \"alice\"\nhost = \"127.0.0.1\"\n\
         port = {}\ntls = \"none\"\nuser = \"{USER}\"\npassword_file = {:?}\ninterval = \"2s\"\n\n\
         [http]\nenabled = false\n",
        lab.archive(),
        lab.dovecot.port,
        lab.password_file(),
    );
    std::fs::write(&config, crate::support::daemon::with_control(&config, toml)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .env_remove("MAILSEAL_CONFIG")
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn mailseal_run_imports_on_schedule() {
    let Some(lab) = Lab::start() else { return };
    append(&lab.dovecot, "INBOX", &messages(0, 4));
    let mut child = daemon(&lab);
    let first = wait_for(&lab.archive(), 4);
    append(&lab.dovecot, "INBOX", &messages(200, 2));
    let second = wait_for(&lab.archive(), 6);
    // SIGTERM: the daemon drains and exits 0.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!((first, second), (4, 6), "daemon log:\n{stderr}");
    assert!(status.success(), "{stderr}");
    let server = snapshot(&lab.dovecot, "INBOX");
    let got = by_uid(&archived(&lab.archive()), &origin("INBOX"));
    assert_eq!(got.len(), server.messages.len());
    lab.verify();
}
