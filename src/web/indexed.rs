//! Finding mail for the web pages and the JSON API through the daemon's
//! full-text index (`src/search`), restricted to what the person may see.
//!
//! The restriction is a clause of the index query, built as a parsed node
//! (never by pasting strings into the user's query, so no quoting can
//! widen it): the person's addresses as sender or any recipient and their
//! mail logins as `user:`, or their domains. The index is a little more
//! generous than [`Scope::allows`] (it also knows `Sender:` headers and
//! parent domains), so every hit is checked against the scope as well and
//! a hit the scope refuses is dropped; `total` is the index's count and
//! can therefore be slightly higher than what the person is shown.

use std::sync::Arc;

use crate::search::extract::{self, Limits};
use crate::search::highlight::{self, Wanted};
use crate::search::indexer::Status;
use crate::search::query::ast::{AddressField, KeywordField, Text};
use crate::search::query::{self, Node};
use crate::search::{SearchError, SearchIndex, SearchRequest, analysis};

use super::mail::{Found, Hit, MailError, MailStore, Sort};
use super::role::Scope;

/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 220;

/// The most hits a page may reach into the result list by offset (the
/// pages' numbered paging; the API pages by cursor without limit).
pub const MAX_OFFSET: usize = crate::search::searcher::MAX_LIMIT;

/// The user's query with the scope's clause added; `None` when the scope
/// allows no mail at all.
pub fn scoped(query: &str, scope: &Scope) -> Result<Option<(Node, Node)>, MailError> {
    let node = if query.trim().is_empty() {
        Node::And(Vec::new())
    } else {
        query::parse(query).map_err(|e| MailError::Query(e.to_string()))?
    };
    let words = node.clone();
    let address = |field, a: &str| Node::Address {
        field,
        text: Text::Word(a.to_owned()),
    };
    let restriction = match scope {
        Scope::Everything => return Ok(Some((node, words))),
        Scope::Nothing => return Ok(None),
        Scope::Domains(domains) => domains
            .iter()
            .flat_map(|d| {
                [
                    address(AddressField::From, d),
                    address(AddressField::Rcpt, d),
                ]
            })
            .collect(),
        Scope::Own {
            addresses,
            mail_logins,
        } => {
            let mut any: Vec<Node> = addresses
                .iter()
                .flat_map(|a| {
                    [
                        address(AddressField::From, a),
                        address(AddressField::Rcpt, a),
                    ]
                })
                .collect();
            any.extend(mail_logins.iter().map(|l| Node::Keyword {
                field: KeywordField::User,
                value: analysis::normalize(l.trim()),
                prefix: false,
            }));
            any
        }
    };
    if restriction.is_empty() {
        return Ok(None);
    }
    Ok(Some((Node::And(vec![node, Node::Or(restriction)]), words)))
}

/// The index's order for the pages' order.
fn index_sort(sort: Sort) -> crate::search::Sort {
    match sort {
        Sort::NewestFirst => crate::search::Sort::DateDesc,
        Sort::OldestFirst => crate::search::Sort::Date,
        Sort::Relevance => crate::search::Sort::Relevance,
    }
}

/// The open index, or why it cannot answer now. The pages never fall back
/// to scanning the segments while the daemon has an index.
pub fn index(status: &Status) -> Result<Arc<SearchIndex>, MailError> {
    status.index().ok_or_else(|| {
        MailError::Unavailable(format!(
            "the search index is being reopened ({})",
            status
                .last_error()
                .unwrap_or_else(|| "starting".to_string())
        ))
    })
}

fn search_error(e: SearchError) -> MailError {
    match e {
        SearchError::Query(e) => MailError::Query(e.to_string()),
        SearchError::Cursor => MailError::Query("the cursor is not valid for this search".into()),
        other => MailError::Unavailable(other.to_string()),
    }
}

