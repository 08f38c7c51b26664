#!/usr/bin/env bash
# Soak and crash test through the network, long version.
#   bench/soak.sh [SECONDS]      (default 600)
# Runs tests/soak.rs (the real `mailseal run` with an SMTP proxy, a journal
# listener and an IMAP proxy under concurrent clients, SIGKILLed and
# restarted at random moments, its upstream sink killed and restarted) for
# SECONDS seconds of chaos, then prints its figures: messages sent,
# acknowledged and found intact per way in, what the upstreams took, kills
# and restarts, the verify results and the daemon's peak RSS (VmHWM, sampled
# across all its lives). Exits non-zero when the test found a problem.
# MAILSEAL_SOAK_SEED=N repeats a run's load. Needs what .ci/install-deps
# installs (aiosmtpd, Dovecot) and about 40 MB of disk per second of run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_WANTED=${1:-600}
LOG=$(mktemp /var/tmp/mailseal-soak.XXXXXX.log)
echo "soak: ${SECONDS_WANTED}s of chaos; full output in $LOG"
set +e
MAILSEAL_SOAK_SECONDS=$SECONDS_WANTED cargo test --release --test tests \
    soak::kill9_and_upstream_kills_under_load_lose_no_acknowledged_message \
    -- --exact --nocapture >"$LOG" 2>&1
STATUS=$?
set -e
grep '^soak:' "$LOG" || true
echo
awk -F' = ' '
    /^soak: / { sub(/^soak: /, "", $1); v[$1] = $2 }
    END {
        n = split("smtp-proxy journal imap-proxy", ways, " ")
        printf "%-11s %9s %9s %12s %9s\n", "way in", "sent", "acked", "acked+intact", "failed"
        for (i = 1; i <= n; i++) {
            w = ways[i]
            printf "%-11s %9s %9s %12s %9s\n", w, v[w " messages sent"], v[w " acknowledged"],
                v[w " acknowledged found intact"], v[w " failed attempts"] + v[w " refused replies"]
        }
        printf "daemon SIGKILLs %s, restarts %s, sink kills %s\n", v["daemon SIGKILLs"],
            v["daemon restarts"], v["sink SIGKILLs"]
        printf "sink accepted %s (archived %s), dovecot stored %s (archived %s)\n",
            v["sink accepted"], v["sink accepted found in archive"], v["dovecot stored"],
            v["dovecot stored found in archive"]
        printf "mailseal verify exit %s; verify_archive.py: %s\n", v["mailseal verify exit"],
            v["verify_archive.py says"]
        printf "daemon peak RSS %.1f MiB\n", v["daemon peak RSS (VmHWM) KiB"] / 1024
    }' "$LOG"
if [ "$STATUS" -ne 0 ]; then
    echo "soak: FAILED (see $LOG)"
    grep -E 'PROBLEM|panicked' "$LOG" | head -40 || true
fi
exit "$STATUS"
