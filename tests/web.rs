//! The web interface: its security rules over plain HTTP, legal holds and
//! early deletion, and the pages in a real headless Chromium.

mod api;
mod browser;
mod daemon;
mod lifecycle;
mod security;

use std::net::SocketAddr;

use crate::support::http::{self, Answer};
use crate::support::web::PASSWORD;

/// A logged-in HTTP client: its cookie header and CSRF token.
pub struct Client {
    /// The server.
    pub addr: SocketAddr,
    /// `Cookie:` header value.
    pub cookie: String,
    /// The session's CSRF token, read from a page.
    pub csrf: String,
}

/// The value of `name="..." value="..."` in a page.
pub fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Submits the login form as `user` with `password`; returns the answer and
/// the cookie header the browser would now send.
pub fn login_as(addr: SocketAddr, user: &str, password: &str) -> (Answer, String) {
    let page = http::request(addr, "GET", "/login", &[], b"");
    let pre = page
        .cookie("__Host-mailseal-pre")
        .expect("pre-login cookie");
    let token = field(&page.text(), "pre").expect("pre token in the form");
    let body = http::form(&[("pre", &token), ("user", user), ("password", password)]);
    let cookie = format!("__Host-mailseal-pre={pre}");
    let a = http::request(
        addr,
        "POST",
        "/login",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    );
    let session = a
        .cookie("__Host-mailseal")
        .map(|s| format!("__Host-mailseal={s}"))
        .unwrap_or_default();
    (a, session)
}

impl Client {
    /// Logs in (must succeed, no four eyes) and reads the CSRF token.
    pub fn login(addr: SocketAddr, user: &str) -> Client {
        let (a, cookie) = login_as(addr, user, PASSWORD);
        assert_eq!(a.status, 303, "login of {user}: {}", a.text());
        let mut c = Client {
            addr,
            cookie,
            csrf: String::new(),
        };
        let page = c.get("/search");
        c.csrf = field(&page.text(), "csrf").expect("csrf token on the page");
        c
    }

    /// A GET with the session.
    pub fn get(&self, path: &str) -> Answer {
        http::request(self.addr, "GET", path, &[("Cookie", &self.cookie)], b"")
    }

    /// A form POST with the session.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        http::request(
            self.addr,
            "POST",
            path,
            &[
                ("Cookie", &self.cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            http::form(fields).as_bytes(),
        )
    }
}
