//! Where a prover reads the tree from: the tree file when the command
//! line has the archive to itself (caught up with the chain first); the
//! daemon's own tree file, read as its writer left it, when the daemon
//! answers through the control socket; or a tree built in memory from the
//! records (a copy, or a tree file that gave a bad proof).

use std::io;

use crate::archive::ArchiveError;
use crate::archive::merkle::{Hash, MemoryTree, NodeSource};
use crate::archive::reader::Reader;
use crate::archive::tree_file::{TREE_DIR, Tree, TreeFile};

/// A tree to prove from.
pub enum TreeSource {
    /// The archive's tree file.
    File(TreeFile),
    /// Built from the records.
    Memory(MemoryTree),
}

impl NodeSource for TreeSource {
    type Error = io::Error;
    fn node(&self, level: u32, index: u64) -> io::Result<Hash> {
        match self {
            TreeSource::File(f) => f.node(level, index),
            TreeSource::Memory(m) => m.node(level, index).map_err(io::Error::other),
        }
    }
}

/// The tree of the archive `reader` reads, whose directory is `archive`.
/// `rebuild` drops a stored tree first (after it gave a bad proof).
pub fn open(
    reader: &Reader,
    archive: &std::path::Path,
    rebuild: bool,
) -> Result<TreeSource, ArchiveError> {
    let head = reader.head()?.seq;
    let io_err = |e: io::Error| ArchiveError::Io {
        path: archive.join(TREE_DIR),
        source: e,
    };
    if reader.in_memory() {
        return memory(reader, head);
    }
    let dir = archive.join(TREE_DIR);
    if rebuild {
        TreeFile::open(&dir)
            .and_then(|mut f| f.clear())
            .map_err(io_err)?;
    }
    let tree = Tree::open(&dir, head, |from| {
        let it = reader.hashes_from(from).map_err(io::Error::other)?;
        Ok(it.map(|h| h.map_err(io::Error::other)))
    })
    .map_err(io_err)?;
    tree.close();
    TreeFile::open(&dir).map(TreeSource::File).map_err(io_err)
}

/// The tree of the first `size` records, built in memory from their chain
/// hashes (O(n): a fallback).
pub fn memory(reader: &Reader, size: u64) -> Result<TreeSource, ArchiveError> {
    let mut tree = MemoryTree::default();
    for h in reader.hashes_from(1)?.take(size as usize) {
        tree.push(&h?);
    }
    Ok(TreeSource::Memory(tree))
}

/// The tree file of the archive in `archive` whose writer runs in this
/// process (the daemon), read as it is: never cut, caught up or rebuilt,
/// since the writer appends to it. `None` when there is none; the caller
/// builds the tree in memory then (as when the file lacks a node or gives
/// a proof that does not verify).
pub fn live(archive: &std::path::Path) -> Result<Option<TreeSource>, ArchiveError> {
    let dir = archive.join(TREE_DIR);
    match TreeFile::open_read_only(&dir) {
        Ok(f) => Ok(Some(TreeSource::File(f))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ArchiveError::Io {
            path: dir,
            source: e,
        }),
    }
}
