//! Where a command-line prover reads the tree from: the tree file when it
//! has the archive to itself (caught up with the chain first), or a tree
//! built in memory from the records when the daemon holds the archive.

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
        let mut tree = MemoryTree::default();
        for h in reader.hashes_from(1)?.take(head as usize) {
            tree.push(&h?);
        }
        return Ok(TreeSource::Memory(tree));
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
