#!/usr/bin/env bash
# Build and install TimescaleDB (Apache-2.0 edition) for PostgreSQL 15, for the test suite's throwaway server.
#
# Debian bookworm packages PostgreSQL 15 but not TimescaleDB. Debian trixie packages TimescaleDB (2.19.x) as a
# source package that builds unchanged against bookworm's postgresql-server-dev-15 with cmake. So we:
#   1. apt-get install postgresql-15, postgresql-server-dev-15 and the build tools (bookworm, as the system is);
#   2. fetch trixie's *source* package with a deb-src line kept in a temporary sources file that is passed only to
#      our own apt-get calls (-o Dir::Etc::SourceList=...). The system's sources are never edited, and a deb-src
#      line cannot make apt install or upgrade any binary package, so the system stays bookworm;
#   3. ./bootstrap (cmake) with APACHE_ONLY=1 and the regression/TAP suites off, make -j install.
# The server then loads it with shared_preload_libraries = 'timescaledb' (tests/pg_server.py does that).
#
# Idempotent: exits at once when timescaledb.control and the matching .so files are installed for PG 15.
# Needs root or sudo, and the network only for Debian's archive.
#
# Ubuntu: there is no packaged postgresql-15 on most releases. The alternative (not implemented here) is the
# PostgreSQL project's own apt repository (PGDG, https://wiki.postgresql.org/wiki/Apt): install
# postgresql-common, run /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh, then apt-get install
# postgresql-15 postgresql-server-dev-15 and continue with steps 2-3 (or use Timescale's own packages).
# Anyone with a TimescaleDB server already can skip all this: export HEADEND_TEST_DSN=postgresql://...
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"

PG_MAJOR=15
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
SOURCE_SUITE=trixie
DEBIAN_MIRROR=http://deb.debian.org/debian
BUILD_DEPS=(
    "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" cmake build-essential dpkg-dev libssl-dev
    debian-archive-keyring # holds the trixie archive keys that sign the trixie Sources index
)

# Prints the installed extension version and succeeds when the control file, the loader (timescaledb.so) and the
# versioned library that the control file names are all in PG 15's directories.
timescaledb_installed() {
    local sharedir pkglibdir control version
    [ -x "$PG_CONFIG" ] || return 1
    sharedir=$("$PG_CONFIG" --sharedir)
    pkglibdir=$("$PG_CONFIG" --pkglibdir)
    control=$sharedir/extension/timescaledb.control
    [ -f "$control" ] || return 1
    version=$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$control")
    [ -n "$version" ] || return 1
    [ -f "$pkglibdir/timescaledb.so" ] && [ -f "$pkglibdir/timescaledb-$version.so" ] || return 1
    echo "$version"
}

if version=$(timescaledb_installed); then
    log "TimescaleDB $version is already installed for PostgreSQL $PG_MAJOR ($PG_CONFIG); nothing to do"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    die "apt-get not found: this script supports Debian bookworm only (see its header for other systems)"
fi

started=$(date +%s)
log "apt-get update"
apt_get update
log "installing build dependencies: ${BUILD_DEPS[*]}"
# --no-upgrade: leave packages that are already installed (the running PostgreSQL, libssl) at their versions.
if ! apt_get install --no-install-recommends --no-upgrade "${BUILD_DEPS[@]}"; then
    die "could not install ${BUILD_DEPS[*]}; on Ubuntu see the PGDG note at the top of $0"
fi

WORK=$(mktemp -d -t headend-timescaledb.XXXXXX)
chmod 755 "$WORK"
if id _apt >/dev/null 2>&1; then
    as_root chown _apt "$WORK" # apt-get source downloads as the _apt user (its sandbox), which must write here
fi
trap 'rm -rf "$WORK"' EXIT

# Our own deb-src-only sources file, used only by the two apt-get calls below. List-Cleanup=0 keeps apt from
# deleting the system's package lists, which this sources file does not mention.
SRC_LIST=$WORK/$SOURCE_SUITE-src.list
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $DEBIAN_MIRROR $SOURCE_SUITE main" \
    >"$SRC_LIST"
chmod 644 "$SRC_LIST"
SRC_APT_OPTS=(-o "Dir::Etc::SourceList=$SRC_LIST" -o "Dir::Etc::SourceParts=-" -o "APT::Get::List-Cleanup=0")

log "fetching the $SOURCE_SUITE source package index ($DEBIAN_MIRROR, deb-src only)"
apt_get "${SRC_APT_OPTS[@]}" update
log "apt-get source timescaledb (Debian $SOURCE_SUITE)"
(cd "$WORK" && apt_get "${SRC_APT_OPTS[@]}" source --only-source timescaledb)

SRC_DIR=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' | head -n 1)
[ -n "$SRC_DIR" ] || die "apt-get source did not unpack a timescaledb-* directory in $WORK"
chmod -R a+rwX "$WORK" # when not root: the tree was unpacked by root through sudo
log "building $(basename "$SRC_DIR") against $("$PG_CONFIG" --version)"
(
    cd "$SRC_DIR"
    # APACHE_ONLY: the Apache-2.0 edition only (no TSL code: no compression or continuous aggregates).
    # REGRESS_CHECKS/TAP_CHECKS off: their test harnesses need pg_regress/perl modules we do not install.
    # WARNINGS_AS_ERRORS off: the newer trixie source on bookworm's gcc 12 must not fail on a new warning.
    # SEND_TELEMETRY_DEFAULT off: a test server must never phone home (the tests also set telemetry_level=off).
    ./bootstrap \
        -DAPACHE_ONLY=1 \
        -DREGRESS_CHECKS=OFF \
        -DTAP_CHECKS=OFF \
        -DWARNINGS_AS_ERRORS=OFF \
        -DSEND_TELEMETRY_DEFAULT=OFF \
        -DCMAKE_BUILD_TYPE=Release \
        -DPG_CONFIG="$PG_CONFIG"
    make -C build -j"$(nproc)"
)
log "installing into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension"
as_root make -C "$SRC_DIR/build" install

if ! version=$(timescaledb_installed); then
    die "the build finished but timescaledb.control or its .so files are missing for PostgreSQL $PG_MAJOR"
fi
log "TimescaleDB $version installed for PostgreSQL $PG_MAJOR in $(($(date +%s) - started)) s"
