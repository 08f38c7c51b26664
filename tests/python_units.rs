//! The Python tools' own unit tests (`tests/tools/test_*.py`), run with
//! `python3 -m unittest`: cases of `verify_archive.py` on archives those
//! tests build by hand, which no daemon would write (a tombstone naming a
//! live key slot, an approval by the requester).

use std::process::Command;

use crate::support::verifiers::text;

#[test]
fn the_python_verifiers_unit_tests_pass() {
    let tools = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools");
    let out = Command::new("python3")
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            tools,
            "-p",
            "test_*.py",
            "-v",
        ])
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    // unittest exits 0 when it finds no tests at all (before Python 3.12).
    assert!(said.contains("\nOK"), "{said}");
    assert!(!said.contains("Ran 0 tests"), "{said}");
}
