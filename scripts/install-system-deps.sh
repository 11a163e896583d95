#!/usr/bin/env bash
# Installs the Debian packages geomap needs, only those that are missing.
# Idempotent and quiet when everything is already there; uses sudo when not root.
set -euo pipefail


have_postgis() {
    # PostGIS for the newest installed PostgreSQL major version.
    local major
    major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
    [ -n "$major" ] && ls /usr/share/postgresql/"$major"/extension/postgis.control >/dev/null 2>&1
}

missing=()
dpkg -s postgresql >/dev/null 2>&1 || missing+=(postgresql)
have_postgis || missing+=(postgresql-postgis)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v git >/dev/null 2>&1 || missing+=(git)
# GDAL's ogr2ogr/ogrinfo: the tests read exported GeoPackages back with them, and the import
# benchmark loads the same file with ogr2ogr beside geomap's import.
command -v ogr2ogr >/dev/null 2>&1 || missing+=(gdal-bin)
# Debian's Chromium: the map tests drive it headless with Playwright (no browser download).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "geomap needs these Debian packages: ${missing[*]}" >&2
    echo "Run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
have_postgis || { echo "PostGIS did not install for the newest PostgreSQL in /usr/lib/postgresql" >&2; exit 1; }
