"""verify_archive.py on hand-built archives of format 2.3 with holds, purge
requests, approvals and tombstones, and the tombstone rule: a destroyed
key slot is purged only when a tombstone names it, and a slot a tombstone
names must be destroyed. The archives are laid out here from
docs/archive-format.md with the primitives themselves (ChaCha20-Poly1305,
SHA-256, CRC-32), not with the verifier's readers.

Run: python3 -m unittest discover -s tests/tools -p 'test_*.py'
(the Rust test `python_units` does, in `cargo test`).

The archive's records: 1 a message (content M1 under slot 0, sealed
under slot 1), 2 its outcome (slot 1), 3 a message (content M2 under slot
2, evidence M1, sealed under slot 3); a test's own bodies are 4, 5, ...
"""
import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import warnings
import zlib

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

import verify_archive as va

HERE = os.path.dirname(os.path.abspath(__file__))
MASTER = bytes([0x31]) * 32
# (kind, data key) of slots 0..3: content M1, record key of 1 and 2,
# content M2, record key of 3; slot 4 a content key nothing uses; slots 5
# and 6 audit keys (test_verify_audit_purge.py).
SLOTS = [(1, bytes([0xb0]) * 32), (2, bytes([0xb1]) * 32), (1, bytes([0xb2]) * 32),
         (2, bytes([0xb3]) * 32), (1, bytes([0xb4]) * 32), (3, bytes([0xb5]) * 32),
         (3, bytes([0xb6]) * 32)]
M1 = b"From: a@example.org\r\n\r\n" + bytes(range(256)) * 300
M2 = b"From: b@example.org\r\n\r\nsecond\r\n"
PERSONAL = {"peer": "192.0.2.9:5000", "helo": "mx", "auth_user": None, "mail_from": "a@example.org",
            "rcpts": [{"address": "b@example.net", "reply": "250 ok"}], "upstream_reply": "250 ok",
            "journal": None, "imap": None, "import": None, "pop3": None, "intercepted": None}


def sha(b):
    return hashlib.sha256(b).digest()


def frame(kind, payload):
    f = kind + struct.pack(">Q", len(payload)) + payload
    return f + struct.pack(">I", zlib.crc32(f))


def e_payload(data, slot):
    head = sha(data) + struct.pack(">Q", len(data)) + bytes([0, 1])  # bytes 0-41: every chunk's AAD
    aead, ct, i = ChaCha20Poly1305(SLOTS[slot][1]), b"", 0
    while True:
        chunk = data[i * 65536:(i + 1) * 65536]
        last = len(chunk) < 65536
        ct += aead.encrypt(bytes(4) + struct.pack(">Q", i), chunk, head + bytes([1 if last else 0]))
        if last:
            return head + struct.pack(">Q", slot) + sha(ct) + ct
        i += 1


def sealed(slot, seq, fields):
    nonce = bytes([seq]) * 12
    data = ChaCha20Poly1305(SLOTS[slot][1]).encrypt(nonce, json.dumps(fields, separators=(",", ":")).encode(),
                                                    f"mailseal record {seq}".encode())
    return {"slot": slot, "nonce": nonce.hex(), "data": base64.b64encode(data).decode()}


def ref(payload):
    return {"sha256": payload[:32].hex(), "size": struct.unpack(">Q", payload[32:40])[0], "stored": payload[50:82].hex()}


def message(seq, slot, content, evidence):
    body = {"type": "message", "source": {"kind": "journal", "name": "j"}, "peer": None, "helo": None,
            "tls": None, "auth_user": None, "mail_from": None, "rcpts": [], "upstream_reply": None,
            "journal": None, "imap": None, "import": None, "sealed": sealed(slot, seq, PERSONAL),
            "retention": None, "content": content, "evidence": evidence}
    return body


def store(destroyed):
    h = b"MSKEYS01" + struct.pack(">II", 1, 96) + sha(b"mailseal master key id\n" + MASTER)[:16] + bytes(28)
    out = h + struct.pack(">I", zlib.crc32(h))
    for n, (kind, key) in enumerate(SLOTS):
        if n in destroyed:
            out += bytes(96)
            continue
        nonce = bytes([n + 7]) * 12
        wrapped = ChaCha20Poly1305(MASTER).encrypt(nonce, key, b"mailseal key slot " + struct.pack(">Q", n) + bytes([kind]))
        s = bytes([1, kind]) + bytes(6) + struct.pack(">Q", 1_796_000_000) + nonce + wrapped + bytes(16)
        out += s + struct.pack(">I", zlib.crc32(s))
    return out


