//! The TLS keys of an intercepting `[[smtp_proxy]]`: certificates per
//! destination, the choice for destinations without one, the minting CA,
//! and every mistake reported at once with its line.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

use super::super::*;
use super::{errors, parse};

/// A CA (`ca.pem`, `ca.key`), a leaf for `mail.example.com` it signed
/// (`leaf.pem`, `leaf.key`) and a key belonging to nothing (`stray.key`).
fn files(dir: &Path) -> impl Fn(&str) -> PathBuf {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["mail.example.com".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    write("ca.pem", ca.pem());
    write("ca.key", ca_key.serialize_pem());
    write("leaf.pem", leaf.pem());
    write("leaf.key", leaf_key.serialize_pem());
    write("stray.key", KeyPair::generate().unwrap().serialize_pem());
    let dir = dir.to_path_buf();
    move |name| dir.join(name)
}

#[test]
fn certificates_per_destination_and_a_minting_ca_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = files(dir.path());
    let text = format!(
        r#"
        [[smtp_proxy]]
        name = "gw"
        listen = "[::]:10465"
        intercept = "redirect"
        intercept_destinations = [{{ network = "192.0.2.0/24", ports = [25, 465] }}]
        tls_mode = "implicit"
        intercept_certificates = [
            {{ destinations = ["192.0.2.10/32"], names = ["mail.example.com", "*.example.com"], cert = "{leaf}", key = "{leaf_key}" }},
        ]
        intercept_unknown_tls = "mint"
        intercept_ca_cert = "{ca}"
        intercept_ca_key = "{ca_key}"
        upstream_tls = "implicit"
        upstream_tls_name = "mail.example.com"
        "#,
        leaf = f("leaf.pem").display(),
        leaf_key = f("leaf.key").display(),
        ca = f("ca.pem").display(),
        ca_key = f("ca.key").display(),
    );
    let config = parse(&text).unwrap();
    let proxy = &config.smtp_proxy[0];
    assert_eq!(proxy.tls.mode, TlsMode::Implicit);
    assert_eq!(proxy.tls.files, None, "no tls_cert needed");
    let tls = &proxy.upstream.address.intercept().unwrap().tls;
    assert_eq!(tls.unknown, UnknownTls::Mint);
    assert_eq!(tls.ca.as_ref().unwrap().cert, f("ca.pem"));
    let entry = &tls.certificates[0];
    assert!(entry.serves("MAIL.example.com"));
    assert!(
        entry.serves("smtp.example.com"),
        "one label under the wildcard"
    );
    assert!(
        !entry.serves("a.b.example.com"),
        "a wildcard covers one label"
    );
    assert!(!entry.serves("example.org"));
}

#[test]
fn intercept_tls_mistakes_are_all_reported_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let f = files(dir.path());
    let text = format!(
        r#"[[smtp_proxy]]
name = "fixed"
listen = "127.0.0.1:1"
upstream = "mail.example.com:25"
intercept_unknown_tls = "mint"

[[smtp_proxy]]
name = "mint-without-ca"
listen = "127.0.0.1:2"
intercept = "redirect"
intercept_destinations = [{{ network = "192.0.2.0/24", ports = [465] }}]
tls_mode = "implicit"
intercept_unknown_tls = "mint"
upstream_tls = "none"

[[smtp_proxy]]
name = "ca-without-mint"
listen = "127.0.0.1:3"
intercept = "redirect"
intercept_destinations = [{{ network = "192.0.2.0/24", ports = [465] }}]
intercept_ca_cert = "{ca}"
upstream_tls = "none"

[[smtp_proxy]]
name = "bad-entries"
listen = "127.0.0.1:4"
intercept = "redirect"
intercept_destinations = [{{ network = "192.0.2.0/24", ports = [25] }}]
intercept_certificates = [
    {{ destinations = ["192.0.2.10/32"], names = ["mail.example.com"], cert = "{leaf}", key = "{stray}" }},
    {{ names = [], cert = "{leaf}", key = "{leaf_key}" }},
]
upstream_tls = "none"

[[smtp_proxy]]
name = "blind-starttls"
listen = "127.0.0.1:5"
intercept = "redirect"
intercept_destinations = [{{ network = "192.0.2.0/24", ports = [25] }}]
tls_mode = "starttls"
intercept_unknown_tls = "pass-unarchived"
upstream_tls = "none"

[[smtp_proxy]]
name = "cert-and-unknown"
listen = "127.0.0.1:6"
intercept = "redirect"
intercept_destinations = [{{ network = "192.0.2.0/24", ports = [25] }}]
tls_cert = "{leaf}"
tls_key = "{leaf_key}"
intercept_unknown_tls = "refuse"
upstream_tls = "none"

[[smtp_proxy]]
name = "ca-not-a-ca"
listen = "127.0.0.1:7"
intercept = "redirect"
intercept_destinations = [{{ network = "192.0.2.0/24", ports = [465] }}]
tls_mode = "implicit"
intercept_unknown_tls = "mint"
intercept_ca_cert = "{leaf}"
intercept_ca_key = "{leaf_key}"
upstream_tls = "none"
"#,
        ca = f("ca.pem").display(),
        leaf = f("leaf.pem").display(),
        leaf_key = f("leaf.key").display(),
        stray = f("stray.key").display(),
    );
    let found = errors(&text);
    let got: Vec<(&str, Option<usize>)> = found
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.line))
        .collect();
    assert_eq!(
        got,
        [
            ("smtp_proxy[0].intercept_unknown_tls", Some(5)),
            ("smtp_proxy[1].intercept_ca_cert", Some(7)),
            ("smtp_proxy[2].intercept_ca_cert", Some(21)),
            ("smtp_proxy[3].intercept_certificates[0].key", Some(30)),
            ("smtp_proxy[3].intercept_certificates[1].names", Some(31)),
            ("smtp_proxy[4].intercept_unknown_tls", Some(41)),
            ("smtp_proxy[5].intercept_unknown_tls", Some(51)),
            ("smtp_proxy[6].intercept_ca_cert", Some(61)),
        ],
        "{found}"
    );
    assert!(
        found.to_string().contains("not a CA certificate"),
        "{found}"
    );
    assert!(
        found
            .to_string()
            .contains("stray.key: the key does not belong to the certificate"),
        "{found}"
    );
}
