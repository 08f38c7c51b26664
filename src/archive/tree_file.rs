//! The tree file: every node of the Merkle tree, on disk, rebuildable.
//!
//! `<archive>/tree/nodes` holds the hash of every complete subtree, 32
//! bytes each, in the order the tree completes them: a leaf, then every
//! node that leaf completes (the layout of a Merkle mountain range). So
//! appending records only appends to one file, the file holds
//! `2n - popcount(n)` hashes for `n` records (about 64 bytes a record),
//! and node `(level, index)` sits at a position computed from its last
//! leaf ([`position`]): a proof reads O(log n) hashes. Like the index it
//! is derived: it is not fsync'd per commit; opening the archive cuts a
//! torn tail back to the last whole record, checks the last leaf against
//! the chain, and appends what is missing, and a tree whose last leaf does
//! not match is rebuilt.
//!
//! [`Tree`] is the writer's view: the [`Frontier`] moves with every record
//! written (seals need the root of the batch in progress), the nodes reach
//! the file only after the batch is durable, and a failed batch rolls the
//! frontier back.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::merkle::{Frontier, Hash, Node, NodeSource};

/// The tree's directory inside the archive.
pub const TREE_DIR: &str = "tree";

/// Hashes stored for a tree of `n` leaves.
fn count_for(n: u64) -> u64 {
    2 * n - u64::from(n.count_ones())
}

/// Where node `(level, index)` is in the file, counted in hashes: right
/// after the leaf that completes it and the nodes below it.
pub fn position(level: u32, index: u64) -> u64 {
    let last_leaf = ((index + 1) << level) - 1;
    count_for(last_leaf) + u64::from(level)
}

/// The most leaves whose hashes fit in `count` stored hashes.
fn leaves_within(count: u64) -> u64 {
    // count_for is increasing and count_for(n) >= 2n - 64, so
    // n <= count / 2 + 32.
    let mut n = count / 2 + 33;
    while n > 0 && count_for(n) > count {
        n -= 1;
    }
    n
}

/// The nodes of a tree on disk.
pub struct TreeFile {
    /// `<archive>/tree/nodes`.
    file: File,
    /// Leaves stored.
    size: u64,
}

impl TreeFile {
    /// Opens (creating) the tree in `dir` and cuts what a crash can leave
    /// (a torn hash, a record's leaf without the nodes it completes).
    pub fn open(dir: &Path) -> io::Result<TreeFile> {
        std::fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("nodes"))?;
        let size = leaves_within(file.metadata()?.len() / 32);
        let mut t = TreeFile { file, size };
        t.truncate(size)?;
        Ok(t)
    }

    /// Opens the tree in `dir` that another part of this process (the
    /// archive's writer) keeps appending to, for reading only: nothing is
    /// cut or created. Its size is what was whole when it was opened;
    /// nodes appended later are not read.
    pub fn open_read_only(dir: &Path) -> io::Result<TreeFile> {
        let file = File::open(dir.join("nodes"))?;
        let size = leaves_within(file.metadata()?.len() / 32);
        Ok(TreeFile { file, size })
    }

    /// Leaves stored.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Keeps the first `size` leaves (and the nodes over them).
    pub fn truncate(&mut self, size: u64) -> io::Result<()> {
        let size = size.min(self.size);
        self.file.set_len(count_for(size) * 32)?;
        self.size = size;
        Ok(())
    }

    /// Appends nodes in the order [`Frontier::push`] returns them,
    /// continuing the tree.
    pub fn append(&mut self, nodes: &[Node]) -> io::Result<()> {
        let start = count_for(self.size);
        let mut bytes = Vec::with_capacity(nodes.len() * 32);
        let mut leaves = 0;
        for (i, n) in nodes.iter().enumerate() {
            if position(n.level, n.index) != start + i as u64 {
                return Err(io::Error::other(format!(
                    "tree node ({}, {}) does not continue the tree file",
                    n.level, n.index
                )));
            }
            leaves += u64::from(n.level == 0);
            bytes.extend_from_slice(&n.hash);
        }
        self.file.write_all_at(&bytes, start * 32)?;
        self.size += leaves;
        Ok(())
    }

    /// The frontier of the stored tree.
    pub fn frontier(&self) -> io::Result<Frontier> {
        let size = self.size;
        let mut peaks = Vec::new();
        let mut start = 0u64;
        for l in (0..64u32).rev().filter(|l| size >> l & 1 == 1) {
            peaks.push(self.node(l, start >> l)?);
            start += 1 << l;
        }
        Frontier::from_peaks(size, peaks).ok_or_else(|| io::Error::other("tree peaks"))
    }

    /// Empties the tree (before a rebuild).
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.size = 0;
        Ok(())
    }

    /// Makes the stored nodes durable (clean shutdown).
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl NodeSource for TreeFile {
    type Error = io::Error;
    fn node(&self, level: u32, index: u64) -> io::Result<Hash> {
        if level >= 64 || ((index + 1) << level) > self.size {
            return Err(io::Error::other(format!(
                "tree node ({level}, {index}) is not stored"
            )));
        }
        let mut h = [0u8; 32];
        self.file
            .read_exact_at(&mut h, position(level, index) * 32)?;
        Ok(h)
    }
}

