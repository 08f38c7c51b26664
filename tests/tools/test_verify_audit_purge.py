"""verify_archive.py on hand-built archives with audit records' own retention
(docs/archive-format.md 2.3): sealed audit fields under audit keys (kind 3),
audit_years in retention-rules, and audit-purge records, which stand for
destroyed audit keys as tombstones do for messages' keys. The archives are
built by test_verify_purge.py's `build`, from the format document.

Records 1-3 are that archive's (messages and an outcome under slots 0-3);
slots 5 and 6 are audit keys. `year2020` adds: 4 retention rules with
audit_years 5, 5 and 6 audit records of 2020 sealed under slot 5, 7 one of
2021 under slot 6; a test's own bodies follow as 8, 9, ...
"""
import os
import subprocess
import sys
import unittest

import verify_archive as va
from test_verify_purge import HERE, Built, sha, sealed, M2

FIELDS = {"actor": "anna", "peer": "192.0.2.10", "session": "3f9a1c0b7d2e", "query": None,
          "detail": "message page"}
TIMES = {5: "2020-03-01T09:00:00.000000Z", 6: "2020-12-31T23:59:59.999999Z",
         7: "2021-01-01T00:00:00.000000Z"}


def audit(seq, slot, fields=None, **clear):
    body = {"type": "audit", "action": "view", "outcome": "ok", "via": "web", "actor": "", "role": "auditor",
            "peer": None, "session": None, "query": None, "records": [1], "detail": None, "count": None,
            "span": None, "sealed": sealed(slot, seq, FIELDS if fields is None else fields)}
    body.update(clear)
    return body


def rules(audit_years):
    return {"type": "retention-rules", "rules": [], "audit_years": audit_years}


def purge(year, slots, audit_years, keep_until=None):
    return {"type": "audit-purge", "year": year, "slots": slots, "audit_years": audit_years,
            "keep_until": keep_until or f"{year + audit_years}-12-31", "actor": "purge",
            "backups_forget_by": "2027-03-08"}


