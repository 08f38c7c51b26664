#!/usr/bin/env bash
# Journal receiver throughput with durable acknowledgement.
#   bench/journal.sh [MESSAGES] [SESSIONS] [SIZE]
# Starts the release binary with one [[journal]] listener on a free loopback
# port, sends MESSAGES messages of SIZE bytes over SESSIONS connections with
# Postfix's smtp-source, and prints messages/s, the daemon's CPU time and peak
# RSS (from /usr/bin/time), then verifies the archive.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-20000}
SESSIONS=${2:-20}
SIZE=${3:-100000}
cargo build --release --quiet
BIN=target/release/mailseal
DIR=$(mktemp -d /var/tmp/mailseal-bench.XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$DIR/bench.toml" <<TOML
[archive]
path = "$DIR/archive"
[[journal]]
name = "bench"
listen = "127.0.0.1:$PORT"
max_connections = 100
[http]
enabled = false
[log]
level = "warn"
[control]
socket = "$DIR/control.sock"
TOML
/usr/bin/time -v -o "$DIR/time.txt" "$BIN" run --config "$DIR/bench.toml" &
PID=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
START=$(date +%s.%N)
smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f bench@example.com -t journal@example.com "127.0.0.1:$PORT"
END=$(date +%s.%N)
kill -TERM "$(pgrep -P $PID)" 2>/dev/null || true; wait $PID || true
RATE=$(python3 -c "print(round($MESSAGES/($END-$START)))")
echo "journal: $MESSAGES x $SIZE B over $SESSIONS sessions in $(python3 -c "print(round($END-$START,2))") s = $RATE msg/s (durable 250)"
grep -E 'User time|System time|Maximum resident' "$DIR/time.txt"
"$BIN" --archive "$DIR/archive" stats | head -2
"$BIN" --archive "$DIR/archive" verify | head -1