def build(root, later=(), destroyed=(), fmt=2, times=None):
    """Writes the archive with `later` bodies as records 4, 5, ... (of
    record format `fmt`), the `destroyed` slots zeroed, and the time of
    the records in `times` (seq -> time) changed."""
    e1, e2 = e_payload(M1, 0), e_payload(M2, 2)
    bodies = [message(1, 1, ref(e1), None),
              {"type": "outcome", "of": 1, "upstream_reply": "", "result": "accepted",
               "sealed": sealed(1, 2, {"upstream_reply": "250 queued"})},
              message(3, 3, ref(e2), ref(e1))] + list(later)
    seg = b"MAILSEAL" + struct.pack(">II", 2, 1) + frame(b"E", e1) + frame(b"E", e2)
    prev = bytes(32)
    for seq, body in enumerate(bodies, start=1):
        time = (times or {}).get(seq, f"2026-12-08T10:00:0{seq % 10}.000000Z")
        rec = {"format": fmt if seq > 3 else 2, "seq": seq, "time": time,
               "prev_hash": prev.hex(), "body": body}
        raw = json.dumps(rec, separators=(",", ":")).encode()
        prev = sha(prev + raw)
        seg += frame(b"R", prev + raw)
    os.makedirs(os.path.join(root, "segments"))
    os.makedirs(os.path.join(root, "keys"))
    with open(os.path.join(root, "segments", "000000000001.seg"), "wb") as f:
        f.write(seg)
    with open(os.path.join(root, "keys", "store"), "wb") as f:
        f.write(store(set(destroyed)))
    with open(os.path.join(root, "master.key"), "w") as f:
        f.write(f"mailseal master key v1\n{MASTER.hex()}\n")


def tombstone(of, slots, reason="retention", **extra):
    body = {"type": "tombstone", "of": of, "slots": slots, "content": sha(M2).hex(), "rule": "letters",
            "keep_until": "2032-12-31", "reason": reason, "actor": "purge", "backups_forget_by": "2033-03-31"}
    body.update(extra)
    return body


def request(records, actor):
    return {"type": "purge-request", "records": records, "reason": "Art. 17", "actor": actor}


def approval(req, actor):
    return {"type": "purge-approval", "request": req, "actor": actor}


def hold(action, records):
    return {"type": "hold", "action": action, "case": "K-7", "reason": "tax audit", "query": None,
            "records": records, "actor": "anna"}


class Built(unittest.TestCase):
    def setUp(self):
        # The verifier reads whole files with open(...).read(), as auditors' scripts do.
        warnings.simplefilter("ignore", ResourceWarning)

    def archive(self, later=(), destroyed=(), fmt=2, times=None):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        build(d, later, destroyed, fmt, times)
        return d

    def problem(self, d, master=True):
        with self.assertRaises(va.Problem) as cm:
            va.verify_archive(d, master=os.path.join(d, "master.key") if master else None)
        return str(cm.exception)


