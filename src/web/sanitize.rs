//! Turns a mail's HTML body into HTML that cannot run code or reach out.
//!
//! Three layers, each enough on its own for scripts: ammonia keeps only a
//! list of harmless tags and attributes (no `<script>`, no `on*=` handlers,
//! no `style`, no `javascript:` links); the body is served from its own URL
//! with a Content-Security-Policy that allows no script and no connection;
//! and the page shows it in an `<iframe sandbox>` without `allow-scripts`.
//! Remote images are removed here unless the reader asked for them, and
//! the CSP blocks them as well, so an image that slipped through the
//! sanitiser still cannot tell the sender that the mail was read.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The sanitised body and what was held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clean {
    /// HTML safe to show in the sandboxed frame.
    pub html: String,
    /// Remote images removed (0 when they were allowed).
    pub blocked_images: usize,
}

/// The Content-Security-Policy of the served body. Without remote images
/// only inline `data:` images load; with them, `http:`/`https:` images do,
/// and nothing else does either way.
pub fn body_csp(remote_images: bool) -> &'static str {
    if remote_images {
        "default-src 'none'; img-src data: http: https:; style-src 'unsafe-inline'; \
         frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
    } else {
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; \
         frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
    }
}

/// Sanitises `html`; keeps remote images only when `remote_images`.
pub fn clean(html: &str, remote_images: bool) -> Clean {
    let blocked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&blocked);
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["center", "font"])
        .add_tag_attributes("font", ["color", "face", "size"])
        .add_generic_attributes(["align", "bgcolor", "valign", "width", "height"])
        .url_schemes(HashSet::from(["http", "https", "mailto", "data"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(move |element, attribute, value| {
            let remote = !value.trim_start().to_ascii_lowercase().starts_with("data:");
            match (element, attribute) {
                ("img", "src") if remote && !remote_images => {
                    counter.fetch_add(1, Ordering::Relaxed);
                    None
                }
                // Only images may be inline data; a data: link could carry
                // a page of its own.
                ("a", "href") if !remote => None,
                _ => Some(value.into()),
            }
        });
    let html = builder.clean(html).to_string();
    Clean {
        html,
        blocked_images: blocked.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = r#"<p onclick="steal()">Hi</p><script>alert(1)</script>
        <img src="http://127.0.0.1:9/track.png" onerror="alert(2)">
        <img src="data:image/png;base64,iVBORw0KGgo=">
        <a href="javascript:alert(3)">x</a><a href="data:text/html,<script>">y</a>
        <iframe src="http://evil.example/"></iframe><style>body{background:url(http://x/)}</style>
        <div style="background:url(http://x/)">z</div><form action="http://x/"><input></form>"#;

    #[test]
    fn scripts_handlers_frames_and_remote_images_are_gone() {
        let c = clean(HOSTILE, false);
        let lower = c.html.to_lowercase();
        for bad in [
            "<script",
            "onclick",
            "onerror",
            "javascript:",
            "<iframe",
            "<style",
            "style=",
            "http://127.0.0.1",
            "<form",
            "data:text",
        ] {
            assert!(!lower.contains(bad), "{bad} survived: {}", c.html);
        }
        assert_eq!(c.blocked_images, 1);
        assert!(c.html.contains("data:image/png"));
        assert!(c.html.contains("Hi"));
    }

    #[test]
    fn remote_images_stay_when_allowed_but_scripts_never_do() {
        let c = clean(HOSTILE, true);
        assert!(c.html.contains("http://127.0.0.1:9/track.png"));
        assert!(!c.html.contains("onerror"));
        assert!(!c.html.contains("<script"));
        assert_eq!(c.blocked_images, 0);
        assert!(body_csp(true).contains("img-src data: http: https:"));
        assert!(!body_csp(false).contains("http:"));
    }
}
