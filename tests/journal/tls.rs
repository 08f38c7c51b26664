//! TLS on the journal: STARTTLS with `require_tls`, and implicit TLS.

use std::path::Path;

use mailseal::config::{ClientTls, TlsFiles, TlsMode};

use super::{Journal, swaks_ids};
use crate::support::smtp::{SmtpClient, swaks};

/// Writes a self-signed certificate for 127.0.0.1 into `dir`.
fn test_certificate(dir: &Path) -> TlsFiles {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, certified.cert.pem()).unwrap();
    std::fs::write(&files.key, certified.key_pair.serialize_pem()).unwrap();
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn required_tls_refuses_plain_mail_and_records_tls() {
    let journal = Journal::start(|c, dir| {
        c.tls = ClientTls {
            files: Some(test_certificate(dir)),
            mode: TlsMode::Starttls,
        };
        c.require_tls = true;
    })
    .await;
    let mut client = SmtpClient::connect(journal.addr).await;
    client.expect("220").await;
    let ehlo = client.cmd("EHLO plain.test", "250").await;
    assert!(ehlo.text().contains("STARTTLS"));
    client.cmd("MAIL FROM:<a@example.com>", "530 5.7.0").await;
    let args = [
        "--from",
        "a@example.com",
        "--to",
        "journal@journal.test",
        "--tls",
    ];
    let out = swaks(journal.addr, &args);
    let (meta, _, _) = journal.stored(swaks_ids(&out)[0]);
    let tls = meta.tls.expect("tls recorded");
    assert!(tls.version.starts_with("TLS"), "{tls:?}");
    assert_eq!(journal.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_tls_listener() {
    let journal = Journal::start(|c, dir| {
        c.tls = ClientTls {
            files: Some(test_certificate(dir)),
            mode: TlsMode::Implicit,
        };
    })
    .await;
    let args = [
        "--from",
        "a@example.com",
        "--to",
        "journal@journal.test",
        "--tls-on-connect",
    ];
    let out = swaks(journal.addr, &args);
    let (meta, _, _) = journal.stored(swaks_ids(&out)[0]);
    assert!(meta.tls.is_some());
}
