//! The catalogs are complete: both languages hold the same keys, and every
//! key the templates and handlers name is in them.

use std::collections::BTreeSet;

use super::*;

/// The first parts of catalog keys; a string literal starting with one of
/// these and a dot is a key (template file names excepted).
const PREFIXES: &[&str] = &[
    "login",
    "confirm",
    "nav",
    "search",
    "field",
    "source",
    "sort",
    "message",
    "proof",
    "export",
    "audit",
    "status",
    "users",
    "role",
    "error",
    "help",
    "footer",
    "hold",
    "deletion",
    "lifecycle",
];

fn used_keys() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs" || x == "html") {
                files.push(p);
            }
        }
    }
    let mut keys = BTreeSet::new();
    for f in files {
        if f.ends_with("i18n/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for lit in text.split('"').skip(1).step_by(2) {
            let Some((prefix, rest)) = lit.split_once('.') else {
                continue;
            };
            let keyish = !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || matches!(c, '_' | '-' | '.'));
            let file_name = lit.ends_with(".html") || lit.ends_with(".toml");
            if PREFIXES.contains(&prefix) && keyish && !file_name {
                keys.insert(lit.to_owned());
            }
        }
    }
    keys
}

#[test]
fn both_catalogs_parse_and_hold_the_same_keys() {
    let en: BTreeSet<_> = parse_catalog(source(Lang::En))
        .unwrap()
        .into_keys()
        .collect();
    let de: BTreeSet<_> = parse_catalog(source(Lang::De))
        .unwrap()
        .into_keys()
        .collect();
    let only_en: Vec<_> = en.difference(&de).collect();
    let only_de: Vec<_> = de.difference(&en).collect();
    assert!(only_en.is_empty(), "missing in de.txt: {only_en:?}");
    assert!(only_de.is_empty(), "missing in en.txt: {only_de:?}");
}

#[test]
fn every_key_the_pages_use_is_translated() {
    let used = used_keys();
    assert!(used.len() > 100, "the scan found only {} keys", used.len());
    for lang in [Lang::En, Lang::De] {
        let catalog = parse_catalog(source(lang)).unwrap();
        let missing: Vec<_> = used
            .iter()
            .filter(|k| !catalog.contains_key(k.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: missing keys {missing:?}",
            lang.code()
        );
    }
}

#[test]
fn placeholders_agree_between_languages() {
    let en = parse_catalog(source(Lang::En)).unwrap();
    let de = parse_catalog(source(Lang::De)).unwrap();
    for (k, v) in &en {
        assert_eq!(
            v.matches("{}").count(),
            de[k].matches("{}").count(),
            "placeholders of {k}"
        );
    }
}

#[test]
fn accept_language_picks_the_best_supported_language() {
    assert_eq!(Lang::negotiate(Some("de-DE,de;q=0.9,en;q=0.8")), Lang::De);
    assert_eq!(Lang::negotiate(Some("fr-FR, en;q=0.5, de;q=0.4")), Lang::En);
    assert_eq!(Lang::negotiate(Some("fr")), Lang::En);
    assert_eq!(Lang::negotiate(Some("de;q=0")), Lang::En);
    assert_eq!(Lang::negotiate(None), Lang::En);
    let t = Tr::new(Lang::De);
    assert_eq!(t.f("search.count", &[&3]), "3 Nachrichten gefunden");
    assert_eq!(t.t("no.such.key"), "??");
}
