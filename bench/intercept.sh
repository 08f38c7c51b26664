#!/usr/bin/env bash
# Inline interception overhead: the same SMTP load from a client namespace
# to a server namespace through a gateway namespace, once routed plainly
# (forwarding only) and once redirected by nftables into an intercepting
# mailseal on the gateway (every message fsync-durable in the archive before
# its final "." goes on to the server).
#   bench/intercept.sh [MESSAGES] [SESSIONS] [SIZE] [ROUNDS]
# smtp-source (client) sends MESSAGES messages of SIZE bytes over SESSIONS
# connections to smtp-sink (server), alternating plain and intercepted runs
# ROUNDS times (medians kept), then 200 messages over one connection each way
# for the added latency per message. Needs root (ip netns, nftables) and
# Postfix's smtp-source/smtp-sink; builds its namespaces and removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-2000}
SESSIONS=${2:-20}
SIZE=${3:-100000}
ROUNDS=${4:-5}
SERIAL=200
cargo build --release --quiet
BIN=$PWD/target/release/mailseal
DIR=$(mktemp -d /var/tmp/mailseal-bench.XXXXXX)
C=msb-c-$$ G=msb-g-$$ S=msb-s-$$
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    ip netns pids "$S" 2>/dev/null | xargs -r kill 2>/dev/null || true
    for ns in "$C" "$G" "$S"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

for ns in "$C" "$G" "$S"; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
nsx "$C" ip link add c0 type veth peer name g1 netns "$G"
nsx "$G" ip link add g2 type veth peer name s0 netns "$S"
nsx "$C" ip addr add 10.231.1.2/24 dev c0; nsx "$C" ip link set c0 up
nsx "$G" ip addr add 10.231.1.1/24 dev g1; nsx "$G" ip link set g1 up
nsx "$G" ip addr add 10.231.2.1/24 dev g2; nsx "$G" ip link set g2 up
nsx "$S" ip addr add 10.231.2.2/24 dev s0; nsx "$S" ip link set s0 up
nsx "$C" ip route add default via 10.231.1.1
nsx "$S" ip route add default via 10.231.2.1
nsx "$G" sysctl -qw net.ipv4.ip_forward=1

ip netns exec "$S" smtp-sink -u nobody 10.231.2.2:25 256 &
for _ in $(seq 100); do nsx "$S" ss -Htln 'sport = :25' | grep -q . && break; sleep 0.1; done

cat > "$DIR/bench.toml" <<TOML
[archive]
path = "$DIR/archive"
[[smtp_proxy]]
name = "gw"
listen = "[::]:10025"
intercept = "redirect"
intercept_destinations = [{ network = "10.231.2.2/32", ports = [25] }]
hostname = "gateway.bench"
upstream_tls = "none"
max_connections = 100
[http]
enabled = false
[log]
level = "warn"
[control]
socket = "$DIR/control.sock"
TOML
ip netns exec "$G" "$BIN" run --config "$DIR/bench.toml" 2>"$DIR/mailseal.log" &
PID=$!
for _ in $(seq 100); do [ -S "$DIR/control.sock" ] && break; sleep 0.1; done

RULES='table inet msbench { chain prerouting { type nat hook prerouting priority dstnat; policy accept; iifname "g1" tcp dport 25 redirect to :10025; }; }'
intercept_on() { echo "$RULES" | nsx "$G" nft -f -; }
intercept_off() { nsx "$G" nft delete table inet msbench 2>/dev/null || true; }
# Seconds for one smtp-source run from the client: SESSIONS MESSAGES.
run() {
    local start end
    start=$(date +%s.%N)
    nsx "$C" smtp-source -s "$1" -m "$2" -l "$SIZE" -f bench@example.com -t sink@example.com 10.231.2.2:25
    end=$(date +%s.%N)
    python3 -c "print($end-$start)"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }

# Warm both paths, then alternate plain and intercepted.
intercept_off; run "$SESSIONS" 200 >/dev/null
intercept_on; run "$SESSIONS" 200 >/dev/null
PLAIN=() INTERCEPTED=()
M0=$(ticks "$PID")
for _ in $(seq "$ROUNDS"); do
    intercept_off; PLAIN+=("$(run "$SESSIONS" "$MESSAGES")")
    intercept_on; INTERCEPTED+=("$(run "$SESSIONS" "$MESSAGES")")
done
M1=$(ticks "$PID")
intercept_off; PLAIN_1=$(run 1 "$SERIAL")
intercept_on; INTERCEPTED_1=$(run 1 "$SERIAL")
P=$(median "${PLAIN[@]}"); I=$(median "${INTERCEPTED[@]}")
RSS=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
python3 - "$P" "$I" "$PLAIN_1" "$INTERCEPTED_1" "$MESSAGES" "$SIZE" "$SERIAL" "$((M1 - M0))" "$ROUNDS" "$RSS" <<'PY'
import sys
p, i, p1, i1 = map(float, sys.argv[1:5])
n, size, serial, ticks, rounds, rss = map(int, sys.argv[5:11])
mb = n * size / 1e6
print(f"plain forwarding : {n / p:8.1f} msg/s {mb / p:7.1f} MB/s (median of {rounds})")
print(f"intercepted      : {n / i:8.1f} msg/s {mb / i:7.1f} MB/s (median of {rounds})")
print(f"ratio            : {p / i:.2f}")
print(f"one session      : plain {p1 / serial * 1000:.2f} ms/msg, intercepted {i1 / serial * 1000:.2f} ms/msg, added {(i1 - p1) / serial * 1000:.2f} ms")
print(f"mailseal CPU     : {ticks / 100 / (n * rounds) * 1000:.2f} ms/msg; peak RSS {rss / 1024:.0f} MiB")
PY
nsx "$G" "$BIN" --archive "$DIR/archive" verify >/dev/null && echo "archive verifies"
