//! What to fetch from one folder, and in which pieces. No I/O: the archive
//! lookups come in as a closure.
//!
//! Resuming rests on the index, never on a separate checkpoint: a record
//! names its folder (`origin`), UIDVALIDITY and UID, so "what is archived"
//! is rebuildable from the segments. UIDs above the highest archived one are
//! new. UIDs at or below it are checked one by one (a sled lookup each),
//! because appends run concurrently and may become durable out of UID order,
//! and because a widened date range brings in older messages; either way no
//! message is skipped and none is archived twice.

use std::collections::HashMap;

use chrono::NaiveDate;

/// The `origin` of records from one folder of one account:
/// `imap://user@host/folder`, with `%`, `@`, `/` and `:` in the user
/// percent-encoded (RFC 5092) so the account part stays unambiguous. The
/// folder is the decoded name. Records and resume lookups are keyed by it,
/// so it must never change for the same account and folder.
pub fn origin(user: &str, host: &str, folder: &str) -> String {
    let mut user_part = String::with_capacity(user.len());
    for c in user.chars() {
        match c {
            '%' | '@' | '/' | ':' => user_part.push_str(&format!("%{:02X}", c as u32)),
            c => user_part.push(c),
        }
    }
    format!("imap://{user_part}@{}/{folder}", host.to_ascii_lowercase())
}

/// The UID SEARCH criteria for the job's date range (internal dates).
pub fn search_criteria(since: Option<NaiveDate>, before: Option<NaiveDate>) -> String {
    let day = |d: NaiveDate| d.format("%-d-%b-%Y").to_string();
    match (since, before) {
        (None, None) => "ALL".to_owned(),
        (Some(s), None) => format!("SINCE {}", day(s)),
        (None, Some(b)) => format!("BEFORE {}", day(b)),
        (Some(s), Some(b)) => format!("SINCE {} BEFORE {}", day(s), day(b)),
    }
}

/// The UIDs of `found` (ascending) that still need fetching, given the
/// highest UID archived at this UIDVALIDITY and a lookup for single UIDs.
pub fn wanted<E>(
    found: &[u32],
    highest: Option<u32>,
    mut archived: impl FnMut(u32) -> Result<bool, E>,
) -> Result<Vec<u32>, E> {
    let mut out = Vec::new();
    for &uid in found {
        let above = highest.is_none_or(|h| uid > h);
        if above || !archived(uid)? {
            out.push(uid);
        }
    }
    Ok(out)
}

/// A compact UID set for a command: ascending UIDs become `1:5,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Splits `uids` (in order) into batches of at most `max_count` messages
/// and, unless a single message is larger, at most `max_bytes` by the sizes
/// the server announced. A batch is one FETCH round trip and the unit of
/// retry, so large messages travel in small batches.
pub fn batches(
    uids: &[u32],
    sizes: &HashMap<u32, u64>,
    max_count: usize,
    max_bytes: u64,
) -> Vec<Vec<u32>> {
    let max_count = max_count.max(1);
    let mut out = Vec::new();
    let mut batch = Vec::new();
    let mut bytes = 0u64;
    for &uid in uids {
        let size = sizes.get(&uid).copied().unwrap_or(0);
        if !batch.is_empty() && (batch.len() >= max_count || bytes + size > max_bytes) {
            out.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        batch.push(uid);
        bytes += size;
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_names_account_and_folder() {
        assert_eq!(
            origin("alice", "IMAP.Example.com", "INBOX"),
            "imap://alice@imap.example.com/INBOX"
        );
        assert_eq!(
            origin("a@b.example", "h", "Projekte/Geschäft"),
            "imap://a%40b.example@h/Projekte/Geschäft"
        );
        assert_eq!(origin("x%y/z:w", "h", "f"), "imap://x%25y%2Fz%3Aw@h/f");
    }

    #[test]
    fn search_criteria_use_imap_dates() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(search_criteria(None, None), "ALL");
        assert_eq!(search_criteria(d("2024-02-01"), None), "SINCE 1-Feb-2024");
        assert_eq!(
            search_criteria(d("2020-01-01"), d("2024-12-31")),
            "SINCE 1-Jan-2020 BEFORE 31-Dec-2024"
        );
        assert_eq!(search_criteria(None, d("2021-07-09")), "BEFORE 9-Jul-2021");
    }

    #[test]
    fn wanted_takes_new_uids_and_fills_gaps_below_the_highest() {
        let archived = [1u32, 2, 4, 7];
        let lookups = std::cell::Cell::new(0);
        let is_archived = |uid| {
            lookups.set(lookups.get() + 1);
            Ok::<_, ()>(archived.contains(&uid))
        };
        let w = wanted(&[1, 2, 3, 4, 5, 7, 8, 9], Some(7), is_archived).unwrap();
        assert_eq!(w, [3, 5, 8, 9]);
        assert_eq!(
            lookups.get(),
            6,
            "only UIDs up to the highest are looked up"
        );

        let all = wanted(&[3, 4], None, |_| Err::<bool, ()>(())).unwrap();
        assert_eq!(
            all,
            [3, 4],
            "nothing archived at this UIDVALIDITY: no lookups"
        );
        assert!(wanted(&[3], Some(5), |_| Err::<bool, ()>(())).is_err());
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(
            uid_set(&[u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let sizes: HashMap<u32, u64> = [(1, 10), (2, 10), (3, 100), (4, 10), (5, 10)].into();
        let uids = [1, 2, 3, 4, 5];
        assert_eq!(
            batches(&uids, &sizes, 2, 1000),
            [vec![1, 2], vec![3, 4], vec![5]]
        );
        assert_eq!(
            batches(&uids, &sizes, 10, 50),
            [vec![1, 2], vec![3], vec![4, 5]]
        );
        assert_eq!(batches(&uids, &sizes, 0, 1), [[1], [2], [3], [4], [5]]);
        assert!(batches(&[], &sizes, 5, 5).is_empty());
    }
}
