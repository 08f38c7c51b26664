//! Decompression bombs in PDF streams. lopdf inflates streams without a
//! limit (object streams while loading, content, fonts and CMaps while
//! pdf-extract reads them), so a 100 kB file could ask for gigabytes. Every
//! filtered stream is decoded here first, with the same filters lopdf
//! applies (Flate, LZW, ASCII85), through one budget per PDF:
//!
//! - within budget, the decoded bytes replace the stream's content and its
//!   filters are removed, so lopdf does not decode it again (no work is
//!   done twice);
//! - over budget, the stream is emptied and the PDF marked incomplete;
//! - images and embedded files are emptied unread: pdf-extract has no use
//!   for their pixels (it would parse them as page content).
//!
//! lopdf calls [`load_filter`] on each object as it loads it, before
//! unpacking object streams; the budget lives in a thread-local because a
//! lopdf filter is a plain `fn`. A PDF is loaded on a worker thread of its
//! own (see `super`), and lopdf without its `rayon` feature calls the
//! filter on that thread.

use std::cell::Cell;
use std::io::{self, Read, Write};

use lopdf::{Dictionary, Object, ObjectId, Stream};

/// The widest PNG-predictor row accepted: lopdf allocates a row of
/// `Columns × Colors × BitsPerComponent / 8` bytes before reading data.
const MAX_PREDICTOR_ROW: i64 = 1 << 20;

thread_local! {
    /// Decoded bytes still allowed on this thread's PDF.
    static BUDGET: Cell<u64> = const { Cell::new(0) };
    /// Whether some stream did not fit the budget.
    static OVER: Cell<bool> = const { Cell::new(false) };
}

/// Starts a PDF on this thread with `budget` decoded bytes.
pub(super) fn begin(budget: u64) {
    BUDGET.set(budget);
    OVER.set(false);
}

/// Whether a stream was dropped for the budget since [`begin`].
pub(super) fn over_budget() -> bool {
    OVER.get()
}

/// The lopdf load filter: guards every stream as it is loaded. Streams
/// never sit inside object streams, which is where lopdf uses the returned
/// object; for top-level objects it keeps the one changed in place.
pub(super) fn load_filter(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    match object {
        Object::Stream(stream) => {
            guard(stream);
            Some((id, Object::Null))
        }
        other => Some((id, other.clone())),
    }
}

/// Guards every stream of a document that was loaded without the filter
/// (lopdf skips it for encrypted files; their streams are decrypted only
/// after loading).
pub(super) fn guard_all(doc: &mut lopdf::Document) {
    for object in doc.objects.values_mut() {
        if let Object::Stream(stream) = object {
            guard(stream);
        }
    }
}

/// Decodes `stream` within the budget, as the module doc says.
fn guard(stream: &mut Stream) {
    let dict = &stream.dict;
    if name(dict, b"Subtype") == Some(b"Image") || name(dict, b"Type") == Some(b"EmbeddedFile") {
        stream.set_plain_content(Vec::new());
        return;
    }
    let Ok(filters) = stream.filters() else {
        return;
    };
    let filters: Vec<Vec<u8>> = filters.into_iter().map(<[u8]>::to_vec).collect();
    let params = dict.get(b"DecodeParms").and_then(Object::as_dict).ok();
    let predictor = params.and_then(|p| int(p, b"Predictor")).unwrap_or(1);
    if predictor >= 10 {
        let row = params.map_or(1, |p| {
            let get = |k, d: i64| int(p, k).unwrap_or(d).clamp(1, 1 << 24);
            get(b"Columns", 1) * get(b"Colors", 1) * get(b"BitsPerComponent", 8).max(8) / 8
        });
        if row > MAX_PREDICTOR_ROW {
            stream.set_plain_content(Vec::new());
            return;
        }
    }
    let early_change = params
        .and_then(|p| int(p, b"EarlyChange"))
        .is_none_or(|v| v != 0);
    let mut decoded: Option<Vec<u8>> = None;
    for filter in &filters {
        let input = decoded.as_deref().unwrap_or(&stream.content);
        let budget = BUDGET.get();
        let result = match filter.as_slice() {
            b"FlateDecode" => inflate(input, budget),
            b"LZWDecode" => lzw(input, budget, early_change),
            b"ASCII85Decode" => Ok(ascii85(input)),
            // Image codecs and the rest: lopdf does not decode them either,
            // so the stream stays as it is.
            _ => return,
        };
        match result {
            Ok(out) if (out.len() as u64) <= budget => {
                BUDGET.set(budget - out.len() as u64);
                decoded = Some(out);
            }
            _ => {
                OVER.set(true);
                stream.set_plain_content(Vec::new());
                return;
            }
        }
    }
    // With a predictor lopdf post-processes its own decoding: it gets the
    // original bytes, whose decoding is now known to fit.
    if predictor < 2
        && let Some(data) = decoded
    {
        stream.set_plain_content(data);
    }
}

