#!/usr/bin/env bash
# POP3 proxy throughput: fetchmail downloading a mailbox straight from
# Dovecot and through `mailseal run` (every message fsync-durable in the
# archive before its final "."), alternating, ROUNDS times each.
#   bench/pop3_proxy.sh [MESSAGES] [SIZE] [ROUNDS]
# Defaults: 2,000 messages of 20 kB, 5 rounds. fetchmail keeps the messages
# (`keep fetchall`) so every run downloads the same mailbox; the proxy gets a
# fresh archive per run, so nothing is deduplicated. Messages are delivered
# as BSMTP to /dev/null (no process per message, so the download itself is
# what is timed). Prints every run, the medians and their ratio (through
# mailseal / direct).
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-2000}
SIZE=${2:-20000}
ROUNDS=${3:-5}
# MAILSEAL_BIN: a mailseal binary to measure instead of building one.
if [ -z "${MAILSEAL_BIN:-}" ]; then cargo build --release --quiet; fi
BIN=${MAILSEAL_BIN:-$PWD/target/release/mailseal}
DIR=$(mktemp -d /var/tmp/mailseal-pop3-bench.XXXXXX)
D=$DIR/dovecot
DAEMON=
cleanup() {
  [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
  doveadm -c "$D/dovecot.conf" stop 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
PROXY=$(free_port)
chmod 755 "$DIR"
mkdir -p "$D/mail/alice/cur" "$D/mail/alice/new" "$D/mail/alice/tmp" "$D/run" "$D/state"
echo 'alice:{PLAIN}secret' > "$D/users"
cat > "$D/dovecot.conf" <<CONF
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$D/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/mail/%u
}
service pop3-login {
  inet_listener pop3 {
    port = $PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
default_internal_user = nobody
default_login_user = nobody
CONF

python3 - "$D/mail/alice/cur" "$MESSAGES" "$SIZE" <<'PY'
import os, random, sys
out, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
words = [w.encode() for w in "the quarterly invoice is attached please find Grüße aus München .dot".split()]
for i in range(n):
    msg = (f"From: Sender {i} <s{i}@example.com>\r\nTo: r{i}@example.org\r\n"
           f"Subject: bench message {i}\r\nMessage-ID: <pop{i}@example.com>\r\n"
           f"Date: Sun, 29 Nov 2026 06:00:00 +0000\r\n\r\n").encode()
    while len(msg) < size:
        msg += b" ".join(rng.choice(words) for _ in range(12)) + b"\r\n"
    with open(os.path.join(out, f"{1700000000 + i}.M{i}P1.bench:2,S"), "wb") as f:
        f.write(msg)
PY
chmod -R a+rwX "$D/mail"
BYTES=$(du -sb "$D/mail/alice/cur" | cut -f1)
dovecot -c "$D/dovecot.conf"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

fetch() { # port
  cat > "$DIR/fetchmailrc" <<RC
poll 127.0.0.1 protocol POP3 port $1 auth password
  user "alice" password "secret" is root here
  bsmtp /dev/null keep fetchall sslproto ''
RC
  chmod 600 "$DIR/fetchmailrc"
  FETCHMAILHOME=$DIR fetchmail --fetchmailrc "$DIR/fetchmailrc" --pidfile "$DIR/fetchmail.pid" \
    --nosyslog --silent > "$DIR/fetchmail.out" 2>&1 || { cat "$DIR/fetchmail.out"; exit 1; }
}

start_daemon() { # fresh archive per run
  rm -rf "$DIR/archive"
  cat > "$DIR/mailseal.toml" <<TOML
[archive]
path = "$DIR/archive"
[[pop3_proxy]]
name = "pop3"
listen = "127.0.0.1:$PROXY"
upstream = "127.0.0.1:$PORT"
upstream_tls = "none"
[http]
enabled = false
[control]
socket = "$DIR/control.sock"
TOML
  "$BIN" --config "$DIR/mailseal.toml" run 2> "$DIR/daemon.log" &
  DAEMON=$!
  for _ in $(seq 100); do [ -S "$DIR/control.sock" ] && break; sleep 0.1; done
}

stop_daemon() {
  kill "$DAEMON"; wait "$DAEMON" || true; DAEMON=
}

timed() { # label, port -> seconds on stdout
  local start end
  start=$(date +%s.%N)
  fetch "$2"
  end=$(date +%s.%N)
  python3 -c "s=$end-$start; print(f'{\"$1\":<16} {s:7.2f} s  {$MESSAGES/s:7.0f} msg/s  {$BYTES/s/1e6:6.1f} MB/s')" >&2
  python3 -c "print($end-$start)"
}

echo "mailbox: $MESSAGES messages of $SIZE bytes, $((BYTES / 1000000)) MB; $ROUNDS rounds" >&2
fetch "$PORT" # warm Dovecot's caches and indexes once
DIRECT=() PROXIED=()
for round in $(seq "$ROUNDS"); do
  DIRECT+=("$(timed direct "$PORT")")
  start_daemon
  PROXIED+=("$(timed "through mailseal" "$PROXY")")
  ARCHIVED=$("$BIN" --config "$DIR/mailseal.toml" list --source pop3-proxy | wc -l)
  stop_daemon
  echo "  round $round: $ARCHIVED archive lines listed" >&2
done
python3 - "${DIRECT[*]}" "${PROXIED[*]}" <<'PY'
import statistics, sys
d = statistics.median(map(float, sys.argv[1].split()))
p = statistics.median(map(float, sys.argv[2].split()))
print(f"median direct {d:.2f} s, through mailseal {p:.2f} s, ratio (through/direct) {p/d:.2f}")
PY
