#!/usr/bin/env bash
# Builds the mailseal .deb and proves it on a fresh Debian 12 (bookworm):
# install into a debootstrapped chroot, run the binary as the mailseal user,
# check modes and owners, upgrade with an edited config, remove and purge
# (the archive must survive both), and check the systemd unit with
# `systemd-analyze verify` and `security`. Runs as root (chroot, mounts).
#
# Usage: packaging/test-deb.sh [CARGO-DEB-FLAGS]  build, then test
#        packaging/test-deb.sh --no-build          test the .debs built last time
# Env:   MAILSEAL_CHROOT_CACHE  where the pristine chroot is kept between runs
#                               (default /var/tmp/mailseal-test-deb)
#        MAILSEAL_DEB_MIRROR    Debian mirror (default: the host's apt sources)
# Exits non-zero with a "test-deb: FAIL" line naming the first failed check.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MAILSEAL_CHROOT_CACHE:-/var/tmp/mailseal-test-deb}
suite=bookworm
base=$cache/$suite-base
work=$cache/run
unit=mailseal.service

say() { printf 'test-deb: %s\n' "$*"; }
fail() { printf 'test-deb: FAIL: %s\n' "$*" >&2; exit 1; }
in_root() { chroot "$work" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
as_mailseal() { in_root runuser -u mailseal -- "$@"; }

[ "$(id -u)" = 0 ] || fail "must run as root (debootstrap, chroot, mount)"
for tool in debootstrap systemd-analyze dpkg-deb unshare ip lintian help2man cargo-deb; do
    command -v "$tool" >/dev/null || fail "$tool missing; run .ci/install-deps"
done

# The Debian mirror this machine's apt uses for $suite (deb822 or one-line).
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk -v suite="$suite" '
            /^[[:space:]]*$/ { if (ok && uri) { print uri; ok = 0; exit } ok = 0; uri = ""; next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END { if (ok && uri) print uri }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2 }'
}

mkdir -p "$cache"
mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

# A pristine bookworm with systemd (the package depends on it), made once.
make_base() {
    [ -f "$base/.complete" ] && return 0
    local mirror=${MAILSEAL_DEB_MIRROR:-$(host_mirror | head -n1)}
    [ -n "$mirror" ] || fail "no $suite mirror in /etc/apt/sources.list*; set MAILSEAL_DEB_MIRROR"
    say "debootstrapping $suite into $base (once; reused later)"
    rm -rf "$base"
    mkdir -p "$cache"
    debootstrap --variant=minbase --include=systemd "$suite" "$base" "$mirror" \
        >"$cache/debootstrap.log" 2>&1 || fail "debootstrap failed, see $cache/debootstrap.log"
    # No daemon of any package may start inside the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
    chmod 0755 "$base/usr/sbin/policy-rc.d"
    touch "$base/.complete"
}

fresh_root() {
    cleanup
    mounted=()
    # A run that was killed may have left its /proc mounted.
    umount -l "$work/proc" 2>/dev/null || true
    rm -rf "$work"
    cp -a "$base" "$work"
    mount -t proc proc "$work/proc" && mounted+=("$work/proc")
}

# "MODE OWNER GROUP" of a path inside the chroot.
perms() { in_root stat -c '%a %U %G' "$1"; }
expect_perms() {
    local got
    got=$(perms "$1") || fail "$1 does not exist"
    [ "$got" = "$2" ] || fail "$1 is '$got', expected '$2'"
    say "ok: $1 is $2"
}

# ---- build ----------------------------------------------------------------
# Both revisions are copied to $debs: cargo-deb clears target/debian of every
# other build of the package on each run.
debs=$root/target/packaging/test-debs
if [ "${1:-}" != --no-build ]; then
    rm -rf "$debs" && mkdir -p "$debs"
    cp "$("$root/packaging/build-deb" "$@")" "$debs/"
    # A second revision of the same binary, for the upgrade test.
    cargo deb --locked --no-build --deb-revision 2 "$@" >"$root/target/packaging/cargo-deb-2.log" 2>&1 ||
        fail "cargo deb (revision 2) failed, see target/packaging/cargo-deb-2.log"
    cp "$root"/target/debian/mailseal_*-2_*.deb "$debs/"
    # Leave target/debian as build-deb left it: revision 1.
    rm -f "$root"/target/debian/mailseal*-2_* && cp "$debs"/mailseal_*-1_*.deb "$root/target/debian/"
fi
deb1=$(find "$debs" -name 'mailseal_*-1_*.deb' 2>/dev/null | head -n1)
deb2=$(find "$debs" -name 'mailseal_*-2_*.deb' 2>/dev/null | head -n1)
if [ -z "$deb1" ] || [ -z "$deb2" ]; then fail "no built .deb (revisions 1 and 2) in $debs"; fi

# ---- lintian: clean, or each remaining tag overridden with its reason -------
lintian --fail-on error,warning "$deb1" >"$cache/lintian.log" 2>&1 ||
    fail "lintian: $(grep -E '^[EW]:' "$cache/lintian.log")"
say "ok: lintian (overrides: packaging/lintian-overrides)"

# ---- the unit, offline ----------------------------------------------------
exposure=$(systemd-analyze security --offline=true "$root/systemd/$unit" 2>&1 |
    sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+ [A-Z]+).*/\1/p')
case ${exposure#* } in
    SAFE | OK) say "ok: systemd-analyze security: $exposure" ;;
    *) fail "systemd-analyze security rates the unit '${exposure:-unparsable}', needs OK or better" ;;
