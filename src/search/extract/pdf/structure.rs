//! Structural traps in a PDF that would hang or crash pdf-extract rather
//! than merely fail: a page tree that revisits a node (lopdf's page
//! iterator then walks exponentially many "pages"), a `Parent` chain that
//! loops (pdf-extract looks inherited attributes up recursively), and form
//! XObjects that draw themselves, directly or through others (pdf-extract
//! recurses on `Do` without a depth limit). Unbounded recursion overflows
//! the worker's stack, which aborts the whole process: no timeout or
//! `catch_unwind` contains that, so such files are refused before
//! pdf-extract sees them.

use std::collections::HashSet;

use lopdf::{Dictionary, Document, Object, ObjectId};

/// How long a `Parent` chain may be, and how deep forms may nest.
const MAX_NESTING: usize = 32;
/// Form visits the XObject check may make before giving up on the file.
const MAX_VISITS: usize = 100_000;

/// Checks the page tree, the pages' `Parent` chains and the form XObjects
/// each page can reach. `Err` names the trap, in our own words.
pub(super) fn check(doc: &Document) -> Result<(), &'static str> {
    let pages = page_tree(doc)?;
    let mut forms = Forms {
        doc,
        done: HashSet::new(),
        path: Vec::new(),
        visits: 0,
    };
    for page in pages {
        let dict = doc
            .get_dictionary(page)
            .map_err(|_| "page is not a dictionary")?;
        parent_chain(doc, dict)?;
        if let Some(resources) = inherited_resources(doc, dict) {
            forms.resources(resources)?;
        }
    }
    Ok(())
}

/// The leaf pages, after making sure no node of the tree repeats.
fn page_tree(doc: &Document) -> Result<Vec<ObjectId>, &'static str> {
    let root = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Pages").ok())
        .and_then(|p| p.as_reference().ok())
        .ok_or("no page tree")?;
    let mut seen = HashSet::new();
    let mut leaves = Vec::new();
    let mut stack = vec![(root, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if !seen.insert(id) {
            return Err("page tree revisits a node");
        }
        if depth > MAX_NESTING {
            return Err("page tree too deep");
        }
        let Ok(node) = doc.get_dictionary(id) else {
            continue;
        };
        match node.get(b"Kids").and_then(Object::as_array) {
            Ok(kids) if node.has_type(b"Pages") || !node.has_type(b"Page") => {
                for kid in kids.iter().rev() {
                    if let Ok(kid) = kid.as_reference() {
                        stack.push((kid, depth + 1));
                    }
                }
            }
            _ => leaves.push(id),
        }
    }
    Ok(leaves)
}

/// Refuses a page whose `Parent` chain loops or is implausibly long.
fn parent_chain(doc: &Document, page: &Dictionary) -> Result<(), &'static str> {
    let mut seen = HashSet::new();
    let mut dict = page;
    while let Ok(parent) = dict.get(b"Parent").and_then(Object::as_reference) {
        if !seen.insert(parent) || seen.len() > MAX_NESTING {
            return Err("page Parent chain loops");
        }
        match doc.get_dictionary(parent) {
            Ok(d) => dict = d,
            Err(_) => break,
        }
    }
    Ok(())
}

/// The page's `Resources`, inherited from its ancestors as pdf-extract
/// looks them up.
fn inherited_resources<'a>(doc: &'a Document, page: &'a Dictionary) -> Option<&'a Dictionary> {
    let mut dict = page;
    for _ in 0..=MAX_NESTING {
        if let Ok(r) = dict.get(b"Resources") {
            return resolve(doc, r).and_then(|o| o.as_dict().ok());
        }
        let parent = dict.get(b"Parent").and_then(Object::as_reference).ok()?;
        dict = doc.get_dictionary(parent).ok()?;
    }
    None
}

/// Follows references to the object they name.
fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

/// The search for self-drawing forms: each (form, resources) pair is
/// explored once; `path` holds the forms being drawn.
struct Forms<'a> {
    /// The document.
    doc: &'a Document,
    /// (form, resources) pairs found free of cycles, by address.
    done: HashSet<(usize, usize)>,
    /// Forms on the current drawing path, by address.
    path: Vec<usize>,
    /// Pairs explored so far, against [`MAX_VISITS`].
    visits: usize,
}

impl<'a> Forms<'a> {
    /// Explores every XObject `resources` offers to a content stream.
    fn resources(&mut self, resources: &'a Dictionary) -> Result<(), &'static str> {
        let Some(xobjects) = resources
            .get(b"XObject")
            .ok()
            .and_then(|x| resolve(self.doc, x))
            .and_then(|x| x.as_dict().ok())
        else {
            return Ok(());
        };
        for (_, value) in xobjects.iter() {
            let Some(Object::Stream(form)) = resolve(self.doc, value) else {
                continue;
            };
            if form.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image") {
                continue;
            }
            // A form without its own resources draws with its caller's,
            // as pdf-extract does.
            let own = form
                .dict
                .get(b"Resources")
                .ok()
                .and_then(|r| resolve(self.doc, r))
                .and_then(|r| r.as_dict().ok());
            let inner = own.unwrap_or(resources);
            let key = (form as *const _ as usize, inner as *const _ as usize);
            if self.path.contains(&key.0) {
                return Err("form XObject draws itself");
            }
            if self.done.contains(&key) || !draws_xobjects(form) {
                continue;
            }
            self.visits += 1;
            if self.visits > MAX_VISITS {
                return Err("too many form XObjects");
            }
            if self.path.len() >= MAX_NESTING {
                return Err("form XObjects nest too deep");
            }
            self.path.push(key.0);
            self.resources(inner)?;
            self.path.pop();
            self.done.insert(key);
        }
        Ok(())
    }
}

/// Whether a form's content may use the `Do` operator. Content still
/// filtered (one the stream guard left alone) is assumed to.
fn draws_xobjects(form: &lopdf::Stream) -> bool {
    form.dict.has(b"Filter") || memchr::memmem::find(&form.content, b"Do").is_some()
}
