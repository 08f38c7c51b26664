//! What the archive holds after clients used the proxy: uploads (APPEND,
//! with and without LITERAL+, MULTIAPPEND), whole fetches, completed partial
//! fetches, and nothing for folders that are not captured.

use std::time::Duration;

use super::{Raw, archived, imap, message, python, seed, setup, wait_archived};
use crate::support::dovecot::{PASSWORD, USER};

const APPEND_AND_FETCH: &str = r#"
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
seeded, new = open(sys.argv[4], 'rb').read(), open(sys.argv[5], 'rb').read()
if sys.argv[6] == 'append':
    typ, data = m.append('INBOX', None, None, new)
    print('append', typ, data[0].decode())
m.select('INBOX')
typ, data = m.uid('FETCH', '1:2', '(BODY[])')
bodies = [d[1] for d in data if isinstance(d, tuple)]
assert bodies == [seeded, new], 'fetched bytes differ'
print('fetch', typ, len(bodies))
m.logout()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_whole_fetch_are_archived_byte_exact_and_once() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let (seeded, new) = (message(1, 50_000), message(2, 3_000));
    seed(&s.dovecot, std::slice::from_ref(&seeded)).await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, &seeded).unwrap();
    std::fs::write(&b, &new).unwrap();
    let args = |step: &str| {
        let files = [
            a.display().to_string(),
            b.display().to_string(),
            step.to_owned(),
        ];
        [
            vec![s.proxy.port().to_string(), USER.into(), PASSWORD.into()],
            files.to_vec(),
        ]
        .concat()
    };
    let out = python(APPEND_AND_FETCH, &args("append")).await;
    assert!(
        out.contains("append OK [APPENDUID") && out.contains("fetch OK 2"),
        "{out}"
    );
    let found = wait_archived(&s.archive, 2).await;
    assert_eq!(
        s.dovecot.stored("INBOX"),
        vec![seeded.clone(), new.clone()],
        "Dovecot stored something else"
    );
    let got: Vec<(&str, Option<u32>, &[u8])> = found
        .iter()
        .map(|(m, b)| (imap(m).direction.as_str(), imap(m).uid, b.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            ("append", Some(2), &new[..]),
            ("fetch", Some(1), &seeded[..])
        ]
    );
    for (meta, _) in &found {
        let ctx = imap(meta);
        assert_eq!(
            (ctx.user.as_deref(), ctx.mailbox.as_deref()),
            (Some(USER), Some("INBOX"))
        );
        assert!(ctx.uidvalidity.is_some());
        assert_eq!(meta.auth_user.as_deref(), Some(USER));
    }
    // Fetching both again in a new session archives nothing new.
    let out = python(APPEND_AND_FETCH, &args("fetch")).await;
    assert!(out.contains("fetch OK 2"), "{out}");
    tokio::time::sleep(mailseal::imap::proxy::completer::GRACE + Duration::from_millis(500)).await;
    assert_eq!(archived(&s.archive).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_plus_and_multiappend_are_archived_with_their_uids() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let (one, two, three) = (message(1, 2_000), message(2, 70_000), message(3, 100));
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    c.send(format!("a1 APPEND INBOX (\\Seen) {{{}+}}\r\n", one.len()).as_bytes())
        .await;
    c.send(&one).await;
    c.send(b"\r\n").await;
    let reply = c.until("a1").await;
    assert!(reply.contains("a1 OK [APPENDUID"), "{reply}");
    c.send(format!("a2 APPEND INBOX {{{}+}}\r\n", two.len()).as_bytes())
        .await;
    c.send(&two).await;
    c.send(format!(" {{{}+}}\r\n", three.len()).as_bytes())
        .await;
    c.send(&three).await;
    c.send(b"\r\n").await;
    let reply = c.until("a2").await;
    assert!(reply.contains("a2 OK [APPENDUID"), "{reply}");
    let found = wait_archived(&s.archive, 3).await;
    let got: Vec<(Option<u32>, &[u8])> = found
        .iter()
        .map(|(m, b)| (imap(m).uid, b.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(1), &one[..]),
            (Some(2), &two[..]),
            (Some(3), &three[..])
        ]
    );
    assert!(found.iter().all(|(m, _)| imap(m).direction == "append"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_fetches_are_completed_without_touching_seen() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let msg = message(7, 20_000);
    seed(&s.dovecot, std::slice::from_ref(&msg)).await;
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    c.cmd("s1", "SELECT INBOX").await;
    let reply = c
        .cmd(
            "f1",
            "UID FETCH 1 (UID BODY.PEEK[HEADER] BODY.PEEK[1] BODY.PEEK[]<0.100>)",
        )
        .await;
    assert!(reply.contains("f1 OK"), "{reply}");
    let found = wait_archived(&s.archive, 1).await;
    assert_eq!(found.len(), 1, "the proxy did not complete the message");
    assert_eq!(found[0].1, msg);
    assert_eq!(imap(&found[0].0).direction, "proxy-fetch");
    assert_eq!(s.dovecot.stored("INBOX"), vec![msg]);
    // \Seen unchanged, as seen on a direct connection to Dovecot.
    let (mut direct, _) = Raw::connect(s.dovecot.addr()).await;
    direct.login().await;
    direct.cmd("s1", "EXAMINE INBOX").await;
    let flags = direct.cmd("f1", "UID FETCH 1 FLAGS").await;
    assert!(
        flags.contains("FLAGS (") && !flags.contains("\\Seen"),
        "{flags}"
    );
    // A second session fetching parts again adds nothing: the archive knows it.
    let (mut again, _) = Raw::connect(s.proxy).await;
    again.login().await;
    again.cmd("s1", "SELECT INBOX").await;
    again.cmd("f1", "UID FETCH 1 (UID BODY.PEEK[HEADER])").await;
    drop(again);
    tokio::time::sleep(mailseal::imap::proxy::completer::GRACE + Duration::from_secs(1)).await;
    assert_eq!(archived(&s.archive).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_replays_authenticate_plain() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let msg = message(8, 3_000);
    seed(&s.dovecot, std::slice::from_ref(&msg)).await;
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.send(b"a1 AUTHENTICATE PLAIN\r\n").await;
    assert!(c.line().await.starts_with('+'));
    // base64("\0alice\0secret")
    c.send(b"AGFsaWNlAHNlY3JldA==\r\n").await;
    assert!(c.until("a1").await.contains("a1 OK"));
    c.cmd("s1", "SELECT INBOX").await;
    c.cmd(
        "f1",
        "UID FETCH 1 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
    )
    .await;
    let found = wait_archived(&s.archive, 1).await;
    assert_eq!(found.len(), 1, "the proxy did not complete the message");
    assert_eq!(found[0].1, msg);
    let ctx = imap(&found[0].0);
    assert_eq!(
        (ctx.direction.as_str(), ctx.user.as_deref(), ctx.uid),
        ("proxy-fetch", Some(USER), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_are_not_captured_by_name_or_by_special_use() {
    let Some(s) = setup(|c, _| c.skip_append_folders.clear()).await else {
        return;
    };
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    // The proxy learns special use from the LIST crossing it.
    let list = c.cmd("l2", "LIST \"\" \"*\"").await;
    assert!(list.contains("\\Drafts"), "{list}");
    for (tag, folder, body) in [
        ("a1", "Drafts", &b"draft\r\n"[..]),
        ("a2", "Sent", &b"sent\r\n"[..]),
    ] {
        c.send(format!("{tag} APPEND {folder} {{{}+}}\r\n", body.len()).as_bytes())
            .await;
        c.send(body).await;
        c.send(b"\r\n").await;
        let reply = c.until(tag).await;
        assert!(reply.contains(&format!("{tag} OK")), "{reply}");
    }
    wait_archived(&s.archive, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let found = archived(&s.archive);
    assert_eq!(found.len(), 1, "a draft was archived");
    assert_eq!(
        (imap(&found[0].0).mailbox.as_deref(), found[0].1.as_slice()),
        (Some("Sent"), &b"sent\r\n"[..])
    );
    assert_eq!(
        s.dovecot.stored("Drafts").len(),
        1,
        "the draft still reached Dovecot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_folder_is_skipped_by_default_name() {
    let Some(s) = setup(|_, _| {}).await else {
        return;
    };
    let (mut c, _) = Raw::connect(s.proxy).await;
    c.login().await;
    c.send(b"a1 APPEND Drafts {7+}\r\ndraft\r\n\r\n").await;
    assert!(c.until("a1").await.contains("a1 OK"));
    c.send(b"a2 APPEND INBOX {6+}\r\nmail\r\n\r\n").await;
    assert!(c.until("a2").await.contains("a2 OK"));
    let found = wait_archived(&s.archive, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(archived(&s.archive).len(), 1);
    assert_eq!(found[0].1, b"mail\r\n");
}

const APPEND_ONE: &str = r#"
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.append('INBOX', None, None, open(sys.argv[4], 'rb').read())
print('append', typ, data[0].decode())
m.logout()
"#;

/// An APPEND is acknowledged only once archived: with the archive's disk
/// full the client gets `NO [UNAVAILABLE]` although Dovecot stored it, and
/// once space is back the retry gets `OK` and is archived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_the_archive_cannot_take_is_not_acknowledged() {
    if !crate::support::dovecot::available() {
        return;
    }
    let Some(disk) = crate::support::mount::Tmpfs::mount("16m") else {
        eprintln!("SKIPPED: mounting a test filesystem needs root");
        return;
    };
    let dovecot = tokio::task::spawn_blocking(|| crate::support::dovecot::Dovecot::start(None))
        .await
        .unwrap();
    let archive = mailseal::archive::Archive::open_dir(&disk.path().join("archive")).unwrap();
    let config = mailseal::config::ImapProxyConfig::for_test(
        "imap-full",
        "127.0.0.1:0".parse().unwrap(),
        dovecot.addr(),
    );
    let proxy = mailseal::imap::ImapProxy::bind(config, archive.clone())
        .await
        .unwrap();
    let port = proxy.local_addr().unwrap().port();
    let shutdown = mailseal::shutdown::Shutdown::new();
    tokio::spawn(proxy.serve(shutdown.clone()));

    let message = message(7, 20_000);
    let file = disk.path().join("..").join("message.eml");
    std::fs::write(&file, &message).unwrap();
    let args = vec![
        port.to_string(),
        USER.into(),
        PASSWORD.into(),
        file.display().to_string(),
    ];
    let filler = disk.fill("filler");
    let out = python(APPEND_ONE, &args).await;
    assert!(out.contains("append NO [UNAVAILABLE]"), "{out}");
    assert_eq!(dovecot.stored("INBOX"), vec![message.clone()]);
    assert!(archived(&archive).is_empty(), "archived while full?");

    std::fs::remove_file(&filler).unwrap();
    let out = python(APPEND_ONE, &args).await;
    assert!(out.contains("append OK [APPENDUID"), "{out}");
    let found = archived(&archive);
    assert_eq!(
        found.len(),
        1,
        "the retry is archived when it is acknowledged"
    );
    assert_eq!(found[0].1, message);
    shutdown.drain(Duration::from_secs(10)).await;
}