esac

# ---- install ----------------------------------------------------------------
make_base
fresh_root
cp "$deb1" "$deb2" "$work/tmp/"
log=$cache/install.log
in_root apt-get install -y --no-install-recommends "/tmp/$(basename "$deb1")" >"$log" 2>&1 ||
    fail "apt install of $(basename "$deb1") failed, see $log"
grep -q 'installed and enabled, but NOT started' "$log" || fail "install did not say the service is not started"
say "ok: installed $(basename "$deb1")"

version=$(as_mailseal mailseal --version) || fail "mailseal --version failed as user mailseal"
[ "$version" = "mailseal $(dpkg-deb -f "$deb1" Version | sed 's/-[^-]*$//')" ] || fail "--version said '$version'"
say "ok: mailseal --version as mailseal: $version"
as_mailseal mailseal check-config >"$cache/check-config.log" 2>&1 ||
    fail "check-config of the packaged default config failed: $(cat "$cache/check-config.log")"
say "ok: mailseal check-config on the packaged default"

expect_perms /etc/mailseal/mailseal.toml "640 root mailseal"
expect_perms /var/lib/mailseal "750 mailseal mailseal"
expect_perms /usr/bin/mailseal "755 root root"
in_root getent passwd mailseal | grep -Eq ':/(usr/)?s?bin/nologin$' || fail "user mailseal has a login shell"
uid=$(in_root id -u mailseal)
[ "$uid" -lt 1000 ] || fail "mailseal is not a system user (uid $uid)"
[ -L "$work/etc/systemd/system/multi-user.target.wants/$unit" ] || fail "$unit is not enabled"
say "ok: system user mailseal (uid $uid), $unit enabled"

verify_out=$(in_root systemd-analyze verify "/lib/systemd/system/$unit" 2>&1) ||
    fail "systemd-analyze verify: $verify_out"
[ -z "$verify_out" ] || fail "systemd-analyze verify is not clean: $verify_out"
say "ok: systemd-analyze verify on the installed unit"

# ---- first start: archive and key created as mailseal, in a private network
# namespace so it cannot collide with anything listening on the host.
run_log=$cache/run.log
[ ! -e "$work/var/lib/mailseal/archive" ] || fail "the package created the archive before the first start"
started=$(date +%s)
unshare --net -- sh -c "ip link set lo up && exec chroot '$work' runuser -u mailseal -- \
    timeout --preserve-status -s TERM -k 45 5 mailseal run" >"$run_log" 2>&1 && rc=0 || rc=$?
# The daemon must still be serving after 5 s, then drain and exit 0 on
# SIGTERM (killed 45 s later if the drain hangs).
[ $(($(date +%s) - started)) -ge 5 ] || fail "mailseal run stopped early (exit $rc): $(tail -n5 "$run_log")"
[ "$rc" = 0 ] || fail "mailseal run exited $rc on SIGTERM: $(tail -n5 "$run_log")"
key=/var/lib/mailseal/archive/seal.key
got=$(perms "$key") || fail "no signing key $key after the first start"
[[ $got =~ ^(600|400|640|440)\ mailseal\ mailseal$ ]] || fail "$key is '$got'"
say "ok: first start created the archive and its key"

# ---- upgrade with an admin-edited config --------------------------------------
echo '# edited by the admin' >>"$work/etc/mailseal/mailseal.toml"
in_root dpkg --force-confold -i "/tmp/$(basename "$deb2")" >"$cache/upgrade.log" 2>&1 ||
    fail "upgrade to $(basename "$deb2") failed, see $cache/upgrade.log"
grep -q 'edited by the admin' "$work/etc/mailseal/mailseal.toml" || fail "upgrade lost the admin's config edit"
expect_perms /etc/mailseal/mailseal.toml "640 root mailseal"
[ -L "$work/etc/systemd/system/multi-user.target.wants/$unit" ] || fail "upgrade disabled $unit"
say "ok: upgrade kept the edited config, its mode and the enablement"

# ---- remove and purge keep the archive --------------------------------------
in_root apt-get remove -y mailseal >"$cache/remove.log" 2>&1 || fail "apt-get remove failed"
[ ! -e "$work/usr/bin/mailseal" ] || fail "remove left /usr/bin/mailseal"
[ -f "$work/etc/mailseal/mailseal.toml" ] || fail "remove deleted the conffile (only purge may)"
[ -f "$work$key" ] || fail "remove deleted the archive"
say "ok: remove kept config and archive"
in_root apt-get purge -y mailseal >"$cache/purge.log" 2>&1 || fail "apt-get purge failed"
[ ! -e "$work/etc/mailseal" ] || fail "purge left /etc/mailseal"
! in_root dpkg-statoverride --list /etc/mailseal/mailseal.toml >/dev/null || fail "purge left the statoverride"
[ -f "$work$key" ] || fail "purge deleted the archive"
grep -q 'rm -rf /var/lib/mailseal' "$cache/purge.log" || fail "purge did not say how to delete the archive"
say "ok: purge removed the config, kept /var/lib/mailseal and said so"

# ---- numbers ------------------------------------------------------------------
pkg_bytes=$(stat -c %s "$deb1")
inst_kib=$(dpkg-deb -f "$deb1" Installed-Size)
say "package size: $pkg_bytes bytes ($((pkg_bytes / 1024)) KiB), installed size: $inst_kib KiB"
say "PASS"
