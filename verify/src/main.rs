//! The `mailseal-verify` command. Exit codes: 0 everything checked out,
//! 1 a check failed (the problem is printed), 2 the command could not run
//! (usage, unreadable files).

use std::path::Path;
use std::process::ExitCode;

use mailseal_verify::{archive, proof};

const USAGE: &str = "mailseal-verify checks a copy of a mailseal archive, an export bundle, a
single proof, or that an archive extends a seal kept earlier, without
trusting the box (docs/verification.md).

Usage:
  mailseal-verify archive DIR [--public-key KEY] [--seal FILE]... [--tsa-ca FILE]...
                           [--master-key FILE]
  mailseal-verify bundle DIR [--public-key KEY] [--tsa-ca FILE]...
  mailseal-verify proof FILE [--message EML] [--public-key KEY] [--tsa-ca FILE]...
  mailseal-verify consistency OLD_SEAL NEW [--public-key KEY] [--tsa-ca FILE]...
KEY: a PEM file from `mailseal key show`, or the key in hex.
NEW: a consistency proof from `mailseal prove --consistency`, or an archive directory.
OLD_SEAL / --seal: a seal JSON file, or a seal mail's attachment.
--master-key FILE: the archive's master key file (archive.master_key_file,
  `master.key`); with it `archive` also reads DIR/keys/store, decrypts every
  encrypted content to its SHA-256 and opens every sealed record field;
  one whose key slot is destroyed counts as purged only when a tombstone
  (for an audit record: an audit-purge) names that slot. Without it,
  encrypted contents are checked as stored ciphertext.

Exit status: 0 every check passed, 1 a check failed (the first broken place
is printed), 2 the command could not run.";

/// Why the command stopped.
enum Stop {
    /// A check failed.
    Failed(String),
    /// The command could not run.
    Error(String),
    /// `--help` or `--version`: print and exit 0.
    Help(String),
}