/// The writer's tree: the frontier of everything written, and the file
/// that holds what is durable.
pub struct Tree {
    /// The stored tree; `None` after a write to it failed (it is rebuilt
    /// at the next open, and until then proofs are built in memory).
    file: Option<TreeFile>,
    /// The frontier of the last durable batch.
    committed: Frontier,
    /// The frontier including the batch being written.
    current: Frontier,
    /// Nodes of the batch being written.
    pending: Vec<Node>,
}

impl Tree {
    /// The tree of a chain of `head` records whose chain hashes `hashes`
    /// yields from any record on (`hashes(from)` starts at record `from`).
    pub fn open<I>(dir: &Path, head: u64, hashes: impl Fn(u64) -> io::Result<I>) -> io::Result<Tree>
    where
        I: Iterator<Item = io::Result<Hash>>,
    {
        let mut file = TreeFile::open(dir)?;
        if file.size() > head {
            tracing::warn!(
                tree = file.size(),
                head,
                "tree file is ahead of the chain; truncating"
            );
            file.truncate(head)?;
        }
        let size = file.size();
        if size > 0 {
            let stored = file.node(0, size - 1)?;
            let want = hashes(size)?.next().transpose()?;
            if want.map(|h| super::merkle::leaf_hash(&h)) != Some(stored) {
                tracing::warn!(size, "tree file does not match the chain; rebuilding it");
                file.clear()?;
            }
        }
        let mut frontier = file.frontier()?;
        if frontier.size() < head {
            tracing::info!(from = frontier.size(), to = head, "tree file catching up");
            let mut batch = Vec::new();
            for h in hashes(frontier.size() + 1)?.take((head - frontier.size()) as usize) {
                batch.extend(frontier.push(&h?));
                if batch.len() >= 1 << 16 {
                    file.append(&batch)?;
                    batch.clear();
                }
            }
            file.append(&batch)?;
            if frontier.size() != head {
                return Err(io::Error::other(format!(
                    "the index lists {} records, the chain {head}",
                    frontier.size()
                )));
            }
        }
        Ok(Tree {
            file: Some(file),
            committed: frontier.clone(),
            current: frontier,
            pending: Vec::new(),
        })
    }

    /// Adds a record written in the current batch.
    pub fn push(&mut self, chain_hash: &Hash) {
        let nodes = self.current.push(chain_hash);
        self.pending.extend(nodes);
    }

    /// The root over everything written so far.
    pub fn root(&self) -> Hash {
        self.current.root()
    }

    /// The batch is durable: its nodes go to the file.
    pub fn commit(&mut self) {
        let nodes = std::mem::take(&mut self.pending);
        self.committed = self.current.clone();
        if let Some(f) = &mut self.file
            && let Err(e) = f.append(&nodes)
        {
            tracing::error!(error = %e, "tree file write failed; it is rebuilt at the next start");
            let _ = f.clear();
            self.file = None;
        }
    }

    /// The batch failed: forget its records.
    pub fn rollback(&mut self) {
        self.pending.clear();
        self.current = self.committed.clone();
    }

