#!/usr/bin/env bash
# IMAP import throughput: mailseal vs mbsync on the same mailbox.
#   bench/imap_import.sh [MESSAGES]
# Starts a private Dovecot on a free loopback port, writes MESSAGES messages
# of mixed size (60 % 1-10 kB, 30 % 10-100 kB, 9 % 100 kB-1 MB, 1 % 1-3 MB;
# text plus base64 of random bytes, as attachments are) straight into its
# Maildir, then times
#   - `mailseal import imap` into a fresh archive (every message fsync-durable),
#   - `mbsync` pulling the same mailbox into a fresh Maildir (fsync on too),
#   - finally mailseal again on the full archive (incremental: nothing new),
# three times each, alternating, and prints messages/s, MB/s and peak RSS
# (from /usr/bin/time) for each run.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-5000}
cargo build --release --quiet
BIN=$PWD/target/release/mailseal
DIR=$(mktemp -d /var/tmp/mailseal-imap-bench.XXXXXX)
D=$DIR/dovecot
trap 'doveadm -c "$D/dovecot.conf" stop 2>/dev/null || true; rm -rf "$DIR"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chmod 755 "$DIR"
mkdir -p "$D/mail/alice/cur" "$D/mail/alice/new" "$D/mail/alice/tmp" "$D/run" "$D/state"
echo 'alice:{PLAIN}secret' > "$D/users"
echo secret > "$DIR/pw"
cat > "$D/dovecot.conf" <<CONF
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$D/mail/%u
mail_save_crlf = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/mail/%u
}
service imap-login {
  inet_listener imap {
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
default_internal_user = nobody
default_login_user = nobody
CONF

python3 - "$D/mail/alice/cur" "$MESSAGES" <<'PY'
import base64, os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
for i in range(n):
    r = rng.random()
    size = (rng.randint(1_000, 10_000) if r < .60 else
            rng.randint(10_000, 100_000) if r < .90 else
            rng.randint(100_000, 1_000_000) if r < .99 else
            rng.randint(1_000_000, 3_000_000))
    head = (f"From: Sender {i} <s{i}@example.com>\r\nTo: r{i}@example.org\r\n"
            f"Subject: bench message {i}\r\nMessage-ID: <bench{i}@example.com>\r\n"
            f"Date: Sun, 29 Nov 2026 06:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + "Grüße aus München, the quarterly invoice is attached.\r\n" * 8
            + f"--b{i}\r\nContent-Type: application/pdf\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n").encode()
    raw = rng.randbytes(max(0, (size - len(head)) * 3 // 4))
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    msg = head + b64 + f"--b{i}--\r\n".encode()
    with open(os.path.join(out, f"{1700000000 + i}.M{i}P1.bench:2,S"), "wb") as f:
        f.write(msg)
PY
chmod -R a+rwX "$D/mail"
BYTES=$(du -sb "$D/mail/alice/cur" | cut -f1)
dovecot -c "$D/dovecot.conf"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
# Let Dovecot index the new Maildir once, so neither contender pays for it.
python3 -c "
import imaplib; m = imaplib.IMAP4('127.0.0.1', $PORT); m.login('alice', 'secret')
m.select('INBOX', readonly=True); m.uid('SEARCH', 'ALL'); m.logout()"

run() { # label, command...
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$DIR/time.txt" "$@" > "$DIR/out.txt" 2>&1 || { cat "$DIR/out.txt"; exit 1; }
  end=$(date +%s.%N)
  python3 -c "
s=$end-$start; print(f'{\"$label\":<28} {s:7.2f} s  {$MESSAGES/s:8.0f} msg/s  {$BYTES/s/1e6:7.1f} MB/s', end='')"
  echo "  peak RSS $(awk '/Maximum resident/ {printf "%.0f MB", $6/1024}' "$DIR/time.txt")"
}

echo "mailbox: $MESSAGES messages, $((BYTES / 1000000)) MB"
# --archive opens a copy read-only; an import names its archive in a config.
printf '[archive]\npath = "%s"\n[control]\nsocket = "%s"\n' "$DIR/archive" "$DIR/control.sock" >"$DIR/import.toml"
IMPORT=("$BIN" --config "$DIR/import.toml" import imap --host 127.0.0.1 --port "$PORT"
        --tls none --user alice --password-file "$DIR/pw")

mkdir -p "$DIR/maildir"
cat > "$DIR/mbsyncrc" <<RC
IMAPAccount bench
Host 127.0.0.1
Port $PORT
User alice
Pass secret
TLSType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path $DIR/maildir/
Inbox $DIR/maildir/INBOX

Channel pull
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
RC
# mbsync 1.4 calls it SSLType; newer versions TLSType.
mbsync -c "$DIR/mbsyncrc" -l >/dev/null 2>&1 || sed -i 's/^TLSType/SSLType/' "$DIR/mbsyncrc"

# Three rounds, alternating, each into a fresh archive / Maildir.
for round in 1 2 3; do
  rm -rf "$DIR/archive"
  run "mailseal import imap #$round" "${IMPORT[@]}"
  tail -1 "$DIR/out.txt"
  rm -rf "$DIR/maildir" && mkdir -p "$DIR/maildir"
  run "mbsync pull #$round" mbsync -c "$DIR/mbsyncrc" pull
  echo "  mbsync wrote $(find "$DIR/maildir/INBOX" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l) files"
done
run "mailseal, nothing new" "${IMPORT[@]}"
"$BIN" --archive "$DIR/archive" verify | tail -1