class TombstoneRule(Built):
    def run_both(self, d):
        """(crypt counts with the master key, without it); a Problem raises."""
        with_key = va.verify_archive(d, master=os.path.join(d, "master.key"))[7]
        without = va.verify_archive(d)[7]
        return with_key, without

    def test_a_good_archive_verifies_and_decrypts(self):
        c, _ = self.run_both(self.archive())
        self.assertEqual((c["encrypted"], c["decrypted"], c["sealed"]), (2, 2, 3))
        self.assertEqual((c["purged_contents"], c["purged_records"]), (0, 0))

    def test_destroyed_slots_named_by_a_tombstone_count_as_purged(self):
        d = self.archive([tombstone(3, [2, 3])], destroyed={2, 3})
        c, without = self.run_both(d)
        self.assertEqual((c["decrypted"], c["purged_contents"], c["purged_records"]), (1, 1, 1))
        self.assertEqual((without["purged_contents"], without["purged_records"]), (0, 0))
        out = subprocess.run([sys.executable, os.path.join(HERE, "verify_archive.py"), "archive", d,
                              "--master-key", os.path.join(d, "master.key")], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("decrypted: 1 contents; purged: 1 contents, 1 records", out.stdout)

    def test_a_destroyed_slot_no_tombstone_names_is_undecryptable(self):
        d = self.archive(destroyed={2, 3})
        va.verify_archive(d)  # without the key nothing of this applies
        said = self.problem(d)
        self.assertIn("undecryptable: key slot 2 destroyed without a tombstone", said)
        d = self.archive([tombstone(3, [2])], destroyed={2, 3})
        self.assertIn("undecryptable: key slot 3 destroyed without a tombstone", self.problem(d))

    def test_a_tombstone_naming_a_live_slot_is_an_incomplete_purge(self):
        d = self.archive([tombstone(3, [2, 3])], destroyed={2})
        va.verify_archive(d)
        self.assertIn("purge incomplete: tombstone 4 names live slot 3", self.problem(d))
        d = self.archive([tombstone(3, [2, 3, 9])], destroyed={2, 3})
        self.assertIn("not in the key store", self.problem(d))

    def test_a_destroyed_slot_nothing_uses_is_counted_not_an_error(self):
        c, _ = self.run_both(self.archive(destroyed={4}))
        self.assertEqual((c["purged_contents"], c["purged_records"]), (0, 0))


class Lifecycle(Built):
    def test_an_early_deletion_needs_another_actors_approval(self):
        d = self.archive([request([3], "anna"), approval(4, "anna")])
        self.assertIn("anna approves their own request 4", self.problem(d, master=False))
        d = self.archive([request([3], "anna"), approval(4, "bert"), tombstone(3, [2, 3], "request 4")],
                         destroyed={2, 3})
        c = va.verify_archive(d, master=os.path.join(d, "master.key"))[7]
        self.assertEqual((c["purged_contents"], c["purged_records"]), (1, 1))
        for later in ([request([3], "anna"), tombstone(3, [2, 3], "request 4")],
                      [request([1], "anna"), approval(4, "bert"), tombstone(3, [2, 3], "request 4")],
                      [tombstone(3, [2, 3], "request 1")]):
            self.assertIn("no approved purge request", self.problem(self.archive(later), master=False))
        self.assertIn("no earlier purge request", self.problem(self.archive([approval(3, "bert")]), master=False))

    def test_a_tombstone_names_one_earlier_message_that_no_case_holds(self):
        for later, said in [([tombstone(2, [])], "no earlier message"),
                            ([tombstone(5, [])], "no earlier message"),
                            ([tombstone(3, [2]), tombstone(3, [3])], "already has a tombstone"),
                            ([hold("add", [1, 3]), tombstone(3, [2, 3])], "on hold (case K-7)"),
                            ([tombstone(3, [3, 2])], "not ascending"),
                            ([tombstone(3, [2, 2])], "not ascending")]:
            self.assertIn(said, self.problem(self.archive(later), master=False))
        d = self.archive([hold("add", [1, 3]), hold("release", []), tombstone(3, [2, 3])], destroyed={2, 3})
        va.verify_archive(d, master=os.path.join(d, "master.key"))

    def test_bodies_have_exactly_the_documented_fields_and_types(self):
        extend = {"type": "retention-extend", "records": [1, 3], "keep_until": "2040-12-31", "reason": "dispute",
                  "actor": "anna"}
        va.verify_archive(self.archive([extend]))
        for body, said in [(dict(extend, records=[2]), "no earlier message"),
                           (dict(extend, by="x"), "not the documented ones"),
                           ({k: v for k, v in extend.items() if k != "reason"}, "not the documented ones"),
                           (dict(extend, keep_until="2040-1-31"), "keep_until is not a date"),
                           (hold("add", [4]), "no earlier message"),
                           (hold("release", [1]), "releases the whole case"),
                           (hold("freeze", [1]), "neither add nor release"),
                           (request([True], "anna"), "records is not a list of record numbers"),
                           (request([1], ""), "actor is not a non-empty string"),
                           (tombstone(3, [2], reason="expired"), "neither retention nor request N"),
                           (tombstone(3, [2], content="AB"), "content is not"),
                           (tombstone(3, [2], backups_forget_by=None), "backups_forget_by is not a date")]:
            self.assertIn(said, self.problem(self.archive([body]), master=False), body)
        self.assertIn("unknown in format 1", self.problem(self.archive([tombstone(3, [2, 3])], fmt=1), master=False))


if __name__ == "__main__":
    unittest.main()
