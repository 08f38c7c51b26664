#!/usr/bin/env python3
"""Writes an mbox of N distinct messages of about SIZE bytes (no two share
content, so nothing is deduplicated), for the benchmarks.

    bench/gen_mbox.py OUT.mbox N SIZE
Senders cycle through sender0..sender96@example.com, recipients through
rcpt0..rcpt388@example.org; message i has Message-ID <startup-i@example.com>.
"""
import random, sys
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(7)
words = ["order", "invoice", "delivery", "contract", "payment", "meeting",
         "quote", "shipment", "account", "reminder", "update", "report"]
with open(path, "w") as f:
    for i in range(n):
        head = (f"From sender{i % 97}@example.com Sun Nov 29 06:00:00 2026\n"
                f"From: Sender {i % 97} <sender{i % 97}@example.com>\n"
                f"To: rcpt{i % 389}@example.org\n"
                f"Subject: {rnd.choice(words)} {i}\n"
                f"Date: Sun, 29 Nov 2026 06:{i // 60 % 60:02d}:{i % 60:02d} +0000\n"
                f"Message-ID: <startup-{i}@example.com>\n\n")
        body = []
        length = len(head)
        while length < size:
            line = " ".join(rnd.choice(words) for _ in range(10))
            body.append(line)
            length += len(line) + 1
        f.write(head + "\n".join(body) + "\n\n")
