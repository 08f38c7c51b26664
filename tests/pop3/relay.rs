//! Clients talking through the proxy: poplib downloading a corpus, the
//! logins (USER/PASS, APOP, AUTH) decided by the upstream, CAPA filtered.

use super::*;
use crate::support::corpus;

/// The CPython `test_email` messages (CRLF, as a POP3 server keeps
/// them), then the awkward ones.
fn corpus_messages() -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = corpus::cpython_messages()
        .iter()
        .map(|p| crlf(&std::fs::read(p).unwrap()))
        .collect();
    assert!(
        !messages.is_empty(),
        "CPython's test_email corpus is missing"
    );
    messages.extend(awkward());
    messages
}

const POPLIB_DOWNLOAD: &str = r#"
import poplib, sys, os
poplib._MAXLINE = 1 << 20  # the awkward messages have a 70 kB line
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.user(sys.argv[2]); p.pass_(sys.argv[3])
_, listing, _ = p.uidl()
for entry in listing:
    n, uid = entry.split()
    _, lines, _ = p.retr(int(n))
    open(os.path.join(sys.argv[4], n.decode()), 'wb').write(b'\r\n'.join(lines) + b'\r\n')
    print(n.decode(), uid.decode())
p.quit()
"#;

#[tokio::test(flavor = "multi_thread")]
async fn poplib_downloads_the_cpython_corpus_byte_exact_into_the_archive() {
    let messages = corpus_messages();
    let Some(s) = setup(&messages, |_, _| {}).await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let args = [
        s.proxy.port().to_string(),
        USER.into(),
        PASSWORD.into(),
        out.path().display().to_string(),
    ];
    let listing = python(POPLIB_DOWNLOAD, &args).await;
    let uidls: Vec<(usize, String)> = listing
        .lines()
        .map(|l| {
            let (n, uid) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), uid.to_owned())
        })
        .collect();
    assert_eq!(uidls.len(), messages.len());
    let archived = archived(&s.archive);
    assert_eq!(archived.len(), messages.len(), "one record per download");
    for (n, uid) in &uidls {
        let got = std::fs::read(out.path().join(n.to_string())).unwrap();
        assert_eq!(got, messages[n - 1], "message {n} at the client");
        let (meta, bytes) = archived
            .iter()
            .find(|(m, _)| pop3(m).uidl.as_deref() == Some(uid))
            .unwrap_or_else(|| panic!("message {n} ({uid}) not archived"));
        assert_eq!(bytes, &messages[n - 1], "message {n} in the archive");
        let context = pop3(meta);
        assert_eq!(context.user.as_deref(), Some(USER));
        assert_eq!(context.direction, "retr");
        assert_eq!(context.upstream, s.server.pop3_addr().to_string());
        assert_eq!(meta.source.kind.as_str(), "pop3-proxy");
        assert_eq!(meta.source.name, "pop3-test");
    }
    assert_eq!(
        s.server.count(),
        messages.len(),
        "QUIT without DELE deletes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn capa_drops_pipelining_and_the_servers_stls() {
    let Some(s) = setup(&[], |_, _| {}).await else {
        return;
    };
    let (mut direct, _) = Raw::connect(s.server.pop3_addr()).await;
    assert!(direct.cmd("CAPA").await.starts_with("+OK"));
    let (raw, _) = direct.body().await.unwrap();
    assert!(
        String::from_utf8_lossy(&raw).contains("PIPELINING\r\n"),
        "the server offers it"
    );
    let (mut c, _) = Raw::connect(s.proxy).await;
    assert!(c.cmd("CAPA").await.starts_with("+OK"));
    let (raw, _) = c.body().await.unwrap();
    let capa = String::from_utf8_lossy(&raw);
    for kept in ["TOP\r\n", "UIDL\r\n", "USER\r\n", "SASL PLAIN LOGIN\r\n"] {
        assert!(capa.contains(kept), "{kept} missing in {capa}");
    }
    assert!(
        !capa.contains("PIPELINING") && !capa.contains("STLS"),
        "{capa}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_the_upstreams_answer_and_nothing_is_kept() {
    let Some(s) = setup(&awkward(), |_, _| {}).await else {
        return;
    };
    let (mut direct, _) = Raw::connect(s.server.pop3_addr()).await;
    direct.cmd(&format!("USER {USER}")).await;
    let refused_direct = direct.cmd("PASS wrong").await;
    let (mut c, _) = Raw::connect(s.proxy).await;
    assert!(c.cmd(&format!("USER {USER}")).await.starts_with("+OK"));
    let refused = c.cmd("PASS wrong").await;
    assert!(refused.starts_with("-ERR"), "{refused}");
    assert_eq!(refused, refused_direct);
    assert!(c.cmd("RETR 1").await.starts_with("-ERR"));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    assert!(archived(&s.archive).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn apop_and_sasl_logins_are_relayed_and_name_the_user() {
    let messages = awkward();
    let Some(s) = setup(&messages, |_, _| {}).await else {
        return;
    };
    // APOP: the digest is over the upstream's greeting, relayed unchanged.
    let script = r#"
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.apop(sys.argv[2], sys.argv[3])
_, lines, _ = p.retr(1)
p.quit()
print(len(lines))
"#;
    let args = [s.proxy.port().to_string(), USER.into(), PASSWORD.into()];
    python(script, &args).await;
    // AUTH PLAIN with an initial response, AUTH LOGIN with challenges,
    // and the bare AUTH listing.
    let (mut c, _) = Raw::connect(s.proxy).await;
    assert!(c.cmd("AUTH").await.starts_with("+OK"));
    let (listing, _) = c.body().await.unwrap();
    assert!(String::from_utf8_lossy(&listing).contains("PLAIN"));
    let plain = b64(&format!("\0{USER}\0{PASSWORD}"));
    assert!(
        c.cmd(&format!("AUTH PLAIN {plain}"))
            .await
            .starts_with("+OK")
    );
    assert_eq!(c.retr(2).await.unwrap(), messages[1]);
    c.cmd("QUIT").await;
    let (mut c, _) = Raw::connect(s.proxy).await;
    assert!(c.cmd("AUTH LOGIN").await.starts_with("+ "));
    assert!(c.cmd(&b64(USER)).await.starts_with("+ "));
    assert!(c.cmd(&b64(PASSWORD)).await.starts_with("+OK"));
    assert_eq!(c.retr(3).await.unwrap(), messages[2]);
    c.cmd("QUIT").await;
    let archived = archived(&s.archive);
    assert_eq!(archived.len(), 3);
    for (meta, _) in &archived {
        assert_eq!(pop3(meta).user.as_deref(), Some(USER));
        assert_eq!(meta.auth_user.as_deref(), Some(USER));
    }
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopping_daemon_ends_sessions_before_update() {
    let messages = awkward();
    let Some(s) = setup(&messages, |_, _| {}).await else {
        return;
    };
    let mut c = Raw::login(s.proxy).await;
    assert_eq!(c.retr(1).await.unwrap(), messages[0]);
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    s.shutdown.token.cancel();
    let bye = c.line().await;
    assert!(bye.starts_with("-ERR [SYS/TEMP]"), "{bye}");
    assert_eq!(c.rest().await, b"", "closed");
    assert_eq!(
        s.server.count(),
        messages.len(),
        "no QUIT, so nothing deleted"
    );
    assert_eq!(archived(&s.archive).len(), 1);
}
