//! What takes seals off the box, against real peers on loopback: RFC 3161
//! time stamps from a local OpenSSL authority (refusing garbage, a wrong
//! imprint and an untrusted certificate, retrying, shown in `/healthz`,
//! `/metrics` and `stats`, and accepted by `openssl ts -verify`), and seals
//! mailed to an aiosmtpd witness over STARTTLS with AUTH, one of which
//! comes back through the journal without causing another seal.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use mail_parser::MimeHeaders;
use serde_json::Value;

use crate::support::certs::TestCerts;
use crate::support::corpus;
use crate::support::daemon::{Daemon, with_control};
use crate::support::sink::{Sink, SinkOptions, SinkTls};
use crate::support::smtp::{free_port, smtplib_send};
use crate::support::tsa::Tsa;
use crate::support::verifiers::{all_three, expect, mailseal_verify, python};
use crate::support::{WAIT, wait_until};

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n").unwrap().1.to_owned()
}

fn witness(health: &Value, name: &str) -> Value {
    health["witnesses"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["name"] == name).cloned())
        .unwrap_or(Value::Null)
}

fn send(dir: &Path, journal: SocketAddr, i: usize) {
    let p = dir.join(format!("m{i}.eml"));
    std::fs::write(&p, corpus::message(i, 2000)).unwrap();
    let reply = smtplib_send(journal, "a@example.com", "b@example.org", &p);
    assert!(reply.starts_with("250"), "{reply}");
}

