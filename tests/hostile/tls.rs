//! TLS refusals: clients that offer only TLS 1.0/1.1 (OpenSSL's
//! `s_client`), upstream certificates for another name or from an unknown
//! CA, and certificate files that are missing or unreadable.
//!
//! Already covered elsewhere and not repeated here: an upstream from an
//! unknown CA refused with `421 4.4.1` (smtp_proxy::tls), a missing journal
//! certificate in `check-config` (cli).

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use crate::support::certs::TestCerts;
use crate::support::daemon::Daemon;
use crate::support::sink::{Sink, SinkOptions, SinkTls};
use crate::support::smtp::{SmtpClient, free_port, require};

use super::{Limits, Rig, Row, assert_bounded, assert_exactly, good_message, record, send_good};

/// Runs `openssl s_client` against `addr` with `args`; returns its output.
fn s_client(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new(require("openssl"))
        .args(["s_client", "-connect", &addr.to_string()])
        // Let the client offer old versions at all (OpenSSL 3 would not).
        .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_0_and_1_1_are_refused_at_the_handshake() {
    let mut rig = tokio::task::spawn_blocking(|| Rig::start(Limits::default()))
        .await
        .unwrap();
    let starttls: &[&str] = &["-starttls", "smtp"];
    let implicit: &[&str] = &[];
    for (addr, mode) in [(rig.journal, starttls), (rig.journal_tls, implicit)] {
        for old in ["-tls1", "-tls1_1"] {
            let out = s_client(addr, &[mode, &[old]].concat());
            // rustls answers a client without TLS 1.2+ with an alert
            // (handshake_failure) and no session is negotiated.
            let alert = out.contains("SSL alert number");
            assert!(alert, "{old} {mode:?}: no alert from mailseal: {out}");
            assert!(out.contains("Cipher is (NONE)"), "{old} {mode:?}: {out}");
        }
        // The same client with TLS 1.2 gets through: the refusal is the version's.
        let out = s_client(addr, &[mode, &["-tls1_2"]].concat());
        assert!(out.contains("New, TLSv1.2"), "{mode:?}: {out}");
    }
    let message = good_message("tls-versions", 10_000);
    let reply = send_good(rig.journal, &message).await;
    assert!(reply.starts_with("250"), "{reply}");
    let peak = assert_bounded(&rig);
    let intact = assert_exactly(&rig.finish(), &[message]);
    record(Row {
        scenario: "TLS 1.0/1.1 client",
        load: "1 journal message after",
        faults: "openssl s_client -tls1 / -tls1_1 on STARTTLS and implicit-TLS journals",
        acknowledged: 1,
        intact,
        peak_rss: peak,
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_upstream_certificate_is_refused_unless_verify_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let other = tempfile::tempdir().unwrap();
    let other_ca = TestCerts::new(other.path()).ca;
    let sink = Sink::start(SinkOptions {
        tls: SinkTls::Starttls,
        cert: Some((certs.cert.clone(), certs.key.clone())),
        ..SinkOptions::default()
    });
    let addr = |_| SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (named, insecure, right) = (addr(0), addr(1), addr(2));
    let proxy = |name: &str, listen: SocketAddr, ca: &std::path::Path, extra: &str| {
        format!(
            "[[smtp_proxy]]\nname = \"{name}\"\nlisten = \"{listen}\"\nupstream = \"{}\"\n\
             upstream_tls = \"starttls-required\"\nupstream_ca = \"{}\"\n{extra}\n",
            sink.addr,
            ca.display()
        )
    };
    let config = dir.path().join("mailseal.toml");
    let text = format!(
        "[archive]\npath = \"{}\"\n\n{}{}{}[http]\nenabled = false\n",
        dir.path().join("archive").display(),
        proxy(
            "wrong-name",
            named,
            &certs.ca,
            "upstream_tls_name = \"mail.other.test\""
        ),
        proxy(
            "verify-off",
            insecure,
            &other_ca,
            "upstream_tls_insecure = true"
        ),
        proxy("right", right, &certs.ca, ""),
    );
    std::fs::write(&config, crate::support::daemon::with_control(&config, text)).unwrap();
    let mut daemon = Daemon::start(&config, right);

    let mut client = SmtpClient::connect(named).await;
    client.expect("421 4.4.1").await;
    assert!(client.closed().await);
    let (a, b) = (
        good_message("verify-off", 5_000),
        good_message("right", 5_000),
    );
    for (listen, message) in [(insecure, &a), (right, &b)] {
        let reply = send_good(listen, message).await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert_eq!(sink.wait_for(2).len(), 2);
    daemon.stop();
    let verify = daemon.cli(&["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    let log = daemon.log();
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(sink.messages().len(), 2, "the wrong name got through");
}

#[test]
fn missing_or_unreadable_certificate_files_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let certs = TestCerts::new(d);
    let missing_cert = d.join("missing-cert.pem");
    let garbage_cert = d.join("garbage-cert.pem");
    std::fs::write(&garbage_cert, "not a certificate\n").unwrap();
    // A directory where a key file should be: it exists but cannot be read.
    let dir_key = d.join("key-is-a-directory");
    std::fs::create_dir(&dir_key).unwrap();
    let missing_ca = d.join("missing-ca.pem");
    let (cert, key) = (certs.cert.display(), certs.key.display());
    let text = format!(
        "[archive]\npath = \"{archive}\"\n\n\
         [[journal]]\nname = \"j\"\nlisten = \"127.0.0.1:0\"\n\
         tls_cert = \"{garbage}\"\ntls_key = \"{key}\"\n\n\
         [[smtp_proxy]]\nname = \"mx\"\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:25\"\n\
         tls_cert = \"{missing}\"\ntls_key = \"{key}\"\nupstream_ca = \"{ca}\"\n\n\
         [[imap_proxy]]\nname = \"imap\"\nlisten = \"127.0.0.1:0\"\n\
         upstream = \"127.0.0.1:143\"\ntls_cert = \"{cert}\"\ntls_key = \"{dir_key}\"\n",
        archive = d.join("archive").display(),
        garbage = garbage_cert.display(),
        missing = missing_cert.display(),
        ca = missing_ca.display(),
        dir_key = dir_key.display(),
    );
    let config = d.join("mailseal.toml");
    std::fs::write(&config, crate::support::daemon::with_control(&config, text)).unwrap();
    for command in ["check-config", "run"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mailseal"))
            .arg("--config")
            .arg(&config)
            .arg(command)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{command}: {said}");
        assert!(!said.contains("panicked"), "{command}: {said}");
        for file in [&garbage_cert, &missing_cert, &missing_ca, &dir_key] {
            let name = file.display().to_string();
            assert!(
                said.contains(&name),
                "{command} does not name {name}:\n{said}"
            );
        }
    }
}
