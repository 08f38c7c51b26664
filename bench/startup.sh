#!/usr/bin/env bash
# Start-up time of `mailseal run` to READY with a large archive.
#   bench/startup.sh [RECORDS] [SIZE] [RUNS]
# Builds an archive of RECORDS distinct messages of about SIZE bytes with
# `mailseal import mbox` (every message fsync-durable, as in production),
# then starts the release binary RUNS times with NOTIFY_SOCKET pointing at a
# unix datagram socket this script listens on, and reports the time from
# exec to READY=1 (sent after the archive is open and every listener is
# bound): first with the index as the previous run left it (warm), then
# with the index directory deleted before each start, so the daemon
# rebuilds it from the segments. The page cache is warm in both cases.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-100000}
SIZE=${2:-2000}
RUNS=${3:-3}
cargo build --release --quiet
BIN=$PWD/target/release/mailseal
DIR=$(mktemp -d /var/tmp/mailseal-startup.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Distinct messages (no two share content, so nothing is deduplicated).
python3 - "$DIR/gen.mbox" "$RECORDS" "$SIZE" <<'PY'
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
PY
cat > "$DIR/run.toml" <<TOML
[archive]
path = "$DIR/archive"
[[journal]]
name = "startup"
listen = "127.0.0.1:$PORT"
[http]
enabled = false
[log]
level = "warn"
[control]
socket = "$DIR/control.sock"
TOML

START=$(date +%s.%N)
"$BIN" --config "$DIR/run.toml" import mbox "$DIR/gen.mbox" > /dev/null
END=$(date +%s.%N)
echo "import: $RECORDS messages in $(python3 -c "print(round($END-$START,1))") s"
"$BIN" --archive "$DIR/archive" stats | head -1

# Prints seconds from exec to READY=1, then stops the daemon (SIGTERM).
measure() {
    python3 - "$BIN" "$DIR/run.toml" "$DIR/notify.sock" "$DIR/run.log" <<'PY'
import os, signal, socket, subprocess, sys, time
binary, config, path, log = sys.argv[1:5]
if os.path.exists(path):
    os.unlink(path)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.settimeout(600)
env = dict(os.environ, NOTIFY_SOCKET=path)
with open(log, "ab") as err:
    start = time.monotonic()
    daemon = subprocess.Popen([binary, "--config", config, "run"], env=env,
                              stdout=subprocess.DEVNULL, stderr=err)
    try:
        while b"READY=1" not in sock.recv(4096):
            pass
        ready = time.monotonic() - start
        with open(f"/proc/{daemon.pid}/status") as status:
            hwm = next(l.split()[1] for l in status if l.startswith("VmHWM:"))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
print(f"{ready:.3f}s/{int(hwm) // 1024}MiB")
PY
}

warm=()
for _ in $(seq "$RUNS"); do warm+=("$(measure)"); done
echo "READY and peak RSS at READY, warm index: ${warm[*]}"
rebuilt=()
for _ in $(seq "$RUNS"); do
    rm -rf "$DIR/archive/index"
    rebuilt+=("$(measure)")
done
echo "READY and peak RSS at READY, index deleted (rebuilt from segments): ${rebuilt[*]}"
du -sh "$DIR/archive/segments" "$DIR/archive/index" | sed 's/^/on disk: /'
"$BIN" --archive "$DIR/archive" verify | head -1
