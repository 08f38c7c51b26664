//! The module graph seen from each parent module, its cycles and its
//! layers.
//!
//! A scope is one parent: the crate (its nodes are the top-level modules)
//! or a module with children (its nodes are the parent's own code, named
//! after the parent, and each child with everything below it). A use
//! inside the scope becomes an edge between the nodes it connects; uses
//! that leave the scope belong to an outer scope.
//!
//! Cycles are looked for among the children only. A child using what its
//! parent defines (`super::Error`) while the parent's own code drives the
//! child (`child::run()`) is the usual shape of a Rust module, a facade
//! over its parts, and is shown in the graph but not reported. Declaring
//! or re-exporting a child is no use at all (see `deps`). Two children
//! that use each other, directly or around a longer loop, are reported at
//! every depth: `archive::reader` and `archive::handle` as much as
//! `config` and `smtp`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::deps::{Crate, Edge, ModPath};

/// The graph of one parent module's children.
pub struct Scope {
    /// The parent (`[]` for the crate).
    pub parent: ModPath,
    /// Every node, by name (`archive`, `archive::handle`, …).
    pub nodes: BTreeSet<String>,
    /// node -> node it uses -> the uses that make the edge.
    pub edges: BTreeMap<String, BTreeMap<String, Vec<Edge>>>,
}

/// A set of nodes of one scope that all reach each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The scope, `crate` or a module path.
    pub scope: String,
    /// Its nodes, sorted.
    pub nodes: Vec<String>,
}

fn name(path: &[String]) -> String {
    path.join("::")
}

/// Every scope of `krate` that has at least two nodes.
pub fn scopes(krate: &Crate) -> Vec<Scope> {
    let parents: BTreeSet<ModPath> = krate
        .modules
        .iter()
        .filter_map(|m| m.split_last().map(|(_, p)| p.to_vec()))
        .collect();
    let mut out = Vec::new();
    for parent in parents {
        let depth = parent.len();
        let node = |m: &ModPath| -> Option<String> {
            if !m.starts_with(&parent) {
                return None;
            }
            if m.len() == depth {
                // The crate root only declares the top-level modules.
                return (depth > 0).then(|| name(&parent));
            }
            Some(name(&m[..=depth]))
        };
        let nodes: BTreeSet<String> = krate.modules.iter().filter_map(node).collect();
        let mut edges: BTreeMap<String, BTreeMap<String, Vec<Edge>>> = BTreeMap::new();
        for e in &krate.edges {
            if let (Some(a), Some(b)) = (node(&e.from), node(&e.to))
                && a != b
            {
                edges
                    .entry(a)
                    .or_default()
                    .entry(b)
                    .or_default()
                    .push(e.clone());
            }
        }
        if nodes.len() > 1 {
            out.push(Scope {
                parent,
                nodes,
                edges,
            });
        }
    }
    out
}

impl Scope {
    /// `crate`, or the parent module's path.
    pub fn label(&self) -> String {
        if self.parent.is_empty() {
            "crate".to_owned()
        } else {
            name(&self.parent)
        }
    }

    fn deps(&self, node: &str) -> impl Iterator<Item = &String> {
        self.edges.get(node).into_iter().flat_map(BTreeMap::keys)
    }

    /// The nodes of the parent's children (the parent's own code left out).
    fn children(&self) -> impl Iterator<Item = &String> {
        let parent = name(&self.parent);
        self.nodes.iter().filter(move |n| **n != parent)
    }

