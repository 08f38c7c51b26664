#!/usr/bin/env python3
"""An independent verifier of mailseal archives, proofs and export bundles,
written only from docs/archive-format.md (no mailseal code). The test suite
runs it against what mailseal writes, which keeps the format document
honest; auditors can run it anywhere Python 3 runs (needs the packages
`zstandard` and `cryptography`).

Usage:
  verify_archive.py ARCHIVE_DIR [PUBLIC_KEY_HEX]            (as before: archive)
  verify_archive.py archive DIR [--key HEX] [--seal FILE]... [--tsa-ca PEM]... [--master-key FILE]
  verify_archive.py proof FILE [--eml FILE] [--key HEX] [--tsa-ca PEM]...
  verify_archive.py bundle DIR [--key HEX] [--tsa-ca PEM]...
  verify_archive.py consistency OLD_SEAL NEW [--key HEX]   (NEW: proof file or archive dir)

Prints 'ok ...' and exits 0, or prints the first problem and exits 1.
'archive' prints 'ok RECORDS CONTENTS SEALS HEAD_SEQ HEAD_HASH', and for an
archive with encrypted contents (format 2.3) a line 'encrypted: ...'. Without
--master-key it checks that every ciphertext is the one its frame and records
name; with it, it also decrypts every content and every record's sealed
fields, and holds destroyed key slots to the tombstones: a content or sealed
field whose slot is destroyed is purged only when a tombstone names the slot,
and a slot a tombstone names must be destroyed. Holds, purge requests,
approvals and tombstones are checked against the records before them with or
without the key (tests/tools/test_verify_purge.py). Audit records' own
retention likewise: sealed audit fields under audit keys (kind 3), one key per
year, audit_years that never shrinks, and audit-purge records, which stand for
destroyed audit keys as tombstones do for messages' keys
(tests/tools/test_verify_audit_purge.py).
"""
import hashlib
import json
import os
import re
import struct
import sys
import zlib

import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.exceptions import InvalidTag
import base64

import tsp_check


class Problem(Exception):
    pass


def fail(msg):
    raise Problem(msg)


def sha256(b):
    return hashlib.sha256(b).digest()


# ---- Merkle tree (RFC 9162 2.1) -------------------------------------------

