//! German and English for the web interface: every visible string comes
//! from a catalog here, chosen from the session, the `lang` cookie or the
//! browser's `Accept-Language`.
//!
//! The catalogs are plain `key = text` files compiled into the binary
//! (`en.txt`, `de.txt`), easy for a translator to read. A test checks that
//! both hold the same keys and that every key the templates and handlers
//! use is in them; at run time a missing key shows as the key itself and
//! is logged, never as a crash.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The interface languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// German.
    De,
}

impl Lang {
    /// Every language, in the order the switcher shows them.
    pub const ALL: [Lang; 2] = [Lang::De, Lang::En];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// Parses a code such as `de`, `de-AT` or `en_GB`.
    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// The best language for an `Accept-Language` header (English when
    /// nothing matches).
    pub fn negotiate(accept: Option<&str>) -> Lang {
        let Some(accept) = accept else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut pieces = part.split(';');
            let Some(lang) = pieces.next().and_then(Lang::parse) else {
                continue;
            };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }
}

/// The catalog sources, by language.
fn source(lang: Lang) -> &'static str {
    match lang {
        Lang::En => include_str!("en.txt"),
        Lang::De => include_str!("de.txt"),
    }
}

/// Parses a catalog: `key = text` per line, `#` comments, blank lines.
pub fn parse_catalog(text: &str) -> Result<HashMap<&str, &str>, String> {
    let mut map = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once(" = ")
            .ok_or_else(|| format!("line {}: expected `key = text`", n + 1))?;
        if map.insert(k.trim(), v.trim()).is_some() {
            return Err(format!("line {}: key {} twice", n + 1, k.trim()));
        }
    }
    Ok(map)
}

fn catalog(lang: Lang) -> &'static HashMap<&'static str, &'static str> {
    static EN: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    static DE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    let cell = match lang {
        Lang::En => &EN,
        Lang::De => &DE,
    };
    cell.get_or_init(|| {
        parse_catalog(source(lang)).unwrap_or_else(|e| {
            tracing::error!(lang = lang.code(), error = %e, "web catalog damaged");
            HashMap::new()
        })
    })
}

/// The strings of one language, handed to every template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    /// The language.
    pub lang: Lang,
}

impl Tr {
    /// The strings of `lang`.
    pub fn new(lang: Lang) -> Tr {
        Tr { lang }
    }

    /// The text for `key`.
    pub fn t(&self, key: &str) -> &'static str {
        match catalog(self.lang).get(key) {
            Some(v) => v,
            None => {
                tracing::warn!(lang = self.lang.code(), key, "web text missing");
                // A key used in the code is a static string; an unknown one
                // shows as a fixed marker rather than leaking the caller's text.
                "??"
            }
        }
    }

    /// The text for `key` with `{}` replaced by `arg`, in order.
    pub fn f(&self, key: &str, args: &[&dyn std::fmt::Display]) -> String {
        let mut out = String::new();
        let mut args = args.iter();
        let mut parts = self.t(key).split("{}").peekable();
        while let Some(p) = parts.next() {
            out.push_str(p);
            if parts.peek().is_some()
                && let Some(a) = args.next()
            {
                out.push_str(&a.to_string());
            }
        }
        out
    }

    /// The language code, for `<html lang>`.
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }
}

#[cfg(test)]
mod tests;
