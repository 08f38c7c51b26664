//! Which module uses which. The module tree comes from the files under
//! `src/` (`a.rs` and `a/mod.rs` are `a`, `a/b.rs` is `a::b`; `main.rs`,
//! `tests.rs` and anything under a `tests/` folder are left out: tests may
//! reach anywhere). A module uses another when one of its `use` items
//! (grouped forms included) or inline paths (`crate::…`, `super::…`,
//! `self::…`, or starting at a child module or at a name a `use` bound)
//! names an item the other defines.
//!
//! A `use` binds a name, and a path through that name is followed to where
//! the item really lives: `crate::archive::Archive` is a use of
//! `archive::handle`, because `archive/mod.rs` says `pub use
//! handle::Archive`. So a re-export is an alias, not a dependency of the
//! module that re-exports; a `pub use` counts as a use of its own module
//! only when that module's code names what it binds.

use std::collections::{BTreeSet, HashMap};

use super::lex::{Tok, Token};

/// A module's path from the crate root (`[]` is `lib.rs`).
pub type ModPath = Vec<String>;

/// One use of a module by another, and where it is written.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The module whose code it is.
    pub from: ModPath,
    /// The module that defines what it names.
    pub to: ModPath,
    /// The file, relative to `src/`.
    pub file: String,
    /// The line in `file`.
    pub line: usize,
    /// The path as written, for the report.
    pub text: String,
}

/// One name a `use` item brings in (or a glob).
#[derive(Debug, Clone)]
struct Leaf {
    /// The path as written (`crate`, `super`, `self` kept; `::` marks an
    /// extern path).
    path: Vec<String>,
    /// The name it binds; `None` for `*` and `as _`.
    name: Option<String>,
    /// A `pub` (of any reach) item: a re-export.
    public: bool,
    /// Where it is written.
    line: usize,
}

/// One source file, lexed.
struct Source {
    /// Its module.
    module: ModPath,
    /// Its path relative to `src/`.
    file: String,
    /// Its tokens, test items removed.
    tokens: Vec<Token>,
    /// What its `use` items bring in.
    leaves: Vec<Leaf>,
    /// `true` for tokens inside a `use` item.
    in_use: Vec<bool>,
}

/// The crate's modules and the uses between them.
pub struct Crate {
    /// Every module that has a file.
    pub modules: BTreeSet<ModPath>,
    /// Every use of one module by another.
    pub edges: Vec<Edge>,
}

/// The module a file under `src/` holds, or `None` when it is not part of
/// the library's non-test code.
pub fn module_of_file(rel: &str) -> Option<ModPath> {
    let rel = rel.strip_suffix(".rs")?;
    let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if parts.iter().any(|p| p == "tests") || parts == ["main"] || parts.first()? == "bin" {
        return None;
    }
    if parts == ["lib"] {
        return Some(Vec::new());
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts)
}

impl Crate {
    /// The graph of `files`: (path relative to `src/`, contents).
    pub fn from_files(files: &[(String, String)]) -> Crate {
        let sources: Vec<Source> = files
            .iter()
            .filter_map(|(rel, text)| {
                let module = module_of_file(rel)?;
                let tokens = super::lex::tokens(text);
                let (leaves, in_use) = uses(&tokens);
                Some(Source {
                    module,
                    file: rel.clone(),
                    tokens,
                    leaves,
                    in_use,
                })
            })
            .collect();
        let mut modules: BTreeSet<ModPath> = sources.iter().map(|s| s.module.clone()).collect();
        modules.insert(Vec::new());
        let mut aliases = HashMap::new();
        for s in &sources {
            for leaf in &s.leaves {
                if let Some(name) = &leaf.name {
                    aliases.insert((s.module.clone(), name.clone()), leaf.path.clone());
                }
            }
        }
        let resolver = Resolver { modules, aliases };
        let mut edges = Vec::new();
        for s in &sources {
            resolver.collect(s, &mut edges);
        }
        Crate {
            modules: resolver.modules,
            edges,
        }
    }
}

/// Turns written paths into the modules that define what they name.
struct Resolver {
    /// Every module.
    modules: BTreeSet<ModPath>,
    /// (module, name a `use` in it binds) -> the path as written there.
    aliases: HashMap<(ModPath, String), Vec<String>>,
}

/// Aliases followed before giving up (a `use` that names itself).
const MAX_HOPS: usize = 16;

impl Resolver {
    fn collect(&self, s: &Source, edges: &mut Vec<Edge>) {
        let mut push = |path: &[String], line: usize| {
            if let Some(to) = self.module_of(&s.module, path, 0)
                && to != s.module
                && !to.is_empty()
            {
                edges.push(Edge {
                    from: s.module.clone(),
                    to,
                    file: s.file.clone(),
                    line,
                    text: path.join("::"),
                });
            }
        };
        let code_names: BTreeSet<&str> = s
            .tokens
            .iter()
            .zip(&s.in_use)
            .filter(|(_, in_use)| !**in_use)
            .filter_map(|(t, _)| t.ident())
            .collect();
        for leaf in &s.leaves {
            let used_here = match &leaf.name {
                Some(name) => !leaf.public || code_names.contains(name.as_str()),
                None => true,
            };
            if used_here {
                push(&leaf.path, leaf.line);
            }
        }
        let t = &s.tokens;
        for i in 0..t.len() {
            let starts_path = !s.in_use[i]
                && t[i].ident().is_some()
                && t.get(i + 1).is_some_and(|n| n.tok == Tok::PathSep)
                && (i == 0 || (t[i - 1].tok != Tok::PathSep && !t[i - 1].is('.')));
            if starts_path {
                let mut path = vec![t[i].ident().unwrap_or_default().to_owned()];
                let mut k = i + 1;
                while t.get(k).is_some_and(|n| n.tok == Tok::PathSep) {
                    match t.get(k + 1).and_then(Token::ident) {
                        Some(seg) => path.push(seg.to_owned()),
                        None => break,
                    }
                    k += 2;
                }
                push(&path, t[i].line);
            }
        }
    }