    /// Syncs the file (clean shutdown).
    pub fn close(&self) {
        if let Some(Err(e)) = self.file.as_ref().map(TreeFile::sync) {
            tracing::warn!(error = %e, "tree file sync failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::merkle::{MemoryTree, inclusion_proof};

    fn hashes(n: u64) -> Vec<Hash> {
        (1..=n).map(|i| [i as u8; 32]).collect()
    }

    fn from(all: &[Hash]) -> impl Fn(u64) -> io::Result<std::vec::IntoIter<io::Result<Hash>>> + '_ {
        move |seq| {
            let v: Vec<io::Result<Hash>> =
                all.iter().skip(seq as usize - 1).map(|h| Ok(*h)).collect();
            Ok(v.into_iter())
        }
    }

    #[test]
    fn node_positions_follow_the_order_nodes_complete_in() {
        let mut f = Frontier::default();
        let mut at = 0;
        for i in 0..300u64 {
            for n in f.push(&[i as u8; 32]) {
                assert_eq!(position(n.level, n.index), at, "{n:?}");
                at += 1;
            }
            assert_eq!(count_for(i + 1), at);
            assert_eq!(leaves_within(at), i + 1);
            assert_eq!(leaves_within(at - 1), i);
        }
    }

    #[test]
    fn written_caught_up_torn_and_mismatched_trees_all_give_the_right_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let all = hashes(100);
        let mut mem = MemoryTree::default();
        all.iter().for_each(|h| mem.push(h));
        let mut t = Tree::open(dir.path(), 0, from(&all)).unwrap();
        for h in &all[..60] {
            t.push(h);
        }
        t.commit();
        t.push(&all[60]);
        t.rollback();
        drop(t);
        // Caught up from 60 to 100 on open.
        let t = Tree::open(dir.path(), 100, from(&all)).unwrap();
        assert_eq!(t.root(), mem.root());
        drop(t);
        let file = TreeFile::open(dir.path()).unwrap();
        assert_eq!(
            inclusion_proof(&file, 37, 100).unwrap(),
            inclusion_proof(&mem, 37, 100).unwrap()
        );
        drop(file);
        // A torn tail (a leaf written, the nodes it completes not) is cut
        // back and caught up.
        let nodes = dir.path().join("nodes");
        let f = OpenOptions::new().write(true).open(&nodes).unwrap();
        f.set_len((count_for(99) + 1) * 32 + 7).unwrap();
        let t = Tree::open(dir.path(), 100, from(&all)).unwrap();
        assert_eq!(t.root(), mem.root());
        drop(t);
        // A different chain: rebuilt.
        let other = hashes(101).into_iter().rev().collect::<Vec<_>>();
        let mut mem2 = MemoryTree::default();
        other.iter().for_each(|h| mem2.push(h));
        let t = Tree::open(dir.path(), 101, from(&other)).unwrap();
        assert_eq!(t.root(), mem2.root());
    }

    #[test]
    fn a_read_only_view_reads_whole_nodes_and_never_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let all = hashes(50);
        let mut mem = MemoryTree::default();
        all.iter().for_each(|h| mem.push(h));
        let mut t = Tree::open(dir.path(), 0, from(&all)).unwrap();
        for h in &all {
            t.push(h);
        }
        t.commit();
        // Half a hash more, as a write in progress leaves it.
        let nodes = dir.path().join("nodes");
        let len = std::fs::metadata(&nodes).unwrap().len();
        let f = OpenOptions::new().write(true).open(&nodes).unwrap();
        f.set_len(len + 16).unwrap();
        let view = TreeFile::open_read_only(dir.path()).unwrap();
        assert_eq!(view.size(), 50);
        assert_eq!(
            inclusion_proof(&view, 20, 50).unwrap(),
            inclusion_proof(&mem, 20, 50).unwrap()
        );
        assert!(view.node(0, 50).is_err(), "no leaf beyond the size");
        assert_eq!(std::fs::metadata(&nodes).unwrap().len(), len + 16);
        assert!(TreeFile::open_read_only(&dir.path().join("missing")).is_err());
    }
}
