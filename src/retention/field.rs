//! The `retention` field of a message record and the calendar arithmetic
//! behind it: GoBD and §147 AO count periods in whole years from the END
//! of the calendar year of the basis date.
//!
//! A message whose basis date lies in year Y under a rule of N years must
//! be kept until Y+N-12-31 inclusive, and may be purged from
//! (Y+N+1)-01-01 on. Nothing here reads a clock: `today` is always given.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

/// Which date the retention period counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Live mail: the day the archive accepted it (the record's `time`).
    Capture,
    /// An import: the message's `Date:` header.
    DateHeader,
    /// An IMAP import: the server's INTERNALDATE of the message.
    Internaldate,
}

impl Basis {
    /// The name the record uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Capture => "capture",
            Basis::DateHeader => "date-header",
            Basis::Internaldate => "internaldate",
        }
    }
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the rules decided for one message, recorded in its record
/// (docs/archive-format.md 2.3, "Retention"). Fields in the record's order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionField {
    /// Name of the rule that matched first: a purge names it in the
    /// tombstone, and an auditor can look it up in the `retention-rules`
    /// record in force.
    pub rule: String,
    /// The rule's period when it decided; recorded because a rule may get
    /// longer later, and this message keeps what it was given.
    pub years: u32,
    /// Which date the period counts from.
    pub basis: Basis,
    /// That date (UTC), `YYYY-MM-DD`.
    #[serde(with = "ymd")]
    pub basis_date: NaiveDate,
    /// The last day the message must be kept, `YYYY-MM-DD`: the 31st of
    /// December of the basis year plus `years`.
    #[serde(with = "ymd")]
    pub keep_until: NaiveDate,
}

impl RetentionField {
    /// Whether `keep_until` is what `basis_date` and `years` give: a
    /// verifier's check that the record's dates agree with each other.
    pub fn is_consistent(&self) -> bool {
        keep_until(self.basis_date, self.years) == self.keep_until
    }
}

/// The last day a message with this basis date and period must be kept:
/// 31 December of the basis year plus `years`.
///
/// Beyond the calendar chrono can represent (a forged `Date:` header in
/// year 262000), the result is the last representable day: never earlier
/// than the law asks.
pub fn keep_until(basis_date: NaiveDate, years: u32) -> NaiveDate {
    i32::try_from(i64::from(basis_date.year()) + i64::from(years))
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, 12, 31))
        .unwrap_or(NaiveDate::MAX)
}

/// Whether a message kept until `keep_until` may be purged on `today`:
/// from the day after, never on the day itself.
pub fn is_purgeable(keep_until: NaiveDate, today: NaiveDate) -> bool {
    today > keep_until
}

/// Dates as exactly `YYYY-MM-DD`: chrono's own serde accepts more forms
/// than the format documents, and a record must have one spelling.
mod ymd {
    use super::*;

    const FORMAT: &str = "%Y-%m-%d";

    pub(super) fn serialize<S: Serializer>(date: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&date.format(FORMAT))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(d)?;
        NaiveDate::parse_from_str(&text, FORMAT)
            .ok()
            .filter(|date| date.format(FORMAT).to_string() == text)
            .ok_or_else(|| D::Error::custom(format!("invalid date {text:?}; expected YYYY-MM-DD")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_count_from_the_end_of_the_basis_year() {
        assert_eq!(keep_until(day("2025-01-01"), 10), day("2035-12-31"));
        assert_eq!(keep_until(day("2025-12-31"), 10), day("2035-12-31"));
        assert_eq!(keep_until(day("2024-07-15"), 6), day("2030-12-31"));
        assert_eq!(keep_until(day("2024-07-15"), 8), day("2032-12-31"));
        assert_eq!(keep_until(day("1999-12-31"), 1), day("2000-12-31"));
    }

    #[test]
    fn a_leap_day_basis_ends_on_the_last_day_of_a_year() {
        assert_eq!(keep_until(day("2024-02-29"), 10), day("2034-12-31"));
        assert_eq!(keep_until(day("2024-02-29"), 4), day("2028-12-31"));
    }

    #[test]
    fn purgeable_from_the_first_day_after_keep_until() {
        let until = keep_until(day("2020-03-01"), 6);
        assert_eq!(until, day("2026-12-31"));
        assert!(!is_purgeable(until, day("2026-12-30")));
        assert!(!is_purgeable(until, day("2026-12-31")));
        assert!(is_purgeable(until, day("2027-01-01")));
        assert!(is_purgeable(until, day("2040-06-01")));
    }

    #[test]
    fn beyond_the_calendar_keeps_as_long_as_possible() {
        assert_eq!(keep_until(NaiveDate::MAX, 30), NaiveDate::MAX);
        assert!(!is_purgeable(keep_until(NaiveDate::MAX, 1), NaiveDate::MAX));
    }

    fn field() -> RetentionField {
        RetentionField {
            rule: "books".into(),
            years: 10,
            basis: Basis::DateHeader,
            basis_date: day("2024-02-29"),
            keep_until: day("2034-12-31"),
        }
    }

    #[test]
    fn serialises_as_documented() {
        let json = serde_json::to_string(&field()).unwrap();
        assert_eq!(
            json,
            r#"{"rule":"books","years":10,"basis":"date-header","basis_date":"2024-02-29","keep_until":"2034-12-31"}"#
        );
        let back: RetentionField = serde_json::from_str(&json).unwrap();
        assert_eq!(back, field());
        assert!(back.is_consistent());
        for (basis, name) in [
            (Basis::Capture, "\"capture\""),
            (Basis::Internaldate, "\"internaldate\""),
        ] {
            assert_eq!(serde_json::to_string(&basis).unwrap(), name);
            assert_eq!(format!("\"{basis}\""), name);
        }
    }

    #[test]
    fn reading_is_strict() {
        let good = serde_json::to_string(&field()).unwrap();
        for bad in [
            good.replace("2024-02-29", "2024-2-29"),
            good.replace("2024-02-29", "2023-02-29"),
            good.replace("2024-02-29", "2024-02-29T00:00:00"),
            good.replace("date-header", "date_header"),
            good.replace('}', r#","extra":1}"#),
            good.replace(r#","keep_until":"2034-12-31""#, ""),
        ] {
            assert!(
                serde_json::from_str::<RetentionField>(&bad).is_err(),
                "accepted {bad}"
            );
        }
        let mut wrong = field();
        wrong.keep_until = day("2033-12-31");
        assert!(!wrong.is_consistent());
    }
}
