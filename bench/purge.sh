#!/usr/bin/env bash
# Purge throughput: tombstones per second, against deleting the same
# messages as files (what an archive that stores a file per message, or a
# Maildir, does instead: unlink and sync).
#   bench/purge.sh [MESSAGES] [ROUNDS]
# Each round imports MESSAGES small messages dated 2013 (so they are past
# their keep-until under a 6-year rule) into a fresh archive, then times
# `mailseal purge` (tombstones chained and synced, keys destroyed, index
# and search index cleaned, index compacted); and, alternating with it,
# times `find -delete` plus `sync` over a Maildir-like copy of the same
# files. Prints medians. Also prints the key store's size per message.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-20000}
ROUNDS=${2:-3}
cargo build --release --quiet -p mailseal
BIN=$PWD/target/release/mailseal
DIR=$(mktemp -d /var/tmp/mailseal-purge-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
python3 - "$DIR/in" "$MESSAGES" <<'PY'
import os, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
for i in range(n):
    with open(os.path.join(out, f"{i:07d}.eml"), "wb") as f:
        f.write((f"From: s{i}@example.com\r\nTo: r{i}@example.org\r\n"
                 f"Date: Fri, 01 Mar 2013 08:00:00 +0100\r\nSubject: Invoice {i}\r\n"
                 f"Message-ID: <purge{i}@example.com>\r\n\r\n"
                 + "Please find the invoice attached.\r\n" * 40).encode())
PY
T_PURGE=()
T_RM=()
STORE=0
for r in $(seq "$ROUNDS"); do
    A="$DIR/a$r"
    mkdir -p "$A"
    printf '[archive]\npath = "%s/archive"\n[http]\nenabled = false\n[control]\nsocket = "%s/control.sock"\n[retention]\npurge = "off"\n[[retention.rule]]\nname = "letters"\nyears = 6\n' "$A" "$A" >"$A/bench.toml"
    "$BIN" --config "$A/bench.toml" import eml "$DIR/in" >/dev/null
    STORE=$(stat -c %s "$A/archive/keys/store")
    sync
    s=$(date +%s.%N)
    "$BIN" --config "$A/bench.toml" purge >"$A/purge.out"
    e=$(date +%s.%N)
    T_PURGE+=("$(python3 -c "print($e-$s)")")
    tail -1 "$A/purge.out"
    rm -rf "$A"
    cp -r "$DIR/in" "$DIR/maildir"
    sync
    s=$(date +%s.%N)
    find "$DIR/maildir" -type f -delete
    sync
    e=$(date +%s.%N)
    T_RM+=("$(python3 -c "print($e-$s)")")
    rm -rf "$DIR/maildir"
done
python3 - "$MESSAGES" "$STORE" "${T_PURGE[*]}" "${T_RM[*]}" <<'PY'
import statistics, sys
n, store = int(sys.argv[1]), int(sys.argv[2])
purge = statistics.median(float(t) for t in sys.argv[3].split())
rm = statistics.median(float(t) for t in sys.argv[4].split())
print(f"{n} messages, medians:")
print(f"| mailseal purge | {purge:.2f} s | {n / purge:,.0f} tombstones/s |")
print(f"| find -delete + sync (files) | {rm:.2f} s | {n / rm:,.0f} files/s |")
print(f"key store before the purge: {store:,} bytes, {store / n:.0f} bytes per message")
PY
echo "$(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
