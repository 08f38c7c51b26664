#!/usr/bin/env python3
"""An independent verifier of a mailseal archive, written only from
docs/archive-format.md (no mailseal code). The test suite runs it against
archives mailseal wrote, which keeps the format document honest.

Usage: verify_archive.py ARCHIVE_DIR [PUBLIC_KEY_HEX]
Prints 'ok RECORDS CONTENTS SEALS HEAD_SEQ HEAD_HASH' and exits 0, or prints
the first problem and exits 1.
"""
import hashlib
import json
import os
import struct
import sys
import zlib

import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(msg):
    print("problem: " + msg)
    sys.exit(1)


AUDIT_FIELDS = ["type", "action", "outcome", "via", "actor", "role", "peer", "session",
                "query", "records", "detail", "count", "span"]


def check_audit(rec):
    """An audit record (format 2, section 2.2): exactly the documented fields."""
    body = rec["body"]
    if rec["format"] < 2:
        fail(f"record {rec['seq']}: an audit body in a format-{rec['format']} record")
    if sorted(body) != sorted(AUDIT_FIELDS):
        fail(f"record {rec['seq']}: audit fields {sorted(body)} are not the documented ones")
    for name in ["action", "outcome", "via", "actor"]:
        if not isinstance(body[name], str) or not body[name]:
            fail(f"record {rec['seq']}: audit {name} must be a non-empty string")
    if not all(isinstance(n, int) and n > 0 for n in body["records"]):
        fail(f"record {rec['seq']}: audit records must be record numbers")
    if any(n >= rec["seq"] for n in body["records"]):
        fail(f"record {rec['seq']}: audit names a record that comes after it")


def main():
    root = sys.argv[1]
    trusted = bytes.fromhex(sys.argv[2]) if len(sys.argv) > 2 else None
    segdir = os.path.join(root, "segments")
    names = sorted(n for n in os.listdir(segdir) if n.endswith(".seg") and len(n) == 16)
    prev, expect = bytes(32), 1
    contents, hashes = set(), {0: bytes(32)}
    records = seals = 0
    for want, name in enumerate(names, start=1):
        if int(name[:12]) != want:
            fail(f"segment {want} missing")
        data = open(os.path.join(segdir, name), "rb").read()
        if data[:8] != b"MAILSEAL" or struct.unpack(">II", data[8:16]) != (1, want):
            fail(f"{name}: bad header")
        pos = 16
        while pos < len(data):
            kind = data[pos:pos + 1]
            (length,) = struct.unpack(">Q", data[pos + 1:pos + 9])
            end = pos + 9 + length
            if end + 4 > len(data):
                fail(f"{name} offset {pos}: torn frame")
            payload = data[pos + 9:end]
            (crc,) = struct.unpack(">I", data[end:end + 4])
            if zlib.crc32(data[pos:end]) != crc:
                fail(f"{name} offset {pos}: frame checksum")
            if kind == b"C":
                sha, size, codec = payload[:32], struct.unpack(">Q", payload[32:40])[0], payload[40]
                body = payload[41:]
                if codec == 1:
                    body = zstandard.ZstdDecompressor().decompress(body, max_output_size=size)
                elif codec != 0:
                    fail(f"{name} offset {pos}: unknown codec {codec}")
                if hashlib.sha256(body).digest() != sha or len(body) != size:
                    fail(f"{name} offset {pos}: content changed")
                contents.add(sha.hex())
            elif kind == b"R":
                stored, raw = payload[:32], payload[32:]
                if hashlib.sha256(prev + raw).digest() != stored:
                    fail(f"{name} offset {pos}: record changed or chain broken")
                rec = json.loads(raw)
                if rec["seq"] != expect or rec["prev_hash"] != prev.hex():
                    fail(f"{name} offset {pos}: record {rec['seq']} out of order, expected {expect}")
                body = rec["body"]
                if body["type"] == "message":
                    for ref in [body["content"]] + ([body["evidence"]] if body.get("evidence") else []):
                        if ref["sha256"] not in contents:
                            fail(f"record {rec['seq']}: content {ref['sha256']} not stored before it")
                elif body["type"] == "audit":
                    check_audit(rec)
                elif body["type"] != "outcome":
                    fail(f"record {rec['seq']}: unknown body type {body['type']}")
                prev, expect = stored, expect + 1
                hashes[rec["seq"]] = stored
                records += 1
            elif kind == b"S":
                seal = json.loads(payload)
                key = bytes.fromhex(seal["public_key"])
                if trusted is not None and key != trusted:
                    fail(f"seal at {seal['seq']}: made by an untrusted key")
                signed = f"mailseal seal v1\n{seal['seq']}\n{seal['head_hash']}\n{seal['time']}\n".encode()
                try:
                    Ed25519PublicKey.from_public_bytes(key).verify(bytes.fromhex(seal["signature"]), signed)
                except Exception:
                    fail(f"seal at {seal['seq']}: bad signature")
                if hashes.get(seal["seq"], b"").hex() != seal["head_hash"]:
                    fail(f"seal at {seal['seq']}: head hash differs from the chain")
                seals += 1
            else:
                fail(f"{name} offset {pos}: unknown frame kind {kind!r}")
            pos = end + 4
    print(f"ok {records} {len(contents)} {seals} {expect - 1} {prev.hex()}")


if __name__ == "__main__":
    main()
