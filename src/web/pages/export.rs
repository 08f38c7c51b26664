//! Export of ticked messages or of a whole search as a ZIP: the `.eml`
//! files (or one mbox) with the manifest and SHA256SUMS that
//! `mailseal export` writes, made by the same code (`crate::export`).

use std::io::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};

use super::message::download;
use super::{bad_token, forbidden, granted, not_found, unavailable};
use crate::archive::audit::action;
use crate::archive::chain::parse_hex;
use crate::export::{ChainHead, ExportFormat, ExportOptions, NoExportProgress};
use crate::web::Web;
use crate::web::guard;
use crate::web::role::Scope;
use crate::web::trail;

/// What the export form sent.
#[derive(Debug, Default)]
struct ExportForm {
    csrf: String,
    query: String,
    all: bool,
    mbox: bool,
    ids: Vec<String>,
}

fn parse(body: &[u8]) -> ExportForm {
    let mut f = ExportForm::default();
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf" => f.csrf = v.into_owned(),
            "query" => f.query = v.into_owned(),
            "scope" => f.all = v == "all",
            "format" => f.mbox = v == "mbox",
            "id" if f.ids.len() < 100_000 => f.ids.push(v.into_owned()),
            _ => {}
        }
    }
    f
}

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
enum MakeError {
    #[error("a message is not visible: {0}")]
    Hidden(String),
    #[error(transparent)]
    Mail(#[from] crate::web::mail::MailError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error("zip: {0}")]
    Zip(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Builds the ZIP of `ids` (all checked against `scope` again).
fn make(web: &Web, ids: &[u64], scope: &Scope, mbox: bool) -> Result<(Vec<u8>, u64), MakeError> {
    for &id in ids {
        match web.store.open(id)? {
            Some(m) if scope.allows(&m.facts()) => {}
            _ => return Err(MakeError::Hidden(id.to_string())),
        }
    }
    let reader = web.store.archive().reader();
    let head = reader.head()?;
    let seal = reader
        .last_seal()?
        .and_then(|s| serde_json::to_value(s).ok());
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("export");
    let options = ExportOptions {
        out: out.clone(),
        format: if mbox {
            ExportFormat::Mbox
        } else {
            ExportFormat::Eml
        },
        chain_head: parse_hex(&head.hash).map(|hash| ChainHead {
            seq: head.seq,
            hash,
        }),
        seal,
    };
    let records = ids.iter().map(|&id| {
        reader.record(id).and_then(|(r, h)| {
            parse_hex(&h).map(|h| (r, h)).ok_or_else(|| {
                crate::archive::ArchiveError::Other(format!("record {id}: bad hash"))
            })
        })
    });
    let summary = crate::export::export(records, &reader, &options, &NoExportProgress)?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut names: Vec<_> = std::fs::read_dir(&out)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        zip.start_file(format!("mailseal-export/{name}"), opts)
            .map_err(|e| MakeError::Zip(e.to_string()))?;
        let mut f = std::fs::File::open(out.join(&name))?;
        std::io::copy(&mut f, &mut zip)?;
    }
    let cursor = zip.finish().map_err(|e| MakeError::Zip(e.to_string()))?;
    let mut bytes = cursor.into_inner();
    bytes.flush()?;
    Ok((bytes, summary.messages))
}

/// `POST /export`.
pub async fn submit(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (_, s) = match granted(&web, &headers) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let t = guard::tr(&headers, Some(&s));
    let f = parse(&body);
    if !guard::csrf_ok(&s, &f.csrf) {
        let mut event = trail::by(&s, action::DENIED);
        event.outcome = "denied".into();
        event.detail = Some("export without a valid CSRF token".into());
        if web.trail.record(event).await.is_err() {
            return unavailable(t, Some(&s), &uri);
        }
        return bad_token(t, Some(&s), &uri);
    }
    if !s.role.reads_mail() {
        return forbidden(t, Some(&s), &uri);
    }
    let web2 = Arc::clone(&web);
    let scope = s.scope.clone();
    let query = f.query.clone();
    let cap = web.settings.export_max;
    let picked: Vec<u64> = f.ids.iter().filter_map(|i| i.parse().ok()).collect();
    let all = f.all;
    let mbox = f.mbox;
    let made = tokio::task::spawn_blocking(move || {
        let ids = if all {
            web2.store.find_ids(&query, &scope, cap)?
        } else {
            let mut ids = picked;
            ids.sort_unstable();
            ids.dedup();
            ids.truncate(cap);
            ids
        };
        make(&web2, &ids, &scope, mbox).map(|(zip, n)| (zip, n, ids))
    })
    .await;
    let (zip, n, ids) = match made {
        Ok(Ok(x)) => x,
        Ok(Err(MakeError::Hidden(id))) => {
            let mut event = trail::by(&s, action::DENIED);
            event.outcome = "denied".into();
            event.detail = Some(format!(
                "export names message {id}, not visible to the user"
            ));
            if web.trail.record(event).await.is_err() {
                return unavailable(t, Some(&s), &uri);
            }
            return not_found(t, Some(&s), &uri);
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "web export failed");
            return unavailable(t, Some(&s), &uri);
        }
        Err(_) => return unavailable(t, Some(&s), &uri),
    };
    let mut event = trail::by(&s, action::EXPORT);
    event.query = (f.all && !f.query.is_empty()).then(|| f.query.clone());
    event.records = ids;
    event.detail = Some(format!(
        "{} messages as {}, {} of the search",
        n,
        if f.mbox { "zip of mbox" } else { "zip of .eml" },
        if f.all { "all" } else { "a selection" }
    ));
    if web.trail.record(event).await.is_err() {
        return unavailable(t, Some(&s), &uri);
    }
    let name = format!(
        "mailseal-export-{}.zip",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    download(zip, "application/zip", &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_ids_and_the_choice_are_read() {
        let f = parse(b"csrf=abc&query=from%3Aa%40b&id=3&id=7&scope=all&format=mbox");
        assert_eq!(f.csrf, "abc");
        assert_eq!(f.query, "from:a@b");
        assert_eq!(f.ids, vec!["3", "7"]);
        assert!(f.all && f.mbox);
    }
}
