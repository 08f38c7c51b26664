//! TLS on both legs: the proxy's own STARTTLS and implicit TLS towards the
//! client (test certificates from rcgen), and implicit TLS or STARTTLS
//! towards Dovecot with its certificate checked.

use mailseal::config::{ClientTls, HostPort, Target, TlsFiles, TlsMode};
use mailseal::tls::UpstreamCa;
use rustls_pki_types::ServerName;

use super::{Raw, Setup, imap, python, setup, setup_with, wait_archived};
use crate::support::certs::TestCerts;
use crate::support::dovecot::{self, Dovecot, PASSWORD, USER};
use crate::support::wait_for_log;

const TLS_CLIENT: &str = r#"
import imaplib, ssl, sys
port, mode, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if mode == 'implicit':
    m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
else:
    m = imaplib.IMAP4('127.0.0.1', port)
    print('before', ' '.join(m.capabilities))
    m.starttls(ssl_context=ctx)
print('after', ' '.join(m.capabilities))
m.login(sys.argv[4], sys.argv[5])
typ, data = m.append('INBOX', None, None, b'Subject: tls\r\n\r\nover tls\r\n')
print('append', typ)
m.logout()
"#;

/// A proxy with client-leg TLS in `mode` and its test certificates (kept
/// in the returned directory); `None` without Dovecot.
async fn tls_proxy(mode: TlsMode) -> Option<(Setup, TestCerts, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let files = TlsFiles {
        cert: certs.cert.clone(),
        key: certs.key.clone(),
    };
    let s = setup(|c, _| {
        c.tls = ClientTls {
            files: Some(files),
            mode,
        };
    })
    .await?;
    Some((s, certs, dir))
}

async fn client_leg(mode: TlsMode, name: &str) {
    let Some((s, certs, _dir)) = tls_proxy(mode).await else {
        return;
    };
    let args = [
        s.proxy.port().to_string(),
        name.into(),
        certs.ca.display().to_string(),
        USER.into(),
        PASSWORD.into(),
    ];
    let out = python(TLS_CLIENT, &args).await;
    if mode == TlsMode::Starttls {
        let before = out.lines().find(|l| l.starts_with("before")).unwrap();
        assert!(before.contains("STARTTLS"), "{out}");
    }
    let after = out.lines().find(|l| l.starts_with("after")).unwrap();
    assert!(
        !after.contains("STARTTLS"),
        "STARTTLS offered on a TLS leg: {out}"
    );
    assert!(out.contains("append OK"), "{out}");
    let found = wait_archived(&s.archive, 1).await;
    let tls = found[0]
        .0
        .tls
        .as_ref()
        .expect("record names the client TLS");
    assert!(tls.version.starts_with("TLSv1_"), "{tls:?}");
    assert_eq!(found[0].1, b"Subject: tls\r\n\r\nover tls\r\n");
    assert_eq!(imap(&found[0].0).direction, "append");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_on_the_client_leg() {
    client_leg(TlsMode::Starttls, "starttls").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_on_the_client_leg() {
    client_leg(TlsMode::Implicit, "implicit").await;
}

async fn upstream_leg(mode: TlsMode, ca_matches: bool) {
    if !dovecot::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let (cert, key) = (certs.cert.clone(), certs.key.clone());
    let dovecot = tokio::task::spawn_blocking(move || Dovecot::start(Some((&cert, &key))))
        .await
        .unwrap();
    let other = tempfile::tempdir().unwrap();
    // With another CA, which did not sign Dovecot's certificate, it must fail.
    let ca = if ca_matches {
        certs.ca.clone()
    } else {
        TestCerts::new(other.path()).ca
    };
    let s = setup_with(dovecot, |c, d| {
        let port = if mode == TlsMode::Implicit {
            d.tls_port.unwrap()
        } else {
            d.port
        };
        c.upstream.address = Target::Fixed(HostPort {
            host: "127.0.0.1".into(),
            port,
        });
        c.upstream.tls = mode;
        c.upstream.ca = UpstreamCa::File(ca);
        c.upstream.server_name = ServerName::try_from("localhost").unwrap().to_owned();
    })
    .await;
    let (mut c, greeting) = Raw::connect(s.proxy).await;
    if !ca_matches {
        assert!(
            greeting.starts_with("* BYE"),
            "an unverified upstream was accepted: {greeting}"
        );
        return;
    }
    assert!(greeting.starts_with("* OK"), "{greeting}");
    assert!(!greeting.contains("STARTTLS"), "{greeting}");
    c.login().await;
    c.send(b"a1 APPEND INBOX {9+}\r\nupstream\n\r\n").await;
    assert!(c.until("a1").await.contains("a1 OK"));
    assert_eq!(wait_archived(&s.archive, 1).await[0].1, b"upstream\n");
    wait_for_log(
        "Dovecot's TLS login",
        || s.dovecot.log(),
        |log| log.contains("user=<alice>") && log.contains(", TLS"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_to_the_upstream() {
    upstream_leg(TlsMode::Implicit, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_to_the_upstream() {
    upstream_leg(TlsMode::Starttls, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_certificate_is_checked() {
    upstream_leg(TlsMode::Implicit, false).await;
}

const OLD_TLS_CLIENT: &str = r#"
import imaplib, ssl, sys
port, mode, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for version in ('TLSv1', 'TLSv1_1', 'TLSv1_2'):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
    ctx.minimum_version = getattr(ssl.TLSVersion, version)
    ctx.maximum_version = getattr(ssl.TLSVersion, version)
    try:
        if mode == 'implicit':
            m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
        else:
            m = imaplib.IMAP4('127.0.0.1', port)
            m.starttls(ssl_context=ctx)
        print(version, 'accepted', m.sock.version())
        m.logout()
    except (ssl.SSLError, OSError, imaplib.IMAP4.error) as e:
        print(version, 'refused', type(e).__name__, e)
"#;

/// A client that offers only TLS 1.0 or 1.1 is refused at the handshake on
/// both kinds of TLS listener; the same client with TLS 1.2 gets in.
async fn old_versions_refused(mode: TlsMode, name: &str) {
    let Some((s, certs, _dir)) = tls_proxy(mode).await else {
        return;
    };
    let args = [
        s.proxy.port().to_string(),
        name.into(),
        certs.ca.display().to_string(),
    ];
    let out = python(OLD_TLS_CLIENT, &args).await;
    // Refused by mailseal (an alert from the server), not by this client's
    // OpenSSL declining to offer an old version.
    for old in ["TLSv1 refused", "TLSv1_1 refused"] {
        let line = out.lines().find(|l| l.starts_with(old));
        assert!(line.is_some_and(|l| l.contains("ALERT")), "{old}: {out}");
    }
    assert!(out.contains("TLSv1_2 accepted TLSv1.2"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_0_and_1_1_are_refused_with_implicit_tls() {
    old_versions_refused(TlsMode::Implicit, "implicit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_0_and_1_1_are_refused_after_starttls() {
    old_versions_refused(TlsMode::Starttls, "starttls").await;
}
