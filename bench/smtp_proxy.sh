#!/usr/bin/env bash
# SMTP proxy overhead: the same load straight into smtp-sink and through mailseal.
#   bench/smtp_proxy.sh [MESSAGES] [SESSIONS] [SIZE] [RUNS]
# Starts Postfix's smtp-sink on a free loopback port, then the release binary
# with one [[smtp_proxy]] listener in front of it (no journal listener, every
# message fsync-durable in the archive before the final "." goes upstream).
# smtp-source sends MESSAGES messages of SIZE bytes over SESSIONS connections,
# RUNS times each way (median kept), and 200 messages over one connection for
# the added latency per message. Prints both throughputs, their ratio (target
# >= 0.90), the added latency, the daemon's CPU time and peak RSS, and verifies
# the archive.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-2000}
SESSIONS=${2:-20}
SIZE=${3:-100000}
RUNS=${4:-3}
SERIAL=200
cargo build --release --quiet
BIN=target/release/mailseal
DIR=$(mktemp -d /var/tmp/mailseal-bench.XXXXXX)
SINK_PID=
PID=
trap 'kill $PID $SINK_PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; echo "port $1 not listening" >&2; exit 2; }
# Seconds for one smtp-source run: PORT SESSIONS MESSAGES.
run() {
    local start end
    start=$(date +%s.%N)
    smtp-source -s "$2" -m "$3" -l "$SIZE" -f bench@example.com -t sink@example.com "127.0.0.1:$1"
    end=$(date +%s.%N)
    python3 -c "print($end-$start)"
}
# CPU ticks (user+system, 1/100 s) a process has used so far: PID.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Median seconds of RUNS runs: PORT.
median() {
    local times=()
    for _ in $(seq "$RUNS"); do times+=("$(run "$1" "$SESSIONS" "$MESSAGES")"); done
    python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" "${times[@]}"
}

SINK_PORT=$(free_port)
smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 100 &
SINK_PID=$!
wait_port "$SINK_PORT"

PORT=$(free_port)
cat > "$DIR/bench.toml" <<TOML
[archive]
path = "$DIR/archive"
[[smtp_proxy]]
name = "bench"
listen = "127.0.0.1:$PORT"
upstream = "127.0.0.1:$SINK_PORT"
upstream_tls = "none"
max_connections = 100
[http]
enabled = false
[log]
level = "warn"
[control]
socket = "$DIR/control.sock"
TOML
"$BIN" run --config "$DIR/bench.toml" &
PID=$!
wait_port "$PORT"

# Warm up both paths (page cache, first segment file), then measure.
run "$SINK_PORT" "$SESSIONS" 200 >/dev/null
run "$PORT" "$SESSIONS" 200 >/dev/null
# Per-message CPU of smtp-sink (single-threaded: it caps the direct run at
# one core) and of mailseal, in each mode.
S0=$(ticks "$SINK_PID"); M0=$(ticks "$PID")
DIRECT=$(median "$SINK_PORT")
S1=$(ticks "$SINK_PID"); M1=$(ticks "$PID")
PROXIED=$(median "$PORT")
S2=$(ticks "$SINK_PID"); M2=$(ticks "$PID")
DIRECT_1=$(run "$SINK_PORT" 1 "$SERIAL")
PROXIED_1=$(run "$PORT" 1 "$SERIAL")
CPU=$(ps -o times= -p "$PID")
RSS=$(awk '/VmHWM/ {print $2, $3}' "/proc/$PID/status")
kill -TERM "$PID"; wait "$PID" || true
PID=

python3 - "$MESSAGES" "$SESSIONS" "$SIZE" "$DIRECT" "$PROXIED" "$SERIAL" "$DIRECT_1" "$PROXIED_1" <<'PY'
import sys
m, s, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
direct, proxied, serial, d1, p1 = map(float, sys.argv[4:])
rd, rp = m / direct, m / proxied
print(f"{m} x {size} B over {s} sessions (median of runs):")
print(f"  straight into smtp-sink: {rd:8.0f} msg/s")
print(f"  through mailseal:        {rp:8.0f} msg/s")
print(f"  throughput ratio:        {rp / rd:8.2f}  (target >= 0.90)")
print(f"  latency under load:      {s / rd * 1000:6.1f} ms -> {s / rp * 1000:6.1f} ms per message")
print(f"one session, {int(serial)} messages: {d1 / serial * 1000:.2f} ms -> {p1 / serial * 1000:.2f} ms per message"
      f" (+{(p1 - d1) / serial * 1000:.2f} ms added by mailseal)")
PY
echo "mailseal: $CPU s CPU (user+system) for all runs, peak RSS $RSS"
python3 - "$MESSAGES" "$RUNS" "$S0" "$S1" "$S2" "$M1" "$M2" <<'PY'
import sys
m, runs, s0, s1, s2, m1, m2 = map(float, sys.argv[1:])
n = m * runs
print(f"CPU per message: smtp-sink {(s1 - s0) * 10 / n:.2f} ms direct, {(s2 - s1) * 10 / n:.2f} ms proxied;"
      f" mailseal {(m2 - m1) * 10 / n:.2f} ms")
PY
"$BIN" --archive "$DIR/archive" stats | head -2
"$BIN" --archive "$DIR/archive" verify | head -1
