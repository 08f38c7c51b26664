#!/usr/bin/env bash
# The CLI's reading commands while `mailseal run` runs: through the daemon's
# control socket (its sled index) against reading the segments, which is
# what the CLI did in round 1 whenever a daemon held the archive, and which
# `--archive DIR` still does on a copy.
#   bench/cli_daemon.sh [RECORDS] [SIZE] [RUNS]
# Builds an archive of RECORDS distinct messages (bench/gen_mbox.py), starts
# the daemon, then alternates A (socket) and B (segment scan) RUNS times for
# `list --from` (one sender of 97) and `show --raw` of one record, and prints
# every time and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-200000}
SIZE=${2:-2000}
RUNS=${3:-5}
cargo build --release --quiet
BIN=$PWD/target/release/mailseal
DIR=$(mktemp -d /var/tmp/mailseal-cli.XXXXXX)
DAEMON=
cleanup() {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" || true
    rm -rf "$DIR"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 bench/gen_mbox.py "$DIR/gen.mbox" "$RECORDS" "$SIZE"
cat > "$DIR/run.toml" <<TOML
[archive]
path = "$DIR/archive"
[[journal]]
name = "bench"
listen = "127.0.0.1:$PORT"
[http]
enabled = false
[log]
level = "warn"
[control]
socket = "$DIR/control.sock"
TOML
"$BIN" --config "$DIR/run.toml" import mbox "$DIR/gen.mbox" > /dev/null
rm -f "$DIR/gen.mbox"

"$BIN" --config "$DIR/run.toml" run 2> "$DIR/run.log" &
DAEMON=$!
for _ in $(seq 600); do
    python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" \
        "$DIR/control.sock" 2>/dev/null && break
    sleep 0.1
done

# Seconds one command takes (its output discarded).
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    python3 -c "print(f'{$end-$start:.3f}')"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

SHOW=$((RECORDS / 2))
for cmd in "list --from sender5@example.com" "show $SHOW --raw"; do
    a=(); b=()
    for _ in $(seq "$RUNS"); do
        # shellcheck disable=SC2086
        a+=("$(seconds "$BIN" --config "$DIR/run.toml" $cmd)")
        # shellcheck disable=SC2086
        b+=("$(seconds "$BIN" --archive "$DIR/archive" $cmd)")
    done
    echo "$cmd: socket ${a[*]} (median $(median "${a[@]}") s); segments ${b[*]} (median $(median "${b[@]}") s)"
done
