//! Where pdf-extract's characters go: a plain-text layout like its own
//! `PlainTextOutput` (a space where glyphs leave a gap, a newline where
//! the baseline moves), written into a capped [`TextBuf`], and the way to
//! stop pdf-extract early. It calls back for every glyph, so the sink
//! returns an error once the text is full or the deadline has passed, and
//! pdf-extract unwinds from its page loop at once.

use std::time::Instant;

use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

use crate::search::extract::textbuf::TextBuf;

/// Why the sink stopped pdf-extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Halt {
    /// The text is full.
    Full,
    /// The deadline passed.
    Deadline,
}

/// How many glyphs go by between two looks at the clock.
const CLOCK_EVERY: u32 = 256;

/// The text of a PDF being gathered.
pub(super) struct Sink {
    /// The text.
    pub(super) out: TextBuf,
    /// When to give up.
    deadline: Instant,
    /// Why pdf-extract was stopped, if it was.
    pub(super) halted: Option<Halt>,
    /// Glyphs since the last look at the clock.
    since_clock: u32,
    /// Height of the current page, to turn PDF's upward y downward.
    page_height: f64,
    /// Where the last glyph ended on its line.
    last_end: f64,
    /// The last glyph's baseline.
    last_y: f64,
    /// The next glyph starts a word (pdf-extract's `begin_word`).
    word_start: bool,
}

impl Sink {
    /// A sink keeping at most `cap` bytes of text until `deadline`.
    pub(super) fn new(cap: usize, deadline: Instant) -> Sink {
        Sink {
            out: TextBuf::new(cap),
            deadline,
            halted: None,
            since_clock: 0,
            page_height: 0.0,
            last_end: 100_000.0,
            last_y: 0.0,
            word_start: false,
        }
    }

    /// Stops pdf-extract for `why`.
    fn halt(&mut self, why: Halt) -> Result<(), OutputError> {
        self.halted = Some(why);
        Err(OutputError::FormatError(std::fmt::Error))
    }

    /// Whether the deadline has passed (looked up every [`CLOCK_EVERY`]
    /// calls, so the clock costs nothing per glyph).
    fn late(&mut self) -> bool {
        self.since_clock += 1;
        if self.since_clock < CLOCK_EVERY {
            return false;
        }
        self.since_clock = 0;
        Instant::now() >= self.deadline
    }
}

impl OutputDev for Sink {
    fn begin_page(
        &mut self,
        _page: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        if Instant::now() >= self.deadline {
            return self.halt(Halt::Deadline);
        }
        self.page_height = media_box.ury - media_box.lly;
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        if !self.out.newline() {
            return self.halt(Halt::Full);
        }
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        if self.late() {
            return self.halt(Halt::Deadline);
        }
        let (x, y) = (trm.m31, self.page_height - trm.m32);
        // The font size as drawn: the side of a square of the same area as
        // the transformed em box.
        let sx = font_size * trm.m11 + font_size * trm.m21;
        let sy = font_size * trm.m12 + font_size * trm.m22;
        let size = (sx * sy).abs().sqrt();
        let mut ok = true;
        if self.word_start {
            let dy = (y - self.last_y).abs();
            if dy > size * 1.5 || (x < self.last_end && dy > size * 0.5) {
                ok = self.out.newline();
            } else if x > self.last_end + size * 0.1 {
                ok = self.out.space();
            }
        }
        ok = ok && self.out.push(char);
        self.word_start = false;
        self.last_y = y;
        self.last_end = x + width * size;
        if !ok {
            return self.halt(Halt::Full);
        }
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.word_start = true;
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
