//! Progress bars on a terminal; silence elsewhere.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::archive::Appended;
use crate::archive::record::ImportContext;
use crate::import::{ImportFailure, Progress};

/// A byte-based progress bar (hidden when stderr is not a terminal).
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar labelled `what`.
    pub fn new(what: &str) -> Bar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        Bar { bar }
    }

    /// A bar counting records (hidden when stderr is not a terminal).
    pub fn records(what: &str) -> Bar {
        let bar = Bar::new(what);
        let style = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} records",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.bar.set_style(style);
        bar
    }

    /// `done` of `total` records.
    pub fn set(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn total(&self, bytes: u64) {
        self.bar.set_length(bytes);
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn appended(&self, _context: &ImportContext, appended: &Appended) {
        self.bar.set_message(format!("record {}", appended.seq));
    }

    fn failed(&self, failure: &ImportFailure) {
        self.bar
            .suspend(|| eprintln!("mailseal: skipped: {failure}"));
    }
}
