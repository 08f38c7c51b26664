#!/usr/bin/env bash
# Journal ingest of two mailseal binaries, alternated: A/B/A/B...
#   bench/ab_ingest.sh BIN_A BIN_B [ROUNDS] [MESSAGES] [SESSIONS] [SIZE]
# Each round starts the binary on a fresh archive with one [[journal]]
# listener, sends MESSAGES messages of SIZE bytes over SESSIONS sessions with
# smtp-source (every 250 only after fsync), and records messages/s. Prints
# each run and the medians. Used for "with the Merkle tree vs before"
# (docs/benchmarks.md): BIN_A built from the commit before format 2.
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-5} MESSAGES=${4:-10000} SESSIONS=${5:-20} SIZE=${6:-100000}
one() { # binary -> msg/s
    local bin=$1 dir port pid s e
    dir=$(mktemp -d /var/tmp/mailseal-ab.XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf '[archive]\npath = "%s/archive"\n[[journal]]\nname = "bench"\nlisten = "127.0.0.1:%s"\nmax_connections = 100\n[http]\nenabled = false\n[log]\nlevel = "warn"\n' "$dir" "$port" >"$dir/bench.toml"
    "$bin" run --config "$dir/bench.toml" 2>"$dir/log" &
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    s=$(date +%s.%N)
    smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f bench@example.com -t journal@example.com "127.0.0.1:$port"
    e=$(date +%s.%N)
    kill -TERM "$pid"; wait "$pid" || true
    rm -rf "$dir"
    python3 -c "print(round($MESSAGES/($e-$s)))"
}
ra=() rb=()
for i in $(seq "$ROUNDS"); do
    ra+=("$(one "$A")"); rb+=("$(one "$B")")
    echo "round $i: A ${ra[-1]} msg/s, B ${rb[-1]} msg/s"
done
python3 - "${ra[*]}" "${rb[*]}" <<'PY'
import statistics, sys
a = [int(x) for x in sys.argv[1].split()]
b = [int(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"median A {ma:.0f} msg/s, B {mb:.0f} msg/s, B/A = {mb/ma:.3f}")
PY
