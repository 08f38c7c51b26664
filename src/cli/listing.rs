//! The columns `list` and `search` print: a header line, then one line
//! (or one JSON object) per record.

use std::io::Write;

use crate::archive::index::Summary;

/// `list`'s output: a header line before the first row, then one line (or
/// one JSON object) per record.
pub(super) struct Listing<W: Write> {
    /// Where lines go.
    out: W,
    /// One JSON object per line instead of columns.
    json: bool,
    /// The header line is out.
    header: bool,
}

impl Listing<std::io::BufWriter<std::io::StdoutLock<'static>>> {
    /// A listing on standard output.
    pub(super) fn stdout(json: bool) -> Self {
        Listing {
            out: std::io::BufWriter::new(std::io::stdout().lock()),
            json,
            header: false,
        }
    }
}

impl<W: Write> Listing<W> {
    fn head(&mut self) -> std::io::Result<()> {
        if !self.json && !self.header {
            writeln!(
                self.out,
                "{:>8}  {:<27}  {:<22}  {:<28}  {:<28}  {:<30}  {:>9}  hash",
                "id", "time", "source", "from", "to", "subject", "size"
            )?;
        }
        self.header = true;
        Ok(())
    }

    pub(super) fn row(&mut self, s: &Summary) -> std::io::Result<()> {
        self.head()?;
        let out = &mut self.out;
        if self.json {
            serde_json::to_writer(&mut *out, s)?;
            return writeln!(out);
        }
        let source = format!(
            "{}:{}",
            s.source_kind.map(|k| k.as_str()).unwrap_or("-"),
            s.source_name
        );
        let from = s
            .headers
            .from
            .clone()
            .or_else(|| s.mail_from.clone())
            .unwrap_or_default();
        let to = s
            .headers
            .to
            .first()
            .or(s.rcpts.first())
            .cloned()
            .unwrap_or_default();
        let subject = match &s.purged {
            Some(p) => format!("({})", p.describe()),
            None => s.headers.subject.clone().unwrap_or_default(),
        };
        writeln!(
            out,
            "{:>8}  {:<27}  {:<22}  {:<28}  {:<28}  {:<30}  {:>9}  {}",
            s.seq,
            s.time,
            clip(&source, 22),
            clip(&from, 28),
            clip(&to, 28),
            clip(&subject, 30),
            s.size,
            &s.sha256[..s.sha256.len().min(16)]
        )
    }

    pub(super) fn finish(mut self) -> std::io::Result<()> {
        self.head()?;
        self.out.flush()
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut c: String = s.chars().take(n - 1).collect();
    c.push('…');
    c
}
