//! The listing and bucket calls of the S3 client ([`S3`]): object and
//! version listings (restore, `verify --replica`, the tests), DELETE and
//! bucket creation (the tests and first setup; the replicator never
//! deletes).

use http_body_util::BodyExt;
use rusty_s3::Method;

use super::s3::{Listed, S3, S3Error, empty};
use super::xml;

impl S3 {
    /// Every object under `prefix` (all pages), in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, S3Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2".to_owned()), ("prefix", prefix.to_owned())];
            if let Some(t) = &token {
                query.push(("continuation-token", t.clone()));
            }
            let text = self.get_text(&query, prefix).await?;
            for c in xml::records(&text, "Contents") {
                out.push(Listed {
                    key: c.get("Key").cloned().unwrap_or_default(),
                    size: c.get("Size").and_then(|s| s.parse().ok()).unwrap_or(0),
                    version: None,
                });
            }
            token = xml::top(&text, "NextContinuationToken");
            if xml::top(&text, "IsTruncated").as_deref() != Some("true") || token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Every version of every object under `prefix` (delete markers left
    /// out), all pages.
    pub async fn list_versions(&self, prefix: &str) -> Result<Vec<Listed>, S3Error> {
        let mut out = Vec::new();
        let mut marker: Option<(String, String)> = None;
        loop {
            let mut query = vec![("versions", String::new()), ("prefix", prefix.to_owned())];
            if let Some((k, v)) = &marker {
                query.push(("key-marker", k.clone()));
                query.push(("version-id-marker", v.clone()));
            }
            let text = self.get_text(&query, prefix).await?;
            for c in xml::records(&text, "Version") {
                out.push(Listed {
                    key: c.get("Key").cloned().unwrap_or_default(),
                    size: c.get("Size").and_then(|s| s.parse().ok()).unwrap_or(0),
                    version: c.get("VersionId").cloned(),
                });
            }
            let next = xml::top(&text, "NextKeyMarker").zip(xml::top(&text, "NextVersionIdMarker"));
            if xml::top(&text, "IsTruncated").as_deref() != Some("true") || next.is_none() {
                return Ok(out);
            }
            marker = next;
        }
    }

    /// DELETE an object, or one version of it.
    pub async fn delete(&self, key: &str, version: Option<&str>) -> Result<(), S3Error> {
        let url = self.bucket.object_url(key);
        let query: Vec<(&str, String)> = version
            .map(|v| vec![("versionId", v.to_owned())])
            .unwrap_or_default();
        self.send(Method::Delete, "DELETE", key, url, &query, &[], empty())
            .await
            .map(drop)
    }

    /// Creates the bucket, with Object Lock (and so versioning) when asked.
    pub async fn create_bucket(&self, object_lock: bool) -> Result<(), S3Error> {
        let url = self.bucket.base_url().clone();
        let mut headers = vec![("content-length", "0".to_owned())];
        if object_lock {
            headers.push(("x-amz-bucket-object-lock-enabled", "true".to_owned()));
        }
        let name = self.bucket.name().to_owned();
        self.send(Method::Put, "PUT", &name, url, &[], &headers, empty())
            .await
            .map(drop)
    }

    async fn get_text(&self, query: &[(&str, String)], what: &str) -> Result<String, S3Error> {
        let url = self.bucket.base_url().clone();
        let resp = self
            .send(Method::Get, "LIST", what, url, query, &[], empty())
            .await?;
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| S3Error::Transport(format!("listing {what}: {e}")))?
            .to_bytes();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}