def leaf_hash(chain_hash):
    return sha256(b"\x00" + chain_hash)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    """Root over leaf hashes (already hashed with 0x00)."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


class Frontier:
    def __init__(self):
        self.size, self.peaks = 0, []  # (level, hash), largest first

    def push(self, chain_hash):
        h, level = leaf_hash(chain_hash), 0
        while self.peaks and self.peaks[-1][0] == level:
            h = node_hash(self.peaks.pop()[1], h)
            level += 1
        self.peaks.append((level, h))
        self.size += 1

    def root(self):
        if not self.peaks:
            return sha256(b"")
        r = self.peaks[-1][1]
        for _, left in reversed(self.peaks[:-1]):
            r = node_hash(left, r)
        return r


def verify_inclusion(index, size, leaf, path, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == sha256(b"")
    if not proof:
        return False
    path = ([first_root] if first & (first - 1) == 0 else []) + list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


# ---- seals, key rotations, time stamps ------------------------------------

def ed25519_ok(key_hex, msg, sig_hex):
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(bytes.fromhex(sig_hex), msg)
        return True
    except Exception:
        return False


def seal_bytes(seal):
    version = seal.get("version")
    if version is None and "root" not in seal:
        return f"mailseal seal v1\n{seal['seq']}\n{seal['head_hash']}\n{seal['time']}\n".encode()
    if version == 2 and "root" in seal:
        return (f"mailseal tree head v2\n{seal['seq']}\n{seal['root']}\n{seal['head_hash']}\n"
                f"{seal['time']}\n{seal['public_key']}\n").encode()
    fail(f"seal at {seal.get('seq')}: unsupported seal version {version}")


SEAL_FIELDS = {None: {"seq", "head_hash", "time", "public_key", "signature"},
               2: {"version", "seq", "root", "head_hash", "time", "public_key", "signature"}}


def check_seal_signature(seal):
    if set(seal) != SEAL_FIELDS.get(seal.get("version"), set()):
        fail(f"seal at {seal.get('seq')}: unexpected fields {sorted(seal)}")
    if not ed25519_ok(seal["public_key"], seal_bytes(seal), seal["signature"]):
        fail(f"seal at {seal['seq']}: bad signature")


def rotation_bytes(seq, prev_hash, old_key, new_key):
    return f"mailseal key rotation v2\n{seq}\n{prev_hash}\n{old_key}\n{new_key}\n".encode()


def check_rotation(rec):
    b = rec["body"]
    if set(b) != {"type", "old_key", "new_key", "old_signature", "new_signature"}:
        fail(f"record {rec['seq']}: unexpected key-rotation fields")
    msg = rotation_bytes(rec["seq"], rec["prev_hash"], b["old_key"], b["new_key"])
    if not ed25519_ok(b["old_key"], msg, b["old_signature"]):
        fail(f"record {rec['seq']}: key rotation not signed by the old key")
    if not ed25519_ok(b["new_key"], msg, b["new_signature"]):
        fail(f"record {rec['seq']}: key rotation not signed by the new key")


def check_stamp(stamp, seal, cas):
    """A time-stamp frame against its seal; the token when CAs are given."""
    if stamp["imprint"] != sha256(seal_bytes(seal)).hex():
        fail(f"time stamp of seal {stamp['seq']}: stamps something else")
    if cas:
        import base64
        tsp_check.check_token(base64.b64decode(stamp["token"]), bytes.fromhex(stamp["imprint"]), cas)
        return True
    return False


AUDIT_FIELDS = ["type", "action", "outcome", "via", "actor", "role", "peer", "session",
                "query", "records", "detail", "count", "span"]
# What `sealed` of an audit record holds, in this order (2.3); in clear
# `actor` is "" and the others null.
AUDIT_SEALED = ["actor", "peer", "session", "query", "detail"]


def check_audit(rec):
    """An audit record (format 2, section 2.2): exactly the documented fields.
    A sealed one (2.3) keeps `actor` and the other personal fields only in
    `sealed`: its actor is checked when it is opened with the master key."""
    body = rec["body"]
    if rec["format"] < 2:
        fail(f"record {rec['seq']}: an audit body in a format-{rec['format']} record")
    if sorted(k for k in body if k != "sealed") != sorted(AUDIT_FIELDS):
        fail(f"record {rec['seq']}: audit fields {sorted(body)} are not the documented ones")
    sealed = body.get("sealed") is not None
    for name in ["action", "outcome", "via"] + ([] if sealed else ["actor"]):
        if not isinstance(body[name], str) or not body[name]:
            fail(f"record {rec['seq']}: audit {name} must be a non-empty string")
    if sealed:
        clear = [f for f in AUDIT_SEALED if body[f] != ("" if f == "actor" else None)]
        if clear:
            fail(f"record {rec['seq']}: audit record sealed, but {clear} also in clear")
        if utc_year(rec["time"]) is None:
            fail(f"record {rec['seq']}: a sealed audit record's time is not RFC 3339 UTC")
    if not all(isinstance(n, int) and n > 0 for n in body["records"]):
        fail(f"record {rec['seq']}: audit records must be record numbers")
    if any(n >= rec["seq"] for n in body["records"]):
        fail(f"record {rec['seq']}: audit names a record that comes after it")


def check_audit_fields(seq, fields):
    """The opened fields of a sealed audit record: exactly the five, in order,
    and someone accessed the archive (a non-empty actor)."""
    if list(fields) != AUDIT_SEALED:
        fail(f"record {seq}: sealed audit fields {list(fields)} are not the documented ones")
    if not isinstance(fields["actor"], str) or not fields["actor"]:
        fail(f"record {seq}: audit actor must be a non-empty string")
    for name in AUDIT_SEALED[1:]:
        if fields[name] is not None and not isinstance(fields[name], str):
            fail(f"record {seq}: sealed audit {name} is not a string or null")


def utc_year(time):
    """The year of an RFC 3339 UTC time as mailseal writes it, else None."""
    if not isinstance(time, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z", time):
        return None
    return int(time[:4])


# ---- archive -----------------------------------------------------------------

# ---- retention, holds and deletion (format 2.3) ------------------------------

LIFECYCLE_FIELDS = {
    "hold": ["type", "action", "case", "reason", "query", "records", "actor"],
    "purge-request": ["type", "records", "reason", "actor"],
    "purge-approval": ["type", "request", "actor"],
    "tombstone": ["type", "of", "slots", "content", "rule", "keep_until", "reason", "actor", "backups_forget_by"],
    "retention-extend": ["type", "records", "keep_until", "reason", "actor"],
}


def is_seq(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def is_date(v):
    if not isinstance(v, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
        return False
    return 1 <= int(v[5:7]) <= 12 and 1 <= int(v[8:10]) <= 31


def check_lifecycle_fields(seq, body):
    """A hold, request, approval, tombstone or extension: exactly the
    documented fields, each of its documented type."""
    kind = body["type"]
    if sorted(body) != sorted(LIFECYCLE_FIELDS[kind]):
        fail(f"record {seq}: {kind} fields {sorted(body)} are not the documented ones")

    def need(name, ok, what):
        if not ok(body[name]):
            fail(f"record {seq}: {kind} {name} is not {what}")
    text = (lambda v: isinstance(v, str), "a string")
    name = (lambda v: isinstance(v, str) and v != "", "a non-empty string")
    seqs = (lambda v: isinstance(v, list) and all(is_seq(n) for n in v), "a list of record numbers")
    date = (is_date, "a date YYYY-MM-DD")
    need("actor", *name)
    if kind != "purge-approval" and kind != "tombstone":
        need("records", *seqs)
    if kind in ("hold", "purge-request", "retention-extend", "tombstone"):
        need("reason", *text)
    if kind == "hold":
        need("case", *name)
        need("query", lambda v: v is None or isinstance(v, str), "a string or null")
        if body["action"] not in ("add", "release"):
            fail(f"record {seq}: hold action {body['action']!r} is neither add nor release")
        if body["action"] == "release" and body["records"]:
            fail(f"record {seq}: a hold release names records; it releases the whole case")
    elif kind == "retention-extend":
        need("keep_until", *date)
    elif kind == "purge-approval":
        need("request", is_seq, "a record number")
    elif kind == "tombstone":
        need("of", is_seq, "a record number")
        need("slots", lambda v: isinstance(v, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v),
             "a list of key slot numbers")
        if any(a >= b for a, b in zip(body["slots"], body["slots"][1:])):
            fail(f"record {seq}: tombstone slots {body['slots']} are not ascending")
        need("content", lambda v: v is None or (isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)), "a SHA-256 in hex or null")
        need("rule", lambda v: v is None or isinstance(v, str), "a string or null")
        need("keep_until", lambda v: v is None or is_date(v), "a date or null")
        need("backups_forget_by", *date)
        if body["reason"] != "retention" and not re.fullmatch(r"request [1-9][0-9]*", body["reason"]):
            fail(f"record {seq}: tombstone reason {body['reason']!r} is neither retention nor request N")


class Lifecycle:
    """Holds, purge requests, approvals and tombstones along the walk
    (docs/archive-format.md 2.3), and the slots tombstones name."""

    def __init__(self):
        self.messages = set()
        self.requests = {}  # seq -> [actor, records, approved]
        self.holds = {}  # case -> records held
        self.tombstoned = set()
        self.slots = {}  # key slot -> first tombstone naming it

    def record(self, seq, body):
        kind = body["type"]
        if kind == "message":
            self.messages.add(seq)
        if kind not in LIFECYCLE_FIELDS:
            return
        check_lifecycle_fields(seq, body)
        for n in body.get("records", []):
            if n >= seq or n not in self.messages:
                fail(f"record {seq}: {kind} names record {n}, which is no earlier message")
        if kind == "hold" and body["action"] == "add":
            self.holds.setdefault(body["case"], set()).update(body["records"])
        elif kind == "hold":
            self.holds.pop(body["case"], None)
        elif kind == "purge-request":
            self.requests[seq] = [body["actor"], set(body["records"]), False]
        elif kind == "purge-approval":
            r = self.requests.get(body["request"])
            if r is None:
                fail(f"record {seq}: approves record {body['request']}, which is no earlier purge request")
            if r[0] == body["actor"]:
                fail(f"record {seq}: {body['actor']} approves their own request {body['request']}")
            r[2] = True
        elif kind == "tombstone":
            self.tombstone(seq, body)

    def tombstone(self, seq, body):
        of = body["of"]
        if of >= seq or of not in self.messages:
            fail(f"tombstone {seq}: names record {of}, which is no earlier message")
        if of in self.tombstoned:
            fail(f"tombstone {seq}: record {of} already has a tombstone")
        self.tombstoned.add(of)
        held = sorted(case for case, records in self.holds.items() if of in records)
        if held:
            fail(f"tombstone {seq}: record {of} is on hold (case {held[0]})")
        if body["reason"] != "retention":
            n = int(body["reason"].split()[1])
            r = self.requests.get(n)
            if r is None or of not in r[1] or not r[2]:
                fail(f"tombstone {seq}: request {n} is no approved purge request naming record {of}")
        for slot in body["slots"]:
            self.slots.setdefault(slot, seq)

    def decide(self, ks, destroyed, crypt, audit_slots):
        """The tombstone rule, once every tombstone is known: a destroyed
        slot is purged only when a tombstone names it (an audit record's:
        an audit-purge, whose slots are `audit_slots`), and every slot a
        tombstone names is destroyed."""
        for slot, where, counts in destroyed:
            audit = counts == "purged_audit"
            if slot not in (audit_slots if audit else self.slots):
                by = "an audit-purge" if audit else "a tombstone"
                fail(f"{where}: undecryptable: key slot {slot} destroyed without {by}")
            if counts:
                crypt[counts] += 1
        for slot, seq in sorted(self.slots.items()):
            state = ks.state(slot)
            if state is None:
                fail(f"tombstone {seq} names key slot {slot}, which is not in the key store")
            if state != "destroyed":
                fail(f"purge incomplete: tombstone {seq} names live slot {slot}")


# ---- audit records' own retention (format 2.3) ---------------------------------

AUDIT_PURGE_FIELDS = ["type", "year", "slots", "audit_years", "keep_until", "actor", "backups_forget_by"]
AUDIT_KEY = 3


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class AuditLife:
    """Audit keys, audit_years and audit-purge records along the walk
    (docs/archive-format.md 2.3, "Audit records' own retention")."""

    def __init__(self):
        self.years = {}  # audit key slot -> (year of its records, first record)
        self.audit_years = None  # (years, record): the last recorded, never less
        self.slots = {}  # slot -> (audit-purge seq, its year)
        self.others = {}  # slot -> what else uses it: no audit key

    def not_audit_key(self, slot, what):
        self.others.setdefault(slot, what)

    def sealed(self, seq, slot, year):
        first = self.years.setdefault(slot, (year, seq))
        if first[0] != year:
            fail(f"record {seq} of {year} is sealed under audit key slot {slot}, which sealed record "
                 f"{first[1]} of {first[0]}: a key serves one year")

    def rules(self, seq, body):
        if "rules" not in body or not set(body) <= {"type", "rules", "audit_years"}:
            fail(f"record {seq}: retention-rules fields {sorted(body)} are not the documented ones")
        if "audit_years" not in body:
            return  # written before audit records were sealed
        n = body["audit_years"]
        if not is_count(n):
            fail(f"record {seq}: retention-rules audit_years is not a whole number of years")
        if self.audit_years is not None and n < self.audit_years[0]:
            fail(f"record {seq} records audit_years {n}, fewer than {self.audit_years[0]} in record {self.audit_years[1]}")
        self.audit_years = (n, seq)

    def purge(self, rec):
        seq, body = rec["seq"], rec["body"]
        if sorted(body) != sorted(AUDIT_PURGE_FIELDS):
            fail(f"record {seq}: audit-purge fields {sorted(body)} are not the documented ones")
        for name in ("year", "audit_years"):
            if not is_count(body[name]):
                fail(f"record {seq}: audit-purge {name} is not a whole number")
        slots = body["slots"]
        if not isinstance(slots, list) or not all(is_count(n) for n in slots):
            fail(f"record {seq}: audit-purge slots is not a list of key slot numbers")
        if any(a >= b for a, b in zip(slots, slots[1:])):
            fail(f"record {seq}: audit-purge slots {slots} are not ascending")
        for name in ("keep_until", "backups_forget_by"):
            if not is_date(body[name]):
                fail(f"record {seq}: audit-purge {name} is not a date YYYY-MM-DD")
        if not isinstance(body["actor"], str) or not body["actor"]:
            fail(f"record {seq}: audit-purge actor is not a non-empty string")
        year, audit_years, keep_until = body["year"], body["audit_years"], body["keep_until"]
        if keep_until != f"{year + audit_years:04d}-12-31":
            fail(f"audit-purge {seq}: keep_until {keep_until} is not year {year} + audit_years {audit_years}, December 31")
        if utc_year(rec["time"]) is None or rec["time"][:10] <= keep_until:
            fail(f"audit-purge {seq}: made at {rec['time']}, not after keep_until {keep_until}")
        if self.audit_years is not None and audit_years < self.audit_years[0]:
            fail(f"audit-purge {seq} applies audit_years {audit_years}, fewer than "
                 f"{self.audit_years[0]} in record {self.audit_years[1]}")
        for slot in slots:
            if slot in self.slots:
                fail(f"audit-purge {seq} names slot {slot}, which audit-purge {self.slots[slot][0]} named")
            self.slots[slot] = (seq, year)

    def finish(self):
        """Once the whole chain is known: a purged slot is no key of a
        content or message record, and sealed no audit record of another
        year than the purge's."""
        for slot, (seq, year) in sorted(self.slots.items()):
            why = self.others.get(slot)
            if why is None and slot in self.years and self.years[slot][0] != year:
                y, r = self.years[slot]
                why = f"the audit key of record {r} of {y}"
            if why is not None:
                fail(f"audit-purge {seq} of year {year} names slot {slot}, {why}")

    def decide(self, ks):
        """With the key store: every slot an audit-purge names is a
        destroyed audit key."""
        for slot, (seq, _) in sorted(self.slots.items()):
            state = ks.state(slot)
            if state is None:
                fail(f"audit-purge {seq} names key slot {slot}, which is not in the key store")
            if state != "destroyed":
                kind = ks.kind(slot)
                if kind != AUDIT_KEY:
                    fail(f"audit-purge {seq} names live slot {slot}, a key of kind {kind}, not an audit key")
                fail(f"purge incomplete: audit-purge {seq} names live slot {slot}")


