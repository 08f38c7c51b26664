#!/usr/bin/env bash
# mailseal-verify archive against sha256sum and openssl dgst -sha256 over
# the same bytes.
#   bench/verify_speed.sh [MESSAGES] [SIZE] [ROUNDS]
# Imports MESSAGES generated messages of about SIZE bytes (text and an
# incompressible base64 attachment, like bench/archive.rs), then runs, in
# alternation and ROUNDS times each: `mailseal-verify archive`, `mailseal
# verify`, `sha256sum` and `openssl dgst -sha256` over the messages' raw
# bytes (what the verifiers hash after decompressing), and `sha256sum` over
# the segment files (what they read). Prints medians and MB/s of raw bytes.
# Contents are encrypted (the default, format 2.3): `mailseal verify` and
# `mailseal-verify --master-key` decrypt everything with the master key,
# `--no-decrypt` and `mailseal-verify` without it check ciphertext hashes.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-10000}
SIZE=${2:-100000}
ROUNDS=${3:-5}
cargo build --release --quiet -p mailseal -p mailseal-verify
BIN=target/release/mailseal
VERIFY=target/release/mailseal-verify
DIR=$(mktemp -d /var/tmp/mailseal-verify-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
python3 - "$DIR/in" "$MESSAGES" "$SIZE" <<'PY'
import base64, os, random, sys
out, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
rng = random.Random(16)
for i in range(n):
    head = (f"From: s{i}@example.com\r\nTo: r{i}@example.org\r\nSubject: Invoice {i}\r\n"
            f"Message-ID: <bench{i}@example.com>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
            + "Please find the invoice attached.\r\n" * (size // 20 // 36)
            + "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode()
    raw = rng.randbytes(max(0, (size - len(head)) * 3 // 4))
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    with open(os.path.join(out, f"{i:07d}.eml"), "wb") as f:
        f.write(head + b64 + b"--b--\r\n")
PY
# `--archive` opens read-only; the import names the archive in a config.
printf '[archive]\npath = "%s/archive"\n[http]\nenabled = false\n' "$DIR" >"$DIR/bench.toml"
"$BIN" --config "$DIR/bench.toml" import eml "$DIR/in" >/dev/null
cat "$DIR"/in/*.eml >"$DIR/raw.bin"
rm -rf "$DIR/in"
RAW=$(stat -c %s "$DIR/raw.bin")
SEG=$(cat "$DIR"/archive/segments/*.seg | wc -c)
declare -A T
run() { # name command...
    local s e
    s=$(date +%s.%N); "${@:2}" >/dev/null; e=$(date +%s.%N)
    T[$1]="${T[$1]:-} $(python3 -c "print($e-$s)")"
}
cat "$DIR"/archive/segments/*.seg "$DIR/raw.bin" >/dev/null
for _ in $(seq "$ROUNDS"); do
    run mailseal-verify "$VERIFY" archive "$DIR/archive"
    run sha256sum sha256sum "$DIR/raw.bin"
    run "mailseal-verify --master-key" "$VERIFY" archive "$DIR/archive" --master-key "$DIR/archive/master.key"
    run openssl openssl dgst -sha256 "$DIR/raw.bin"
    run "mailseal verify" "$BIN" --archive "$DIR/archive" verify
    run "mailseal verify --no-decrypt" "$BIN" --archive "$DIR/archive" verify --no-decrypt
    run "sha256sum segments" sha256sum "$DIR"/archive/segments/*.seg
done
echo "$MESSAGES messages, $RAW raw bytes, $SEG segment bytes, $(nproc) cores, $ROUNDS rounds (median)"
echo "| tool | median time | raw bytes/s | bytes it read/s |"
echo "|---|---|---|---|"
for k in mailseal-verify "mailseal-verify --master-key" sha256sum openssl "mailseal verify" "mailseal verify --no-decrypt" "sha256sum segments"; do
    case "$k" in mailseal*|"sha256sum segments") READ=$SEG ;; *) READ=$RAW ;; esac
    python3 - "$k" "$RAW" "$READ" ${T[$k]} <<'PY'
import statistics, sys
name, raw, read = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = statistics.median(float(t) for t in sys.argv[4:])
print(f"| {name} | {m:.2f} s | {raw / m / 1e6:.0f} MB/s | {read / m / 1e6:.0f} MB/s |")
PY
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
