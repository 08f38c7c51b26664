//! Drives Debian's Chromium through `chromedriver` (W3C WebDriver over
//! HTTP on loopback): start a headless browser with an empty profile, go to
//! pages, find elements by CSS, type, click, read, run a script, take a
//! screenshot.
//!
//! The flags are the ones known to work on these machines: without the
//! background-networking ones Chromium tries to reach Google and its
//! connections are refused by the closed network.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

use super::http;

/// W3C's key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running browser session.
pub struct Browser {
    /// The chromedriver process.
    driver: Child,
    /// Its address.
    addr: SocketAddr,
    /// The WebDriver session id.
    session: String,
    /// The browser profile and download folder.
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    super::ports::free()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium asking for `lang`
    /// (`en-US`, `de-DE`).
    pub fn start(lang: &str) -> Browser {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.path().join("chromedriver.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver)");
        super::wait_until("chromedriver", || {
            std::net::TcpStream::connect(addr).ok().map(|_| ())
        });
        let profile = dir.path().join("profile");
        let downloads = dir.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900", format!("--lang={lang}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "intl.accept_languages": lang,
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                }
            }
        }}});
        let answer = post(addr, "/session", &caps);
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Browser {
            driver,
            addr,
            session,
            dir,
        }
    }

    /// Where downloads land.
    pub fn downloads(&self) -> PathBuf {
        self.dir.path().join("downloads")
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body) {
            Ok(value) => value,
            Err((status, v)) => panic!("webdriver {method} {path}: {status} {v}"),
        }
    }

    /// A WebDriver call; an answer other than 200 is returned as its
    /// status and body.
    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (u16, Value)> {
        let path = format!("/session/{}{path}", self.session);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let a = http::request(
            self.addr,
            method,
            &path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
        match a.status {
            200 => Ok(v["value"].clone()),
            status => Err((status, v)),
        }
    }

    /// Loads `url` and waits for it.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The current address.
    pub fn url(&self) -> String {
        self.call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element matching `css`, if there is one now.
    pub fn try_find(&self, css: &str) -> Option<String> {
        let path = format!("/session/{}/element", self.session);
        let body = json!({"using": "css selector", "value": css}).to_string();
        let a = http::request(
            self.addr,
            "POST",
            &path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let v: Value = serde_json::from_slice(&a.body).ok()?;
        v["value"][ELEMENT].as_str().map(str::to_owned)
    }

    /// The element matching `css`, waited for.
    pub fn find(&self, css: &str) -> String {
        super::wait_until(&format!("element {css}"), || self.try_find(css))
    }

    /// Every element matching `css`.
    pub fn find_all(&self, css: &str) -> Vec<String> {
        self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Types `text` into the field `css` (after clearing it).
    pub fn fill(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.call("POST", &format!("/element/{el}/clear"), Some(json!({})));
        self.call(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks `css`.
    pub fn click(&self, css: &str) {
        let el = self.find(css);
        self.call("POST", &format!("/element/{el}/click"), Some(json!({})));
    }

    /// Clicks `css`, which leads to another page, and waits until that page
    /// has replaced this one: a click only starts the navigation, and
    /// reading at once could read the old page.
    pub fn click_to_load(&self, css: &str) {
        let old = self.find("html");
        self.click(css);
        super::wait_until(&format!("the page after {css}"), || {
            self.try_call("GET", &format!("/element/{old}/name"), None)
                .is_err()
                .then_some(())
        });
    }

    /// The visible text of `css`; found again when the page changed
    /// between finding the element and reading it.
    pub fn text(&self, css: &str) -> String {
        super::wait_until(&format!("the text of {css}"), || {
            let el = self.find(css);
            let text = self.try_call("GET", &format!("/element/{el}/text"), None);
            match text {
                Ok(v) => Some(v.as_str().unwrap_or_default().to_owned()),
                Err((_, v)) if v["value"]["error"] == "stale element reference" => None,
                Err((status, v)) => panic!("webdriver text of {css}: {status} {v}"),
            }
        })
    }

    /// The page's HTML now.
    pub fn source(&self) -> String {
        self.call("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page title.
    pub fn title(&self) -> String {
        self.call("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` in the page and returns its result.
    pub fn run(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Runs an async `script` (it calls `arguments[0]` with its result).
    pub fn run_async(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Switches into the frame `css`, or back to the page with `None`.
    pub fn frame(&self, css: Option<&str>) {
        let id = match css {
            Some(c) => json!({ ELEMENT: self.find(c) }),
            None => Value::Null,
        };
        self.call("POST", "/frame", Some(json!({ "id": id })));
    }

    /// Saves a PNG screenshot of the page to `path`.
    pub fn screenshot(&self, path: &Path) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

fn post(addr: SocketAddr, path: &str, body: &Value) -> Value {
    let a = http::request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    serde_json::from_slice(&a.body).unwrap_or(Value::Null)
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http::request(
            self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
            b"",
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
