//! The file importers end to end (`import::eml`, `import::maildir`,
//! `import::mbox`): the input is written as an `.eml` file, as a Maildir
//! message and as an mbox file, and each reader imports it into a visitor
//! with a small spool, so spilling to disk is exercised too.
//!
//! Setting: byte 0 picks the spool's memory limit. Checked besides
//! "no panic":
//! - eml and Maildir take the file byte-exact, or refuse it exactly when
//!   `check_head` refuses its first bytes, as a per-file problem;
//! - mbox delivers exactly the splitter's complete messages whose head
//!   passes `check_head`, byte-exact and in order, and reports the others.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use mailseal::archive::Spool;
use mailseal::import::eml::{self, HEAD_LIMIT, check_head};
use mailseal::import::mbox::{Event, Splitter};
use mailseal::import::{Found, ImportError, ImportFailure, Visitor, maildir, mbox};
use mailseal_fuzz::settings;

fuzz_target!(|data: &[u8]| {
    let ([limit], input) = settings::<1>(data);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut v = Collect {
        spool_dir: dir.path().to_path_buf(),
        limit: usize::from(limit) * 16,
        messages: Vec::new(),
        failures: Vec::new(),
    };
    let head_ok = check_head(&input[..input.len().min(HEAD_LIMIT)]).is_ok();

    let eml_file = dir.path().join("m.eml");
    std::fs::write(&eml_file, input).expect("write eml");
    match eml::read(&eml_file, &mut v) {
        Ok(()) => assert!(
            head_ok && v.messages == [input],
            "eml import is not byte-exact"
        ),
        Err(e) => assert!(!head_ok && e.is_per_file(), "eml refusal {e}"),
    }

    v.messages.clear();
    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(md.join("cur")).expect("maildir");
    std::fs::write(md.join("cur").join("1.host:2,S"), input).expect("write maildir file");
    maildir::read(&md, &mut v).expect("maildir read");
    if head_ok {
        assert!(
            v.messages == [input] && v.failures.is_empty(),
            "maildir import is not byte-exact"
        );
    } else {
        assert!(
            v.messages.is_empty() && v.failures.len() == 1,
            "maildir refusal"
        );
    }

    v.messages.clear();
    v.failures.clear();
    let mbox_file = dir.path().join("m.mbox");
    std::fs::write(&mbox_file, input).expect("write mbox");
    let expected = good_messages(input);
    match mbox::read(&mbox_file, &mut v) {
        Ok(()) => {
            let (good, all) = expected.expect("mbox::read took a file that is not an mbox");
            assert_eq!(v.messages, good, "mbox import differs from the splitter");
            assert_eq!(v.messages.len() + v.failures.len(), all, "messages lost");
        }
        Err(ImportError::NotMbox { .. } | ImportError::Empty { .. }) => {
            assert!(expected.is_none(), "an mbox was refused");
        }
        Err(e) => panic!("mbox import failed: {e}"),
    }
});

/// The messages of `input` an import should deliver, and how many messages
/// there are in all; `None` when `input` is not an mbox.
fn good_messages(input: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut s = Splitter::new();
    let mut preamble = false;
    let mut all: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut on = |ev: Event<'_>| -> Result<(), ()> {
        match ev {
            Event::Preamble(_) => preamble = true,
            Event::Start { .. } => all.push((Vec::new(), false)),
            Event::Data(b) => all.last_mut().map_or((), |m| m.0.extend_from_slice(b)),
            Event::End { complete } => all.last_mut().map_or((), |m| m.1 = complete),
        }
        Ok(())
    };
    let _ = s.feed(input, &mut on);
    let _ = s.finish(&mut on);
    if preamble || input.is_empty() {
        return None;
    }
    let count = all.len();
    let good = all
        .into_iter()
        .filter(|(b, complete)| *complete && check_head(&b[..b.len().min(HEAD_LIMIT)]).is_ok())
        .map(|(b, _)| b)
        .collect();
    Some((good, count))
}

/// A visitor that keeps what it is given.
struct Collect {
    spool_dir: PathBuf,
    limit: usize,
    messages: Vec<Vec<u8>>,
    failures: Vec<ImportFailure>,
}

impl Visitor for Collect {
    fn spool(&mut self) -> Spool {
        Spool::new(&self.spool_dir, self.limit)
    }

    fn message(&mut self, mut found: Found) -> Result<(), ImportError> {
        let bytes = found
            .content
            .to_vec()
            .map_err(|source| ImportError::Spool {
                path: found.origin.clone(),
                source,
            })?;
        assert_eq!(bytes.len() as u64, found.content.size, "spool size");
        self.messages.push(bytes);
        Ok(())
    }

    fn failure(&mut self, failure: ImportFailure) {
        self.failures.push(failure);
    }
}