BODY_TYPES = {1: {"message", "outcome"},
              2: {"message", "outcome", "key-rotation", "audit", "retention-rules", "audit-purge"} | set(LIFECYCLE_FIELDS)}
FRAME_KINDS = {1: b"CRS", 2: b"CERST"}


# ---- encryption (format 2.3) ---------------------------------------------------

CHUNK = 65536


class KeyStore:
    """keys/store unwrapped with the master key (docs/archive-format.md 2.3)."""

    def __init__(self, root, master_path):
        text = open(master_path).read().split("\n")
        if text[0] != "mailseal master key v1" or len(text[1]) != 64:
            fail(f"{master_path}: not a mailseal master key")
        self.master = bytes.fromhex(text[1])
        self.data = open(os.path.join(root, "keys", "store"), "rb").read()
        h = self.data[:64]
        if len(h) < 64 or h[:8] != b"MSKEYS01" or h[8:16] != struct.pack(">II", 1, 96):
            fail("keys/store: bad header")
        if zlib.crc32(h[:60]) != struct.unpack(">I", h[60:64])[0]:
            fail("keys/store: header checksum")
        want = sha256(b"mailseal master key id\n" + self.master)[:16]
        if h[16:32] != want:
            fail("keys/store: wrapped by another master key than the one given")

    def state(self, n):
        """'destroyed' (96 zero bytes), 'live', or None when the store has no slot n."""
        s = self.data[64 + 96 * n:64 + 96 * (n + 1)]
        if len(s) != 96:
            return None
        return "destroyed" if s == bytes(96) else "live"

    def kind(self, n):
        """The kind byte of slot n (1 content, 2 record, 3 audit key)."""
        return self.data[64 + 96 * n + 1]

    def key(self, n, kind=None):
        """The data key in slot n, or None when it was destroyed: purged if
        a tombstone (an audit-purge) names the slot (decided after the walk).
        With `kind`, the slot must hold a key of that kind."""
        s = self.data[64 + 96 * n:64 + 96 * (n + 1)]
        if len(s) != 96:
            fail(f"key slot {n} is not in the key store")
        if s == bytes(96):
            return None
        if zlib.crc32(s[:92]) != struct.unpack(">I", s[92:96])[0] or s[0] != 1:
            fail(f"key slot {n}: damaged")
        if kind is not None and s[1] != kind:
            fail(f"key slot {n} holds a key of kind {s[1]}, not {kind} (undecryptable)")
        aad = b"mailseal key slot " + struct.pack(">Q", n) + s[1:2]
        try:
            return ChaCha20Poly1305(self.master).decrypt(s[16:28], s[28:76], aad)
        except InvalidTag:
            fail(f"key slot {n}: does not unwrap with the master key")


