//! PDF text, with pdf-extract (on lopdf) run so that a hostile file cannot
//! stall or crash the indexer:
//!
//! ```text
//!  caller ── copy of the bytes ──> worker thread "mailseal-pdf" (16 MiB stack)
//!    │                               load with the stream guard  (streams)
//!    │                               refuse loops and self-drawing forms  (structure)
//!    │                               pdf-extract ──> Sink (text cap, deadline)
//!    └── waits at most pdf_timeout ──<── text and problems, or a caught panic
//! ```
//!
//! pdf-extract and lopdf panic on many malformed files (`unwrap` on
//! missing keys): the worker catches that, and a panic hook keeps those
//! panics out of the log (their messages can quote the file). A worker
//! that overruns the timeout is abandoned: threads cannot be killed, so it
//! may run on; [`Limits::max_stuck_pdf_workers`] caps how many such
//! workers may exist before PDFs are skipped. The sink also checks the
//! deadline on every page and every 256 glyphs, so an abandoned worker
//! normally ends soon after; only a loop inside lopdf itself runs on.

mod sink;
mod streams;
mod structure;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Once, mpsc};
use std::time::{Duration, Instant};

use lopdf::{Document, LoadOptions};

use super::limits::Limits;
use super::problem::ProblemKind;
use super::textbuf::TextBuf;
use sink::{Halt, Sink};

/// The name of PDF worker threads (the panic hook knows them by it).
const WORKER_NAME: &str = "mailseal-pdf";
/// Stack of a worker: pdf-extract recurses into forms and fonts.
const WORKER_STACK: usize = 16 << 20;

/// Workers abandoned after their timeout that have not finished yet.
static STUCK: AtomicUsize = AtomicUsize::new(0);

/// A worker's state, which decides who accounts for a stuck worker.
const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const ABANDONED: u8 = 2;

/// What a worker hands back.
struct Outcome {
    /// The text gathered (complete or not).
    text: String,
    /// The text was cut at the cap.
    truncated: bool,
    /// What went wrong.
    problems: Vec<ProblemKind>,
}

/// How many abandoned PDF workers are still running (for metrics and
/// tests).
pub fn stuck_workers() -> usize {
    STUCK.load(Ordering::Relaxed)
}

/// Appends the text of the PDF `bytes` to `out`, within `limits`.
pub(crate) fn text(
    bytes: &[u8],
    limits: &Limits,
    out: &mut TextBuf,
    problems: &mut Vec<ProblemKind>,
) {
    let stuck = STUCK.load(Ordering::Acquire);
    if stuck >= limits.max_stuck_pdf_workers {
        problems.push(ProblemKind::PdfBusy { stuck });
        return;
    }
    silence_worker_panics();
    let data = bytes.to_vec();
    let cap = out.room();
    let unpack = limits.max_unpacked;
    let budget = limits.pdf_timeout;
    let deadline = Instant::now() + budget;
    let state = Arc::new(AtomicU8::new(RUNNING));
    let worker_state = Arc::clone(&state);
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name(WORKER_NAME.into())
        .stack_size(WORKER_STACK)
        .spawn(move || {
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                run(&data, cap, unpack, deadline, budget)
            }));
            let _ = tx.send(result);
            if worker_state
                .compare_exchange(RUNNING, FINISHED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                STUCK.fetch_sub(1, Ordering::AcqRel);
            }
        });
    if spawned.is_err() {
        problems.push(ProblemKind::PdfFailed);
        return;
    }
    let result = match rx.recv_timeout(limits.pdf_timeout) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            if state
                .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                STUCK.fetch_add(1, Ordering::AcqRel);
                problems.push(timeout(limits.pdf_timeout));
                return;
            }
            // It finished between the timeout and now.
            match rx.try_recv() {
                Ok(r) => r,
                Err(_) => return problems.push(ProblemKind::PdfFailed),
            }
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => return problems.push(ProblemKind::PdfFailed),
    };
    match result {
        Ok(outcome) => {
            out.push(&outcome.text);
            if outcome.truncated {
                out.mark_truncated();
            }
            problems.extend(outcome.problems);
        }
        Err(_) => problems.push(ProblemKind::PdfFailed),
    }
}

/// The worker: load, check, extract.
fn run(data: &[u8], cap: usize, unpack: u64, deadline: Instant, budget: Duration) -> Outcome {
    let mut outcome = Outcome {
        text: String::new(),
        truncated: false,
        problems: Vec::new(),
    };
    streams::begin(unpack);
    let options = LoadOptions {
        filter: Some(streams::load_filter),
        ..LoadOptions::default()
    };
    let mut doc = match Document::load_mem_with_options(data, options) {
        Ok(doc) => doc,
        Err(lopdf::Error::Decryption(_)) => {
            outcome
                .problems
                .push(ProblemKind::Encrypted { format: "PDF" });
            return outcome;
        }
        Err(_) => {
            outcome.problems.push(damaged("unreadable PDF structure"));
            return outcome;
        }
    };
    if doc.is_encrypted() {
        outcome
            .problems
            .push(ProblemKind::Encrypted { format: "PDF" });
        return outcome;
    }
    if doc.encryption_state.is_some() {
        // Decrypted with the empty password while loading, which skips the
        // load filter: guard the streams now.
        streams::guard_all(&mut doc);
    }
    if streams::over_budget() {
        outcome
            .problems
            .push(ProblemKind::UnpackLimit { limit: unpack });
    }
    if let Err(detail) = structure::check(&doc) {
        outcome.problems.push(damaged(detail));
        return outcome;
    }
    let mut sink = Sink::new(cap, deadline);
    let result = pdf_extract::output_doc(&doc, &mut sink);
    match (result, sink.halted) {
        (_, Some(Halt::Deadline)) => {
            outcome.problems.push(timeout(budget));
        }
        (_, Some(Halt::Full)) => outcome.truncated = true,
        (Err(_), None) => outcome.problems.push(damaged("page content not readable")),
        (Ok(()), None) => {}
    }
    outcome.truncated |= sink.out.truncated();
    outcome.text = sink.out.into_string();
    outcome
}

fn timeout(after: Duration) -> ProblemKind {
    ProblemKind::PdfTimeout {
        seconds: after.as_secs(),
    }
}

fn damaged(detail: &'static str) -> ProblemKind {
    ProblemKind::Damaged {
        format: "PDF",
        detail,
    }
}

/// Keeps panics of PDF workers (expected: the parsers `unwrap` freely)
/// out of stderr and the log, where their messages could quote the file.
/// Every other thread's panic goes to the hook that was installed before.
fn silence_worker_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let contained = CONTAINED.with(std::cell::Cell::get);
            if std::thread::current().name() != Some(WORKER_NAME) && !contained {
                previous(info);
            }
        }));
    });
}

std::thread_local! {
    /// Set while [`contained`] runs a parser on this thread.
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (a third-party parser that may panic on hostile input, as
/// mail-parser 0.11 does on some broken multiparts) and turns a panic into
/// `None`, kept out of stderr like the PDF workers' panics.
pub(super) fn contained<T>(f: impl FnOnce() -> T) -> Option<T> {
    silence_worker_panics();
    CONTAINED.with(|c| c.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f)).ok();
    CONTAINED.with(|c| c.set(false));
    result
}
