//! Filling and reading a test Dovecot mailbox with Python's imaplib (an
//! independent client), and reading back what `mailseal import imap`
//! archived. Used by `tests/imap_import.rs` through `#[path]`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use mailseal::archive::ArchiveOptions;
use mailseal::archive::reader::Reader;
use mailseal::archive::record::ImportContext;
use mailseal::import::imap::utf7;

use crate::support::dovecot::{Dovecot, PASSWORD, USER};

/// Runs a Python script with the Dovecot port, user and password as its
/// first three arguments, then `args`; returns stdout.
pub fn py(dovecot: &Dovecot, script: &str, args: &[String]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dovecot.port.to_string())
        .arg(USER)
        .arg(PASSWORD)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        dovecot.log()
    );
    stdout
}

const LOGIN: &str = "import imaplib, sys, os, json, base64, re\n\
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))\n\
m.login(sys.argv[2], sys.argv[3])\n";

/// Creates `folder` (a Unicode name; sent in modified UTF-7).
pub fn create(dovecot: &Dovecot, folder: &str) {
    let script =
        format!("{LOGIN}t, d = m.create('\"' + sys.argv[4] + '\"')\nassert t == 'OK', d\n");
    py(dovecot, &script, &[utf7::encode(folder)]);
}

/// Deletes `folder`.
pub fn delete(dovecot: &Dovecot, folder: &str) {
    let script =
        format!("{LOGIN}t, d = m.delete('\"' + sys.argv[4] + '\"')\nassert t == 'OK', d\n");
    py(dovecot, &script, &[utf7::encode(folder)]);
}

/// APPENDs messages to `folder` with their flags (`""` or `"\\Seen \\Flagged"`).
pub fn append(dovecot: &Dovecot, folder: &str, messages: &[(Vec<u8>, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    for (i, (bytes, flags)) in messages.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:06}.eml")), bytes).unwrap();
        std::fs::write(dir.path().join(format!("{i:06}.flags")), flags).unwrap();
    }
    let script = format!(
        "{LOGIN}box = '\"' + sys.argv[4] + '\"'\n\
         for name in sorted(os.listdir(sys.argv[5])):\n\
         \x20   if not name.endswith('.eml'): continue\n\
         \x20   flags = open(os.path.join(sys.argv[5], name[:-4] + '.flags')).read()\n\
         \x20   data = open(os.path.join(sys.argv[5], name), 'rb').read()\n\
         \x20   t, d = m.append(box, '(' + flags + ')' if flags else None, None, data)\n\
         \x20   assert t == 'OK', d\n"
    );
    let args = [utf7::encode(folder), dir.path().display().to_string()];
    py(dovecot, &script, &args);
}

/// What the server holds in a folder: UIDVALIDITY, and per UID its flags
/// and its bytes as `BODY.PEEK[]` returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The folder's UIDVALIDITY.
    pub uidvalidity: u32,
    /// UID to (sorted flags, bytes).
    pub messages: BTreeMap<u32, (Vec<String>, Vec<u8>)>,
}

/// Reads a folder read-only (EXAMINE, PEEK).
pub fn snapshot(dovecot: &Dovecot, folder: &str) -> Snapshot {
    let script = format!(
        "{LOGIN}t, d = m.select('\"' + sys.argv[4] + '\"', readonly=True)\n\
         assert t == 'OK', d\n\
         print(json.dumps({{'uidvalidity': int(m.untagged_responses['UIDVALIDITY'][0])}}))\n\
         t, data = m.uid('FETCH', '1:*', '(UID FLAGS BODY.PEEK[])')\n\
         for item in data:\n\
         \x20   if not isinstance(item, tuple): continue\n\
         \x20   head = item[0].decode()\n\
         \x20   uid = int(re.search(r'UID (\\d+)', head).group(1))\n\
         \x20   flags = re.search(r'FLAGS \\(([^)]*)\\)', head).group(1).split()\n\
         \x20   print(json.dumps({{'uid': uid, 'flags': sorted(flags), 'body': base64.b64encode(item[1]).decode()}}))\n"
    );
    let out = py(dovecot, &script, &[utf7::encode(folder)]);
    let mut lines = out.lines();
    let head: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let mut messages = BTreeMap::new();
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let flags = v["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect();
        let body = base64::engine::general_purpose::STANDARD
            .decode(v["body"].as_str().unwrap())
            .unwrap();
        messages.insert(v["uid"].as_u64().unwrap() as u32, (flags, body));
    }
    Snapshot {
        uidvalidity: head["uidvalidity"].as_u64().unwrap() as u32,
        messages,
    }
}

/// One archived import record: its context and its bytes.
#[derive(Debug, Clone)]
pub struct Archived {
    /// Where the importer found it.
    pub context: ImportContext,
    /// The original bytes.
    pub bytes: Vec<u8>,
}

/// Every import record of the archive in `dir` (works while a daemon holds
/// the index: the reader then scans the segments).
pub fn archived(dir: &Path) -> Vec<Archived> {
    let reader = Reader::open(&ArchiveOptions::at(dir)).unwrap();
    let mut out = Vec::new();
    for s in reader.summaries().unwrap() {
        let (record, _) = reader.record(s.seq).unwrap();
        let Some(meta) = record.message() else {
            continue;
        };
        let Some(context) = meta.import.clone() else {
            continue;
        };
        let mut bytes = Vec::new();
        reader
            .write_content(&meta.content.sha256, &mut bytes)
            .unwrap();
        out.push(Archived { context, bytes });
    }
    out
}

/// The records of one folder, keyed by (UIDVALIDITY, UID); panics when a
/// key appears twice (a message archived twice).
pub fn by_uid(records: &[Archived], origin: &str) -> BTreeMap<(u32, u32), Vec<u8>> {
    let mut out = BTreeMap::new();
    for r in records.iter().filter(|r| r.context.origin == origin) {
        let key = (r.context.uidvalidity.unwrap(), r.context.uid.unwrap());
        let dup = out.insert(key, r.bytes.clone());
        assert!(dup.is_none(), "{origin} {key:?} archived twice");
    }
    out
}

/// `imap://alice@127.0.0.1/FOLDER`.
pub fn origin(folder: &str) -> String {
    format!("imap://{USER}@127.0.0.1/{folder}")
}
