//! Every message of CPython's `test_email` corpus (odd, old and broken mail
//! collected over twenty years) through `extract`, checked against
//! Python's own email parser: same subject, same From addresses, and the
//! words of every text part Python finds are in our text.

use std::collections::BTreeMap;
use std::process::Command;

use mailseal::search::extract::Extracted;

use super::{addrs, ex};
use crate::support::corpus;

/// What Python's `email` package reads from each file: subject, From
/// addresses, and the text of its text/* parts.
const PYTHON: &str = r#"
import email, email.policy, json, sys
out = {}
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    rec = {"subject": None, "from": [], "texts": []}
    try:
        if msg["subject"] is not None:
            rec["subject"] = str(msg["subject"])
    except Exception:
        pass
    try:
        if msg["from"] is not None:
            rec["from"] = [a.addr_spec.lower() for a in msg["from"].addresses if a.addr_spec]
    except Exception:
        pass
    for part in msg.walk():
        if part.get_content_maintype() == "text" and part.get_content_subtype() == "plain":
            try:
                rec["texts"].append(part.get_content())
            except Exception:
                pass
    out[path] = rec
print(json.dumps(out))
"#;

/// Python's reading of each file, by path.
fn python_reading(paths: &[String]) -> BTreeMap<String, serde_json::Value> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PYTHON)
        .args(paths)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python's JSON")
}

/// All text of `x` that search sees.
fn all_text(x: &Extracted) -> String {
    let mut t = x.body.clone();
    for a in &x.attachments {
        t.push('\n');
        t.push_str(&a.text);
    }
    t
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn cpython_corpus_agrees_with_pythons_email_parser() {
    let files = corpus::cpython_messages();
    assert!(
        files.len() >= 40,
        "CPython's test_email corpus not found (python3 with its test package)"
    );
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let python = python_reading(&paths);
    let mut disagreements = Vec::new();
    for path in &paths {
        let raw = std::fs::read(path).expect("corpus file");
        let x = ex(&raw);
        let py = &python[path];
        if let Some(subject) = py["subject"].as_str() {
            let ours = x.headers.subject.as_deref().map(collapse);
            if ours.as_deref() != Some(collapse(subject).as_str()) {
                disagreements.push(format!("{path}: subject {ours:?} vs python {subject:?}"));
            }
        }
        // Python calls a bare word (`From: foo`) or `<>` an addr_spec; we
        // keep the former as a display name, so compare real addresses.
        let py_from: Vec<&str> = py["from"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .filter(|a| a.contains('@'))
            .collect();
        if !py_from.is_empty() && addrs(&x.headers.from) != py_from {
            disagreements.push(format!(
                "{path}: from {:?} vs python {py_from:?}",
                addrs(&x.headers.from)
            ));
        }
        let text = collapse(&all_text(&x));
        for py_text in py["texts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
        {
            for word in py_text.split_whitespace().take(50) {
                if !text.contains(word) {
                    disagreements.push(format!("{path}: word {word:?} of a text part missing"));
                    break;
                }
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
