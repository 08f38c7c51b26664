//! The tree file: every node of the Merkle tree, on disk, rebuildable.
//!
//! `<archive>/tree/level-LL` holds the hashes of the complete subtrees of
//! height `LL` (level 0: the leaves), 32 bytes each, in order, so node
//! `(level, index)` is at byte `32 * index`. That is about 64 bytes per
//! record and lets a proof read O(log n) nodes. Like the index it is
//! derived: it is not fsync'd per commit, and opening the archive checks
//! its last leaf against the chain, truncates what is ahead of the chain
//! or torn, recomputes higher levels that lag, and appends what is
//! missing; a tree whose last leaf does not match is rebuilt.
//!
//! [`Tree`] is the writer's view: the [`Frontier`] moves with every record
//! written (seals need the root of the batch in progress), the nodes reach
//! the file only after the batch is durable, and a failed batch rolls the
//! frontier back.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::merkle::{Frontier, Hash, Node, NodeSource, node_hash};

/// The tree's directory inside the archive.
pub const TREE_DIR: &str = "tree";

/// The levels of a tree on disk.
pub struct TreeFile {
    /// `<archive>/tree`.
    dir: PathBuf,
    /// One open file per level that has nodes.
    levels: Vec<File>,
    /// Nodes per level.
    counts: Vec<u64>,
}

fn level_name(level: usize) -> String {
    format!("level-{level:02}")
}

impl TreeFile {
    /// Opens (creating) the tree in `dir` and repairs what a crash can
    /// leave: torn hashes, and upper levels behind the leaves.
    pub fn open(dir: &Path) -> io::Result<TreeFile> {
        std::fs::create_dir_all(dir)?;
        let mut t = TreeFile {
            dir: dir.to_path_buf(),
            levels: Vec::new(),
            counts: Vec::new(),
        };
        while dir.join(level_name(t.levels.len())).exists() {
            let f = open_level(dir, t.levels.len())?;
            let n = f.metadata()?.len() / 32;
            f.set_len(n * 32)?;
            t.levels.push(f);
            t.counts.push(n);
        }
        if t.levels.is_empty() {
            t.levels.push(open_level(dir, 0)?);
            t.counts.push(0);
        }
        t.truncate(t.size())?;
        Ok(t)
    }

    /// Leaves stored.
    pub fn size(&self) -> u64 {
        self.counts.first().copied().unwrap_or(0)
    }

    /// Keeps the first `size` leaves (and the nodes over them), and
    /// computes upper nodes that a crash left unwritten.
    pub fn truncate(&mut self, size: u64) -> io::Result<()> {
        for level in 0..self.levels.len() {
            let want = size >> level;
            if self.counts[level] > want {
                self.levels[level].set_len(want * 32)?;
                self.counts[level] = want;
            }
        }
        let mut level = 1;
        while size >> level > 0 {
            if level == self.levels.len() {
                self.levels.push(new_level(&self.dir, level)?);
                self.counts.push(0);
            }
            while self.counts[level] < size >> level {
                let i = self.counts[level];
                let left = self.node(level as u32 - 1, 2 * i)?;
                let right = self.node(level as u32 - 1, 2 * i + 1)?;
                self.write_node(level, i, &node_hash(&left, &right))?;
            }
            level += 1;
        }
        Ok(())
    }

    /// Appends nodes (each continuing its level, as [`Frontier::push`]
    /// returns them).
    pub fn append(&mut self, nodes: &[Node]) -> io::Result<()> {
        let mut by_level: Vec<Vec<u8>> = Vec::new();
        let mut first: Vec<u64> = Vec::new();
        for n in nodes {
            let l = n.level as usize;
            while by_level.len() <= l {
                by_level.push(Vec::new());
                first.push(0);
            }
            if by_level[l].is_empty() {
                first[l] = n.index;
            }
            by_level[l].extend_from_slice(&n.hash);
        }
        for (l, bytes) in by_level.iter().enumerate() {
            if bytes.is_empty() {
                continue;
            }
            while l >= self.levels.len() {
                self.levels.push(new_level(&self.dir, self.levels.len())?);
                self.counts.push(0);
            }
            if first[l] != self.counts[l] {
                return Err(io::Error::other(format!(
                    "tree level {l}: node {} follows node {}",
                    first[l], self.counts[l]
                )));
            }
            self.levels[l].write_all_at(bytes, self.counts[l] * 32)?;
            self.counts[l] += bytes.len() as u64 / 32;
        }
        Ok(())
    }

    fn write_node(&mut self, level: usize, index: u64, hash: &Hash) -> io::Result<()> {
        self.levels[level].write_all_at(hash, index * 32)?;
        self.counts[level] = self.counts[level].max(index + 1);
        Ok(())
    }

    /// The frontier of the stored tree.
    pub fn frontier(&self) -> io::Result<Frontier> {
        let size = self.size();
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
        for (f, c) in self.levels.iter().zip(self.counts.iter_mut()) {
            f.set_len(0)?;
            *c = 0;
        }
        Ok(())
    }

    /// Makes the stored nodes durable (clean shutdown).
    pub fn sync(&self) -> io::Result<()> {
        for f in &self.levels {
            f.sync_data()?;
        }
        Ok(())
    }
}

impl NodeSource for TreeFile {
    type Error = io::Error;
    fn node(&self, level: u32, index: u64) -> io::Result<Hash> {
        let l = level as usize;
        if l >= self.levels.len() || index >= self.counts[l] {
            return Err(io::Error::other(format!(
                "tree node ({level}, {index}) is not stored"
            )));
        }
        let mut h = [0u8; 32];
        self.levels[l].read_exact_at(&mut h, index * 32)?;
        Ok(h)
    }
}

/// Opens a level that holds no nodes yet, dropping stale bytes a lost
/// lower level left behind.
fn new_level(dir: &Path, level: usize) -> io::Result<File> {
    let f = open_level(dir, level)?;
    f.set_len(0)?;
    Ok(f)
}

fn open_level(dir: &Path, level: usize) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(level_name(level)))
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
        // A torn leaf and lost upper levels are repaired.
        let leaves = dir.path().join("level-00");
        let f = OpenOptions::new().write(true).open(&leaves).unwrap();
        f.set_len(99 * 32 + 7).unwrap();
        std::fs::remove_file(dir.path().join("level-03")).unwrap();
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
}