class AuditRetention(Built):
    def year2020(self, later=(), destroyed=(), times=None):
        bodies = [rules(5), audit(5, 5), audit(6, 5), audit(7, 6)] + list(later)
        return self.archive(bodies, destroyed, times={**TIMES, **(times or {})})

    def both(self, d):
        """(crypt counts with the master key, without it); a Problem raises."""
        return va.verify_archive(d, master=os.path.join(d, "master.key"))[7], va.verify_archive(d)[7]

    def test_sealed_audit_records_verify_without_and_with_the_master_key(self):
        c, without = self.both(self.year2020())
        self.assertEqual((c["sealed"], c["sealed_audit"], c["purged_audit"]), (6, 3, 0))
        self.assertEqual(without["sealed_audit"], 3)

    def test_sealed_audit_fields_are_empty_in_clear_and_open_to_the_five_fields(self):
        in_2021 = {8: "2021-05-01T00:00:00.000000Z"}
        for clear, said in [({"actor": "anna"}, "['actor'] also in clear"),
                            ({"peer": "192.0.2.10"}, "['peer'] also in clear"),
                            ({"detail": ""}, "['detail'] also in clear")]:
            self.assertIn(said, self.problem(self.year2020([audit(8, 6, **clear)], times=in_2021), master=False))
        swapped = {"peer": "192.0.2.10", "actor": "anna", "session": None, "query": None, "detail": None}
        for body, said in [(audit(8, 6, swapped), "sealed audit fields ['peer', 'actor'"),
                           (audit(8, 6, dict(FIELDS, actor="")), "audit actor must be a non-empty string"),
                           (audit(8, 6, dict(FIELDS, role="auditor")), "not the documented ones"),
                           (audit(8, 6, dict(FIELDS, query=7)), "sealed audit query is not a string"),
                           (audit(8, 3), "holds a key of kind 2, not 3")]:
            d = self.year2020([body], times=in_2021)
            va.verify_archive(d)
            self.assertIn(said, self.problem(d), body)
        d = self.year2020([audit(8, 6)], times={8: "t"})
        self.assertIn("time is not RFC 3339", self.problem(d, master=False))

    def test_an_audit_purge_after_keep_until_with_its_slot_destroyed_counts_as_purged(self):
        d = self.year2020([purge(2020, [5], 5)], destroyed={5})
        c, without = self.both(d)
        self.assertEqual((c["purged_audit"], c["purged_contents"], c["purged_records"]), (2, 0, 0))
        self.assertEqual(without["purged_audit"], 0)
        out = subprocess.run([sys.executable, os.path.join(HERE, "verify_archive.py"), "archive", d,
                              "--master-key", os.path.join(d, "master.key")], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("purged: 0 contents, 0 records, 2 audit records", out.stdout)

    def test_a_destroyed_audit_key_no_audit_purge_names_is_undecryptable(self):
        d = self.year2020(destroyed={5})
        va.verify_archive(d)
        self.assertIn("record 5: sealed audit fields: undecryptable: key slot 5 destroyed without an audit-purge",
                      self.problem(d))
        # A tombstone does not stand for an audit-purge.
        tomb = {"type": "tombstone", "of": 3, "slots": [2, 3, 5], "content": sha(M2).hex(), "rule": "letters",
                "keep_until": "2032-12-31", "reason": "retention", "actor": "purge",
                "backups_forget_by": "2033-03-31"}
        d = self.year2020([tomb], destroyed={2, 3, 5})
        self.assertIn("key slot 5 destroyed without an audit-purge", self.problem(d))

    def test_an_audit_purge_naming_a_live_slot_is_an_incomplete_purge(self):
        d = self.year2020([purge(2020, [5], 5)])
        va.verify_archive(d)
        self.assertIn("purge incomplete: audit-purge 8 names live slot 5", self.problem(d))
        d = self.year2020([purge(2020, [5, 9], 5)], destroyed={5})
        self.assertIn("audit-purge 8 names key slot 9, which is not in the key store", self.problem(d))

    def test_an_audit_purge_keeps_to_keep_until(self):
        late = {8: "2026-01-01T00:00:00.000000Z"}
        for body, times, said in [(purge(2020, [5], 5, "2024-12-31"), late, "is not year 2020 + audit_years 5"),
                                  (purge(2020, [5], 5, "2025-12-30"), late, "is not year 2020 + audit_years 5"),
                                  (purge(2020, [5], 5), {8: "2025-12-31T23:59:59.999999Z"}, "not after keep_until"),
                                  (purge(2020, [5], 5), {8: "2025-06-01T00:00:00.000000Z"}, "not after keep_until")]:
            self.assertIn(said, self.problem(self.year2020([body], {5}, times), master=False), body)
        d = self.year2020([purge(2020, [5], 5)], {5}, late)
        self.assertEqual(self.both(d)[0]["purged_audit"], 2)

    def test_audit_years_never_shrink(self):
        d = self.year2020([rules(5), rules(7), rules(6)])
        self.assertIn("record 10 records audit_years 6, fewer than 7 in record 9", self.problem(d, master=False))
        # Rules from before audit records were sealed record no period.
        d = self.year2020([{"type": "retention-rules", "rules": []}, purge(2020, [5], 5)], {5})
        self.both(d)
        d = self.year2020([purge(2020, [5], 4)], {5})
        self.assertIn("applies audit_years 4, fewer than 5 in record 4", self.problem(d, master=False))
        for body, said in [(rules(-1), "audit_years is not a whole number"),
                           (dict(rules(5), audit_days=3), "retention-rules fields")]:
            self.assertIn(said, self.problem(self.year2020([body]), master=False))

    def test_an_audit_key_serves_one_year_and_is_purged_once(self):
        d = self.year2020([audit(8, 5)], times={8: "2021-06-01T00:00:00.000000Z"})
        self.assertIn("record 8 of 2021 is sealed under audit key slot 5, which sealed record 5 of 2020",
                      self.problem(d, master=False))
        self.both(self.year2020([audit(8, 5)], times={8: "2020-06-01T00:00:00.000000Z"}))
        for later, said in [([purge(2020, [5], 5), purge(2020, [5], 5)], "audit-purge 9 names slot 5, which audit-purge 8 named"),
                            ([purge(2020, [5, 6], 5)], "names slot 6, the audit key of record 7 of 2021"),
                            ([purge(2020, [2, 5], 5)], "names slot 2, a content's key"),
                            ([purge(2020, [3, 5], 5)], "names slot 3, the key of record 3"),
                            ([purge(2020, [6, 5], 5)], "not ascending")]:
            self.assertIn(said, self.problem(self.year2020(later, {2, 3, 5, 6}), master=False), later)
        # With the key store: a live slot of another kind is no audit key.
        d = self.year2020([purge(2020, [4, 5], 5)], {5})
        self.assertIn("audit-purge 8 names live slot 4, a key of kind 1, not an audit key", self.problem(d))

    def test_audit_purges_belong_to_format_2(self):
        d = self.archive([purge(2020, [5], 5)], {5}, fmt=1)
        self.assertIn("body type audit-purge unknown in format 1", self.problem(d, master=False))
        d = self.year2020([dict(purge(2020, [5], 5), case="K")], {5})
        self.assertIn("audit-purge fields", self.problem(d, master=False))


if __name__ == "__main__":
    unittest.main()