struct Args {
    /// Directories and files.
    positional: Vec<String>,
    /// `--public-key`.
    key: Option<String>,
    /// `--seal` files.
    seals: Vec<String>,
    /// `--tsa-ca` files.
    tsa: Vec<String>,
    /// `--message`: the `.eml` a proof is about.
    message: Option<String>,
    /// `--master-key`: the archive's master key file.
    master: Option<String>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, Stop> {
    let mut a = Args {
        positional: vec![],
        key: None,
        seals: vec![],
        tsa: vec![],
        message: None,
        master: None,
    };
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| Stop::Error(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--public-key" => a.key = Some(value()?),
            "--seal" => a.seals.push(value()?),
            "--tsa-ca" => a.tsa.push(value()?),
            "--message" => a.message = Some(value()?),
            "--master-key" => a.master = Some(value()?),
            "-h" | "--help" => return Err(Stop::Help(USAGE.into())),
            "-V" | "--version" => {
                return Err(Stop::Help(format!(
                    "mailseal-verify {}",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            s if s.starts_with("--") => {
                return Err(Stop::Error(format!("unknown option {s}\n{USAGE}")));
            }
            _ => a.positional.push(arg),
        }
    }
    Ok(a)
}

fn read(path: &str) -> Result<Vec<u8>, Stop> {
    std::fs::read(path).map_err(|e| Stop::Error(format!("{path}: {e}")))
}

/// The trusted key as hex, from a PEM file or hex.
fn key(arg: &Option<String>) -> Result<Option<String>, Stop> {
    let Some(k) = arg else { return Ok(None) };
    if k.len() == 64 && hex::decode(k).is_ok() {
        return Ok(Some(k.to_lowercase()));
    }
    let text = String::from_utf8(read(k)?).map_err(|_| Stop::Error(format!("{k}: not text")))?;
    let text = text.trim();
    if text.len() == 64 && hex::decode(text).is_ok() {
        return Ok(Some(text.to_lowercase()));
    }
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let pem = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .collect::<Vec<_>>()
        .join("\n");
    ed25519_dalek::VerifyingKey::from_public_key_pem(&pem)
        .map(|k| Some(hex::encode(k.as_bytes())))
        .map_err(|e| Stop::Error(format!("{k}: not an Ed25519 public key: {e}")))
}

fn trust(files: &[String]) -> Result<Option<mailseal_tsp::Trust>, Stop> {
    let mut t: Option<mailseal_tsp::Trust> = None;
    for f in files {
        let one = mailseal_tsp::Trust::from_pem(&read(f)?)
            .map_err(|e| Stop::Error(format!("{f}: {e}")))?;
        t.get_or_insert_with(Default::default).extend(one);
    }
    Ok(t)
}

/// The report's line on encryption (archive format 2.3).
fn encrypted(o: &archive::Outcome) -> String {
    let what = format!(
        "encrypted: {} contents ({} bytes of ciphertext), {} records with sealed fields",
        o.encrypted.0, o.encrypted.1, o.sealed.0
    );
    if !o.decrypted {
        return format!(
            "{what}; not decrypted (no --master-key): the ciphertext matches its hashes"
        );
    }
    format!(
        "{what}; decrypted with the master key: {} contents match their SHA-256, {} sealed records open; purged (key destroyed): {} contents, {} records, {} audit records; key store: {} live slots ({} unused), {} destroyed",
        o.encrypted.0.saturating_sub(o.purged.0),
        o.sealed.1,
        o.purged.0,
        o.purged.1,
        o.purged_audit,
        o.slots.0,
        o.slots.2,
        o.slots.1
    )
}

fn run(args: Vec<String>) -> Result<String, Stop> {
    let mut it = args.into_iter().peekable();
    if it.peek().is_some_and(|a| a.starts_with('-')) {
        parse(it)?;
        return Err(Stop::Error(USAGE.into()));
    }
    let command = it.next().ok_or_else(|| Stop::Error(USAGE.into()))?;
    let a = parse(it)?;
    if a.master.is_some() && command != "archive" {
        return Err(Stop::Error(
            "--master-key is an option of `archive` only".into(),
        ));
    }
    let master = a
        .master
        .as_deref()
        .map(|f| {
            mailseal_verify::keys::MasterKey::parse(&read(f)?)
                .map_err(|e| Stop::Error(format!("{f}: not a mailseal master key file: {e}")))
        })
        .transpose()?;
    let trusted = key(&a.key)?;
    let tsa = trust(&a.tsa)?;
    let one = |n: usize| -> Result<&str, Stop> {
        match a.positional.as_slice() {
            p if p.len() == n => Ok(p[0].as_str()),
            _ => Err(Stop::Error(USAGE.into())),
        }
    };
    let anchored = |yes: bool| {
        if yes {
            ""
        } else {
            " (no --public-key: the archive's own first key was trusted)"
        }
    };
    match command.as_str() {
        "archive" => {
            let dir = one(1)?;
            let mut kept = Vec::new();
            for f in &a.seals {
                kept.extend(
                    proof::kept_seals(&read(f)?).map_err(|e| Stop::Error(format!("{f}: {e}")))?,
                );
            }
            let opts = archive::Options {
                trusted: trusted.clone(),
                kept,
                tsa,
                master,
            };
            let o = archive::verify(Path::new(dir), &opts).map_err(|e| {
                // A master key that does not wrap the store is named as given.
                match (&a.master, e.kind()) {
                    (Some(f), std::io::ErrorKind::InvalidInput) => Stop::Error(format!("{f}: {e}")),
                    _ => Stop::Error(format!("{dir}: {e}")),
                }
            })?;
            if let Some(first) = o.problems.first() {
                let mut text = format!("FAILED: first broken place: {first}");
                for p in &o.problems[1..] {
                    text.push_str(&format!("\n  also: {p}"));
                }
                return Err(Stop::Failed(text));
            }
            Ok(format!(
                "ok: {} records, {} contents ({} bytes), {} seals, {} key rotations, {} time stamps ({} checked), {} kept seals; head {} {}; tree root {}{}\n{}",
                o.records,
                o.contents,
                o.content_bytes,
                o.seals,
                o.rotations,
                o.stamps.0,
                o.stamps.1,
                opts.kept.len(),
                o.head_seq,
                o.head_hash,
                o.root,
                anchored(trusted.is_some()),
                encrypted(&o)
            ))
        }
        "proof" => {
            let file = one(1)?;
            let message = a.message.as_deref().map(read).transpose()?;
            let p = proof::inclusion(
                &read(file)?,
                trusted.as_deref(),
                tsa.as_ref(),
                message.as_deref(),
            )
            .map_err(Stop::Failed)?;
            let msg = if message.is_some() {
                "; the message matches"
            } else {
                ""
            };
            Ok(format!(
                "ok: record {} is in the signed tree of {} records{msg}; {} time stamps checked{}",
                p.seq,
                p.size,
                p.stamps_checked,
                anchored(p.anchored)
            ))
        }
        "bundle" => {
            let dir = one(1)?;
            let (n, checked) = proof::bundle(Path::new(dir), trusted.as_deref(), tsa.as_ref())
                .map_err(Stop::Failed)?;
            Ok(format!(
                "ok: {n} messages, each proven in a signed tree; {checked} time stamps checked{}",
                anchored(trusted.is_some())
            ))
        }
        "consistency" => {
            if a.positional.len() != 2 {
                return Err(Stop::Error(USAGE.into()));
            }
            let (old, new) = (&a.positional[0], &a.positional[1]);
            let olds =
                proof::kept_seals(&read(old)?).map_err(|e| Stop::Error(format!("{old}: {e}")))?;
            let mut lines = Vec::new();
            for o in &olds {
                if Path::new(new).is_dir() {
                    let opts = archive::Options {
                        trusted: trusted.clone(),
                        kept: vec![o.clone()],
                        tsa: tsa.clone(),
                        master: None,
                    };
                    let r = archive::verify(Path::new(new), &opts)
                        .map_err(|e| Stop::Error(format!("{new}: {e}")))?;
                    if let Some(p) = r.problems.first() {
                        return Err(Stop::Failed(format!("FAILED: {p}")));
                    }
                    lines.push(format!(
                        "ok: the archive ({} records) extends the seal of {}",
                        r.head_seq, o.seq
                    ));
                } else {
                    let p = proof::consistency(o, &read(new)?, trusted.as_deref(), tsa.as_ref())
                        .map_err(Stop::Failed)?;
                    lines.push(format!(
                        "ok: the tree of {} records extends the seal of {}",
                        p.size, p.seq
                    ));
                }
            }
            Ok(lines.join("\n"))
        }
        _ => Err(Stop::Error(USAGE.into())),
    }
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(Stop::Failed(text)) => {
            println!("{text}");
            ExitCode::from(1)
        }
        Err(Stop::Error(text)) => {
            eprintln!("mailseal-verify: {text}");
            ExitCode::from(2)
        }
        Err(Stop::Help(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
    }
}