def decrypt_content(key, head42, ct):
    out, i, pos = [], 0, 0
    while True:
        last = len(ct) - pos < CHUNK + 16
        take = len(ct) - pos if last else CHUNK + 16
        nonce = bytes(4) + struct.pack(">Q", i)
        try:
            out.append(ChaCha20Poly1305(key).decrypt(nonce, ct[pos:pos + take], head42 + bytes([1 if last else 0])))
        except InvalidTag:
            return None
        pos += take
        if last:
            return b"".join(out)
        i += 1


def open_sealed(ks, sealed, seq, kind=None):
    """The sealed fields of record seq as a dict, or None when its key is destroyed."""
    key = ks.key(sealed["slot"], kind)
    if key is None:
        return None
    try:
        plain = ChaCha20Poly1305(key).decrypt(bytes.fromhex(sealed["nonce"]), base64.b64decode(sealed["data"]), f"mailseal record {seq}".encode())
    except InvalidTag:
        fail(f"record {seq}: sealed fields do not decrypt (undecryptable)")
    return json.loads(plain)


PERSONAL = ["peer", "helo", "auth_user", "mail_from", "rcpts", "upstream_reply", "journal", "imap", "import", "pop3", "intercepted"]


def verify_archive(root, trusted=None, kept=(), cas=(), master=None):
    segdir = os.path.join(root, "segments")
    ks = KeyStore(root, master) if master else None
    ciphers = {}
    crypt = {"encrypted": 0, "decrypted": 0, "purged_contents": 0, "purged_records": 0, "sealed": 0,
             "sealed_audit": 0, "purged_audit": 0}
    life, destroyed = Lifecycle(), []  # destroyed: (slot, where, purged count) for the tombstone rule
    audit = AuditLife()
    names = sorted(n for n in os.listdir(segdir) if n.endswith(".seg") and len(n) == 16)
    prev, expect = bytes(32), 1
    contents, hashes = set(), {0: bytes(32)}
    tree, roots = Frontier(), {0: sha256(b"")}
    kept_sizes = {k["seq"] for k in kept}  # tree roots needed beyond the seals' own
    keys, seals, stamps = [], [], []
    records = 0
    for want, name in enumerate(names, start=1):
        if int(name[:12]) != want:
            fail(f"segment {want} missing")
        data = open(os.path.join(segdir, name), "rb").read()
        if data[:8] != b"MAILSEAL" or len(data) < 16:
            fail(f"{name}: bad header")
        version, number = struct.unpack(">II", data[8:16])
        if number != want or version not in FRAME_KINDS:
            fail(f"{name}: bad header or unsupported segment version {version}")
        pos = 16
        while pos < len(data):
            kind = data[pos:pos + 1]
            if len(data) < pos + 9:
                fail(f"{name} offset {pos}: torn frame")
            (length,) = struct.unpack(">Q", data[pos + 1:pos + 9])
            end = pos + 9 + length
            if end + 4 > len(data):
                fail(f"{name} offset {pos}: torn frame")
            payload = data[pos + 9:end]
            (crc,) = struct.unpack(">I", data[end:end + 4])
            if zlib.crc32(data[pos:end]) != crc:
                fail(f"{name} offset {pos}: frame checksum")
            if kind not in [bytes([k]) for k in FRAME_KINDS[version]]:
                fail(f"{name} offset {pos}: frame kind {kind!r} not allowed in segment version {version}")
            if kind == b"C":
                sha, size, codec = payload[:32], struct.unpack(">Q", payload[32:40])[0], payload[40]
                body = payload[41:]
                if codec == 1:
                    body = zstandard.ZstdDecompressor().decompress(body, max_output_size=size)
                elif codec != 0:
                    fail(f"{name} offset {pos}: unknown codec {codec}")
                if sha256(body) != sha or len(body) != size:
                    fail(f"{name} offset {pos}: content changed")
                contents.add(sha.hex())
            elif kind == b"E":
                sha, size, codec = payload[:32], struct.unpack(">Q", payload[32:40])[0], payload[40]
                cipher, (slot,), csha, ct = payload[41], struct.unpack(">Q", payload[42:50]), payload[50:82], payload[82:]
                if cipher != 1:
                    fail(f"{name} offset {pos}: unknown cipher {cipher}")
                if sha256(ct) != csha:
                    fail(f"{name} offset {pos}: ciphertext changed")
                crypt["encrypted"] += 1
                audit.not_audit_key(slot, "a content's key")
                if ks is not None:
                    key = ks.key(slot)
                    if key is None:
                        destroyed.append((slot, f"{name} offset {pos}: content {sha.hex()}", "purged_contents"))
                    else:
                        body = decrypt_content(key, payload[:42], ct)
                        if body is None:
                            fail(f"{name} offset {pos}: content does not decrypt (undecryptable)")
                        if codec == 1:
                            body = zstandard.ZstdDecompressor().decompress(body, max_output_size=size)
                        elif codec != 0:
                            fail(f"{name} offset {pos}: unknown codec {codec}")
                        if sha256(body) != sha or len(body) != size:
                            fail(f"{name} offset {pos}: decrypted content changed")
                        crypt["decrypted"] += 1
                ciphers.setdefault(sha.hex(), csha.hex())
                contents.add(sha.hex())
            elif kind == b"R":
                stored, raw = payload[:32], payload[32:]
                if sha256(prev + raw) != stored:
                    fail(f"{name} offset {pos}: record changed or chain broken")
                rec = json.loads(raw)
                if rec["seq"] != expect or rec["prev_hash"] != prev.hex():
                    fail(f"{name} offset {pos}: record {rec['seq']} out of order, expected {expect}")
                fmt, body = rec["format"], rec["body"]
                if fmt not in BODY_TYPES:
                    fail(f"record {rec['seq']}: unsupported record format {fmt}")
                if body["type"] not in BODY_TYPES[fmt]:
                    fail(f"record {rec['seq']}: body type {body['type']} unknown in format {fmt}")
                if body["type"] == "message":
                    for ref in [body["content"]] + ([body["evidence"]] if body.get("evidence") else []):
                        if ref["sha256"] not in contents:
                            fail(f"record {rec['seq']}: content {ref['sha256']} not stored before it")
                        if "stored" in ref and ciphers.get(ref["sha256"]) != ref["stored"]:
                            fail(f"record {rec['seq']}: names ciphertext {ref['stored']}, which is not the content's")
                if body["type"] in ("message", "outcome") and "sealed" in body:
                    crypt["sealed"] += 1
                    if isinstance(body["sealed"], dict):
                        audit.not_audit_key(body["sealed"].get("slot"), f"the key of record {rec['seq']}")
                    blank = [f for f in PERSONAL if body.get(f) not in (None, [])] if body["type"] == "message" else [f for f in ["upstream_reply"] if body[f] != ""]
                    if blank:
                        fail(f"record {rec['seq']}: sealed, but {blank} also in clear")
                    if ks is not None:
                        fields = open_sealed(ks, body["sealed"], rec["seq"])
                        if fields is None:
                            counts = "purged_records" if body["type"] == "message" else None
                            destroyed.append((body["sealed"]["slot"], f"record {rec['seq']}: sealed fields", counts))
                        elif body["type"] == "message" and list(fields) != PERSONAL:
                            fail(f"record {rec['seq']}: sealed fields {list(fields)} are not the documented ones")
                elif body["type"] == "key-rotation":
                    check_rotation(rec)
                    if keys and keys[-1] != body["old_key"]:
                        fail(f"record {rec['seq']}: rotates from a key that was not sealing")
                    if not keys:
                        keys.append(body["old_key"])
                    keys.append(body["new_key"])
                elif body["type"] == "audit":
                    check_audit(rec)
                    if body.get("sealed") is not None:
                        crypt["sealed"] += 1
                        crypt["sealed_audit"] += 1
                        slot = body["sealed"]["slot"]
                        audit.sealed(rec["seq"], slot, utc_year(rec["time"]))
                        if ks is not None:
                            fields = open_sealed(ks, body["sealed"], rec["seq"], AUDIT_KEY)
                            if fields is None:
                                destroyed.append((slot, f"record {rec['seq']}: sealed audit fields", "purged_audit"))
                            else:
                                check_audit_fields(rec["seq"], fields)
                elif body["type"] == "retention-rules":
                    audit.rules(rec["seq"], body)
                elif body["type"] == "audit-purge":
                    audit.purge(rec)
                life.record(rec["seq"], body)
                prev, expect = stored, expect + 1
                hashes[rec["seq"]] = stored
                tree.push(stored)
                if tree.size in kept_sizes:
                    roots[tree.size] = tree.root()
                records += 1
            elif kind == b"S":
                seal = json.loads(payload)
                check_seal_signature(seal)
                if not keys:
                    keys.append(seal["public_key"])
                elif keys[-1] != seal["public_key"]:
                    fail(f"seal at {seal['seq']}: made by {seal['public_key']}, not the chain's current key")
                if hashes.get(seal["seq"], b"").hex() != seal["head_hash"]:
                    fail(f"seal at {seal['seq']}: head hash differs from the chain")
                here = tree.root() if seal["seq"] == tree.size else b""
                if "root" in seal and here.hex() != seal["root"]:
                    fail(f"seal at {seal['seq']}: tree root differs from the chain")
                seals.append(seal)
            elif kind == b"T":
                stamps.append(json.loads(payload))
            pos = end + 4
    audit.finish()
    if ks is not None:
        life.decide(ks, destroyed, crypt, audit.slots)
        audit.decide(ks)
    if trusted is not None and seals and trusted not in keys:
        fail("sealed by keys that do not include the trusted key")
    by_imprint = {sha256(seal_bytes(s)): s for s in seals}
    checked = 0
    for st in stamps:
        s = by_imprint.get(bytes.fromhex(st["imprint"]))
        if s is None or s["seq"] != st["seq"]:
            fail(f"time stamp of seal {st['seq']}: stamps no seal of this archive")
        checked += check_stamp(st, s, cas)
    for k in kept:
        check_kept(k, keys, hashes, roots, expect - 1)
    return records, len(contents), len(seals), expect - 1, prev.hex(), len(stamps), checked, crypt


