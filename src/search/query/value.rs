//! Values of range fields: dates (`2024`, `2024-01`, `2024-01-31`) and
//! sizes (`1500`, `10k`, `1.5M`, `2G`), single or as ranges and
//! comparisons. Everything here is an error message away from the user, so
//! each failure says what was expected.

use chrono::{Datelike, NaiveDate};

/// A value's bounds: `lo` inclusive, `hi` exclusive.
pub type Bounds = (Option<i64>, Option<i64>);

/// Parses a date value: a period (`2024`, `2024-03`, `2024-03-31`), a
/// range of periods (`2024-01..2024-03-31`, `2024..`, `..2023`) or a
/// comparison (`>2024-06`, `>=2024`, `<2024-02-01`, `<=2023`).
pub fn dates(v: &str) -> Result<Bounds, &'static str> {
    const EXPECTED: &str = "a date (2024, 2024-03 or 2024-03-31), a range (2024-01..2024-03-31) or a comparison (>=2024-06)";
    bounds(v, |p| period(p).ok_or(EXPECTED), EXPECTED)
}

/// Parses a size value: a range (`10k..1M`, `..100k`, `1M..`) or a
/// comparison (`>1M`, `<=500k`). A bare size is an error: "size:1M"
/// meaning exactly 1,048,576 bytes is never what someone wants.
pub fn sizes(v: &str) -> Result<Bounds, &'static str> {
    const EXPECTED: &str = "a comparison (>1M, <=500k) or a range (10k..2M) of sizes in bytes (k, M, G: 1024, 1024², 1024³)";
    let (op, _) = split_op(v);
    if op.is_none() && !v.contains("..") {
        return Err(EXPECTED);
    }
    bounds(v, |p| size(p).map(|n| (n, n + 1)).ok_or(EXPECTED), EXPECTED)
}

/// `>`, `>=`, `<`, `<=` and the rest.
fn split_op(v: &str) -> (Option<&'static str>, &str) {
    for op in [">=", "<=", ">", "<"] {
        if let Some(rest) = v.strip_prefix(op) {
            return (Some(op), rest);
        }
    }
    (None, v)
}

/// Bounds of a single value, a range or a comparison, given the half-open
/// interval `[start, end)` that one value covers.
fn bounds(
    v: &str,
    one: impl Fn(&str) -> Result<(i64, i64), &'static str>,
    expected: &'static str,
) -> Result<Bounds, &'static str> {
    match split_op(v) {
        (Some(op), rest) => {
            let (start, end) = one(rest)?;
            Ok(match op {
                ">" => (Some(end), None),
                ">=" => (Some(start), None),
                "<" => (None, Some(start)),
                _ => (None, Some(end)),
            })
        }
        (None, v) => match v.split_once("..") {
            Some(("", "")) => Err(expected),
            Some((a, b)) => {
                let lo = if a.is_empty() { None } else { Some(one(a)?.0) };
                let hi = if b.is_empty() { None } else { Some(one(b)?.1) };
                Ok((lo, hi))
            }
            None => one(v).map(|(s, e)| (Some(s), Some(e))),
        },
    }
}

/// A year, month or day as Unix seconds `[start, end)`, in UTC.
fn period(v: &str) -> Option<(i64, i64)> {
    let parts: Vec<&str> = v.split('-').collect();
    let num = |s: &str, len: usize| -> Option<u32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let secs = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
    let (start, end) = match parts.as_slice() {
        [y] => {
            let y = num(y, 4)? as i32;
            (
                NaiveDate::from_ymd_opt(y, 1, 1)?,
                NaiveDate::from_ymd_opt(y + 1, 1, 1)?,
            )
        }
        [y, m] => {
            let start = NaiveDate::from_ymd_opt(num(y, 4)? as i32, num(m, 2)?, 1)?;
            let end = if start.month() == 12 {
                NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)?
            };
            (start, end)
        }
        [y, m, d] => {
            let start = NaiveDate::from_ymd_opt(num(y, 4)? as i32, num(m, 2)?, num(d, 2)?)?;
            (start, start.succ_opt()?)
        }
        _ => return None,
    };
    Some((secs(start)?, secs(end)?))
}

/// `1500`, `10k`, `1.5M`, `2G` (binary multiples; a trailing `b`/`B` is
/// allowed: `10kB`).
fn size(v: &str) -> Option<i64> {
    let v = v.strip_suffix(['b', 'B']).unwrap_or(v);
    let (num, mult) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&v[..i], 1 << 20),
        (i, 'g' | 'G') => (&v[..i], 1 << 30),
        _ => (v, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let bytes = (n * mult as f64).round();
    (bytes >= 0.0 && bytes < i64::MAX as f64).then_some(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp())
            .unwrap_or(-1)
    }

    #[test]
    fn date_periods_ranges_and_comparisons() {
        let y24 = ts("2024-01-01T00:00:00Z");
        let y25 = ts("2025-01-01T00:00:00Z");
        assert_eq!(dates("2024"), Ok((Some(y24), Some(y25))));
        assert_eq!(
            dates("2024-12"),
            Ok((Some(ts("2024-12-01T00:00:00Z")), Some(y25)))
        );
        assert_eq!(
            dates("2024-02-29"),
            Ok((
                Some(ts("2024-02-29T00:00:00Z")),
                Some(ts("2024-03-01T00:00:00Z"))
            ))
        );
        assert_eq!(
            dates("2024-01..2024-03-31"),
            Ok((Some(y24), Some(ts("2024-04-01T00:00:00Z"))))
        );
        assert_eq!(dates("2024.."), Ok((Some(y24), None)));
        assert_eq!(dates("..2024"), Ok((None, Some(y25))));
        assert_eq!(dates(">2024"), Ok((Some(y25), None)));
        assert_eq!(dates(">=2024"), Ok((Some(y24), None)));
        assert_eq!(dates("<2024"), Ok((None, Some(y24))));
        assert_eq!(dates("<=2024"), Ok((None, Some(y25))));
        for bad in [
            "24",
            "2024-1",
            "2023-02-29",
            "2024-13",
            "..",
            "x",
            "2024-01-01-01",
            "",
        ] {
            assert!(dates(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_need_a_comparison_or_range() {
        assert_eq!(sizes(">1M"), Ok((Some(1048577), None)));
        assert_eq!(sizes(">=1M"), Ok((Some(1048576), None)));
        assert_eq!(sizes("<10k"), Ok((None, Some(10240))));
        assert_eq!(sizes("<=10kB"), Ok((None, Some(10241))));
        assert_eq!(sizes("1.5k..2M"), Ok((Some(1536), Some(2097153))));
        assert_eq!(sizes("..100"), Ok((None, Some(101))));
        for bad in ["1M", "", ">", ">x", "1..y", ">-1", ">1T"] {
            assert!(sizes(bad).is_err(), "{bad}");
        }
    }
}
