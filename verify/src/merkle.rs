//! RFC 9162 Merkle hashing and proof verification, written again from the
//! RFC (not shared with the daemon).

use sha2::{Digest, Sha256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`.
pub fn leaf(data: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of no leaves.
pub fn empty() -> Hash {
    Sha256::digest(b"").into()
}

/// The roots of the complete subtrees of the leaves so far (the tree's
/// right edge), so the root is known after every leaf.
#[derive(Default, Clone)]
pub struct Edge {
    /// Leaves so far.
    pub size: u64,
    /// (height, hash), tallest first.
    stack: Vec<(u32, Hash)>,
}

impl Edge {
    /// Adds a leaf whose data is `data`.
    pub fn push(&mut self, data: &Hash) {
        let mut h = leaf(data);
        let mut height = 0;
        while let Some(&(top, left)) = self.stack.last() {
            if top != height {
                break;
            }
            self.stack.pop();
            h = node(&left, &h);
            height += 1;
        }
        self.stack.push((height, h));
        self.size += 1;
    }

    /// The root over every leaf so far.
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut r)) = it.next() else {
            return empty();
        };
        for (_, left) in it {
            r = node(left, &r);
        }
        r
    }
}

/// RFC 9162 2.1.3.2.
pub fn inclusion_ok(index: u64, size: u64, leaf_hash: &Hash, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf_hash;
    for p in path {
        if s == 0 {
            return false;
        }
        if f % 2 == 1 || f == s {
            r = node(p, &r);
            if f.is_multiple_of(2) {
                while f.is_multiple_of(2) && f != 0 {
                    f /= 2;
                    s /= 2;
                }
            }
        } else {
            r = node(&r, p);
        }
        f /= 2;
        s /= 2;
    }
    s == 0 && r == *root
}

/// RFC 9162 2.1.4.2.
pub fn consistency_ok(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty() && *first_root == empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if first & (first - 1) == 0 {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let mut f = first - 1;
    let mut s = second - 1;
    while f % 2 == 1 {
        f /= 2;
        s /= 2;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f % 2 == 1 || f == s {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if f.is_multiple_of(2) {
                while f.is_multiple_of(2) && f != 0 {
                    f /= 2;
                    s /= 2;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        f /= 2;
        s /= 2;
    }
    fr == *first_root && sr == *second_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| Sha256::digest(i.to_le_bytes()).into())
            .collect()
    }

    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty(),
            1 => leaf(&d[0]),
            n => {
                let k = (1usize << (usize::BITS - 1 - (n - 1).leading_zeros())).max(1);
                node(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return vec![];
        }
        let k = 1usize << (usize::BITS - 1 - (d.len() - 1).leading_zeros());
        let (mut p, other) = if m < k {
            (path(m, &d[..k]), mth(&d[k..]))
        } else {
            (path(m - k, &d[k..]), mth(&d[..k]))
        };
        p.push(other);
        p
    }

    fn sub(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        if m == d.len() {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = 1usize << (usize::BITS - 1 - (d.len() - 1).leading_zeros());
        let (mut p, other) = if m <= k {
            (sub(m, &d[..k], b), mth(&d[k..]))
        } else {
            (sub(m - k, &d[k..], false), mth(&d[..k]))
        };
        p.push(other);
        p
    }

    #[test]
    fn edge_roots_and_proofs_agree_with_the_definitions_up_to_70() {
        let d = data(70);
        let mut e = Edge::default();
        for n in 1..=70usize {
            e.push(&d[n - 1]);
            let root = mth(&d[..n]);
            assert_eq!(e.root(), root);
            for m in 0..n {
                let p = path(m, &d[..n]);
                assert!(inclusion_ok(m as u64, n as u64, &leaf(&d[m]), &p, &root));
                assert!(!inclusion_ok(
                    m as u64,
                    n as u64,
                    &leaf(&d[(m + 1) % 70]),
                    &p,
                    &root
                ));
                if m > 0 {
                    let c = sub(m, &d[..n], true);
                    assert!(consistency_ok(m as u64, n as u64, &mth(&d[..m]), &root, &c));
                    if m < n {
                        let mut bad = c.clone();
                        bad[0][0] ^= 1;
                        assert!(!consistency_ok(
                            m as u64,
                            n as u64,
                            &mth(&d[..m]),
                            &root,
                            &bad
                        ));
                    }
                }
            }
        }
    }
}