/// A name value of `dict`.
fn name<'a>(dict: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    dict.get(key).and_then(Object::as_name).ok()
}

/// An integer value of `dict`.
fn int(dict: &Dictionary, key: &[u8]) -> Option<i64> {
    dict.get(key).and_then(Object::as_i64).ok()
}

/// A writer that refuses to grow past `cap` bytes.
struct Capped {
    /// What was written.
    data: Vec<u8>,
    /// The most bytes `data` may hold.
    cap: u64,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if (self.data.len() + buf.len()) as u64 > self.cap {
            return Err(io::Error::other("over budget"));
        }
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Inflates like lopdf: zlib, and raw deflate after the two header bytes
/// when zlib yields nothing; a damaged tail keeps what came before it.
/// `Err` when the output exceeds `cap`.
fn inflate(input: &[u8], cap: u64) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let zlib = flate2::read::ZlibDecoder::new(input)
        .take(cap + 1)
        .read_to_end(&mut out);
    if zlib.is_err() && out.is_empty() && input.len() > 2 {
        let _ = flate2::read::DeflateDecoder::new(&input[2..])
            .take(cap + 1)
            .read_to_end(&mut out);
    }
    if out.len() as u64 > cap {
        Err(())
    } else {
        Ok(out)
    }
}

/// Decodes LZW like lopdf (MSB first, 8-bit symbols). `Err` when the
/// output exceeds `cap`.
fn lzw(input: &[u8], cap: u64, early_change: bool) -> Result<Vec<u8>, ()> {
    use weezl::{BitOrder, decode::Decoder};
    let mut decoder = if early_change {
        Decoder::with_tiff_size_switch(BitOrder::Msb, 8)
    } else {
        Decoder::new(BitOrder::Msb, 8)
    };
    let mut out = Capped {
        data: Vec::new(),
        cap,
    };
    let status = decoder.into_stream(&mut out).decode_all(input).status;
    match status {
        Err(e) if e.kind() == io::ErrorKind::Other => Err(()),
        _ => Ok(out.data),
    }
}

/// Decodes ASCII85 like lopdf: whitespace skipped, `z` for four zeros,
/// stops at the first byte outside the alphabet. The output is at most
/// four times the input, so it needs no cap of its own.
fn ascii85(input: &[u8]) -> Vec<u8> {
    let input = input.strip_suffix(b"~>").unwrap_or(input);
    let mut out = Vec::with_capacity(input.len());
    let (mut group, mut count) = (0u32, 0usize);
    for &c in input {
        match c {
            b'z' if count == 0 => out.extend_from_slice(&[0; 4]),
            c if c.is_ascii_whitespace() => {}
            b'!'..=b'u' => {
                group = group.wrapping_mul(85).wrapping_add(u32::from(c - b'!'));
                count += 1;
                if count == 5 {
                    out.extend_from_slice(&group.to_be_bytes());
                    (group, count) = (0, 0);
                }
            }
            _ => break,
        }
    }
    if count > 0 {
        for _ in count..5 {
            group = group.wrapping_mul(85).wrapping_add(84);
        }
        out.extend_from_slice(&group.to_be_bytes()[..count - 1]);
    }
    out
}
