//! The Merkle tree over the chain (RFC 9162, section 2.1).
//!
//! Leaf `i` (from 0) is record `i + 1`; its data is the record's 32-byte
//! chain hash. Hashing is RFC 9162's, with domain separation:
//! `leaf = SHA-256(0x00 || chain hash)`, `node = SHA-256(0x01 || left ||
//! right)`, and the root of the empty tree is `SHA-256("")`. A tree of
//! size `n` covers records `1..=n`; its root is the `root` of a seal
//! (version 2) with `seq = n`.
//!
//! This module is pure: [`Frontier`] keeps the right edge of the tree
//! (at most 64 hashes) so appending costs O(log n) and yields the nodes it
//! completes, and the proofs read complete subtrees through a
//! [`NodeSource`] (the tree file, or memory). Inclusion and consistency
//! proofs and their verification follow RFC 9162 2.1.3 and 2.1.4.

use sha2::{Digest, Sha256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// The hash of a leaf whose data is `chain_hash`.
pub fn leaf_hash(chain_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(chain_hash);
    h.finalize().into()
}

/// The hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of no bytes.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A complete subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Height above the leaves (0: a leaf).
    pub level: u32,
    /// Position among the nodes of that level.
    pub index: u64,
    /// Its hash.
    pub hash: Hash,
}

/// The right edge of a tree: the roots of its complete subtrees from the
/// largest (leftmost) to the smallest, one per set bit of the size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    /// Leaves so far.
    size: u64,
    /// `(level, hash)` of each complete subtree, largest first.
    peaks: Vec<(u32, Hash)>,
}

impl Frontier {
    /// The frontier of a tree of `size` leaves whose complete subtrees
    /// (largest first) are `peaks`; `None` when they do not fit the size.
    pub fn from_peaks(size: u64, peaks: Vec<Hash>) -> Option<Frontier> {
        let levels: Vec<u32> = (0..64).rev().filter(|l| size >> l & 1 == 1).collect();
        if levels.len() != peaks.len() {
            return None;
        }
        Some(Frontier {
            size,
            peaks: levels.into_iter().zip(peaks).collect(),
        })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf (the record's chain hash) and returns every node it
    /// completes, the leaf first.
    pub fn push(&mut self, chain_hash: &Hash) -> Vec<Node> {
        let index = self.size;
        let mut hash = leaf_hash(chain_hash);
        let mut done = vec![Node {
            level: 0,
            index,
            hash,
        }];
        let mut level = 0;
        while let Some(&(l, left)) = self.peaks.last() {
            if l != level {
                break;
            }
            self.peaks.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            done.push(Node {
                level,
                index: index >> level,
                hash,
            });
        }
        self.peaks.push((level, hash));
        self.size += 1;
        done
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(&(_, mut root)) = peaks.next() else {
            return empty_root();
        };
        for (_, left) in peaks {
            root = node_hash(left, &root);
        }
        root
    }
}

/// Where proofs read complete subtrees from.
pub trait NodeSource {
    /// The error of a failed read.
    type Error;
    /// The hash of the complete subtree `(level, index)`; the caller only
    /// asks for subtrees inside the tree it is proving.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The largest power of two smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of leaves `start..end` as RFC 9162 defines MTH for that range,
/// where `start` is a multiple of the range's largest power of two (as
/// every range in a proof is).
pub fn range_root<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.node(n.trailing_zeros(), start / n);
    }
    let k = split(n);
    let left = range_root(src, start, start + k)?;
    let right = range_root(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The audit path of leaf `index` in the tree of `size` leaves (RFC 9162
/// 2.1.3.1), nearest the leaf first.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut path = Vec::new();
    path_into(src, index, 0, size, &mut path)?;
    Ok(path)
}

fn path_into<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path_into(src, m, start, k, out)?;
        out.push(range_root(src, start + k, start + n)?);
    } else {
        path_into(src, m - k, start + k, n - k, out)?;
        out.push(range_root(src, start, start + k)?);
    }
    Ok(())
}

/// The proof that the tree of `old` leaves is a prefix of the tree of
/// `new` leaves (RFC 9162 2.1.4.1). Empty when `old` is 0 or `new`.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(src, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if m == n {
        if !whole {
            out.push(range_root(src, start, start + n)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, k, whole, out)?;
        out.push(range_root(src, start + k, start + n)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, out)?;
        out.push(range_root(src, start, start + k)?);
    }
    Ok(())
}

/// Checks an audit path (RFC 9162 2.1.3.2): leaf `index` with hash `leaf`
/// is in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && &r == root
}

/// Checks a consistency proof (RFC 9162 2.1.4.2): the tree of `old`
/// leaves with root `old_root` is a prefix of the tree of `new` leaves
/// with root `new_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty() && *old_root == empty_root();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    &fr == old_root && &sr == new_root && s == 0
}

/// Every level of a tree in memory: for command-line reads while the
/// daemon holds the tree file, and for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` is node `(l, i)`.
    levels: Vec<Vec<Hash>>,
    /// The right edge, for the root.
    frontier: Frontier,
}

impl MemoryTree {
    /// Appends a leaf (a record's chain hash).
    pub fn push(&mut self, chain_hash: &Hash) {
        for node in self.frontier.push(chain_hash) {
            let level = node.level as usize;
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(node.hash);
        }
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

/// A node the tree does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingNode {
    /// Its level.
    pub level: u32,
    /// Its index.
    pub index: u64,
}

impl std::fmt::Display for MissingNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tree node ({}, {}) is missing", self.level, self.index)
    }
}

impl std::error::Error for MissingNode {}

impl NodeSource for MemoryTree {
    type Error = MissingNode;
    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
