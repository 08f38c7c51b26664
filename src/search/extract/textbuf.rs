//! A text buffer with a byte cap: every extractor writes through one, so no
//! source (a 2 GB log file, a PDF of a billion spaces) can grow the text
//! past its limit, and the caller learns that it was cut.

/// Text being gathered, up to `cap` bytes.
#[derive(Debug, Default)]
pub(crate) struct TextBuf {
    /// The text so far: never longer than `cap`, no control characters
    /// other than tab and newline.
    text: String,
    /// The most bytes `text` may hold.
    cap: usize,
    /// Whether something did not fit.
    truncated: bool,
}

impl TextBuf {
    /// An empty buffer holding at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> TextBuf {
        TextBuf {
            text: String::new(),
            cap,
            truncated: false,
        }
    }

    /// Appends `s`, turning control characters (NUL, escape, ...) into
    /// spaces. Returns false once the buffer is full; the caller can stop.
    pub(crate) fn push(&mut self, s: &str) -> bool {
        if self.truncated {
            return false;
        }
        let room = self.cap - self.text.len();
        let take = if s.len() <= room {
            s
        } else {
            self.truncated = true;
            &s[..floor_char_boundary(s, room)]
        };
        let start = self.text.len();
        self.text.push_str(take);
        // Without an early exit the scan vectorizes; control characters
        // are rare, so the whole text is scanned anyway.
        if take.bytes().fold(false, |seen, b| seen | is_control(b)) {
            // Safety of the text as UTF-8 is kept: only ASCII bytes change.
            let tail = self.text.split_off(start);
            let cleaned: String = tail
                .chars()
                .map(|c| {
                    if c.is_ascii() && is_control(c as u8) {
                        ' '
                    } else {
                        c
                    }
                })
                .collect();
            self.text.push_str(&cleaned);
        }
        !self.truncated
    }

    /// Ends the current line, unless the text is empty or already does.
    pub(crate) fn newline(&mut self) -> bool {
        match self.text.as_bytes().last() {
            None | Some(b'\n') => !self.truncated,
            Some(_) => self.push("\n"),
        }
    }

    /// Separates what comes next from what came before by one space,
    /// unless the text is empty or already ends in white space.
    pub(crate) fn space(&mut self) -> bool {
        match self.text.as_bytes().last() {
            None | Some(b' ' | b'\n' | b'\t') => !self.truncated,
            Some(_) => self.push(" "),
        }
    }

    /// Whether something did not fit.
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }

    /// Records that something did not fit (text that was cut elsewhere).
    pub(crate) fn mark_truncated(&mut self) {
        self.truncated = true;
    }

    /// Bytes that still fit.
    pub(crate) fn room(&self) -> usize {
        self.cap - self.text.len()
    }

    /// Whether nothing more fits.
    pub(crate) fn is_full(&self) -> bool {
        self.truncated || self.text.len() >= self.cap
    }

    /// Bytes gathered so far.
    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    /// The text, with trailing white space removed.
    pub(crate) fn into_string(mut self) -> String {
        let end = self.text.trim_end().len();
        self.text.truncate(end);
        self.text
    }
}

/// Control characters other than tab, newline and carriage return
/// (written without branches, for the vectorized scan).
fn is_control(b: u8) -> bool {
    (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r') | (b == 0x7f)
}

/// The largest char boundary of `s` at or below `i`.
pub(crate) fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_at_a_char_boundary_and_reports_it() {
        let mut t = TextBuf::new(5);
        assert!(t.push("ab"));
        assert!(!t.push("cdé€"));
        assert!(t.truncated());
        assert!(!t.push("more"));
        assert_eq!(t.into_string(), "abcd");
    }

    #[test]
    fn control_characters_become_spaces() {
        let mut t = TextBuf::new(100);
        t.push("a\0b\x1bc\td\r\ne");
        assert_eq!(t.into_string(), "a b c\td\r\ne");
    }

    #[test]
    fn separators_do_not_repeat() {
        let mut t = TextBuf::new(100);
        t.newline();
        t.space();
        t.push("a");
        t.space();
        t.space();
        t.push("b");
        t.newline();
        t.newline();
        t.push("c");
        assert_eq!(t.into_string(), "a b\nc");
    }
}
