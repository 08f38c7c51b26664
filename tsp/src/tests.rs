//! Tokens from a real OpenSSL TSA (tests/tools/tsa-setup.sh), accepted and
//! refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// A TSA made by the recipe in a fresh directory.
struct Tsa {
    /// The CA's and TSA's files.
    dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/tsa-setup.sh")
}

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .expect("run a tool");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Tsa {
    fn new(name: &str) -> Tsa {
        let dir = std::env::temp_dir().join(format!("mailseal-tsp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        run(
            Path::new("."),
            &["bash", script().to_str().unwrap(), dir.to_str().unwrap()],
        );
        Tsa {
            dir: tempdir::Dir(dir),
        }
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.0.join(f)
    }

    fn trust(&self) -> Trust {
        Trust::from_pem(&std::fs::read(self.path("ca.crt")).unwrap()).unwrap()
    }

    /// OpenSSL's answer to our request for `imprint`.
    fn reply(&self, imprint: &[u8; 32], nonce: &[u8]) -> Vec<u8> {
        std::fs::write(self.path("req.tsq"), request(imprint, nonce).unwrap()).unwrap();
        run(
            &self.dir.0,
            &[
                "openssl",
                "ts",
                "-reply",
                "-config",
                "tsa.cnf",
                "-queryfile",
                "req.tsq",
                "-out",
                "resp.tsr",
            ],
        );
        std::fs::read(self.path("resp.tsr")).unwrap()
    }

    /// Replaces the TSA certificate with one made from `ext` (openssl x509
    /// extension lines).
    fn reissue(&self, ext: &str) {
        std::fs::write(self.path("ext2.cnf"), ext).unwrap();
        run(
            &self.dir.0,
            &[
                "openssl",
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-out",
                "tsa.crt",
                "-extfile",
                "ext2.cnf",
            ],
        );
    }
}

const IMPRINT: [u8; 32] = [0x42; 32];
const NONCE: [u8; 16] = [0x11; 16];

#[test]
fn an_openssl_token_is_accepted_and_openssl_verifies_ours() {
    let tsa = Tsa::new("ok");
    let resp = tsa.reply(&IMPRINT, &NONCE);
    let token = token_of_response(&resp).unwrap();
    let stamp = check_token(&token, &IMPRINT, Some(&NONCE), &tsa.trust()).unwrap();
    assert_eq!(stamp.policy, "1.2.3.4.1");
    assert!(stamp.signer.contains("Test TSA"), "{}", stamp.signer);
    assert!(stamp.anchor.contains("Test Root"), "{}", stamp.anchor);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!(stamp.gen_time.as_secs().abs_diff(now.as_secs()) < 3600);
    // A stored token is checked without the nonce.
    assert!(check_token(&token, &IMPRINT, None, &tsa.trust()).is_ok());
}

#[test]
fn other_imprint_other_nonce_and_changed_bytes_are_refused() {
    let tsa = Tsa::new("mismatch");
    let token = token_of_response(&tsa.reply(&IMPRINT, &NONCE)).unwrap();
    let trust = tsa.trust();
    assert!(matches!(
        check_token(&token, &[0x43; 32], None, &trust),
        Err(TspError::Mismatch(_))
    ));
    assert!(matches!(
        check_token(&token, &IMPRINT, Some(&[0x12; 16]), &trust),
        Err(TspError::Mismatch(_))
    ));
    // No changed byte makes the token say something else: it is refused,
    // or (in unsigned parts no check needs, such as a second copy of the
    // certificate) the token still says exactly what it said.
    let original = check_token(&token, &IMPRINT, Some(&NONCE), &trust).unwrap();
    let mut refused = 0;
    for i in 0..token.len() {
        let mut t = token.clone();
        t[i] ^= 0x01;
        match check_token(&t, &IMPRINT, Some(&NONCE), &trust) {
            Err(_) => refused += 1,
            Ok(stamp) => assert_eq!(stamp, original, "flipped byte {i}"),
        }
    }
    assert!(refused > token.len() / 2, "{refused} of {}", token.len());
}

#[test]
fn garbage_and_refusals_are_reported() {
    assert!(matches!(
        token_of_response(b"<html>502</html>"),
        Err(TspError::Malformed(_))
    ));
    // PKIStatusInfo { status rejection(2), statusString {"no"} }
    let rejection = [
        0x30, 0x0b, 0x30, 0x09, 0x02, 0x01, 0x02, 0x30, 0x04, 0x0c, 0x02, b'n', b'o',
    ];
    match token_of_response(&rejection) {
        Err(TspError::Refused(m)) => assert!(m.contains("no"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_foreign_ca_or_a_certificate_without_critical_eku_is_untrusted() {
    let tsa = Tsa::new("untrusted");
    let other = Tsa::new("other-ca");
    let token = token_of_response(&tsa.reply(&IMPRINT, &NONCE)).unwrap();
    assert!(matches!(
        check_token(&token, &IMPRINT, None, &other.trust()),
        Err(TspError::Untrusted(_))
    ));
    // OpenSSL itself refuses to stamp with such a certificate, so the
    // certificate check is asked directly.
    tsa.reissue("extendedKeyUsage=timeStamping\nkeyUsage=critical,digitalSignature\n");
    let pem = std::fs::read(tsa.path("tsa.crt")).unwrap();
    let cert = Certificate::load_pem_chain(&pem).unwrap().remove(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    match tsa.trust().check_signer(&cert, &[], now) {
        Err(TspError::Untrusted(m)) => assert!(m.contains("time stamping"), "{m}"),
        other => panic!("{other:?}"),
    }
    tsa.reissue("extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n");
    let pem = std::fs::read(tsa.path("tsa.crt")).unwrap();
    let cert = Certificate::load_pem_chain(&pem).unwrap().remove(0);
    assert!(tsa.trust().check_signer(&cert, &[], now).is_ok());
    let later = now + std::time::Duration::from_secs(40 * 86400);
    assert!(matches!(
        tsa.trust().check_signer(&cert, &[], later),
        Err(TspError::Untrusted(_))
    ));
}