def check_kept(seal, keys, hashes, roots, head):
    check_seal_signature(seal)
    if seal["public_key"] not in keys:
        fail(f"kept seal {seal['seq']}: made by a key this archive never had")
    if seal["seq"] > head:
        fail(f"kept seal {seal['seq']}: the archive ends at {head}: rolled back")
    if "root" in seal:
        if roots[seal["seq"]].hex() != seal["root"]:
            fail(f"kept seal {seal['seq']}: the archive differs from what it sealed: forked")
    elif hashes[seal["seq"]].hex() != seal["head_hash"]:
        fail(f"kept seal {seal['seq']}: the archive differs from what it sealed: forked")


def load_seals(path):
    doc = json.load(open(path))
    return doc["seals"] if isinstance(doc, dict) and "seals" in doc else [doc]


# ---- proofs and bundles -------------------------------------------------------

def follow_keys(start, history, root, size):
    """The key that seals after the rotations in `history` (all of the
    archive's, each included in the tree of `size` with `root`), checked to
    lead on from the trusted key `start`; None when nothing anchors it."""
    recs = []
    for entry in history:
        rec, raw = json.loads(entry["json"]), entry["json"].encode()
        if sha256(bytes.fromhex(rec["prev_hash"]) + raw).hex() != entry["hash"]:
            fail(f"key history record {rec['seq']}: hash does not match")
        if rec["body"]["type"] != "key-rotation":
            fail(f"key history record {rec['seq']}: not a key rotation")
        path = [bytes.fromhex(p) for p in entry["path"]]
        if not verify_inclusion(rec["seq"] - 1, size, leaf_hash(bytes.fromhex(entry["hash"])), path, root):
            fail(f"key history record {rec['seq']}: not in the sealed tree")
        check_rotation(rec)
        recs.append(rec["body"])
    for a, b in zip(recs, recs[1:]):
        if b["old_key"] != a["new_key"]:
            fail("the key history has a gap")
    keys = ([recs[0]["old_key"]] + [r["new_key"] for r in recs]) if recs else []
    if not keys:
        return start
    if start is not None and start not in keys:
        fail("the trusted key is not in the key history")
    return keys[-1]


