//! The layering of `src/`: no two top-level modules use each other,
//! directly or around a longer loop, and neither do two children of any
//! module (`archive::reader` and `archive::handle`, `imap::proxy::session` and its
//! legs). The code is read as text, the way a reader of it sees it:
//! `layers/lex.rs` drops comments, literals and `#[cfg(test)]` items,
//! `layers/deps.rs` says what counts as a use, `layers/graph.rs` how
//! parents and children are treated.
//!
//! To print the top-level modules in layers (what `docs/architecture.md`
//! draws) and their uses:
//!
//! ```text
//! MAILSEAL_LAYERS=1 cargo test --release --test tests layers:: -- --nocapture
//! ```
//!
//! `MAILSEAL_LAYERS=all` prints the graph of every module's children too.

mod deps;
mod graph;
mod lex;

use std::collections::BTreeSet;
use std::path::Path;

use deps::Crate;
use graph::{Cycle, Scope};

/// A cycle that is known and being removed elsewhere.
struct Known {
    /// Its modules: a cycle among these (or some of them) is let through.
    nodes: &'static [&'static str],
    /// The change that removes it; the lead deletes the entry when that
    /// change is merged.
    removed_by: &'static str,
}

/// Cycles other branches of issue 12 are removing. A cycle not listed
/// fails the test, and so does an entry whose cycle is gone, so the list
/// only shrinks.
const KNOWN_CYCLES: &[Known] = &[];

fn is_known(cycle: &Cycle) -> bool {
    KNOWN_CYCLES
        .iter()
        .any(|k| cycle.nodes.iter().all(|n| k.nodes.contains(&n.as_str())))
}

/// Every `.rs` file under `dir`, as (path relative to `root`, contents).
fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy());
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((rel.collect::<Vec<_>>().join("/"), text));
        }
    }
}

fn mailseal() -> Vec<Scope> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree(&src, &src, &mut files);
    assert!(files.len() > 50, "src/ holds {} files", files.len());
    graph::scopes(&Crate::from_files(&files))
}

fn whole_graph(scopes: &[Scope]) -> String {
    scopes.iter().map(Scope::render).collect()
}

fn print_if_asked(scopes: &[Scope]) {
    let Ok(what) = std::env::var("MAILSEAL_LAYERS") else {
        return;
    };
    let root = &scopes[0];
    println!("Top-level modules in layers; each uses only modules of lower layers:");
    for (i, layer) in root.layers().iter().enumerate() {
        println!("  {i}: {}", layer.join("  "));
    }
    println!("\n{}", root.render());
    if what == "all" {
        println!("{}", whole_graph(&scopes[1..]));
    }
}

#[test]
fn no_two_modules_use_each_other() {
    let scopes = mailseal();
    assert!(scopes[0].parent.is_empty(), "the crate's scope comes first");
    print_if_asked(&scopes);
    let mut report = String::new();
    for scope in &scopes {
        for cycle in scope.cycles().iter().filter(|c| !is_known(c)) {
            report.push_str(&scope.explain(cycle));
        }
    }
    assert!(
        report.is_empty(),
        "modules that use each other:\n{report}\nthe whole module graph:\n{}",
        whole_graph(&scopes)
    );
}

#[test]
fn every_known_cycle_is_still_there() {
    let scopes = mailseal();
    let cycles: Vec<Cycle> = scopes.iter().flat_map(Scope::cycles).collect();
    for known in KNOWN_CYCLES {
        let names: BTreeSet<&str> = known.nodes.iter().copied().collect();
        let still = cycles
            .iter()
            .any(|c| c.nodes.iter().all(|n| names.contains(n.as_str())));
        assert!(
            still,
            "no cycle lies within {names:?} any more ({}): remove or narrow its entry in KNOWN_CYCLES",
            known.removed_by
        );
    }
}

/// The uses between modules of a small crate, as `from -> to`.
fn uses(files: &[(&str, &str)]) -> BTreeSet<String> {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    let krate = Crate::from_files(&files);
    let edges = krate.edges.iter();
    edges
        .map(|e| format!("{} -> {}", e.from.join("::"), e.to.join("::")))
        .collect()
}

