//! The TOML document with positions: parsing, tolerant deserialization and
//! mapping key paths back to lines.
//!
//! serde stops at the first error, but `check-config` must list them all.
//! So [`Document::deserialize`] runs serde on a copy of the parsed tree;
//! when it fails, the error's byte span names the offending key, which is
//! recorded as a problem and removed from the copy, and serde runs again
//! (the removed key then takes its default). Syntax errors are fatal: a
//! document that does not parse has no tree to continue with.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml_edit::{ImDocument, Item, Table, TableLike, Value};

use super::problem::{Problem, Problems};

/// Upper bound on serde retries, so a pathological file cannot loop long.
const MAX_DESERIALIZE_ERRORS: usize = 200;

/// A parsed configuration file that still knows where every key is.
pub(crate) struct Document {
    /// The source text, for turning byte offsets into lines.
    text: String,
    /// The root table; its items carry byte spans into `text`.
    root: Table,
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// A key of a table or inline table.
    Key(String),
    /// An element of an array or array of tables.
    Index(usize),
}

/// A read-only position in the tree.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

impl Document {
    /// Parses `text`; a syntax error comes back with its line and column.
    pub(crate) fn parse(text: &str) -> Result<Document, Problem> {
        match ImDocument::parse(text.to_owned()) {
            Ok(doc) => Ok(Document {
                text: text.to_owned(),
                root: doc.into_table(),
            }),
            Err(e) => {
                let (line, column) = match e.span() {
                    Some(span) => line_col(text, span.start),
                    None => (None, None),
                };
                Err(Problem {
                    path: String::new(),
                    message: format!(
                        "TOML syntax error: {}",
                        e.message().trim_end().replace('\n', "; ")
                    ),
                    line,
                    column,
                })
            }
        }
    }

    /// Deserializes the whole tree, recording every rejected key as a problem.
    /// Returns `None` only when an error could not be pinned to a key.
    pub(crate) fn deserialize<T: DeserializeOwned>(&self, problems: &mut Problems) -> Option<T> {
        let mut root = self.root.clone();
        for _ in 0..MAX_DESERIALIZE_ERRORS {
            let doc = toml_edit::DocumentMut::from(root.clone());
            let error = match T::deserialize(toml_edit::de::Deserializer::from(doc)) {
                Ok(value) => return Some(value),
                Err(error) => error,
            };
            let found = error.span().and_then(|span| locate(&root, &span));
            let (line, _) = match error.span() {
                Some(span) => line_col(&self.text, span.start),
                None => (None, None),
            };
            let path = found.as_deref().map(render).unwrap_or_default();
            problems.push_at(Problem {
                path,
                message: error.message().trim_end().to_owned(),
                line,
                column: None,
            });
            match found {
                Some(segs) if !segs.is_empty() && remove(&mut root, &segs) => {}
                _ => return None,
            }
        }
        None
    }

    /// Line of `path` (or of its nearest enclosing key or table).
    pub(crate) fn line_of(&self, path: &str) -> Option<usize> {
        let segs = parse_path(path);
        let mut node = Node::Table(&self.root);
        let mut best = None;
        for seg in &segs {
            let Some((key_span, child)) = child(node, seg) else {
                break;
            };
            best = key_span.or_else(|| span(child)).or(best);
            node = child;
        }
        best.and_then(|s: Range<usize>| line_col(&self.text, s.start).0)
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (Option<usize>, Option<usize>) {
    let Some(before) = text.get(..offset) else {
        return (None, None);
    };
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (Some(line), Some(column))
}

/// `a[1].b` -> [Key(a), Index(1), Key(b)].
fn parse_path(path: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            segs.push(Seg::Key(key.to_owned()));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                segs.push(Seg::Index(i));
            }
        }
    }
    segs
}

/// [Key(a), Index(1), Key(b)] -> `a[1].b`.
fn render(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn span(node: Node<'_>) -> Option<Range<usize>> {
    match node {
        Node::Item(i) => i.span(),
        Node::Table(t) => t.span(),
        Node::Value(v) => v.span(),
    }
}

fn table_like(node: Node<'_>) -> Option<&dyn TableLike> {
    match node {
        Node::Item(i) => i.as_table_like(),
        Node::Table(t) => Some(t),
        Node::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
    }
}

/// The child at `seg` and the span of its key (for keyed children).
fn child<'a>(node: Node<'a>, seg: &Seg) -> Option<(Option<Range<usize>>, Node<'a>)> {
    match seg {
        Seg::Key(k) => {
            let (key, item) = table_like(node)?.get_key_value(k)?;
            Some((key.span(), Node::Item(item)))
        }
        Seg::Index(i) => {
            let element = match node {
                Node::Item(Item::ArrayOfTables(a)) => Node::Table(a.get(*i)?),
                Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => {
                    Node::Value(a.get(*i)?)
                }
                _ => return None,
            };
            Some((None, element))
        }
    }
}

/// Every child of a node with its path step.
fn children(node: Node<'_>) -> Vec<(Seg, Option<Range<usize>>, Node<'_>)> {
    if let Some(table) = table_like(node) {
        return table
            .iter()
            .filter_map(|(k, _)| {
                let seg = Seg::Key(k.to_owned());
                child(node, &seg).map(|(s, n)| (seg, s, n))
            })
            .collect();
    }
    let len = match node {
        Node::Item(Item::ArrayOfTables(a)) => a.len(),
        Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => a.len(),
        _ => 0,
    };
    (0..len)
        .filter_map(|i| child(node, &Seg::Index(i)).map(|(s, n)| (Seg::Index(i), s, n)))
        .collect()
}