def check_head(head, history, trusted, stamps, cas, archive_id):
    check_seal_signature(head)
    if head.get("version") != 2:
        fail("the tree head is not a version-2 seal")
    root, size = bytes.fromhex(head["root"]), head["seq"]
    start = trusted if trusted is not None else archive_id
    key = follow_keys(start, history, root, size)
    if key is not None and key != head["public_key"]:
        fail("the tree head was signed by a key the history does not lead to")
    checked = 0
    for st in stamps:
        if st["seq"] != size:
            fail(f"time stamp names seal {st['seq']}, not the tree head {size}")
        checked += check_stamp(st, head, cas)
    return root, size, checked


def verify_proof(doc, trusted=None, cas=(), eml=None):
    if doc.get("mailseal_proof") != 1 or doc.get("kind") != "inclusion":
        fail("not a mailseal inclusion proof")
    root, size, checked = check_head(doc["tree_head"], doc["key_history"], trusted,
                                     doc["timestamps"], cas, doc["archive_id"])
    r = doc["record"]
    raw = r["json"].encode()
    rec = json.loads(raw)
    if rec["seq"] != r["seq"] or sha256(bytes.fromhex(rec["prev_hash"]) + raw).hex() != r["hash"]:
        fail(f"record {r['seq']}: its bytes do not match its hash")
    inc = doc["inclusion"]
    if inc["leaf_index"] != r["seq"] - 1 or inc["tree_size"] != size:
        fail("the audit path is for another leaf or tree")
    path = [bytes.fromhex(p) for p in inc["path"]]
    if not verify_inclusion(r["seq"] - 1, size, leaf_hash(bytes.fromhex(r["hash"])), path, root):
        fail(f"record {r['seq']}: not in the signed tree")
    if rec["body"]["type"] != "message" or rec["body"]["content"] != doc["content"]:
        fail(f"record {r['seq']}: the content named does not match the record")
    if eml is not None:
        data = open(eml, "rb").read()
        if sha256(data).hex() != doc["content"]["sha256"] or len(data) != doc["content"]["size"]:
            fail(f"{eml}: the message differs from record {r['seq']}")
    return r["seq"], size, checked


