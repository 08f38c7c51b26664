//! What happens when something fails, and fetchmail as a real client: a
//! client is never given the terminating `.` of a message the archive
//! does not hold, and a session that fails never reaches UPDATE (the
//! server deletes nothing).

use std::os::unix::fs::PermissionsExt as _;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;

use super::*;
use crate::support::daemon::{Daemon, with_control};

#[tokio::test(flavor = "multi_thread")]
async fn fetchmail_downloads_and_deletes_only_what_the_archive_holds() {
    let messages: Vec<Vec<u8>> = (0..25)
        .map(|i| crate::support::corpus::message(i, 4_000 + i * 500))
        .chain(awkward())
        .collect();
    let Some(s) = setup(&messages, |_, _| {}).await else {
        return;
    };
    if std::process::Command::new("fetchmail")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("fetchmail not installed; test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let delivered = dir.path().join("delivered");
    std::fs::create_dir(&delivered).unwrap();
    let store = dir.path().join("store.sh");
    std::fs::write(
        &store,
        format!(
            "#!/bin/sh\ncat > {}/$(date +%s%N).$$\n",
            delivered.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rc = dir.path().join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "poll 127.0.0.1 protocol POP3 port {port} auth password\n  \
             user \"{USER}\" password \"{PASSWORD}\" is root here\n  \
             mda \"{mda}\" no keep fetchall sslproto ''\n",
            port = s.proxy.port(),
            mda = store.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = tokio::process::Command::new("fetchmail")
        .arg("--fetchmailrc")
        .arg(&rc)
        .arg("--pidfile")
        .arg(dir.path().join("pid"))
        .arg("--nosyslog")
        .env("FETCHMAILHOME", dir.path())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "fetchmail: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&delivered).unwrap().count(),
        messages.len()
    );
    assert_eq!(s.server.count(), 0, "fetchmail deleted every message");
    let mut stored: Vec<Vec<u8>> = archived(&s.archive).into_iter().map(|(_, b)| b).collect();
    let mut expected = messages.clone();
    stored.sort();
    expected.sort();
    assert_eq!(
        stored, expected,
        "every deleted message is in the archive, byte-exact"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_that_fails_closes_the_client_before_the_final_dot() {
    let messages = awkward();
    let Some(s) = setup(&messages, |_, _| {}).await else {
        return;
    };
    let archive = s.archive.clone();
    tokio::task::spawn_blocking(move || archive.close())
        .await
        .unwrap()
        .unwrap();
    let mut c = Raw::login(s.proxy).await;
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    assert!(c.cmd("RETR 1").await.starts_with("+OK"));
    assert_eq!(c.body().await, None, "closed without the terminating line");
    // No QUIT reached the server: nothing was deleted, both are there.
    let mut direct = Raw::login(s.server.pop3_addr()).await;
    assert_eq!(direct.retr(1).await.unwrap(), messages[0]);
    assert_eq!(direct.retr(2).await.unwrap(), messages[1]);
    direct.cmd("QUIT").await;
    assert_eq!(s.server.count(), messages.len());
}

/// A full disk under the archive, not a closed one: the client is closed
/// before the terminating `.`, the `DELE` it sent before never takes
/// effect (no UPDATE), and once space is back the same download is
/// archived and completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_archive_disk_closes_before_the_final_dot_and_deletes_nothing() {
    if !dovecot::pop3_available() {
        return;
    }
    let Some(disk) = crate::support::mount::Tmpfs::mount("16m") else {
        eprintln!("SKIPPED: mounting a test filesystem needs root");
        return;
    };
    let messages = vec![
        crate::support::corpus::message(5, 200_000),
        crate::support::corpus::message(6, 3_000),
    ];
    let server = tokio::task::spawn_blocking(|| Dovecot::pop3(None))
        .await
        .unwrap();
    server.deliver(&messages);
    let archive = Archive::open_dir(&disk.path().join("archive")).unwrap();
    let listen = "127.0.0.1:0".parse().unwrap();
    let config = Pop3ProxyConfig::for_test("pop3-full", listen, server.pop3_addr());
    let proxy = Pop3Proxy::bind(&config, &archive).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    let shutdown = Shutdown::new();
    proxy.serve(&shutdown);

    let filler = disk.fill("filler");
    let mut c = Raw::login(addr).await;
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    assert!(c.cmd("RETR 1").await.starts_with("+OK"));
    assert_eq!(c.body().await, None, "closed without the terminating line");
    assert!(archived(&archive).is_empty(), "archived on a full disk?");
    assert_eq!(server.count(), messages.len(), "nothing deleted");

    std::fs::remove_file(&filler).unwrap();
    let mut c = Raw::login(addr).await;
    assert_eq!(c.retr(1).await.as_ref(), Some(&messages[0]));
    c.cmd("QUIT").await;
    let found = archived(&archive);
    assert_eq!(
        found.len(),
        1,
        "the download is archived once space is back"
    );
    assert_eq!(found[0].1, messages[0]);
    shutdown.drain(Duration::from_secs(10)).await;
}

/// A POP3 server that dies in the middle of the first `RETR`.
async fn dying_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut conn = BufReader::new(socket);
        conn.get_mut().write_all(b"+OK fake\r\n").await.unwrap();
        let mut line = String::new();
        while conn.read_line(&mut line).await.unwrap() > 0 {
            let reply: &[u8] = match line.trim_end() {
                "UIDL 1" => b"+OK 1 uid-one\r\n",
                "RETR 1" => b"+OK 1000 octets\r\nSubject: cut\r\n\r\n..\r\n.half a li",
                _ => b"+OK\r\n",
            };
            conn.get_mut().write_all(reply).await.unwrap();
            if line.starts_with("RETR") {
                return;
            }
            line.clear();
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_dying_mid_retr_never_gives_the_client_a_final_dot() {
    let upstream = dying_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open_dir(dir.path()).unwrap();
    let config = Pop3ProxyConfig::for_test("pop3-test", "127.0.0.1:0".parse().unwrap(), upstream);
    let proxy = Pop3Proxy::bind(&config, &archive).await.unwrap();
    let addr = proxy.local_addr().unwrap();
    let shutdown = Shutdown::new();
    proxy.serve(&shutdown);
    let mut c = Raw::login(addr).await;
    assert!(c.cmd("RETR 1").await.starts_with("+OK"));
    let (mut raw, mut rest) = (Vec::new(), c.rest().await);
    raw.append(&mut rest);
    assert_eq!(
        raw, b"Subject: cut\r\n\r\n..\r\n.half a li",
        "relayed up to the break"
    );
    assert!(archived(&archive).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_retr_every_message_the_client_completed_is_archived() {
    if !dovecot::pop3_available() {
        return;
    }
    let messages: Vec<Vec<u8>> = (0..12)
        .map(|i| crate::support::corpus::message(i, 1_500_000))
        .collect();
    let server = tokio::task::spawn_blocking(|| Dovecot::pop3(None))
        .await
        .unwrap();
    server.deliver(&messages);
    let dir = tempfile::tempdir().unwrap();
    let listen = SocketAddr::from(([127, 0, 0, 1], crate::support::dovecot::free_port()));
    let archive_dir = dir.path().join("archive");
    let text = format!(
        "[archive]\npath = {archive:?}\n\n\
         [[pop3_proxy]]\nname = \"pop3\"\nlisten = \"{listen}\"\nupstream = \"{up}\"\n\
         upstream_tls = \"none\"\n\n[http]\nenabled = false\n",
        archive = archive_dir.display().to_string(),
        up = server.pop3_addr(),
    );
    let config = dir.path().join("mailseal.toml");
    std::fs::write(&config, with_control(&config, text)).unwrap();
    let mut daemon = Daemon::start(&config, listen);
    let mut c = Raw::login(listen).await;
    let mut completed = Vec::new();
    for n in 1..=8 {
        completed.push(c.retr(n).await.expect("completed before the kill"));
    }
    // Mid-RETR: the status line and the first lines are through.
    assert!(c.cmd("RETR 9").await.starts_with("+OK"));
    c.line().await;
    c.line().await;
    tokio::task::spawn_blocking(move || {
        daemon.kill9();
        daemon
    })
    .await
    .unwrap();
    assert_eq!(c.body().await, None, "no terminating line after the kill");
    let archive = Archive::open_dir(&archive_dir).unwrap();
    let stored: Vec<Vec<u8>> = archived(&archive).into_iter().map(|(_, b)| b).collect();
    for (i, message) in completed.iter().enumerate() {
        assert_eq!(message, &messages[i]);
        assert!(
            stored.contains(message),
            "message {} was completed but is not archived",
            i + 1
        );
    }
    assert_eq!(server.count(), messages.len(), "nothing deleted");
}
