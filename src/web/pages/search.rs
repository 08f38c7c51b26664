//! The search page (query box, form, results with paging and sort) and the
//! syntax help. Every search that runs is an audit record with its query.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::{Chrome, When, forbidden, granted, html, unavailable, when};
use crate::archive::audit::action;
use crate::web::Web;
use crate::web::guard;
use crate::web::mail::{Hit, MailError, Sort};
use crate::web::query::{SOURCES, SearchForm};
use crate::web::trail;

/// One result line as shown.
pub struct Row {
    /// Record id.
    pub id: u64,
    /// Date header, else receive time.
    pub date: When,
    /// Sender.
    pub from: String,
    /// Recipients, shortened.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Size, human-readable.
    pub size: String,
    /// Has attachments.
    pub attachment: bool,
    /// Snippet pieces: (text, highlighted).
    pub snippet: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    c: Chrome,
    form: SearchForm,
    advanced: bool,
    sources: Vec<(&'static str, &'static str)>,
    sorts: Vec<(&'static str, &'static str)>,
    sort: &'static str,
    searched: bool,
    query: String,
    count_text: String,
    page_text: String,
    hits: Vec<Row>,
    prev: Option<String>,
    next: Option<String>,
    csrf: String,
    error: Option<String>,
}

/// Bytes as people read them.
pub fn human_size(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} kB", n as f64 / 1024.0),
        _ => format!("{:.1} MB", n as f64 / 1_048_576.0),
    }
}

fn row(h: &Hit) -> Row {
    let s = &h.summary;
    let mut to: Vec<&str> = s.headers.to.iter().map(String::as_str).collect();
    if to.is_empty() {
        to = s.rcpts.iter().map(String::as_str).collect();
    }
    let more = to.len().saturating_sub(2);
    let mut to_text = to.iter().take(2).copied().collect::<Vec<_>>().join(", ");
    if more > 0 {
        to_text.push_str(&format!(" +{more}"));
    }
    let snippet = h
        .snippet
        .as_ref()
        .map(|(text, marks)| split_marks(text, marks))
        .unwrap_or_default();
    Row {
        id: s.seq,
        date: when(s.headers.date.as_deref().unwrap_or(&s.time)),
        from: s
            .headers
            .from
            .clone()
            .or_else(|| s.mail_from.clone())
            .unwrap_or_default(),
        to: to_text,
        subject: s.headers.subject.clone().unwrap_or_default(),
        size: human_size(s.size),
        attachment: h.attachment,
        snippet,
    }
}

/// Cuts `text` at the highlighted byte ranges (ranges off a char boundary
/// are dropped rather than trusted).
pub fn split_marks(text: &str, marks: &[(usize, usize)]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(a, b) in marks {
        if a < at
            || b <= a
            || !text.is_char_boundary(a)
            || !text.is_char_boundary(b)
            || b > text.len()
        {
            continue;
        }
        out.push((text[at..a].to_owned(), false));
        out.push((text[a..b].to_owned(), true));
        at = b;
    }
    out.push((text[at..].to_owned(), false));
    out.retain(|(t, _)| !t.is_empty());
    out
}

fn page_link(form: &SearchForm, page: usize) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("q", &form.q),
        ("from", &form.from),
        ("to", &form.to),
        ("subject", &form.subject),
        ("since", &form.since),
        ("until", &form.until),
        ("source", &form.source),
        ("attachment", &form.attachment),
        ("sort", &form.sort),
    ] {
        if !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    q.append_pair("page", &page.to_string());
    format!("/search?{}", q.finish())
}

/// `GET /search`.
pub async fn page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    Query(form): Query<SearchForm>,
) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    if !s.role.reads_mail() {
        return forbidden(t, Some(&s), &uri);
    }
    let query = form.query();
    let sort = Sort::parse(&form.sort);
    let page_no = form.page();
    let size = web.settings.page_size;
    let mut found = None;
    let mut error = None;
    if !query.is_empty() {
        let store = Arc::clone(&web.store);
        let (q, scope) = (query.clone(), s.scope.clone());
        let result = tokio::task::spawn_blocking(move || {
            store.find(&q, &scope, sort, (page_no - 1) * size, size)
        })
        .await;
        let mut event = trail::by(&s, action::SEARCH);
        event.query = Some(query.clone());
        match result {
            Ok(Ok(f)) => {
                event.detail = Some(format!("{} results", f.total));
                found = Some(f);
            }
            Ok(Err(MailError::Query(e))) => {
                event.outcome = "failed".into();
                event.detail = Some(e.clone());
                error = Some(e);
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "search failed");
                return unavailable(t, Some(&s), &uri);
            }
            Err(_) => return unavailable(t, Some(&s), &uri),
        }
        if web.trail.record(event).await.is_err() {
            return unavailable(t, Some(&s), &uri);
        }
    }
    let total = found.as_ref().map_or(0, |f| f.total);
    let pages = total.div_ceil(size).max(1);
    let advanced = [
        &form.from,
        &form.to,
        &form.subject,
        &form.since,
        &form.until,
        &form.source,
        &form.attachment,
    ]
    .iter()
    .any(|v| !v.is_empty());
    let page = SearchPage {
        c: Chrome::new(t, Some(&s), "search.title", &uri),
        advanced,
        sources: SOURCES
            .iter()
            .map(|&k| {
                (
                    k,
                    match k {
                        "journal" => "source.journal",
                        "smtp-proxy" => "source.smtp-proxy",
                        "imap-proxy" => "source.imap-proxy",
                        "pop3-proxy" => "source.pop3-proxy",
                        _ => "source.import",
                    },
                )
            })
            .collect(),
        sorts: vec![
            ("-date", "sort.newest"),
            ("date", "sort.oldest"),
            ("relevance", "sort.relevance"),
        ],
        sort: sort.as_str(),
        searched: found.is_some(),
        count_text: t.f("search.count", &[&total]),
        page_text: t.f("search.page", &[&page_no, &pages]),
        hits: found
            .as_ref()
            .map(|f| f.hits.iter().map(row).collect())
            .unwrap_or_default(),
        prev: (page_no > 1).then(|| page_link(&form, page_no - 1)),
        next: (page_no < pages).then(|| page_link(&form, page_no + 1)),
        csrf: s.csrf.clone(),
        query,
        error,
        form,
    };
    html(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    c: Chrome,
    rows: Vec<(&'static str, &'static str)>,
}

/// `GET /help`: the query language in examples.
pub async fn help(State(web): State<Arc<Web>>, headers: HeaderMap, uri: Uri) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    html(
        StatusCode::OK,
        &HelpPage {
            c: Chrome::new(t, Some(&s), "help.title", &uri),
            rows: vec![
                ("Rechnung invoice", "help.words"),
                ("\"framework agreement\"", "help.phrase"),
                ("from:lieferant@example.com", "help.from"),
                ("rcpt:eve@example.com", "help.rcpt"),
                ("subject:contract", "help.subject"),
                ("date:2024-01..2024-03-31", "help.date"),
                ("has:attachment filename:*.pdf", "help.attachment"),
                ("source:journal", "help.source"),
                ("invoice OR Rechnung -draft", "help.bool"),
                ("Vertrag*", "help.prefix"),
            ],
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_cut_the_text_and_bad_ranges_are_dropped() {
        assert_eq!(
            split_marks("Grüße und Rechnung", &[(12, 20), (0, 100)]),
            vec![("Grüße und ".into(), false), ("Rechnung".into(), true)]
        );
        assert_eq!(split_marks("ab", &[(1, 1)]), vec![("ab".into(), false)]);
        assert_eq!(human_size(2048), "2.0 kB");
    }
}