def verify_bundle(d, trusted=None, cas=()):
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    n = checked = 0
    for entry in manifest["messages"]:
        proof_file = os.path.join(d, f"{entry['seq']}.proof.json")
        if not os.path.exists(proof_file):
            fail(f"message {entry['seq']}: no proof")
        doc = json.load(open(proof_file))
        if doc["record"]["hash"] != entry["record_hash"]:
            fail(f"message {entry['seq']}: proof and manifest name different records")
        _, _, c = verify_proof(doc, trusted, cas, os.path.join(d, entry["file"]))
        n, checked = n + 1, checked + c
    return n, checked


def verify_consistency_doc(old, new_path, trusted=None):
    check_seal_signature(old)
    if os.path.isdir(new_path):
        _, _, _, head, _, _, _, _ = verify_archive(new_path, trusted, [old])
        return old["seq"], head
    doc = json.load(open(new_path))
    if doc.get("mailseal_proof") != 1 or doc.get("kind") != "consistency":
        fail("not a mailseal consistency proof")
    if doc["old"] != old:
        fail("the proof is for another old seal")
    new = doc["new"]
    start = trusted if trusted is not None else old["public_key"]
    root, size, _ = check_head(new, doc["key_history"], start, doc["timestamps"], (), None)
    path = [bytes.fromhex(p) for p in doc["path"]]
    if old["seq"] == 0:
        ok = not path
    elif old.get("version") == 2:
        ok = verify_consistency(old["seq"], size, bytes.fromhex(old["root"]), root, path)
    else:  # version 1: its head record is in the new tree; its hash commits to all before
        ok = verify_inclusion(old["seq"] - 1, size, leaf_hash(bytes.fromhex(old["head_hash"])), path, root)
    if not ok:
        fail(f"the archive at {size} does not extend the seal at {old['seq']}: rewritten or forked")
    return old["seq"], size


