#!/usr/bin/env bash
# Journal ingest of two mailseal binaries (or one binary with two
# configurations), alternated: A/B/A/B...
#   bench/ab_ingest.sh BIN_A BIN_B [ROUNDS] [MESSAGES] [SESSIONS] [SIZE]
# ARCHIVE_A and ARCHIVE_B are extra `[archive]` lines for A and B, e.g.
#   ARCHIVE_A='encrypt = false' ARCHIVE_B='encrypt = true' bench/ab_ingest.sh BIN BIN
# (per-content encryption off vs on). Also prints the daemon's CPU time
# (user + system) per message.
# Each round starts the binary on a fresh archive with one [[journal]]
# listener, sends MESSAGES messages of SIZE bytes over SESSIONS sessions with
# smtp-source (every 250 only after fsync), and records messages/s. Prints
# each run and the medians. Used for "with the Merkle tree vs before"
# (docs/benchmarks.md): BIN_A built from the commit before format 2.
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-5} MESSAGES=${4:-10000} SESSIONS=${5:-20} SIZE=${6:-100000}
one() { # binary extra-archive-lines -> "msg/s cpu-µs/msg"
    local bin=$1 extra=$2 dir port pid s e cpu
    dir=$(mktemp -d /var/tmp/mailseal-ab.XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf '[archive]\npath = "%s/archive"\n%s\n[[journal]]\nname = "bench"\nlisten = "127.0.0.1:%s"\nmax_connections = 100\n[http]\nenabled = false\n[log]\nlevel = "warn"\n' "$dir" "$extra" "$port" >"$dir/bench.toml"
    "$bin" run --config "$dir/bench.toml" 2>"$dir/log" &
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    s=$(date +%s.%N)
    smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f bench@example.com -t journal@example.com "127.0.0.1:$port"
    e=$(date +%s.%N)
    # utime + stime of the daemon (fields 14 and 15), in clock ticks.
    cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid" || true
    rm -rf "$dir"
    python3 -c "print(round($MESSAGES/($e-$s)), round($cpu / $(getconf CLK_TCK) * 1e6 / $MESSAGES))"
}
ra=() rb=() ca=() cb=()
for i in $(seq "$ROUNDS"); do
    read -r x y < <(one "$A" "${ARCHIVE_A:-}"); ra+=("$x"); ca+=("$y")
    read -r x y < <(one "$B" "${ARCHIVE_B:-}"); rb+=("$x"); cb+=("$y")
    echo "round $i: A ${ra[-1]} msg/s (${ca[-1]} µs CPU/msg), B ${rb[-1]} msg/s (${cb[-1]} µs CPU/msg)"
done
python3 - "${ra[*]}" "${rb[*]}" "${ca[*]}" "${cb[*]}" <<'PY'
import statistics, sys
a, b, ca, cb = ([int(x) for x in arg.split()] for arg in sys.argv[1:5])
ma, mb = statistics.median(a), statistics.median(b)
print(f"median A {ma:.0f} msg/s, B {mb:.0f} msg/s, B/A = {mb/ma:.3f}; "
      f"CPU per message A {statistics.median(ca):.0f} µs, B {statistics.median(cb):.0f} µs")
PY
