//! TLS on both legs and AUTH: STARTTLS and implicit TLS towards the
//! client with an rcgen certificate, STARTTLS and implicit TLS towards an
//! upstream verified against a private CA, and AUTH relayed to an upstream
//! that checks it, with the user recorded.

use mailseal::config::{ClientTls, SmtpUpstreamTls, TlsFiles, TlsMode};
use mailseal::tls::UpstreamCa;

use super::{Proxy, swaks_final};
use crate::support::certs::TestCerts;
use crate::support::sink::{Sink, SinkOptions, SinkTls};
use crate::support::smtp::{SmtpClient, swaks};

/// A sink with TLS (and maybe AUTH) using certificates signed by `certs`.
fn tls_sink(certs: &TestCerts, tls: SinkTls, auth: Option<&str>) -> Sink {
    Sink::start(SinkOptions {
        tls,
        cert: Some((certs.cert.clone(), certs.key.clone())),
        auth: auth.map(str::to_owned),
        auth_plain_ok: false,
    })
}

/// Client-leg TLS from `certs` and upstream TLS `mode` trusting its CA.
fn both_legs(
    certs: &TestCerts,
    client: TlsMode,
    upstream: SmtpUpstreamTls,
) -> impl FnOnce(&mut mailseal::config::SmtpProxyConfig, &std::path::Path) {
    let files = TlsFiles {
        cert: certs.cert.clone(),
        key: certs.key.clone(),
    };
    let ca = certs.ca.clone();
    move |c, _| {
        c.tls = ClientTls {
            files: Some(files),
            mode: client,
        };
        c.upstream.tls = upstream;
        c.upstream.ca = UpstreamCa::File(ca);
    }
}

const MAIL: [&str; 6] = [
    "--from",
    "a@example.com",
    "--to",
    "b@example.org",
    "--helo",
    "swaks.test",
];

#[tokio::test(flavor = "multi_thread")]
async fn starttls_on_both_legs() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let sink = tls_sink(&certs, SinkTls::Starttls, None);
    let configure = both_legs(&certs, TlsMode::Starttls, SmtpUpstreamTls::StarttlsRequired);
    let proxy = Proxy::start(sink.addr, configure).await;

    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("220").await;
    let ehlo = client.cmd("EHLO raw.test", "250").await;
    let text = ehlo.text();
    // STARTTLS is mailseal's own, offered once; the upstream's was used
    // by mailseal on its own leg.
    assert_eq!(text.matches("STARTTLS").count(), 1, "{text}");

    let out = swaks(proxy.addr, &[&MAIL[..], &["--tls"]].concat());
    assert!(swaks_final(&out).contains("250 2.0.0 Ok"), "{out:?}");
    let received = sink.wait_for(1);
    assert_eq!(received[0].meta["tls"], true, "upstream leg encrypted");
    let (_, meta, _) = proxy.latest();
    let tls = meta.tls.expect("client-leg TLS recorded");
    assert!(tls.version.starts_with("TLSv1_"), "{tls:?}");
    assert_eq!(meta.helo.as_deref(), Some("swaks.test"));
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_tls_on_both_legs() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let sink = tls_sink(&certs, SinkTls::Implicit, None);
    let configure = both_legs(&certs, TlsMode::Implicit, SmtpUpstreamTls::Implicit);
    let proxy = Proxy::start(sink.addr, configure).await;
    let out = swaks(proxy.addr, &[&MAIL[..], &["--tlsc"]].concat());
    assert!(swaks_final(&out).contains("250 2.0.0 Ok"), "{out:?}");
    let received = sink.wait_for(1);
    assert_eq!(received[0].meta["tls"], true);
    let (_, meta, _) = proxy.latest();
    assert!(meta.tls.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_upstream_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let sink = tls_sink(&certs, SinkTls::Starttls, None);
    let proxy = Proxy::start(sink.addr, |c, d| {
        // A CA that did not sign the upstream's certificate.
        let wrong = TestCerts::new(d);
        c.upstream.tls = SmtpUpstreamTls::StarttlsRequired;
        c.upstream.ca = UpstreamCa::File(wrong.ca);
    })
    .await;
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("421 4.4.1").await;
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_is_relayed_and_the_user_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let sink = tls_sink(&certs, SinkTls::Starttls, Some("alice:s3cret"));
    let configure = both_legs(&certs, TlsMode::Starttls, SmtpUpstreamTls::StarttlsRequired);
    let proxy = Proxy::start(sink.addr, configure).await;

    for (n, mechanism) in ["PLAIN", "LOGIN"].into_iter().enumerate() {
        let auth = [
            "--tls",
            "--auth",
            mechanism,
            "--auth-user",
            "alice",
            "--auth-password",
            "s3cret",
        ];
        let out = swaks(proxy.addr, &[&MAIL[..], &auth[..]].concat());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("235 "), "{mechanism}: {stdout}");
        assert!(swaks_final(&out).contains("250 2.0.0 Ok"), "{stdout}");
        let received = sink.wait_for(n + 1);
        assert_eq!(received[n].meta["login"], "alice", "upstream saw the login");
        let (_, meta, _) = proxy.latest();
        assert_eq!(meta.auth_user.as_deref(), Some("alice"), "{mechanism}");
    }

    // A wrong password gets the upstream's own refusal, byte for byte.
    let wrong = [
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "wrong",
    ];
    let out = swaks(proxy.addr, &[&MAIL[..], &wrong[..]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("535 5.7.8 Authentication credentials invalid"),
        "{stdout}"
    );
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_is_not_offered_on_a_plain_client_leg() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let sink = tls_sink(&certs, SinkTls::Starttls, Some("alice:s3cret"));
    let configure = both_legs(&certs, TlsMode::Starttls, SmtpUpstreamTls::StarttlsRequired);
    let proxy = Proxy::start(sink.addr, configure).await;
    let mut client = SmtpClient::connect(proxy.addr).await;
    client.expect("220").await;
    let ehlo = client.cmd("EHLO raw.test", "250").await;
    assert!(!ehlo.text().contains("AUTH"), "{ehlo}");
    client
        .cmd("AUTH PLAIN AGFsaWNlAHMzY3JldA==", "538 5.7.11")
        .await;
}
