//! The tree against a naive recomputation from RFC 9162's definitions, for
//! every size up to 70 and random larger ones.

use super::*;

/// Chain hashes standing in for records: any distinct values do.
fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| Sha256::digest(i.to_be_bytes()).into())
        .collect()
}

/// MTH straight from RFC 9162 2.1.1.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => leaf_hash(&d[0]),
        n => {
            let k = split(n as u64) as usize;
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH straight from RFC 9162 2.1.3.1.
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n as u64) as usize;
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBPROOF straight from RFC 9162 2.1.4.1.
fn subproof_naive(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(n as u64) as usize;
    if m <= k {
        let mut p = subproof_naive(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof_naive(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn tree(d: &[Hash]) -> MemoryTree {
    let mut t = MemoryTree::default();
    for h in d {
        t.push(h);
    }
    t
}

/// A small deterministic generator (no test depends on real randomness).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn roots_match_the_definition_for_every_size_up_to_70() {
    let d = leaves(70);
    let mut t = MemoryTree::default();
    assert_eq!(t.root(), mth(&[]));
    for n in 1..=70 {
        t.push(&d[n - 1]);
        assert_eq!(t.root(), mth(&d[..n]), "size {n}");
        assert_eq!(range_root(&t, 0, n as u64), Ok(mth(&d[..n])));
    }
}

#[test]
fn inclusion_proofs_match_the_definition_and_verify() {
    let d = leaves(70);
    for n in 1..=70usize {
        let t = tree(&d[..n]);
        let root = t.root();
        for m in 0..n {
            let p = inclusion_proof(&t, m as u64, n as u64).unwrap();
            assert_eq!(p, path(m, &d[..n]), "leaf {m} of {n}");
            let leaf = leaf_hash(&d[m]);
            assert!(verify_inclusion(m as u64, n as u64, &leaf, &p, &root));
            // The wrong leaf, index, size, root or a changed path fail.
            assert!(!verify_inclusion(
                m as u64,
                n as u64,
                &leaf_hash(&[9; 32]),
                &p,
                &root
            ));
            if n > 1 {
                let other = (m + 1) % n;
                assert!(!verify_inclusion(other as u64, n as u64, &leaf, &p, &root));
                let mut bad = p.clone();
                bad[0][0] ^= 1;
                assert!(!verify_inclusion(m as u64, n as u64, &leaf, &bad, &root));
                let mut short = p.clone();
                short.pop();
                assert!(!verify_inclusion(m as u64, n as u64, &leaf, &short, &root));
            }
            // (The size itself is bound by the signed tree head, not by
            // the path: a path can fit more than one size.)
            assert!(!verify_inclusion(n as u64, n as u64, &leaf, &p, &root));
            assert!(!verify_inclusion(m as u64, m as u64, &leaf, &p, &root));
        }
    }
}

#[test]
fn consistency_proofs_match_the_definition_and_verify() {
    let d = leaves(70);
    let t = tree(&d);
    for n in 1..=70u64 {
        let new_root = mth(&d[..n as usize]);
        for m in 0..=n {
            let p = consistency_proof(&t, m, n).unwrap();
            let want = if m == 0 || m == n {
                Vec::new()
            } else {
                subproof_naive(m as usize, &d[..n as usize], true)
            };
            assert_eq!(p, want, "{m} -> {n}");
            let old_root = mth(&d[..m as usize]);
            assert!(
                verify_consistency(m, n, &old_root, &new_root, &p),
                "{m} -> {n}"
            );
            if m > 0 && m < n {
                let mut bad = p.clone();
                let last = bad.len() - 1;
                bad[last][31] ^= 1;
                assert!(!verify_consistency(m, n, &old_root, &new_root, &bad));
                assert!(!verify_consistency(m, n, &new_root, &new_root, &p));
                assert!(!verify_consistency(m, n, &old_root, &old_root, &p));
                assert!(!verify_consistency(m, n, &old_root, &new_root, &[]));
                assert!(!verify_consistency(n, m, &old_root, &new_root, &p));
            }
        }
    }
}

#[test]
fn a_fork_is_not_consistent() {
    let d = leaves(40);
    let mut forked = d.clone();
    forked[17] = [0xee; 32];
    let old_root = mth(&d[..30]);
    let t = tree(&forked);
    let p = consistency_proof(&t, 30, 40).unwrap();
    assert!(!verify_consistency(30, 40, &old_root, &t.root(), &p));
}

#[test]
fn random_larger_trees() {
    let mut rng = Lcg(16);
    let d = leaves(5000);
    let t = tree(&d);
    for _ in 0..40 {
        let n = 71 + rng.below(5000 - 71);
        let m = rng.below(n);
        let root = mth(&d[..n as usize]);
        let p = inclusion_proof(&t, m, n).unwrap();
        assert_eq!(p, path(m as usize, &d[..n as usize]));
        assert!(verify_inclusion(
            m,
            n,
            &leaf_hash(&d[m as usize]),
            &p,
            &root
        ));
        let old = 1 + rng.below(n);
        let c = consistency_proof(&t, old, n).unwrap();
        assert_eq!(c, subproof_naive(old as usize, &d[..n as usize], true));
        assert!(verify_consistency(
            old,
            n,
            &mth(&d[..old as usize]),
            &root,
            &c
        ));
    }
}

#[test]
fn the_frontier_survives_a_restart_from_its_peaks() {
    let d = leaves(70);
    for n in 0..70u64 {
        let t = tree(&d[..n as usize]);
        let peaks: Vec<Hash> = (0..64u32)
            .rev()
            .filter(|l| n >> l & 1 == 1)
            .scan(0u64, |start, l| {
                let node = t.node(l, *start >> l).unwrap();
                *start += 1 << l;
                Some(node)
            })
            .collect();
        let mut f = Frontier::from_peaks(n, peaks).unwrap();
        assert_eq!(f.root(), t.root());
        f.push(&d[n as usize]);
        assert_eq!(f.root(), mth(&d[..n as usize + 1]));
    }
    assert!(Frontier::from_peaks(3, vec![[0; 32]]).is_none());
}