# ---- command line ----------------------------------------------------------------

def options(args):
    opts = {"key": None, "seal": [], "tsa-ca": [], "eml": None, "master-key": None}
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and a[2:] in opts:
            if i + 1 >= len(args):
                fail(f"{a} needs a value")
            if isinstance(opts[a[2:]], list):
                opts[a[2:]].append(args[i + 1])
            else:
                opts[a[2:]] = args[i + 1]
            i += 2
        else:
            rest.append(a)
            i += 1
    cas = [c for f in opts["tsa-ca"] for c in tsp_check.load_pem_certs(open(f, "rb").read())]
    return rest, opts, cas


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    cmd = argv[0]
    if cmd not in ("archive", "proof", "bundle", "consistency"):
        argv = ["archive", argv[0]] + (["--key", argv[1]] if len(argv) > 1 else []) + argv[2:]
        cmd = "archive"
    rest, o, cas = options(argv[1:])
    if cmd == "archive":
        kept = [s for f in o["seal"] for s in load_seals(f)]
        r = verify_archive(rest[0], o["key"], kept, cas, o["master-key"])
        print(f"ok {r[0]} {r[1]} {r[2]} {r[3]} {r[4]}")
        if r[5] or kept:
            print(f"time stamps: {r[5]} ({r[6]} checked against a CA); kept seals: {len(kept)}")
        c = r[7]
        if c["encrypted"] or c["sealed"]:
            audit = f", {c['purged_audit']} audit records" if c["sealed_audit"] else ""
            print(f"encrypted: {c['encrypted']} contents, {c['sealed']} sealed records; "
                  f"decrypted: {c['decrypted']} contents; purged: {c['purged_contents']} contents, {c['purged_records']} records"
                  + audit)
    elif cmd == "proof":
        seq, size, checked = verify_proof(json.load(open(rest[0])), o["key"], cas, o["eml"])
        print(f"ok record {seq} is in the signed tree of {size} records; {checked} time stamps checked")
    elif cmd == "bundle":
        n, checked = verify_bundle(rest[0], o["key"], cas)
        print(f"ok {n} messages, each in its signed tree; {checked} time stamps checked")
    else:
        olds = load_seals(rest[0])
        for old in olds:
            a, b = verify_consistency_doc(old, rest[1], o["key"])
            print(f"ok the tree of {b} records extends the seal of {a}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (Problem, tsp_check.TokenProblem) as p:
        print("problem: " + str(p))
        sys.exit(1)
    except (KeyError, ValueError, TypeError, IndexError, OSError) as e:
        print(f"problem: malformed input: {e!r}")
        sys.exit(1)
