//! TLS on both legs: mailseal's own STLS and implicit TLS towards the
//! client, STLS (required) and implicit TLS towards Dovecot, with the
//! upstream's certificate checked like every other proxy's.

use mailseal::config::{ClientTls, SmtpUpstreamTls, TlsFiles, TlsMode};
use mailseal::tls::UpstreamCa;

use super::*;
use crate::support::certs::TestCerts;

/// A Dovecot with TLS, and certificates for both legs.
async fn tls_server(dir: &std::path::Path) -> Option<(Dovecot, TestCerts)> {
    if !dovecot::pop3_available() {
        return None;
    }
    let certs = TestCerts::new(dir);
    let (cert, key) = (certs.cert.clone(), certs.key.clone());
    let server = tokio::task::spawn_blocking(move || Dovecot::pop3(Some((&cert, &key))))
        .await
        .unwrap();
    server.deliver(&awkward());
    Some((server, certs))
}

fn client_tls(certs: &TestCerts, mode: TlsMode) -> ClientTls {
    ClientTls {
        files: Some(TlsFiles {
            cert: certs.cert.clone(),
            key: certs.key.clone(),
        }),
        mode,
    }
}

const POPLIB_STLS: &str = r#"
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[4])
if sys.argv[5] == 'implicit':
    p = poplib.POP3_SSL('127.0.0.1', int(sys.argv[1]), context=ctx)
else:
    p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
    assert 'STLS' in p.capa()
    p.stls(context=ctx)
    assert 'STLS' not in p.capa()
p.user(sys.argv[2]); p.pass_(sys.argv[3])
_, lines, _ = p.retr(1)
p.quit()
sys.stdout.buffer.write(b'\r\n'.join(lines) + b'\r\n')
"#;

async fn download_over_tls(s: &Setup, certs: &TestCerts, mode: &str) -> Vec<u8> {
    let args = [
        s.proxy.port().to_string(),
        USER.into(),
        PASSWORD.into(),
        certs.ca.display().to_string(),
        mode.into(),
    ];
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(POPLIB_STLS)
        .args(&args)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn stls_on_the_client_leg_and_required_stls_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let Some((server, certs)) = tls_server(dir.path()).await else {
        return;
    };
    let s = setup_with(server, |config, _| {
        config.tls = client_tls(&certs, TlsMode::Starttls);
        config.upstream.tls = SmtpUpstreamTls::StarttlsRequired;
        config.upstream.ca = UpstreamCa::File(certs.ca.clone());
    })
    .await;
    let got = download_over_tls(&s, &certs, "stls").await;
    assert_eq!(got, awkward()[0]);
    let archived = archived(&s.archive);
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].1, awkward()[0]);
    assert!(
        archived[0].0.tls.is_some(),
        "the client leg's TLS is recorded"
    );
    let log = s.server.log();
    assert!(
        log.contains("secured") || log.contains("TLS"),
        "upstream not over TLS: {log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_tls_on_both_legs() {
    let dir = tempfile::tempdir().unwrap();
    let Some((server, certs)) = tls_server(dir.path()).await else {
        return;
    };
    let s = setup_with(server, |config, server| {
        config.tls = client_tls(&certs, TlsMode::Implicit);
        config.upstream =
            mailseal::config::Upstream::for_test(server.pop3s_addr(), SmtpUpstreamTls::Implicit);
        config.upstream.ca = UpstreamCa::File(certs.ca.clone());
    })
    .await;
    let got = download_over_tls(&s, &certs, "implicit").await;
    assert_eq!(got, awkward()[0]);
    let archived = archived(&s.archive);
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].1, awkward()[0]);
    assert!(archived[0].0.tls.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_certificate_that_does_not_verify_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some((server, _certs)) = tls_server(dir.path()).await else {
        return;
    };
    // The system roots do not know the test CA.
    let s = setup_with(server, |config, _| {
        config.upstream.tls = SmtpUpstreamTls::StarttlsRequired;
    })
    .await;
    let (mut c, greeting) = Raw::connect(s.proxy).await;
    assert!(greeting.starts_with("-ERR [SYS/TEMP]"), "{greeting}");
    assert_eq!(c.rest().await, b"", "closed");
}