/// A page of at most `limit` hits after `cursor`, each checked against
/// `scope`, with snippets for the words of the user's query.
pub fn find_after(
    store: &dyn MailStore,
    status: &Status,
    query: &str,
    scope: &Scope,
    sort: Sort,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Found, MailError> {
    let Some((node, words)) = scoped(query, scope)? else {
        return Ok(Found::default());
    };
    let index = index(status)?;
    let request = SearchRequest {
        query: String::new(),
        limit,
        sort: index_sort(sort),
        cursor: cursor.map(str::to_owned),
    };
    let page = index.search_node(&node, &request).map_err(search_error)?;
    let wanted = Wanted::of(&words);
    let mut hits = Vec::with_capacity(page.hits.len());
    for h in &page.hits {
        if let Some(hit) = hit(store, scope, &wanted, h.seq)? {
            hits.push(hit);
        }
    }
    Ok(Found {
        total: page.total,
        hits,
        next_cursor: page.next_cursor,
        indexed: Some(index.indexed_seq()),
    })
}

/// A page by offset, for the numbered pages (offsets up to [`MAX_OFFSET`]).
pub fn find(
    store: &dyn MailStore,
    status: &Status,
    query: &str,
    scope: &Scope,
    sort: Sort,
    offset: usize,
    limit: usize,
) -> Result<Found, MailError> {
    let Some((node, words)) = scoped(query, scope)? else {
        return Ok(Found::default());
    };
    let index = index(status)?;
    let request = SearchRequest {
        query: String::new(),
        limit: offset.saturating_add(limit).min(MAX_OFFSET),
        sort: index_sort(sort),
        cursor: None,
    };
    let page = index.search_node(&node, &request).map_err(search_error)?;
    let wanted = Wanted::of(&words);
    let mut hits = Vec::with_capacity(limit);
    for h in page.hits.iter().skip(offset) {
        if let Some(hit) = hit(store, scope, &wanted, h.seq)? {
            hits.push(hit);
        }
    }
    Ok(Found {
        total: page.total,
        hits,
        next_cursor: None,
        indexed: Some(index.indexed_seq()),
    })
}

/// Every id matching `query` within `scope`, oldest first, at most `cap`.
pub fn find_ids(
    store: &dyn MailStore,
    status: &Status,
    query: &str,
    scope: &Scope,
    cap: usize,
) -> Result<Vec<u64>, MailError> {
    let Some((node, _)) = scoped(query, scope)? else {
        return Ok(Vec::new());
    };
    let index = index(status)?;
    let mut request = SearchRequest {
        query: String::new(),
        limit: crate::search::searcher::MAX_LIMIT,
        sort: crate::search::Sort::Date,
        cursor: None,
    };
    let mut ids = Vec::new();
    loop {
        let page = index.search_node(&node, &request).map_err(search_error)?;
        for h in &page.hits {
            if ids.len() >= cap {
                return Ok(ids);
            }
            let allowed = matches!(scope, Scope::Everything)
                || store.open(h.seq)?.is_some_and(|m| scope.allows(&m.facts()));
            if allowed {
                ids.push(h.seq);
            }
        }
        match page.next_cursor {
            Some(c) => request.cursor = Some(c),
            None => return Ok(ids),
        }
    }
}

/// The result line of record `seq`, or `None` when the scope refuses it
/// (or it is no longer a message).
fn hit(
    store: &dyn MailStore,
    scope: &Scope,
    wanted: &Wanted,
    seq: u64,
) -> Result<Option<Hit>, MailError> {
    let Some(stored) = store.open(seq)? else {
        return Ok(None);
    };
    if !scope.allows(&stored.facts()) {
        return Ok(None);
    }
    let mut raw = Vec::new();
    store.write_content(&stored.summary.sha256, &mut raw)?;
    // Attachment text is not needed for a snippet of the body, and
    // extracting it (PDF, Office) would cost far more than the page.
    let limits = Limits {
        max_attachment_input: 0,
        ..Limits::default()
    };
    let text = extract::extract(&raw, &limits);
    let subject = stored.summary.headers.subject.clone().unwrap_or_default();
    let snippet = highlight::snippet(wanted, &text.body, SNIPPET_CHARS)
        .or_else(|| highlight::snippet(wanted, &subject, SNIPPET_CHARS))
        .map(|s| (s.text, s.highlights));
    Ok(Some(Hit {
        summary: stored.summary,
        attachment: text.has_attachment,
        snippet,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_query_is_anded_with_the_scope_and_cannot_escape_it() {
        let own = Scope::Own {
            addresses: vec!["eve@corp.example".into()],
            mail_logins: vec!["Eve".into()],
        };
        let (node, words) = scoped("a OR b", &own).unwrap().unwrap();
        let Node::And(parts) = &node else {
            panic!("not an AND: {node:?}")
        };
        assert_eq!(parts[0], words);
        assert!(matches!(&parts[0], Node::Or(_)));
        let Node::Or(scope) = &parts[1] else {
            panic!("no scope clause: {node:?}")
        };
        assert_eq!(scope.len(), 3);
        assert!(scope.contains(&Node::Keyword {
            field: KeywordField::User,
            value: "eve".into(),
            prefix: false
        }));
        // A person with nothing to see gets no query at all.
        assert!(scoped("x", &Scope::Nothing).unwrap().is_none());
        let empty = Scope::Own {
            addresses: vec![],
            mail_logins: vec![],
        };
        assert!(scoped("x", &empty).unwrap().is_none());
        // Everything: the query alone; an empty query matches all.
        let (all, _) = scoped("  ", &Scope::Everything).unwrap().unwrap();
        assert_eq!(all, Node::And(vec![]));
        assert!(matches!(
            scoped("from:", &Scope::Everything),
            Err(MailError::Query(_))
        ));
    }
}
