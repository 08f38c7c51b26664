//! The archive walk's checks of seals, time stamps and kept seals, made
//! once the whole chain is known.

use std::collections::HashMap;

use super::Walk;
use crate::format::{self, Seal};

impl Walk<'_> {
    pub(super) fn seal(&mut self, at: &str, payload: &[u8]) {
        self.out.seals += 1;
        let seal: Seal = match serde_json::from_slice(payload) {
            Ok(s) => s,
            Err(e) => return self.problem(at, "seal-bad", e),
        };
        if let Err(why) = seal.check() {
            let kind = if why.contains("newer") {
                "unsupported-version"
            } else {
                "seal-bad"
            };
            return self.problem(at, kind, format!("seal of {}: {why}", seal.seq));
        }
        match self.keys.last() {
            None => self.keys.push(seal.public_key.clone()),
            Some(k) if *k != seal.public_key => {
                let detail = format!(
                    "seal of {} made by {}, not the chain's seal key {k}",
                    seal.seq, seal.public_key
                );
                self.problem(at, "seal-bad", detail);
            }
            Some(_) => {}
        }
        let (size, root) = (self.edge.size, self.edge.root());
        self.seals
            .push((at.to_owned(), seal, size, self.prev, root));
    }

    pub(super) fn finish(&mut self) {
        self.out.head_hash = hex::encode(self.prev);
        self.out.root = hex::encode(self.edge.root());
        let seals = std::mem::take(&mut self.seals);
        let mut imprints = HashMap::new();
        for (at, s, size, hash, root) in &seals {
            if s.seq != *size || (s.seq > 0 && s.head_hash != hex::encode(hash)) {
                let detail = format!(
                    "seal of {} does not seal the chain before it (record {size})",
                    s.seq
                );
                self.problem(at, "seal-bad", detail);
            } else if s.root_hash().is_some_and(|r| r != *root) {
                self.problem(
                    at,
                    "seal-bad",
                    format!("seal of {}: tree root differs from the chain", s.seq),
                );
            }
            if let Some(i) = s.imprint() {
                imprints.insert(i, s.clone());
            }
        }
        if let Some(t) = &self.opts.trusted
            && !seals.is_empty()
            && !self.keys.contains(t)
        {
            self.problem(
                "archive",
                "seal-bad",
                "no seal key of this archive is the trusted key",
            );
        }
        for (at, st) in std::mem::take(&mut self.stamps) {
            self.out.stamps.0 += 1;
            let imprint = format::hex32(&st.imprint);
            let Some(seal) = imprint.and_then(|i| imprints.get(&i)) else {
                self.problem(
                    &at,
                    "timestamp-bad",
                    format!("stamps no seal of this archive (seal {})", st.seq),
                );
                continue;
            };
            if seal.seq != st.seq {
                self.problem(&at, "timestamp-bad", "names another seal than it stamps");
            }
            if let (Some(trust), Some(i)) = (&self.opts.tsa, imprint) {
                match crate::stamp_check(&st, &i, seal, trust) {
                    Ok(()) => self.out.stamps.1 += 1,
                    Err(e) => self.problem(&at, "timestamp-bad", e),
                }
            }
        }
        for kept in &self.opts.kept {
            if let Some((kind, why)) = self.kept(kept) {
                self.problem(&format!("kept seal of {}", kept.seq), kind, why);
            }
        }
    }

    pub(super) fn kept(&self, kept: &Seal) -> Option<(&'static str, String)> {
        if let Err(why) = kept.check() {
            return Some(("kept-seal-bad", why));
        }
        if !self.keys.contains(&kept.public_key) {
            return Some((
                "kept-seal-bad",
                "made by a key this archive's history does not contain".into(),
            ));
        }
        if kept.seq > self.out.head_seq {
            return Some((
                "rolled-back",
                format!(
                    "the archive ends at record {}: records were removed",
                    self.out.head_seq
                ),
            ));
        }
        if kept.seq == 0 {
            return None;
        }
        let (hash, root) = self.at_size.get(&kept.seq)?;
        let same = match kept.root_hash() {
            Some(r) => r == *root,
            None => kept.head_hash == hex::encode(hash),
        };
        (!same).then(|| {
            (
                "forked",
                format!(
                    "records 1..{} differ from what it sealed: rewritten after it",
                    kept.seq
                ),
            )
        })
    }
}
