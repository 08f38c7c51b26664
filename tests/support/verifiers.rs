//! The three verifiers every proof test asks: `mailseal verify` (the
//! daemon's code), `mailseal-verify` (the standalone crate in `verify/`)
//! and the independent Python verifier (`tests/tools/verify_archive.py`),
//! plus an archive built through the command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::corpus;

/// Runs `mailseal --config ARCHIVE.toml ARGS`, the configuration naming
/// the archive in `archive` (`--archive` would open it read-only, and the
/// tests import, rotate keys and prove).
pub fn mailseal(archive: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--config")
        .arg(super::daemon::archive_config(archive))
        .args(args)
        .env_remove("MAILSEAL_CONFIG")
        .output()
        .unwrap()
}

/// Runs `mailseal --config CONFIG ARGS`.
pub fn mailseal_with(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MAILSEAL_CONFIG")
        .output()
        .unwrap()
}

/// The standalone verifier, built into the same target directory and
/// profile as `mailseal` on first use (`cargo test` builds only the tested
/// package's binaries; this builds the verifier crate's, and finds it
/// up to date when the workspace build made it).
pub fn standalone() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let bin = Path::new(env!("CARGO_BIN_EXE_mailseal"));
            let profile = bin.parent().expect("the binary's directory");
            let target = profile.parent().expect("the target directory");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .args(["build", "--quiet", "--locked", "-p", "mailseal-verify"])
                .arg("--target-dir")
                .arg(target)
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            if profile.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let out = build.output().unwrap();
            assert!(
                out.status.success(),
                "building mailseal-verify: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            profile.join("mailseal-verify")
        })
        .clone()
}

/// Runs `mailseal-verify ARGS`.
pub fn mailseal_verify(args: &[&str]) -> Output {
    Command::new(standalone()).args(args).output().unwrap()
}

/// Runs the Python verifier with `args`.
pub fn python(args: &[&str]) -> Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/verify_archive.py");
    Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap()
}

/// stdout and stderr together, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts the exit code, showing the output otherwise.
pub fn expect(o: &Output, code: i32, what: &str) -> String {
    let t = text(o);
    assert_eq!(o.status.code(), Some(code), "{what}: {t}");
    t
}

/// The archive's public key in hex (`mailseal key show`).
pub fn key_hex(archive: &Path) -> String {
    let o = mailseal(archive, &["key", "show"]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("ed25519 ").map(str::to_owned))
        .expect("key show prints the key")
}

/// Imports messages `range` (generated, ~`size` bytes) as `.eml` files;
/// closing the archive seals it.
pub fn import(archive: &Path, range: std::ops::Range<usize>, size: usize) {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = range
        .map(|i| {
            let p = dir.path().join(format!("m{i}.eml"));
            std::fs::write(&p, corpus::message(i, size)).unwrap();
            p.display().to_string()
        })
        .collect();
    let mut args = vec!["import", "eml"];
    args.extend(files.iter().map(String::as_str));
    expect(&mailseal(archive, &args), 0, "import");
}

/// All three verifiers on an archive: each must exit with `code`.
/// `extra` are options understood by all three (`--seal F`); `key` is
/// the trusted public key in hex.
pub fn all_three(archive: &Path, key: Option<&str>, seals: &[&Path], code: i32, what: &str) {
    let pem = key.map(|k| {
        let f = archive.with_extension("trusted.hex");
        std::fs::write(&f, k).unwrap();
        f
    });
    let mut m = vec!["verify".to_string()];
    let mut s = vec!["archive".to_string(), archive.display().to_string()];
    let mut p = vec!["archive".to_string(), archive.display().to_string()];
    if let (Some(k), Some(f)) = (key, &pem) {
        m.extend(["--public-key".into(), f.display().to_string()]);
        s.extend(["--public-key".into(), f.display().to_string()]);
        p.extend(["--key".into(), k.into()]);
    }
    for seal in seals {
        let f = seal.display().to_string();
        m.extend(["--seal".into(), f.clone()]);
        s.extend(["--seal".into(), f.clone()]);
        p.extend(["--seal".into(), f]);
    }
    let m: Vec<&str> = m.iter().map(String::as_str).collect();
    expect(
        &mailseal(archive, &m),
        code,
        &format!("{what}: mailseal verify"),
    );
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    expect(
        &mailseal_verify(&s),
        code,
        &format!("{what}: mailseal-verify"),
    );
    let p: Vec<&str> = p.iter().map(String::as_str).collect();
    expect(&python(&p), code, &format!("{what}: verify_archive.py"));
}

/// Every live key of the archive's key store: slot and key bytes.
pub fn live_keys(archive: &Path) -> Vec<(u64, [u8; 32])> {
    let store =
        mailseal::keystore::KeyStore::open_read_only(archive, &archive.join("master.key")).unwrap();
    (0..store.slots())
        .filter_map(|n| match store.get(n).unwrap() {
            mailseal::keystore::SlotState::Live { key, .. } => Some((n, *key.as_bytes())),
            _ => None,
        })
        .collect()
}

/// All three verifiers, with and without the master key, pass; returns
/// the Python verifier's output with the key.
pub fn all_verifiers_pass(config: &Path, archive: &Path) -> String {
    let a = archive.to_str().unwrap();
    let master = archive.join("master.key");
    let master = master.to_str().unwrap();
    expect(&mailseal_with(config, &["verify"]), 0, "mailseal verify");
    expect(
        &mailseal_with(config, &["verify", "--no-decrypt"]),
        0,
        "mailseal verify --no-decrypt",
    );
    expect(&python(&["archive", a]), 0, "python without the key");
    let s = mailseal_verify(&["archive", a]);
    assert_eq!(s.status.code(), Some(0), "mailseal-verify: {}", text(&s));
    let s = mailseal_verify(&["archive", a, "--master-key", master]);
    assert_eq!(
        s.status.code(),
        Some(0),
        "mailseal-verify --master-key: {}",
        text(&s)
    );
    expect(
        &python(&["archive", a, "--master-key", master]),
        0,
        "python with the key",
    )
}
