#!/usr/bin/env bash
# Builds TimescaleDB from the vendored source tarball and installs it into the machine's PostgreSQL,
# so the storage tests can also run on PostgreSQL with shared_preload_libraries=timescaledb.
#
#   scripts/build-timescaledb.sh            # what .ci/run calls; developers can run it too (as root)
#
# - The tarball is <repo>/../shared/vendor/timescaledb-<version>.tar.gz (override with
#   TBG_TIMESCALEDB_TARBALL). When it is absent the script says so and exits 0: the TimescaleDB tests
#   are then reported as skipped, everything else still runs.
# - Builds against the newest PostgreSQL major found under /usr/lib/postgresql (the one the tests
#   start), installing Debian's postgresql-server-dev-<major> and cmake when missing.
# - Skipped in well under a second when the same version is already installed (its control file
#   names this version and timescaledb-<version>.so is in pg_config --pkglibdir).
# - Builds in a temporary directory with -j2 (about 2-4 minutes on two cores) and removes it after.
# Exits non-zero when the build or install fails.
set -euo pipefail

version=2.28.3
repo=$(cd "$(dirname "$0")/.." && pwd)
tarball=${TBG_TIMESCALEDB_TARBALL:-$repo/../shared/vendor/timescaledb-$version.tar.gz}

if [ ! -f "$tarball" ]; then
  echo "timescaledb: $tarball not found; not building (TimescaleDB tests will be skipped)"
  exit 0
fi

major=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed -E 's#^/usr/lib/postgresql/([0-9]+)/.*#\1#' |
  sort -n | tail -1 || true)
if [ -z "$major" ]; then
  echo "timescaledb: no PostgreSQL server under /usr/lib/postgresql; install Debian's postgresql first" >&2
  exit 1
fi
pg_config=/usr/lib/postgresql/$major/bin/pg_config
# Debian's layout; pg_config confirms it when present.
pkglibdir=/usr/lib/postgresql/$major/lib
sharedir=/usr/share/postgresql/$major
if [ -x "$pg_config" ]; then
  pkglibdir=$("$pg_config" --pkglibdir)
  sharedir=$("$pg_config" --sharedir)
fi

installed() {
  [ -f "$pkglibdir/timescaledb-$version.so" ] &&
    grep -q "^default_version = '$version'" "$sharedir/extension/timescaledb.control" 2>/dev/null
}

if installed; then
  echo "timescaledb: $version already installed for PostgreSQL $major ($pkglibdir)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "timescaledb: $version is not installed for PostgreSQL $major and installing it into $pkglibdir needs root: sudo $0" >&2
  exit 1
fi

# One build at a time on a machine (a second caller waits, then finds it installed).
exec 9>"/tmp/tbg-build-timescaledb.lock"
flock 9
if installed; then
  echo "timescaledb: $version already installed for PostgreSQL $major ($pkglibdir)"
  exit 0
fi

need=()
# pg_config ships with the client package; the server headers come with postgresql-server-dev.
[ -f "/usr/include/postgresql/$major/server/postgres.h" ] || need+=("postgresql-server-dev-$major")
command -v cmake >/dev/null || need+=(cmake)
command -v cc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  echo "timescaledb: installing missing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)  # waits for another apt-get instead of failing
  "${apt[@]}" install "${need[@]}" || { "${apt[@]}" update && "${apt[@]}" install "${need[@]}"; }
  pkglibdir=$("$pg_config" --pkglibdir)
  sharedir=$("$pg_config" --sharedir)
fi

work=$(mktemp -d /tmp/tbg-timescaledb.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "timescaledb: building $version against PostgreSQL $major in $work"
started=$(date +%s)
tar -xzf "$tarball" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
(
  cd "$src"
  ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DCMAKE_BUILD_TYPE=Release -DSEND_TELEMETRY_DEFAULT=OFF -DPG_CONFIG="$pg_config" >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log" >&2; exit 1; }
  make -C build -j2 install >"$work/make.log" 2>&1 || { tail -n 60 "$work/make.log" >&2; exit 1; }
)
if ! installed; then
  echo "timescaledb: build finished but $pkglibdir/timescaledb-$version.so is missing" >&2
  exit 1
fi
echo "timescaledb: installed $version for PostgreSQL $major in $(($(date +%s) - started)) s"
