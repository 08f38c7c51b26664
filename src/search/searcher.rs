//! Running a query: sort by date (either way) or relevance, a page of at
//! most `limit` hits, and a cursor for the next page.
//!
//! Pages are cut by key, not by offset: a cursor is the sort key of the
//! last hit handed out, and the next page holds what sorts after it. New
//! mail arriving between two pages therefore neither repeats nor skips a
//! hit (for relevance, scores move a little as the index grows).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DateTime, DocId, Score, SegmentOrdinal, SegmentReader};

use super::index::{SearchError, SearchIndex};
use super::query;

/// The most hits one page may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Oldest first (`date`).
    Date,
    /// Newest first (`-date`).
    #[default]
    DateDesc,
    /// Best match first (`relevance`), newest first among equals.
    Relevance,
}

impl Sort {
    /// Parses `date`, `-date` or `relevance`.
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "date" => Some(Sort::Date),
            "-date" => Some(Sort::DateDesc),
            "relevance" => Some(Sort::Relevance),
            _ => None,
        }
    }

    /// The name [`parse`](Self::parse) accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Date => "date",
            Sort::DateDesc => "-date",
            Sort::Relevance => "relevance",
        }
    }
}

/// One search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// The query, in the language of `docs/search.md`.
    pub query: String,
    /// Most hits to return (capped at [`MAX_LIMIT`]).
    pub limit: usize,
    /// Order.
    pub sort: Sort,
    /// Continue after the page that handed out this cursor.
    pub cursor: Option<String>,
}

/// One hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The record's id.
    pub seq: u64,
    /// Its `date` field (Date header or receive time), Unix seconds.
    pub date: i64,
    /// Relevance score (0 unless sorted by relevance).
    pub score: f32,
}

/// A page of hits.
#[derive(Debug, Clone, PartialEq)]
pub struct Hits {
    /// How many records match in all.
    pub total: usize,
    /// This page, in order.
    pub hits: Vec<Hit>,
    /// Pass this to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Sort key: larger comes first. `(primary, secondary)`.
type Key = (i64, u64);

fn key(sort: Sort, date: i64, seq: u64, score: Score) -> Key {
    match sort {
        Sort::DateDesc => (date, seq),
        Sort::Date => (-date, u64::MAX - seq),
        // Scores are non-negative, where the bits of an f32 order like it.
        Sort::Relevance => (i64::from(score.max(0.0).to_bits()), seq),
    }
}

fn encode_cursor(sort: Sort, k: Key) -> String {
    format!("{}.{}.{}", sort.as_str(), k.0, k.1)
}

fn decode_cursor(sort: Sort, c: &str) -> Result<Key, SearchError> {
    let mut parts = c.rsplitn(3, '.');
    let (Some(b), Some(a), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SearchError::Cursor);
    };
    if s != sort.as_str() {
        return Err(SearchError::Cursor);
    }
    Ok((
        a.parse().map_err(|_| SearchError::Cursor)?,
        b.parse().map_err(|_| SearchError::Cursor)?,
    ))
}

impl SearchIndex {
    /// Runs a search over the last commit.
    pub fn search(&self, req: &SearchRequest) -> Result<Hits, SearchError> {
        let node = query::parse(&req.query)?;
        self.search_node(&node, req)
    }

    /// Runs an already parsed query (`req.query` is not read): callers
    /// that add clauses of their own, such as the web interface's
    /// restriction to the mail a person may see, combine parsed nodes
    /// instead of query strings, so no quoting can widen them.
    pub fn search_node(
        &self,
        node: &query::Node,
        req: &SearchRequest,
    ) -> Result<Hits, SearchError> {
        let q = query::compile::compile(node, self.fields());
        let after = req
            .cursor
            .as_deref()
            .map(|c| decode_cursor(req.sort, c))
            .transpose()?;
        let limit = req.limit.clamp(1, MAX_LIMIT);
        let top = TopKeys {
            sort: req.sort,
            limit,
            after,
        };
        let (total, mut hits) = self.searcher().search(&*q, &(Count, top))?;
        hits.sort_by_key(|h| Reverse(h.0));
        let next_cursor = (hits.len() == limit)
            .then(|| hits.last().map(|(k, _)| encode_cursor(req.sort, *k)))
            .flatten();
        Ok(Hits {
            total,
            hits: hits.into_iter().map(|(_, h)| h).collect(),
            next_cursor,
        })
    }