/// The deepest key path whose key or value span contains `target`.
fn locate(root: &Table, target: &Range<usize>) -> Option<Vec<Seg>> {
    fn contains(outer: &Option<Range<usize>>, inner: &Range<usize>) -> bool {
        outer
            .as_ref()
            .is_some_and(|o| o.start <= inner.start && inner.end <= o.end)
    }
    fn walk(node: Node<'_>, target: &Range<usize>, path: &mut Vec<Seg>, best: &mut Vec<Seg>) {
        for (seg, key_span, child) in children(node) {
            path.push(seg);
            if (contains(&key_span, target) || contains(&span(child), target))
                && path.len() > best.len()
            {
                *best = path.clone();
            }
            walk(child, target, path, best);
            path.pop();
        }
    }
    let mut best = Vec::new();
    walk(Node::Table(root), target, &mut Vec::new(), &mut best);
    (!best.is_empty()).then_some(best)
}

/// Removes the entry at `segs`; false if the path does not lead anywhere.
fn remove(root: &mut Table, segs: &[Seg]) -> bool {
    remove_in_table(root, segs)
}

fn remove_in_table(table: &mut dyn TableLike, segs: &[Seg]) -> bool {
    match segs {
        [Seg::Key(k)] => table.remove(k).is_some(),
        [Seg::Key(k), rest @ ..] => table
            .get_mut(k)
            .is_some_and(|item| remove_in_item(item, rest)),
        _ => false,
    }
}

fn remove_in_item(item: &mut Item, segs: &[Seg]) -> bool {
    match item {
        Item::Table(t) => remove_in_table(t, segs),
        Item::Value(v) => remove_in_value(v, segs),
        Item::ArrayOfTables(a) => match segs {
            [Seg::Index(i)] if *i < a.len() => {
                a.remove(*i);
                true
            }
            [Seg::Index(i), rest @ ..] => a.get_mut(*i).is_some_and(|t| remove_in_table(t, rest)),
            _ => false,
        },
        Item::None => false,
    }
}

fn remove_in_value(value: &mut Value, segs: &[Seg]) -> bool {
    match value {
        Value::InlineTable(t) => remove_in_table(t, segs),
        Value::Array(a) => match segs {
            [Seg::Index(i)] if *i < a.len() => {
                a.remove(*i);
                true
            }
            [Seg::Index(i), rest @ ..] => a.get_mut(*i).is_some_and(|v| remove_in_value(v, rest)),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        let segs = parse_path("smtp_proxy[1].listen");
        assert_eq!(
            segs,
            vec![
                Seg::Key("smtp_proxy".into()),
                Seg::Index(1),
                Seg::Key("listen".into())
            ]
        );
        assert_eq!(render(&segs), "smtp_proxy[1].listen");
    }

    #[test]
    fn finds_lines_of_keys_and_falls_back_to_the_enclosing_table() {
        let doc = Document::parse("a = 1\n\n[[s]]\nx = 1\n[[s]]\ny = 2\n").unwrap();
        assert_eq!(doc.line_of("a"), Some(1));
        assert_eq!(doc.line_of("s[1].y"), Some(6));
        assert_eq!(doc.line_of("s[0].x"), Some(4));
        assert_eq!(doc.line_of("s[1].missing"), doc.line_of("s[1]"));
        assert_eq!(doc.line_of("nothing"), None);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let Err(problem) = Document::parse("a = 1\nb = = 2\n") else {
            panic!("parsed");
        };
        assert_eq!(problem.line, Some(2));
        assert!(problem.column.is_some());
        assert!(problem.message.starts_with("TOML syntax error"));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default)]
        n: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        name: String,
    }

    #[test]
    fn deserialize_reports_every_bad_key_and_continues() {
        let text = "name = 5\nbogus = 1\n[[list]]\nn = 1\n[[list]]\nn = \"x\"\nextra = 2\n";
        let doc = Document::parse(text).unwrap();
        let mut problems = Problems::default();
        let outer: Outer = doc.deserialize(&mut problems).unwrap();
        assert_eq!(outer.list.len(), 2);
        assert_eq!(outer.list[0].n, 1);
        assert_eq!(outer.name, "", "rejected value falls back to the default");
        let list = problems.into_vec();
        let paths: Vec<_> = list.iter().map(|p| (p.path.as_str(), p.line)).collect();
        assert_eq!(
            paths,
            vec![
                ("name", Some(1)),
                ("bogus", Some(2)),
                ("list[1].n", Some(6)),
                ("list[1].extra", Some(7)),
            ]
        );
    }

    #[test]
    fn removes_keys_inside_inline_tables_and_arrays() {
        let text = "list = [{ n = 1 }, { n = 2, oops = 3 }]\n";
        let doc = Document::parse(text).unwrap();
        let mut problems = Problems::default();
        let outer: Outer = doc.deserialize(&mut problems).unwrap();
        assert_eq!(outer.list.len(), 2);
        let list = problems.into_vec();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].path, "list[1].oops");
    }
}