fn stats(d: &Daemon) -> Value {
    let o = d.cli(&["stats", "--json"]);
    expect(&o, 0, "stats");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Every time-stamp frame's (imprint, token) from the segments.
fn stored_tokens(archive: &Path) -> Vec<(String, Vec<u8>)> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(archive.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    names.sort();
    for seg in names {
        let b = std::fs::read(seg).unwrap();
        let mut pos = 16;
        while pos + 13 <= b.len() {
            let len = u64::from_be_bytes(b[pos + 1..pos + 9].try_into().unwrap()) as usize;
            if b[pos] == b'T' {
                let v: Value = serde_json::from_slice(&b[pos + 9..pos + 9 + len]).unwrap();
                let token = base64::engine::general_purpose::STANDARD
                    .decode(v["token"].as_str().unwrap())
                    .unwrap();
                out.push((v["imprint"].as_str().unwrap().to_owned(), token));
            }
            pos += 13 + len;
        }
    }
    out
}

#[test]
fn seals_are_time_stamped_checked_retried_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let tsa = Tsa::start();
    let foreign = Tsa::start();
    tsa.require_auth("stamper:s3cret");
    let secret = dir.path().join("tsa.secret");
    std::fs::write(&secret, "stamper:s3cret\n").unwrap();
    let (journal, http) = (loopback(free_port()), loopback(free_port()));
    let archive = dir.path().join("archive");
    let config = dir.path().join("mailseal.toml");
    let text = format!(
        "[archive]\npath = \"{a}\"\nseal_interval = \"1s\"\n\n\
             [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
             [[timestamp]]\nname = \"local\"\nurl = \"{url}\"\nca_file = \"{ca}\"\n\
             credentials_file = \"{secret}\"\nretry = \"1s\"\n\n\
             [[timestamp]]\nname = \"foreign\"\nurl = \"{furl}\"\nca_file = \"{ca}\"\nretry = \"1s\"\n\n\
             [http]\nlisten = \"{http}\"\n",
        a = archive.display(),
        url = tsa.url,
        furl = foreign.url,
        ca = tsa.ca().display(),
        secret = secret.display(),
    );
    std::fs::write(&config, with_control(&config, text)).unwrap();
    let mut d = Daemon::start(&config, journal);
    for i in 0..3 {
        send(dir.path(), journal, i);
    }
    wait_until("a stamped tree head", || {
        let s = stats(&d);
        let local = s["proofs"]["timestamps"]
            .as_array()?
            .iter()
            .find(|a| a["authority"] == "local")?
            .clone();
        (local["stamped"].as_u64()? >= 1).then_some(())
    });
    assert!(
        tsa.requests().iter().all(|r| r.ends_with("auth=yes")),
        "{:?}",
        tsa.requests()
    );
    let h: Value = wait_until("the untrusted authority reported", || {
        let h: Value = serde_json::from_str(&get(http, "/healthz")).ok()?;
        (witness(&h, "timestamp:foreign")["ok"] == false).then_some(h)
    });
    let foreign_state = witness(&h, "timestamp:foreign");
    assert!(
        foreign_state["error"]
            .as_str()
            .unwrap()
            .contains("not trusted"),
        "{h}"
    );
    assert!(foreign_state["pending_seals"].as_u64().unwrap() >= 1, "{h}");
    assert_eq!(witness(&h, "timestamp:local")["ok"], true, "{h}");
    assert_eq!(h["status"], "degraded", "{h}");
    let metrics = get(http, "/metrics");
    assert!(
        metrics
            .contains("mailseal_witness_results_total{witness=\"timestamp:local\",result=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "mailseal_witness_results_total{witness=\"timestamp:foreign\",result=\"failed\"}"
        ),
        "{metrics}"
    );

    // Garbage and a token for another imprint are refused and reported;
    // once the authority answers properly again, the waiting seals are
    // stamped.
    for (mode, says) in [
        ("garbage", "malformed"),
        ("wrong-imprint", "another message imprint"),
    ] {
        tsa.set_mode(mode);
        send(dir.path(), journal, 10 + mode.len());
        wait_until(&format!("the {mode} answer reported"), || {
            let h: Value = serde_json::from_str(&get(http, "/healthz")).ok()?;
            let w = witness(&h, "timestamp:local");
            (w["ok"] == false && w["error"].as_str()?.contains(says)).then_some(())
        });
    }
    tsa.set_mode("ok");
    wait_until("every tree head stamped after recovery", || {
        let h: Value = serde_json::from_str(&get(http, "/healthz")).ok()?;
        let w = witness(&h, "timestamp:local");
        (w["ok"] == true && w["pending_seals"] == 0).then_some(())
    });
    d.stop();

    // The stored tokens are real RFC 3161 tokens: OpenSSL accepts them.
    let tokens = stored_tokens(&archive);
    assert!(tokens.len() >= 2, "{}", tokens.len());
    for (i, (imprint, token)) in tokens.iter().enumerate() {
        let f = dir.path().join(format!("token{i}.der"));
        std::fs::write(&f, token).unwrap();
        let o = Command::new("openssl")
            .args(["ts", "-verify", "-token_in", "-in"])
            .arg(&f)
            .args(["-digest", imprint, "-CAfile"])
            .arg(tsa.ca())
            .arg("-untrusted")
            .arg(tsa.cert())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(
            said.contains("Verification: OK"),
            "{said}{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // All three verifiers check the tokens against the CA, and refuse them
    // against another CA.
    let a = archive.to_str().unwrap();
    let ca = tsa.ca();
    let ca = ca.to_str().unwrap();
    let t = expect(&d.cli(&["verify", "--tsa-ca", ca]), 0, "mailseal verify");
    assert!(
        t.contains(&format!("{n} time stamps, {n} checked", n = tokens.len())),
        "{t}"
    );
    let t = expect(
        &mailseal_verify(&["archive", a, "--tsa-ca", ca]),
        0,
        "mailseal-verify",
    );
    assert!(
        t.contains(&format!("{n} time stamps ({n} checked)", n = tokens.len())),
        "{t}"
    );
    let t = expect(&python(&["archive", a, "--tsa-ca", ca]), 0, "python");
    assert!(
        t.contains(&format!("time stamps: {n} ({n} checked", n = tokens.len())),
        "{t}"
    );
    let other = foreign.ca();
    let other = other.to_str().unwrap();
    expect(
        &mailseal_verify(&["archive", a, "--tsa-ca", other]),
        1,
        "another CA",
    );
    expect(
        &python(&["archive", a, "--tsa-ca", other]),
        1,
        "python, another CA",
    );

    // A proof carries the tree head's time stamp.
    let proof = dir.path().join("1.proof.json");
    let o = d.cli(&["prove", "1"]);
    expect(&o, 0, "prove");
    std::fs::write(&proof, &o.stdout).unwrap();
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!doc["timestamps"].as_array().unwrap().is_empty(), "{doc}");
    let p = proof.to_str().unwrap();
    let t = expect(&mailseal_verify(&["proof", p, "--tsa-ca", ca]), 0, "proof");
    assert!(!t.contains(" 0 time stamps checked"), "{t}");
    expect(&python(&["proof", p, "--tsa-ca", ca]), 0, "python proof");
    expect(
        &mailseal_verify(&["proof", p, "--tsa-ca", other]),
        1,
        "proof, another CA",
    );
}

/// The attachment of a seal mail.
fn attachment(mail: &[u8]) -> Vec<u8> {
    let m = mail_parser::MessageParser::default().parse(mail).unwrap();
    let a = m
        .attachments()
        .next()
        .expect("a seal mail has an attachment");
    assert_eq!(a.attachment_name(), Some("mailseal-seals.json"));
    a.contents().to_vec()
}

#[test]
fn seals_are_mailed_and_a_returned_seal_mail_causes_no_seal() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::new(dir.path());
    let sink = Sink::start(SinkOptions {
        tls: SinkTls::Starttls,
        cert: Some((certs.cert.clone(), certs.key.clone())),
        auth: Some("sealer:pw".into()),
        auth_plain_ok: false,
    });
    let secret = dir.path().join("mail.secret");
    std::fs::write(&secret, "sealer:pw\n").unwrap();
    let journal = loopback(free_port());
    let archive = dir.path().join("archive");
    let config = dir.path().join("mailseal.toml");
    let text = format!(
        "[archive]\npath = \"{a}\"\nseal_interval = \"1s\"\n\n\
             [[journal]]\nname = \"journal\"\nlisten = \"{journal}\"\n\n\
             [seal_mail]\nhost = \"localhost\"\nport = {port}\ntls = \"starttls\"\n\
             ca = \"{ca}\"\ncredentials_file = \"{secret}\"\nfrom = \"mailseal@example.com\"\n\
             to = [\"advisor@example.net\"]\nmode = \"each\"\nretry = \"1s\"\n\n\
             [http]\nenabled = false\n",
        a = archive.display(),
        port = sink.addr.port(),
        ca = certs.ca.display(),
        secret = secret.display(),
    );
    std::fs::write(&config, with_control(&config, text)).unwrap();
    let mut d = Daemon::start(&config, journal);
    send(dir.path(), journal, 0);
    send(dir.path(), journal, 1);
    // Both records sealed and every seal mailed (one mail per seal).
    wait_until("both records sealed and mailed", || {
        let s = stats(&d);
        (s["last_seal"]["seq"] == 2 && s["proofs"]["mailed_seq"] == 2).then_some(())
    });
    let mails = sink.messages();
    let n0 = mails.len();
    assert!(n0 >= 1, "no seal mail arrived: {}", d.log());
    let last = &mails[n0 - 1];
    assert_eq!(last.meta["tls"], true);
    assert_eq!(last.meta["login"], "sealer");
    assert_eq!(last.meta["rcpt_tos"][0], "advisor@example.net");
    let text = String::from_utf8_lossy(&last.content);
    assert!(text.contains("X-Mailseal-Seal: "), "{text}");
    let kept = dir.path().join("seals.json");
    std::fs::write(&kept, attachment(&last.content)).unwrap();
    let seals: Value = serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    assert_eq!(seals["seals"][0]["seq"], 2, "{seals}");

    // The mail comes back through journaling: archived, but no seal.
    let returned = dir.path().join("returned.eml");
    std::fs::write(&returned, &last.content).unwrap();
    let reply = smtplib_send(
        journal,
        "mailseal@example.com",
        "journal@archive.test",
        &returned,
    );
    assert!(reply.starts_with("250"), "{reply}");
    wait_until("the returned seal mail archived", || {
        (stats(&d)["records"].as_u64()? == 3).then_some(())
    });
    // Three seal intervals pass without a seal or a mail.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        stats(&d)["last_seal"]["seq"],
        2,
        "a returned seal mail caused a seal"
    );
    assert_eq!(
        sink.messages().len(),
        n0,
        "a returned seal mail caused another mail"
    );

    // Real mail is sealed again, the returned mail with it.
    send(dir.path(), journal, 2);
    let mails = sink.wait_for(n0 + 1);
    assert_eq!(mails.len(), n0 + 1, "{}", d.log());
    let next: Value = serde_json::from_slice(&attachment(&mails[n0].content)).unwrap();
    assert_eq!(next["seals"][0]["seq"], 4, "{next}");

    // The consistency proof against the mailed seal.
    let o = d.cli(&["prove", "--consistency", kept.to_str().unwrap()]);
    expect(&o, 0, "prove --consistency");
    let proof = dir.path().join("consistency.json");
    std::fs::write(&proof, &o.stdout).unwrap();
    d.stop();
    let (k, p, a) = (
        kept.to_str().unwrap(),
        proof.to_str().unwrap(),
        archive.to_str().unwrap(),
    );
    expect(
        &mailseal_verify(&["consistency", k, p]),
        0,
        "mailseal-verify consistency",
    );
    expect(
        &mailseal_verify(&["consistency", k, a]),
        0,
        "mailseal-verify against the archive",
    );
    expect(&python(&["consistency", k, p]), 0, "python consistency");
    expect(
        &d.cli(&["verify", "--seal", k]),
        0,
        "mailseal verify --seal",
    );

    // The history rewritten from the first record on and re-signed with
    // the box's own key: consistent on its own, refused by all three
    // verifiers against the seal the witness was mailed.
    let forked = dir.path().join("forked");
    std::fs::create_dir_all(forked.join("segments")).unwrap();
    let seg = Path::new("segments").join("000000000001.seg");
    std::fs::copy(archive.join(&seg), forked.join(&seg)).unwrap();
    let pem = std::fs::read_to_string(archive.join("seal.key")).unwrap();
    let key: ed25519_dalek::SigningKey =
        ed25519_dalek::pkcs8::DecodePrivateKey::from_pkcs8_pem(&pem).unwrap();
    crate::proofs::forge::rewrite(&forked.join(&seg), &key, |r| {
        if r["seq"] == 1 {
            r["body"]["mail_from"] = "ceo@example.com".into();
            // A forger writes the record in clear (its sealed fields need a key).
            if let Some(b) = r["body"].as_object_mut() {
                b.remove("sealed");
            }
        }
    });
    all_three(&forked, None, &[], 0, "rewritten, alone");
    all_three(
        &forked,
        None,
        &[&kept],
        1,
        "rewritten, with the mailed seal",
    );
    expect(
        &mailseal_verify(&["consistency", k, forked.to_str().unwrap()]),
        1,
        "mailseal-verify consistency with the rewritten archive",
    );
}
