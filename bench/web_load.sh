#!/usr/bin/env bash
# The web interface under load: CLIENTS logged-in auditors, each asking for a
# search page or a message page about once a second for SECONDS, against
# `mailseal run` serving an archive of RECORDS generated messages (searches
# go through the daemon's full-text index). Prints time to first byte
# p50/p99 per page, the requests served, the daemon's peak RSS, and then the
# most requests per second the machine serves (every client asking again as
# soon as it has its answer).
#   bench/web_load.sh [RECORDS] [CLIENTS] [SECONDS]
# Defaults: 100,000 messages of 4 kB, 50 clients, 60 s.
# MAILSEAL_BIN: a mailseal binary to measure instead of building one.
# WEB_LOAD_ARCHIVE: an archive to serve instead of generating one, such as
# the 1,000,000 realistic messages `BENCH_KEEP=1 cargo bench --bench
# search_ingest` leaves (RECORDS is then how many messages it holds; the
# queries use that corpus's words, people and domains). The archive gains
# the bench's login records.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-100000}
CLIENTS=${2:-50}
SECONDS_=${3:-60}
if [ -z "${MAILSEAL_BIN:-}" ]; then
    cargo build --release --quiet
    MAILSEAL_BIN=$PWD/target/release/mailseal
fi
DIR=$(mktemp -d /var/tmp/mailseal-web.XXXXXX)
DAEMON=
cleanup() {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" || true
    rm -rf "$DIR"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
JOURNAL=$(port)
WEB=$(port)
HTTP=$(port)
ARCHIVE=${WEB_LOAD_ARCHIVE:-$DIR/archive}
VOCABULARY=${WEB_LOAD_ARCHIVE:+corpus}
cat > "$DIR/run.toml" <<TOML
[archive]
path = "$ARCHIVE"
[[journal]]
name = "bench"
listen = "127.0.0.1:$JOURNAL"
[http]
listen = "127.0.0.1:$HTTP"
[web]
enabled = true
listen = "127.0.0.1:$WEB"
users_file = "$DIR/users.toml"
[log]
level = "warn"
[control]
socket = "$DIR/control.sock"
TOML
echo 'a long passphrase for the bench' |
    "$MAILSEAL_BIN" --config "$DIR/run.toml" user --users-file "$DIR/users.toml" add anna --role auditor > /dev/null
if [ -z "${WEB_LOAD_ARCHIVE:-}" ]; then
    python3 bench/gen_mbox.py "$DIR/gen.mbox" "$RECORDS" 4000
    "$MAILSEAL_BIN" --config "$DIR/run.toml" import mbox "$DIR/gen.mbox" > /dev/null
    rm "$DIR/gen.mbox"
fi
"$MAILSEAL_BIN" --config "$DIR/run.toml" run 2> "$DIR/daemon.log" &
DAEMON=$!
# Wait until the index holds every record.
python3 - "$HTTP" <<'PY'
import json, sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/healthz"
deadline = time.time() + 3600
while time.time() < deadline:
    try:
        h = json.load(urllib.request.urlopen(url, timeout=5))
        s = h.get("search", {})
        if s.get("indexed_seq", 0) > 0 and s.get("lag", 1) == 0:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(1)
sys.exit("index did not catch up")
PY
python3 - "$WEB" "$CLIENTS" "$SECONDS_" "$RECORDS" "$DAEMON" "$VOCABULARY" <<'PY'
import http.client, random, re, sys, threading, time, urllib.parse
port, clients, seconds, records, pid = (int(a) for a in sys.argv[1:6])
corpus = len(sys.argv) > 6 and sys.argv[6] == "corpus"
WORDS = ["order", "invoice", "delivery", "contract", "payment", "meeting",
         "quote", "shipment", "account", "reminder", "update", "report"]
if corpus:  # bench/search/corpus.rs
    WORDS = ["rechnung", "invoice", "vertrag", "lieferung", "angebot", "payment",
             "delivery", "contract", "mahnung", "termin", "reminder", "budget"]

def login():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/login")
    r = c.getresponse(); page = r.read().decode()
    pre = re.search(r"__Host-mailseal-pre=([^;]+)", r.getheader("set-cookie")).group(1)
    token = re.search(r'name="pre" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"pre": token, "user": "anna",
                                   "password": "a long passphrase for the bench"})
    c.request("POST", "/login", body, {"Cookie": f"__Host-mailseal-pre={pre}",
              "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse(); r.read()
    assert r.status == 303, r.status
    session = re.search(r"__Host-mailseal=([^;]+)", r.getheader("set-cookie")).group(1)
    return c, {"Cookie": f"__Host-mailseal={session}"}

def corpus_query(rnd):
    d = rnd.randrange(3000)
    tld = ["de", "com", "co.uk", "at", "ch", "org"][d % 6]
    return rnd.choice([
        lambda: rnd.choice(WORDS),
        lambda: f"{rnd.choice(WORDS)} {rnd.choice(WORDS)}",
        lambda: f"from:firma{d}.{tld}",
        lambda: f"to:firma{d}.{tld} {rnd.choice(WORDS)}",
        lambda: f"subject:{rnd.randrange(records // 4)}",
    ])()

def path(rnd):
    if rnd.random() < 0.5:
        q = corpus_query(rnd) if corpus else rnd.choice([
            lambda: rnd.choice(WORDS),
            lambda: f"{rnd.choice(WORDS)} {rnd.choice(WORDS)}",
            lambda: f"from:sender{rnd.randrange(97)}@example.com",
            lambda: f"to:rcpt{rnd.randrange(389)}@example.org {rnd.choice(WORDS)}",
            lambda: f'subject:"{rnd.choice(WORDS)} {rnd.randrange(records)}"',
        ])()
        return "search", "/search?" + urllib.parse.urlencode({"q": q})
    return "message", f"/message/{rnd.randrange(1, records + 1)}"

def run(paced, seconds):
    times = {"search": [], "message": []}
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    def client(i):
        rnd = random.Random(i)
        c, headers = login()
        start.wait()
        end = time.time() + seconds
        next_at = time.time() + rnd.random()
        while time.time() < end:
            if paced:
                time.sleep(max(0.0, next_at - time.time()))
                next_at += 0.5 + rnd.random()  # about once a second
            kind, p = path(rnd)
            t = time.perf_counter()
            c.request("GET", p, headers=headers)
            r = c.getresponse()
            ttfb = time.perf_counter() - t
            r.read()
            with lock:
                if r.status == 200:
                    times[kind].append(ttfb)
                else:
                    errors[0] += 1
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads: t.start()
    peak = [0]
    def rss():
        while any(t.is_alive() for t in threads):
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
            time.sleep(0.5)
    start.wait()
    began = time.time()
    watcher = threading.Thread(target=rss); watcher.start()
    for t in threads: t.join()
    watcher.join()
    took = time.time() - began
    return times, errors[0], took, peak[0]

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round((len(v) - 1) * p)))] * 1000 if v else float("nan")

for label, paced, secs in (("paced, about 1 request/s per client", True, seconds),
                           ("as fast as answered", False, min(seconds, 30))):
    times, errors, took, peak = run(paced, secs)
    n = sum(len(v) for v in times.values())
    print(f"\n{clients} clients, {label}, {took:.0f} s: {n} answers ({n / took:.0f}/s), "
          f"{errors} errors, daemon peak RSS {peak / 1024:.0f} MB")
    print("| page | answers | TTFB p50 | TTFB p99 |")
    print("|---|---|---|---|")
    for kind, v in times.items():
        print(f"| {kind} | {len(v)} | {pct(v, 0.5):.1f} ms | {pct(v, 0.99):.1f} ms |")
PY
