#!/usr/bin/env bash
# Proves the README's two commands on a fresh, minimal Debian, as a newcomer would run them:
#
#   debootstrap --variant=minbase <suite>, then the README's prerequisites (python3, make, git)
#   and nothing else; a `git clone` of this checkout's HEAD; then, inside the chroot,
#   `make test` (the whole suite) and `make run`, whose /health must list the seed data.
#   `--only bench` instead proves the benchmarks' command: `make bench BENCH_ARGS=--quick` must run
#   every benchmark to the end, each printing every figure it has a target for (a smoke run's
#   figures say nothing of speed, so their verdicts are not judged).
#
# Usage: scripts/fresh-debian.sh [--root DIR] [--suite bookworm] [--mirror URL] [--keep]
#                                [--only test|run|bench]
# Needs root (debootstrap, chroot, mounts). Installs debootstrap when it is missing. Every step
# is printed with its time; the chroot's own logs are kept in DIR/var/log/geomap-fresh/.
# Exits non-zero when any step fails. .ci/run calls it after `make test`
# (set GEOMAP_FRESH_DEBIAN=0 to leave it out of a local `.ci/run`).
set -euo pipefail

suite=bookworm
mirror=http://deb.debian.org/debian
root=""
keep=0
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root="$2"; shift 2 ;;
        --suite) suite="$2"; shift 2 ;;
        --mirror) mirror="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        --only) only="$2"; shift 2 ;;
        *) echo "unknown option: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
case "$only" in ""|test|run|bench) ;; *) echo "--only: test, run or bench, not '$only'" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "$0 needs root (debootstrap, chroot and mounts)" >&2; exit 2; }
src=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
root=${root:-$(mktemp -d /var/tmp/geomap-fresh-XXXXXX)}
port=5099
started=$(date +%s)

step() { printf '\n== [%4ds] %s\n' "$(( $(date +%s) - started ))" "$*"; }

mounts=(proc sys dev dev/pts dev/shm mnt/src)
cleanup() {
    # Services that Debian's packages started inside the root (postgresql's 15/main) and the
    # servers of `make run` would keep the mounts busy.
    for proc in /proc/[0-9]*; do
        [ "$(readlink "$proc/root" 2>/dev/null)" = "$root" ] && kill -9 "${proc#/proc/}" 2>/dev/null
    done
    sleep 1
    for m in $(printf '%s\n' "${mounts[@]}" | tac); do
        mountpoint -q "$root/$m" && umount -l "$root/$m"
    done
    if [ "$keep" -eq 0 ]; then rm -rf --one-file-system "$root"; else echo "kept $root"; fi
}
trap cleanup EXIT

# This machine's network may intercept TLS with a CA of its own (a development sandbox's egress
# proxy does): the root trusts what this machine trusts, for pip's downloads from PyPI, and
# nothing else of this machine's crosses over. A fresh Debian on an open network needs neither.
network_env=()
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then network_env+=(PIP_CERT=/etc/geomap-fresh/ca.crt); fi
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -n "${!name:-}" ] && network_env+=("$name=${!name}")
done

in_root() {
    # A clean environment: no pip index, virtualenv or path of this machine's leaks in.
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb "${network_env[@]}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$1"
}

if ! command -v debootstrap >/dev/null; then
    step "installing debootstrap on this machine"
    apt-get update -q && apt-get install -y -q debootstrap
fi

step "debootstrap --variant=minbase $suite into $root"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
    || { tail -20 "$root.debootstrap.log"; exit 1; }
rm -f "$root.debootstrap.log"
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/etc/geomap-fresh"
[ -s /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/geomap-fresh/ca.crt"
mkdir -p "$root/mnt/src" "$root/var/log/geomap-fresh"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount -t devpts devpts "$root/dev/pts"
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"   # Chromium needs a writable /dev/shm
mount --bind -o ro "$src" "$root/mnt/src"

step "the README's prerequisites: python3, make, git (and nothing else)"
in_root "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 make git"

step "git clone of $(git -C "$src" rev-parse --short HEAD)"
in_root "git config --global --add safe.directory /mnt/src/.git && git clone -q /mnt/src /root/geomap"

if [ -z "$only" ] || [ "$only" = test ]; then
    step "make test (the README's second command)"
    in_root "cd /root/geomap && make test PYTEST_ARGS='-q -p no:cacheprovider' 2>&1 | tee /var/log/geomap-fresh/make-test.log; exit \${PIPESTATUS[0]}"
fi

if [ "$only" = bench ]; then
    step "make bench BENCH_ARGS=--quick (the benchmarks' command, a smoke run)"
    in_root "cd /root/geomap && make bench BENCH_ARGS=--quick 2>&1 | tee /var/log/geomap-fresh/make-bench.log; true"
    in_root "cd /root/geomap && python3 - <<'EOF'
import json, pathlib, sys
runs = sorted(pathlib.Path('bench/data').glob('run-*/summary.json'))
if not runs:
    sys.exit('make bench wrote no bench/data/run-*/summary.json')
outcomes = json.loads(runs[-1].read_text())
names = [o['benchmark'] for o in outcomes]
missing = [(o['benchmark'], f['metric']) for o in outcomes for f in o['figures'] if f['value'] is None]
print('benchmarks run:', ', '.join(names))
if names != ['synth', 'nearby', 'api', 'maps', 'story', 'paging', 'import'] or missing:
    sys.exit(f'not every benchmark ran to a figure: {names}; without a figure: {missing}')
EOF"
fi

if [ -z "$only" ] || [ "$only" = run ]; then
    step "make run (the README's first command), then /health"
    in_root "cd /root/geomap && (setsid make run PORT=$port >/var/log/geomap-fresh/make-run.log 2>&1 &) && python3 - <<'EOF'
import json, sys, time, urllib.request
deadline = time.monotonic() + 900
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=5) as response:
            body = json.load(response)
            print(json.dumps(body, indent=1))
            sys.exit(0 if body['status'] == 'ok' and body['counts']['incidents'] > 0 else 1)
    except OSError:
        time.sleep(2)
print(open('/var/log/geomap-fresh/make-run.log').read()[-3000:])
sys.exit('make run did not answer /health within 900 s')
EOF"
    in_root "/root/geomap/.venv/bin/geomap db stop"  # the server of make run ends with the root's processes
fi

step "passed: the README's commands${only:+ ($only)} work on a fresh minimal Debian $suite"
