//! mbsync (isync) pulls a mailbox through the proxy: afterwards the archive
//! holds every message, byte-identical with what Dovecot stores.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::{message, seed, setup, wait_archived};
use crate::support::dovecot::{PASSWORD, USER};

/// An mbsync configuration pulling INBOX from `port` into `local`.
pub fn mbsync_config(port: u16, local: &Path) -> String {
    let local = local.display();
    format!(
        "IMAPAccount test\nHost 127.0.0.1\nPort {port}\nUser {USER}\nPass {PASSWORD}\nSSLType None\n\n\
         IMAPStore remote\nAccount test\n\n\
         MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n\
         Channel sync\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\nSyncState *\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbsync_pull_archives_every_message_byte_exact() {
    if Command::new("mbsync").arg("--version").output().is_err() {
        eprintln!("mbsync not installed; test skipped");
        return;
    }
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    const N: usize = 40;
    let messages: Vec<Vec<u8>> = (0..N).map(|i| message(i, 500 + (i % 7) * 40_000)).collect();
    seed(&s.dovecot, &messages).await;
    let local = tempfile::tempdir().unwrap();
    let rc = local.path().join("mbsyncrc");
    std::fs::write(&rc, mbsync_config(s.proxy.port(), local.path())).unwrap();
    let out = tokio::process::Command::new("mbsync")
        .arg("-c")
        .arg(&rc)
        .arg("-a")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "mbsync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let stored: BTreeSet<Vec<u8>> = s.dovecot.stored("INBOX").into_iter().collect();
    assert_eq!(
        stored,
        messages.iter().cloned().collect(),
        "Dovecot stored something else"
    );
    let found = wait_archived(&s.archive, N).await;
    let contents: BTreeSet<Vec<u8>> = found.iter().map(|(_, bytes)| bytes.clone()).collect();
    assert_eq!(
        contents.len(),
        N,
        "archive holds {} distinct messages",
        contents.len()
    );
    assert_eq!(contents, stored, "archived bytes differ from Dovecot's");
    // mbsync fetched every body itself: each is archived as a FETCH, with its UID.
    let fetched: BTreeSet<u32> = found
        .iter()
        .filter(|(m, _)| super::imap(m).direction == "fetch")
        .filter_map(|(m, _)| super::imap(m).uid)
        .collect();
    assert_eq!(
        fetched,
        (1..=N as u32).collect(),
        "every message is archived with its UID"
    );
    let synced = std::fs::read_dir(local.path().join("INBOX").join("new"))
        .unwrap()
        .count()
        + std::fs::read_dir(local.path().join("INBOX").join("cur"))
            .unwrap()
            .count();
    assert_eq!(synced, N, "mbsync did not get every message");
}

/// Runs mbsync pulling INBOX from `port` into a fresh Maildir; returns how
/// long it took.
async fn timed_pull(port: u16) -> std::time::Duration {
    let local = tempfile::tempdir().unwrap();
    let rc = local.path().join("mbsyncrc");
    std::fs::write(&rc, mbsync_config(port, local.path())).unwrap();
    let start = std::time::Instant::now();
    let out = tokio::process::Command::new("mbsync")
        .arg("-c")
        .arg(&rc)
        .arg("-a")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "mbsync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// Throughput, not correctness: mbsync pulling 2,000 messages of about
/// 20 kB straight from Dovecot and through the proxy (run in release mode:
/// `cargo test --release --test tests mbsync_throughput -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn mbsync_throughput() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    const N: usize = 2_000;
    let messages: Vec<Vec<u8>> = (0..N).map(|i| message(i, 20_000)).collect();
    seed(&s.dovecot, &messages).await;
    // The first pull builds Dovecot's caches; then alternate and keep the best.
    timed_pull(s.dovecot.port).await;
    let (mut direct, mut proxied) = (std::time::Duration::MAX, std::time::Duration::MAX);
    for _ in 0..3 {
        direct = direct.min(timed_pull(s.dovecot.port).await);
        proxied = proxied.min(timed_pull(s.proxy.port()).await);
    }
    let found = wait_archived(&s.archive, N).await;
    println!(
        "mbsync {N} messages: direct {direct:?}, through mailseal {proxied:?}, ratio {:.2}, archived {}",
        direct.as_secs_f64() / proxied.as_secs_f64(),
        found.len()
    );
}
