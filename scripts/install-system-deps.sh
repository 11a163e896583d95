#!/usr/bin/env bash
# Installs the Debian packages geomap needs, only those that are missing, with apt's progress.
#
#   scripts/install-system-deps.sh run    what `make run` needs (PostgreSQL, PostGIS, venv, git,
#                                         Chromium and libatomic1 for the context report's PDF)
#   scripts/install-system-deps.sh test   that, and what only the tests need (GDAL's tools,
#                                         QGIS's Python bindings)
#   scripts/install-system-deps.sh bench  that, and the load generator of bench/api.py (wrk)
#
# Idempotent and quiet when everything is already there; uses sudo when not root.
set -euo pipefail

purpose=${1:-test}
case "$purpose" in run|test|bench) ;; *) echo "usage: $0 run|test|bench" >&2; exit 2 ;; esac

have_postgis() {
    # PostGIS for the newest installed PostgreSQL major version.
    local major
    major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
    [ -n "$major" ] && ls /usr/share/postgresql/"$major"/extension/postgis.control >/dev/null 2>&1
}
have_package() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

missing=()
have_package postgresql || missing+=(postgresql)
have_postgis || missing+=(postgresql-postgis)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v git >/dev/null 2>&1 || missing+=(git)
# Debian's Chromium prints the context report's PDF (f=pdf) and the map tests drive it, both
# headless through Playwright (no browser download); Playwright's bundled Node links
# libatomic.so.1, which a minimal Debian lacks.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
have_package libatomic1 || missing+=(libatomic1)
if [ "$purpose" != run ]; then
    # GDAL's ogr2ogr/ogrinfo: the tests read exported GeoPackages back with them, and the
    # import benchmark loads the same file with ogr2ogr beside geomap's import.
    command -v ogr2ogr >/dev/null 2>&1 || missing+=(gdal-bin)
    # Debian's QGIS (its Python bindings, run by /usr/bin/python3): tests/api/test_qgis.py loads
    # geomap's collections as OAPIF layers, as researchers do in QGIS.
    have_package python3-qgis || missing+=(python3-qgis)
fi
# wrk drives the HTTP API benchmark (bench/api.py); bench/run.py checks for it before it starts.
[ "$purpose" = bench ] && { command -v wrk >/dev/null 2>&1 || missing+=(wrk); }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
# PostgreSQL's server runs as the `postgres` user, who must be able to reach its own programs. A
# root directory that others cannot search (a chroot made with `mktemp -d` is mode 0700) stops
# it, and Debian's own `pg_createcluster` fails the same way: make it searchable, as it is on
# any installed Debian, before the packages are set up.
if [ $(( 0$(stat -c %a /) & 01 )) -eq 0 ]; then
    echo "The root directory / is private (mode $(stat -c %a /)): making it searchable (chmod o+x /) for PostgreSQL's server user"
    $SUDO chmod o+x /
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "geomap needs these Debian packages: ${missing[*]}" >&2
    echo "Run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages for '$purpose': ${missing[*]} (a few minutes on a new machine)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# -q keeps apt's line per package (Get:, Unpacking, Setting up) and drops the progress bars,
# which make no sense in a log.
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
have_postgis || { echo "PostGIS did not install for the newest PostgreSQL in /usr/lib/postgresql" >&2; exit 1; }
echo "Debian packages installed."
