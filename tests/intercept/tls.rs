//! TLS on intercepted SMTP connections through the namespace gateway:
//! per-destination certificates for implicit TLS (465) and STARTTLS (25,
//! and submission on 587 with swaks),
//! refusal for a destination without one, certificates minted by a local
//! CA, and the blind `pass-unarchived` relay with its metric. The servers
//! are aiosmtpd with TLS on the server's own address; the client (Python
//! smtplib with its own CA file) talks to the *server's* address.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

use super::archived;
use crate::smtp_proxy::sha256;
use crate::support::corpus;
use crate::support::daemon::{Daemon, with_control};
use crate::support::netns::{self, Lab, Netns, OTHER_V4, SERVER_V4, SERVER_V6};
use crate::support::sink::{Sink, SinkOptions, SinkTls};
use crate::support::smtp::require;

/// A CA of the test, written as `NAME.pem` and `NAME.key`.
pub(super) struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub(super) pem: PathBuf,
    key_file: PathBuf,
}

pub(super) fn ca(dir: &Path, name: &str, common_name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let pem = dir.join(format!("{name}.pem"));
    let key_file = dir.join(format!("{name}.key"));
    std::fs::write(&pem, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    Ca {
        cert,
        key,
        pem,
        key_file,
    }
}

/// A server certificate for `names` signed by `ca`: (cert, key) files.
pub(super) fn leaf(dir: &Path, file: &str, names: &[&str], ca: &Ca) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names.clone()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, &names[0]);
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let (c, k) = (
        dir.join(format!("{file}.pem")),
        dir.join(format!("{file}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// Sends one message over TLS from the client namespace. `mode` is
/// `implicit` or `starttls`; the client verifies the server's certificate
/// with `cafile` for `name` (sent as SNI unless it is an address).
/// Prints `sent CODE ISSUER-CN`, `starttls-refused CODE`, `greeting CODE`
/// or `tls-failed ERROR`.
const SEND: &str = r#"
import smtplib, socket, ssl, sys
host, port, mode, name, cafile, path = sys.argv[1:7]
data = open(path, "rb").read()
ctx = ssl.create_default_context(cafile=cafile)
try:
    if mode == "implicit":
        raw = socket.create_connection((host, int(port)), timeout=30)
        tls = ctx.wrap_socket(raw, server_hostname=name)
        s = smtplib.SMTP(timeout=30)
        s.sock = tls
        code, _ = s.getreply()
        if code != 220:
            print("greeting", code)
            sys.exit(0)
    else:
        s = smtplib.SMTP(host, int(port), timeout=30)
        s.ehlo("client.test")
        s._host = name
        try:
            s.starttls(context=ctx)
        except smtplib.SMTPResponseException as e:
            print("starttls-refused", e.smtp_code)
            sys.exit(0)
        tls = s.sock
    issuer = dict(x[0] for x in tls.getpeercert()["issuer"])["commonName"]
    s.ehlo("client.test")
    s.mail("a@example.com")
    s.rcpt("b@example.org")
    code, _ = s.data(data)
    s.quit()
    print("sent", code, issuer)
except (ssl.SSLError, OSError, smtplib.SMTPServerDisconnected) as e:
    print("tls-failed", type(e).__name__)
"#;

fn send(
    client: &Netns,
    to: SocketAddr,
    mode: &str,
    name: &str,
    ca: &Path,
    message: &Path,
) -> String {
    let (host, port) = (to.ip().to_string(), to.port().to_string());
    let args = [host.as_ref(), port.as_ref(), mode.as_ref(), name.as_ref()];
    client.python(
        SEND,
        &[&args[..], &[ca.as_os_str(), message.as_os_str()]].concat(),
    )
}

/// An aiosmtpd with TLS on `port` of every server address.
fn tls_sink(lab: &Lab, port: u16, tls: SinkTls, cert: &(PathBuf, PathBuf)) -> Sink {
    let options = SinkOptions {
        tls,
        cert: Some(cert.clone()),
        ..SinkOptions::default()
    };
    Sink::in_netns_with(&lab.server.name, netns::at(SERVER_V4, port), &options)
}

/// Writes a config with `listeners` (already formatted `[[smtp_proxy]]`
/// tables) and the metrics endpoint on the gateway's loopback.
pub(super) fn write_config(dir: &Path, listeners: &str) -> PathBuf {
    let path = dir.join("mailseal.toml");
    let text = format!(
        "[archive]\npath = \"{}\"\n\n{listeners}\n[http]\nlisten = \"127.0.0.1:9425\"\n",
        dir.join("archive").display()
    );
    std::fs::write(&path, with_control(&path, text)).unwrap();
    path
}

#[test]
fn per_destination_certificates_for_implicit_tls_and_starttls_and_refusal_without_one() {
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    lab.gateway_rules(
        r#"
table inet mailseal {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "g1" tcp dport 25 redirect to :10025
        iifname "g1" tcp dport 465 redirect to :10465
        iifname "g1" tcp dport 587 redirect to :10587
    }
}
"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = ca(d, "ca", "mail CA");
    // The company's own server certificate, installed on the server and,
    // for its address, on the gateway; another server's entry comes first.
    let server = leaf(d, "server", &["mail.example.test", SERVER_V4], &ca);
    let other = leaf(d, "other", &["other.example.test"], &ca);
    let _starttls = tls_sink(&lab, 25, SinkTls::Starttls, &server);
    let implicit = tls_sink(&lab, 465, SinkTls::Implicit, &server);
    let submission = tls_sink(&lab, 587, SinkTls::Starttls, &server);
    let starttls = &_starttls;
    let listener = |name: &str, port: u16, mode: &str| {
        format!(
            r#"[[smtp_proxy]]
name = "{name}"
listen = "[::]:{port}"
intercept = "redirect"
intercept_destinations = [
    {{ network = "{SERVER_V4}/32", ports = [25, 465, 587] }},
    {{ network = "{SERVER_V6}/128", ports = [25, 465, 587] }},
]
tls_mode = "{mode}"
intercept_certificates = [
    {{ destinations = ["{OTHER_V4}/32"], names = ["other.example.test"], cert = "{oc}", key = "{ok}" }},
    {{ destinations = ["{SERVER_V4}/32"], names = ["mail.example.test", "{SERVER_V4}"], cert = "{sc}", key = "{sk}" }},
]
upstream_tls = "{upstream}"
upstream_ca = "{ca}"
upstream_tls_name = "mail.example.test"
hostname = "gateway.test"

"#,
            oc = other.0.display(),
            ok = other.1.display(),
            sc = server.0.display(),
            sk = server.1.display(),
            ca = ca.pem.display(),
            upstream = if mode == "implicit" {
                "implicit"
            } else {
                "starttls"
            },
        )
    };
    let listeners = listener("gw-25", 10025, "starttls")
        + &listener("gw-465", 10465, "implicit")
        + &listener("gw-587", 10587, "starttls");
    let config = write_config(d, &listeners);
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, netns::at("::", 10025));

    let first = corpus::message(21, 90_000);
    let second = corpus::message(22, 40_000);
    std::fs::write(d.join("1.eml"), &first).unwrap();
    std::fs::write(d.join("2.eml"), &second).unwrap();
    // STARTTLS to the address (no SNI): chosen by the original destination.
    let reply = send(
        &lab.client,
        netns::at(SERVER_V4, 25),
        "starttls",
        SERVER_V4,
        &ca.pem,
        &d.join("1.eml"),
    );
    assert_eq!(reply, "sent 250 mail CA", "{}", daemon.log());
    // Implicit TLS with SNI: chosen by name.
    let reply = send(
        &lab.client,
        netns::at(SERVER_V4, 465),
        "implicit",
        "mail.example.test",
        &ca.pem,
        &d.join("2.eml"),
    );
    assert_eq!(reply, "sent 250 mail CA", "{}", daemon.log());
    // Submission (587) with swaks, verifying the certificate.
    let third = corpus::message(23, 60_000);
    std::fs::write(d.join("3.eml"), &third).unwrap();
    let swaks = lab
        .client
        .command(require("swaks").to_str().unwrap())
        .args([
            "--server",
            SERVER_V4,
            "--port",
            "587",
            "--tls",
            "--tls-verify",
        ])
        .arg("--tls-ca-path")
        .arg(&ca.pem)
        .args(["--ehlo", "client.test", "--from", "a@example.com"])
        .args(["--to", "b@example.org", "--data"])
        .arg(format!("@{}", d.join("3.eml").display()))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&swaks.stdout);
    assert!(
        swaks.status.success(),
        "{said}{}\n{}",
        String::from_utf8_lossy(&swaks.stderr),
        daemon.log()
    );
    assert!(said.contains("<~  250 "), "{said}");

    // The IPv6 address has no certificate: refused both ways.
    let v6 = |port| netns::at(SERVER_V6, port);
    let reply = send(
        &lab.client,
        v6(25),
        "starttls",
        "mail.example.test",
        &ca.pem,
        &d.join("1.eml"),
    );
    assert_eq!(reply, "starttls-refused 454", "{}", daemon.log());
    let reply = send(
        &lab.client,
        v6(465),
        "implicit",
        "mail.example.test",
        &ca.pem,
        &d.join("1.eml"),
    );
    assert!(reply.starts_with("tls-failed"), "{reply}\n{}", daemon.log());

    assert_eq!(sha256(&starttls.wait_for(1)[0].content), sha256(&first));
    assert_eq!(sha256(&implicit.wait_for(1)[0].content), sha256(&second));
    // swaks ends the data with a line ending of its own before the dot.
    let third = [third.as_slice(), b"\r\n"].concat();
    assert_eq!(sha256(&submission.wait_for(1)[0].content), sha256(&third));
    daemon.stop();
    assert_eq!(starttls.messages().len(), 1, "a refusal delivers nothing");
    assert_eq!(implicit.messages().len(), 1, "a refusal delivers nothing");
    assert_eq!(
        archived(&daemon),
        [sha256(&first), sha256(&second), sha256(&third)]
    );
    let log = daemon.log();
    assert_eq!(log.matches("intercept-tls-refused").count(), 2, "{log}");
}

#[test]
fn minted_certificates_for_unknown_destinations_and_a_counted_blind_relay() {
    let Some(lab) = Lab::new() else {
        eprintln!("skipped: creating network namespaces needs root and iproute2");
        return;
    };
    lab.gateway_rules(
        r#"
table inet mailseal {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "g1" tcp dport 465 redirect to :10465
        iifname "g1" tcp dport 1465 redirect to :11465
    }
}
"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The foreign server's certificate comes from a public CA; the local
    // CA is the one the company's MTA trusts for minted certificates.
    let public = ca(d, "public", "public CA");
    let local = ca(d, "local", "mailseal local CA");
    let foreign = leaf(d, "foreign", &["mx.foreign.test"], &public);
    let mint_sink = tls_sink(&lab, 465, SinkTls::Implicit, &foreign);
    let blind_sink = tls_sink(&lab, 1465, SinkTls::Implicit, &foreign);
    let listener = |name: &str, port: u16, unknown: &str, extra: &str| {
        format!(
            r#"[[smtp_proxy]]
name = "{name}"
listen = "[::]:{port}"
intercept = "redirect"
intercept_destinations = [{{ network = "{SERVER_V4}/32", ports = [465, 1465] }}]
tls_mode = "implicit"
intercept_unknown_tls = "{unknown}"
{extra}
upstream_tls = "implicit"
upstream_ca = "{ca}"
upstream_tls_name = "unused.example.test"

"#,
            ca = public.pem.display(),
        )
    };
    let ca_keys = format!(
        "intercept_ca_cert = \"{}\"\nintercept_ca_key = \"{}\"",
        local.pem.display(),
        local.key_file.display()
    );
    let listeners = listener("gw-mint", 10465, "mint", &ca_keys)
        + &listener("gw-blind", 11465, "pass-unarchived", "");
    let config = write_config(d, &listeners);
    let mut daemon = Daemon::start_in_netns(&lab.gateway.name, &config, netns::at("::", 10465));
    let minted = corpus::message(23, 60_000);
    let blind = corpus::message(24, 30_000);
    std::fs::write(d.join("m.eml"), &minted).unwrap();
    std::fs::write(d.join("b.eml"), &blind).unwrap();
    let to = |port| netns::at(SERVER_V4, port);

    // Minted for the SNI, issued by the local CA; the upstream leg checked
    // the real server for that name (not upstream_tls_name).
    let reply = send(
        &lab.client,
        to(465),
        "implicit",
        "mx.foreign.test",
        &local.pem,
        &d.join("m.eml"),
    );
    assert_eq!(reply, "sent 250 mailseal local CA", "{}", daemon.log());
    // A client that trusts only the public CA rejects the minted one.
    let reply = send(
        &lab.client,
        to(465),
        "implicit",
        "mx.foreign.test",
        &public.pem,
        &d.join("m.eml"),
    );
    assert!(reply.starts_with("tls-failed"), "{reply}");
    // A name the real server's certificate does not carry: the client
    // accepts the minted certificate, the upstream check does not.
    let reply = send(
        &lab.client,
        to(465),
        "implicit",
        "evil.foreign.test",
        &local.pem,
        &d.join("m.eml"),
    );
    assert_eq!(reply, "greeting 421", "{}", daemon.log());

    // Blind: the client sees the server's own certificate.
    let reply = send(
        &lab.client,
        to(1465),
        "implicit",
        "mx.foreign.test",
        &public.pem,
        &d.join("b.eml"),
    );
    assert_eq!(reply, "sent 250 public CA", "{}", daemon.log());

    assert_eq!(sha256(&mint_sink.wait_for(1)[0].content), sha256(&minted));
    assert_eq!(sha256(&blind_sink.wait_for(1)[0].content), sha256(&blind));
    let metrics = lab.gateway.python::<&str>(
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9425/metrics').read().decode())",
        &[],
    );
    assert!(
        metrics
            .contains("mailseal_intercept_unarchived_connections_total{listener=\"gw-blind\"} 1"),
        "{metrics}"
    );
    daemon.stop();
    assert_eq!(mint_sink.messages().len(), 1);
    assert_eq!(
        archived(&daemon),
        [sha256(&minted)],
        "the blind relay archives nothing"
    );
    let log = daemon.log();
    assert!(log.contains("intercept-minted"), "{log}");
    assert!(log.contains("intercept-unarchived"), "{log}");
}