    /// The strongly connected components of more than one child (Tarjan).
    pub fn cycles(&self) -> Vec<Cycle> {
        let nodes: Vec<&String> = self.children().collect();
        let index_of: BTreeMap<&String, usize> =
            nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let adj: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| {
                self.deps(n)
                    .filter_map(|d| index_of.get(d).copied())
                    .collect()
            })
            .collect();
        let mut t = Tarjan {
            adj: &adj,
            index: vec![None; nodes.len()],
            low: vec![0; nodes.len()],
            on_stack: vec![false; nodes.len()],
            stack: Vec::new(),
            next: 0,
            found: Vec::new(),
        };
        for v in 0..nodes.len() {
            if t.index[v].is_none() {
                t.visit(v);
            }
        }
        t.found
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let mut names: Vec<String> = c.into_iter().map(|i| nodes[i].clone()).collect();
                names.sort();
                Cycle {
                    scope: self.label(),
                    nodes: names,
                }
            })
            .collect()
    }

    /// A shortest way round `cycle`, with the uses that make each step.
    pub fn explain(&self, cycle: &Cycle) -> String {
        let inside: BTreeSet<&String> = cycle.nodes.iter().collect();
        let start = &cycle.nodes[0];
        // Breadth-first from `start` back to it, inside the cycle.
        let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        'search: while let Some(n) = queue.pop_front() {
            for d in self.deps(n).filter(|d| inside.contains(d)) {
                if d == start {
                    came_from.insert(start, n);
                    break 'search;
                }
                if !came_from.contains_key(d) {
                    came_from.insert(d, n);
                    queue.push_back(d);
                }
            }
        }
        let mut path = vec![start];
        let mut at = start;
        while let Some(prev) = came_from.get(at) {
            if *prev == start {
                break;
            }
            path.push(prev);
            at = prev;
        }
        path.push(start);
        path.reverse();
        let mut out = format!(
            "cycle in {} among {{{}}}: {}\n",
            cycle.scope,
            cycle.nodes.join(", "),
            path.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" -> ")
        );
        for step in path.windows(2) {
            // The places that make this step, each with what it names.
            let mut places: BTreeMap<(&str, usize), Vec<&str>> = BTreeMap::new();
            for e in &self.edges[step[0]][step[1]] {
                let names = places.entry((&e.file, e.line)).or_default();
                names.push(&e.text);
            }
            let _ = writeln!(out, "  {} -> {}:", step[0], step[1]);
            for ((file, line), names) in places.iter().take(3) {
                let _ = writeln!(out, "    src/{file}:{line}  {}", names.join(", "));
            }
            if places.len() > 3 {
                let _ = writeln!(out, "    … and {} more places", places.len() - 3);
            }
        }
        out
    }

    /// Every node with the nodes it uses, one per line.
    pub fn render(&self) -> String {
        let mut out = format!("[{}]\n", self.label());
        let parent = name(&self.parent);
        for n in &self.nodes {
            let deps: Vec<&str> = self.deps(n).map(String::as_str).collect();
            let own = if *n == parent { " (own items)" } else { "" };
            let _ = writeln!(out, "  {n}{own} -> {}", deps.join(", "));
        }
        out
    }

    /// The children in layers: each uses only children of lower layers
    /// (the children of one cycle share a layer, written `{a, b}`), layer 0
    /// first.
    pub fn layers(&self) -> Vec<Vec<String>> {
        let cycles = self.cycles();
        let group = |n: &String| -> String {
            match cycles.iter().find(|c| c.nodes.contains(n)) {
                Some(c) => format!("{{{}}}", c.nodes.join(", ")),
                None => n.clone(),
            }
        };
        let mut level: BTreeMap<String, usize> = BTreeMap::new();
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let children: BTreeSet<&String> = self.children().collect();
        for n in &children {
            let g = deps.entry(group(n)).or_default();
            g.extend(self.deps(n).filter(|d| children.contains(d)).map(group));
        }
        for (g, ds) in deps.iter_mut() {
            ds.remove(g);
        }
        while level.len() < deps.len() {
            let before = level.len();
            for (g, ds) in &deps {
                if !level.contains_key(g) && ds.iter().all(|d| level.contains_key(d)) {
                    let l = ds.iter().map(|d| level[d] + 1).max().unwrap_or(0);
                    level.insert(g.clone(), l);
                }
            }
            assert!(level.len() > before, "cycles are grouped, so layers exist");
        }
        let mut layers = vec![Vec::new(); level.values().max().map_or(0, |m| m + 1)];
        for (g, l) in level {
            layers[l].push(g);
        }
        layers
    }
}

/// Tarjan's algorithm's state.
struct Tarjan<'a> {
    /// node -> nodes it uses.
    adj: &'a [Vec<usize>],
    /// Visit order, once visited.
    index: Vec<Option<usize>>,
    /// Lowest index reachable.
    low: Vec<usize>,
    /// Whether the node is on `stack`.
    on_stack: Vec<bool>,
    /// Nodes of components not yet closed.
    stack: Vec<usize>,
    /// The next visit index.
    next: usize,
    /// The components found.
    found: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in &self.adj[v] {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            self.found.push(component);
        }
    }
}
