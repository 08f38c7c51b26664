//! Object names in the bucket (docs/archive-format.md, "2.6 Replicas").
//! Numbers are zero-padded so a listing sorts in archive order and a
//! missing number or byte range stands out:
//!
//! ```text
//! <prefix>/segments/000000000001.seg                         closed segment, whole
//! <prefix>/chunks/000000000002/00000000000000000000-00000000000000004096   bytes [start, end) of a segment
//! <prefix>/seals/00000000000000000042-000000000002-00000000000000003977.json   seal seq, where it is
//! <prefix>/timestamps/00000000000000000042-000000000002-00000000000000004410.json   stamped seal's seq, where the stamp is
//! <prefix>/keys/<hex public key>.pem                         every seal key
//! ```

/// What an object name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A closed segment, whole.
    Segment(u32),
    /// Bytes `start..end` of a segment.
    Chunk {
        /// The segment.
        segment: u32,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// A copy of a seal frame's payload.
    Seal {
        /// The sealed seq.
        seq: u64,
    },
    /// A copy of a time-stamp frame's payload.
    TimeStamp {
        /// The stamped seal's seq.
        seq: u64,
    },
    /// A public key (hex).
    Key(String),
}

/// Joins the prefix and a name (no slash for an empty prefix).
pub fn full(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The folder under which a gateway's objects are listed.
pub fn folder(prefix: &str) -> String {
    full(prefix, "")
}

/// Name of a closed segment.
pub fn segment(prefix: &str, n: u32) -> String {
    full(prefix, &format!("segments/{n:012}.seg"))
}

/// Name of bytes `start..end` of segment `n`.
pub fn chunk(prefix: &str, n: u32, start: u64, end: u64) -> String {
    full(prefix, &format!("chunks/{n:012}/{start:020}-{end:020}"))
}

/// The listing prefix of the chunks of segment `n` starting at `start`.
pub fn chunks_from(prefix: &str, n: u32, start: u64) -> String {
    full(prefix, &format!("chunks/{n:012}/{start:020}-"))
}

/// Name of a time stamp (of the seal of `seq`) found at `offset` of
/// segment `n`.
pub fn timestamp(prefix: &str, seq: u64, n: u32, offset: u64) -> String {
    full(
        prefix,
        &format!("timestamps/{seq:020}-{n:012}-{offset:020}.json"),
    )
}

/// Name of a seal found at `offset` of segment `n`.
pub fn seal(prefix: &str, seq: u64, n: u32, offset: u64) -> String {
    full(
        prefix,
        &format!("seals/{seq:020}-{n:012}-{offset:020}.json"),
    )
}

/// Name of a public key.
pub fn key(prefix: &str, hex_key: &str) -> String {
    full(prefix, &format!("keys/{hex_key}.pem"))
}

/// What `name` (a full key under `prefix`) is; `None` for anything else.
pub fn parse(prefix: &str, name: &str) -> Option<Object> {
    let rest = if prefix.is_empty() {
        name
    } else {
        name.strip_prefix(prefix)?.strip_prefix('/')?
    };
    let number = |s: &str, width: usize| {
        (s.len() == width && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    if let Some(n) = rest
        .strip_prefix("segments/")
        .and_then(|r| r.strip_suffix(".seg"))
    {
        return Some(Object::Segment(u32::try_from(number(n, 12)?).ok()?));
    }
    if let Some(r) = rest.strip_prefix("chunks/") {
        let (n, range) = r.split_once('/')?;
        let (start, end) = range.split_once('-')?;
        let (start, end) = (number(start, 20)?, number(end, 20)?);
        return (start < end).then_some(Object::Chunk {
            segment: u32::try_from(number(n, 12)?).ok()?,
            start,
            end,
        });
    }
    if let Some(r) = rest
        .strip_prefix("seals/")
        .and_then(|r| r.strip_suffix(".json"))
    {
        let seq = r.split('-').next()?;
        return Some(Object::Seal {
            seq: number(seq, 20)?,
        });
    }
    if let Some(r) = rest
        .strip_prefix("timestamps/")
        .and_then(|r| r.strip_suffix(".json"))
    {
        let seq = r.split('-').next()?;
        return Some(Object::TimeStamp {
            seq: number(seq, 20)?,
        });
    }
    let k = rest.strip_prefix("keys/")?.strip_suffix(".pem")?;
    (k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Object::Key(k.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_sort() {
        let p = "gw1";
        assert_eq!(parse(p, &segment(p, 7)), Some(Object::Segment(7)));
        assert_eq!(
            parse(p, &chunk(p, 2, 16, 4096)),
            Some(Object::Chunk {
                segment: 2,
                start: 16,
                end: 4096
            })
        );
        assert_eq!(
            parse(p, &seal(p, 42, 2, 99)),
            Some(Object::Seal { seq: 42 })
        );
        assert_eq!(
            parse(p, &timestamp(p, 42, 2, 4410)),
            Some(Object::TimeStamp { seq: 42 })
        );
        let k = "ab".repeat(32);
        assert_eq!(parse(p, &key(p, &k)), Some(Object::Key(k.clone())));
        assert_eq!(parse("", &segment("", 1)), Some(Object::Segment(1)));
        assert_eq!(parse(p, &segment("gw2", 1)), None);
        assert_eq!(parse(p, "gw1/chunks/000000000001/x-y"), None);
        assert!(chunk(p, 1, 9, 100) < chunk(p, 1, 100, 200));
        assert!(segment(p, 9) < segment(p, 10));
    }
}