fn cycles(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    let scopes = graph::scopes(&Crate::from_files(&files));
    let cycles = scopes.iter().flat_map(Scope::cycles);
    cycles.map(|c| c.nodes).collect()
}

#[test]
fn grouped_uses_inline_paths_and_super_are_uses() {
    let found = uses(&[
        ("lib.rs", "pub mod a; pub mod b; pub mod c; pub mod d;"),
        ("a.rs", "use crate::{b::{self, B}, c as see};"),
        ("b.rs", "fn f() { crate::d::run(); }"),
        ("c/mod.rs", "mod x; mod y; pub use x::X;"),
        ("c/x.rs", "use super::super::d::{D};\npub struct X;"),
        ("c/y.rs", "fn f() -> super::X { super::x::X }"),
        (
            "d.rs",
            "use ::c::Extern; use std::io; fn f() { io::stdout(); }",
        ),
    ]);
    let want = [
        "a -> b",
        "a -> c",
        "b -> d",
        "c::x -> d",
        // Through `c`'s re-export, and directly.
        "c::y -> c::x",
    ];
    assert_eq!(found, want.iter().map(|s| (*s).to_owned()).collect());
}

#[test]
fn a_cycle_through_a_reexport_is_found_and_named() {
    let found = cycles(&[
        ("lib.rs", "pub mod x; pub mod z;"),
        ("x/mod.rs", "mod one; mod two; pub use one::One;"),
        ("x/one.rs", "use super::two::Two; pub struct One(Two);"),
        ("x/two.rs", "pub struct Two; fn f(_: crate::x::One) {}"),
        ("z.rs", "use crate::x::One;"),
    ]);
    assert_eq!(found, [["x::one", "x::two"]]);
    let found = cycles(&[
        ("lib.rs", "pub mod p; pub mod q; pub mod r;"),
        ("p.rs", "use crate::q::Q;"),
        ("q.rs", "fn f() { crate::r::go() }"),
        ("r.rs", "pub fn go() { let _ = crate::p::P; }"),
    ]);
    assert_eq!(found, [["p", "q", "r"]]);
}

#[test]
fn tests_comments_and_literals_are_not_uses() {
    let found = uses(&[
        ("lib.rs", "pub mod a; pub mod b; pub mod c;"),
        (
            "a.rs",
            concat!(
                "//! See [`crate::b::B`].\n",
                "/* crate::b::B /* nested */ crate::b::B */\n",
                "const S: &str = \"crate::b::B\";\n",
                "const R: &str = r#\"crate::b::B \"# ;\n",
                "const C: char = '{'; const Q: char = '\\'';\n",
                "fn f<'a>(x: &'a str) {}\n",
                "#[cfg(test)]\nmod tests { use crate::b::B; fn g() { crate::b::h() } }\n",
                "#[cfg(test)]\nuse crate::b::{B, C};\n",
                "fn real() { crate::c::go() }\n",
            ),
        ),
        ("a/tests.rs", "use crate::b::B;"),
        ("b.rs", "pub struct B;"),
        ("c.rs", "pub fn go() {}"),
    ]);
    assert_eq!(found, BTreeSet::from(["a -> c".to_owned()]));
}

#[test]
fn a_parent_driving_a_child_that_uses_its_error_is_no_cycle() {
    let files = [
        ("lib.rs", "pub mod imp;"),
        (
            "imp/mod.rs",
            "mod eml; mod mbox; pub enum Error {} pub fn run() { eml::read(); }",
        ),
        ("imp/eml.rs", "use super::Error; pub fn read() {}"),
        ("imp/mbox.rs", "use super::{eml, Error};"),
    ];
    let found = uses(&files);
    let want = [
        "imp -> imp::eml",
        "imp::eml -> imp",
        "imp::mbox -> imp",
        "imp::mbox -> imp::eml",
    ];
    assert_eq!(found, want.iter().map(|s| (*s).to_owned()).collect());
    assert!(cycles(&files).is_empty());
}