    /// The ids of every record that matches `query`, oldest first (for
    /// `export --query`).
    pub fn matching(&self, query: &str) -> Result<Vec<u64>, SearchError> {
        let mut req = SearchRequest {
            query: query.to_string(),
            limit: MAX_LIMIT,
            sort: Sort::Date,
            cursor: None,
        };
        let mut out = Vec::new();
        loop {
            let page = self.search(&req)?;
            out.extend(page.hits.iter().map(|h| h.seq));
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Every document in the last commit as `(seq, content fingerprint)`,
    /// ascending (for the check against the segments).
    pub fn all_docs(&self) -> Result<Vec<(u64, u64)>, SearchError> {
        let searcher = self.searcher();
        let mut out = Vec::with_capacity(searcher.num_docs() as usize);
        for segment in searcher.segment_readers() {
            let seqs = segment.fast_fields().u64("seq")?;
            let contents = segment.fast_fields().u64("content")?;
            out.extend(
                segment
                    .doc_ids_alive()
                    .filter_map(|d| Some((seqs.first(d)?, contents.first(d).unwrap_or(0)))),
            );
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Every record id in the last commit, ascending.
    pub fn all_seqs(&self) -> Result<Vec<u64>, SearchError> {
        Ok(self.all_docs()?.into_iter().map(|(s, _)| s).collect())
    }
}

/// Keeps the `limit` best keys after the cursor.
struct TopKeys {
    sort: Sort,
    limit: usize,
    after: Option<Key>,
}

struct SegmentTop {
    sort: Sort,
    limit: usize,
    after: Option<Key>,
    seq: Column<u64>,
    date: Column<DateTime>,
    /// Smallest key on top, to be pushed out by a better one.
    heap: BinaryHeap<Reverse<(Key, u64, i64, u32)>>,
}

impl Collector for TopKeys {
    type Fruit = Vec<(Key, Hit)>;
    type Child = SegmentTop;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentTop> {
        Ok(SegmentTop {
            sort: self.sort,
            limit: self.limit,
            after: self.after,
            seq: segment.fast_fields().u64("seq")?,
            date: segment.fast_fields().date("date")?,
            heap: BinaryHeap::with_capacity(self.limit + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.sort == Sort::Relevance
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(Key, Hit)>>) -> tantivy::Result<Vec<(Key, Hit)>> {
        let mut all: Vec<(Key, Hit)> = fruits.into_iter().flatten().collect();
        all.sort_by_key(|h| Reverse(h.0));
        all.truncate(self.limit);
        Ok(all)
    }
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<(Key, Hit)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let (Some(seq), Some(date)) = (self.seq.first(doc), self.date.first(doc)) else {
            return;
        };
        let date = date.into_timestamp_secs();
        let k = key(self.sort, date, seq, score);
        if self.after.is_some_and(|a| k >= a) {
            return;
        }
        if self.heap.len() == self.limit {
            match self.heap.peek() {
                Some(Reverse((worst, ..))) if k > *worst => {
                    self.heap.pop();
                }
                _ => return,
            }
        }
        self.heap.push(Reverse((k, seq, date, score.to_bits())));
    }

    fn harvest(self) -> Vec<(Key, Hit)> {
        self.heap
            .into_iter()
            .map(|Reverse((k, seq, date, score))| {
                let score = f32::from_bits(score);
                (k, Hit { seq, date, score })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_sort() {
        let c = encode_cursor(Sort::Date, (-5, 7));
        assert_eq!(decode_cursor(Sort::Date, &c).ok(), Some((-5, 7)));
        assert!(decode_cursor(Sort::DateDesc, &c).is_err());
        assert!(decode_cursor(Sort::Date, "date.x.1").is_err());
        assert!(decode_cursor(Sort::Date, "junk").is_err());
        assert!(key(Sort::DateDesc, 10, 1, 0.0) > key(Sort::DateDesc, 9, 5, 0.0));
        assert!(key(Sort::Date, 9, 5, 0.0) > key(Sort::Date, 10, 1, 0.0));
        assert!(key(Sort::Relevance, 0, 1, 2.5) > key(Sort::Relevance, 0, 9, 1.5));
    }
}