    /// The absolute path of the item `path` names in `module`'s code, or
    /// `None` when it lies outside the crate (std, a dependency, a local
    /// type such as `Self` or an enum).
    fn absolute(&self, module: &ModPath, path: &[String], hops: usize) -> Option<Vec<String>> {
        let (first, rest) = path.split_first()?;
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "::" => None,
            "self" => Some([module.as_slice(), rest].concat()),
            "super" => {
                let mut base = module.clone();
                let mut rest = path;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                Some([base.as_slice(), rest].concat())
            }
            _ => {
                let child = [module.as_slice(), std::slice::from_ref(first)].concat();
                if self.modules.contains(&child) {
                    return Some([child.as_slice(), rest].concat());
                }
                if hops >= MAX_HOPS {
                    return None;
                }
                let target = self.aliases.get(&(module.clone(), first.clone()))?;
                let target = self.absolute(module, target, hops + 1)?;
                Some([target.as_slice(), rest].concat())
            }
        }
    }

    /// The module defining what `path` (written in `module`) names: the
    /// longest module prefix of its absolute path, after following the
    /// aliases of the modules on the way.
    fn module_of(&self, module: &ModPath, path: &[String], hops: usize) -> Option<ModPath> {
        let abs = self.absolute(module, path, hops)?;
        self.defining(&abs, hops)
    }

    fn defining(&self, abs: &[String], hops: usize) -> Option<ModPath> {
        let len = (0..=abs.len())
            .rev()
            .find(|&n| self.modules.contains(&abs[..n]))?;
        let prefix = abs[..len].to_vec();
        if let Some(name) = abs.get(len)
            && let Some(target) = self.aliases.get(&(prefix.clone(), name.clone()))
            && hops < MAX_HOPS
        {
            let target = self.absolute(&prefix, target, hops + 1)?;
            return self.defining(&[target.as_slice(), &abs[len + 1..]].concat(), hops + 1);
        }
        Some(prefix)
    }
}

/// The names every `use` item in `t` brings in, and which tokens belong to
/// `use` items.
fn uses(t: &[Token]) -> (Vec<Leaf>, Vec<bool>) {
    let mut leaves = Vec::new();
    let mut in_use = vec![false; t.len()];
    for i in 0..t.len() {
        if t[i].ident() != Some("use") || in_use[i] {
            continue;
        }
        let public = is_public(t, i);
        let mut k = i + 1;
        let mut found = Vec::new();
        tree(t, &mut k, Vec::new(), &mut found);
        while k < t.len() && !t[k].is(';') {
            k += 1;
        }
        for flag in &mut in_use[i..=k.min(t.len() - 1)] {
            *flag = true;
        }
        leaves.extend(found.into_iter().map(|(path, name)| Leaf {
            path,
            name,
            public,
            line: t[i].line,
        }));
    }
    (leaves, in_use)
}

/// Whether the `use` at `t[i]` carries a visibility (`pub`, `pub(crate)`,
/// `pub(super)`, `pub(in …)`).
fn is_public(t: &[Token], i: usize) -> bool {
    let mut k = i;
    if k > 0 && t[k - 1].is(')') {
        while k > 0 && !t[k - 1].is('(') {
            k -= 1;
        }
        k = k.saturating_sub(1);
    }
    k > 0 && t[k - 1].ident() == Some("pub")
}

/// Parses one use tree at `t[*k]` under `prefix`, pushing (path, bound
/// name) for every leaf.
fn tree(t: &[Token], k: &mut usize, mut prefix: Vec<String>, out: &mut Vec<LeafPath>) {
    if t.get(*k).is_some_and(|x| x.tok == Tok::PathSep) {
        prefix.push("::".to_owned());
        *k += 1;
    }
    loop {
        let Some(tok) = t.get(*k) else { return };
        if tok.is('{') {
            *k += 1;
            while t.get(*k).is_some_and(|x| !x.is('}')) {
                let before = *k;
                tree(t, k, prefix.clone(), out);
                if t.get(*k).is_some_and(|x| x.is(',')) || *k == before {
                    *k += 1;
                }
            }
            *k += 1;
            return;
        }
        if tok.is('*') {
            *k += 1;
            out.push((prefix, None));
            return;
        }
        let Some(seg) = tok.ident() else { return };
        *k += 1;
        if t.get(*k).is_some_and(|x| x.tok == Tok::PathSep) {
            prefix.push(seg.to_owned());
            *k += 1;
            continue;
        }
        let (path, mut name) = if seg == "self" {
            let name = prefix.last().cloned();
            (prefix, name)
        } else {
            (
                [prefix, vec![seg.to_owned()]].concat(),
                Some(seg.to_owned()),
            )
        };
        if t.get(*k).and_then(Token::ident) == Some("as") {
            let alias = t.get(*k + 1).and_then(Token::ident);
            name = alias.filter(|a| *a != "_").map(str::to_owned);
            *k += 2;
        }
        out.push((path, name));
        return;
    }
}

/// A leaf of a use tree: the path and the name it binds.
type LeafPath = (Vec<String>, Option<String>);
