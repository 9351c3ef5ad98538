#!/usr/bin/env bash
# Make the development environment: uv, then .venv with exactly the locked dependencies (uv.lock).
#
# Idempotent and quick when everything is there. On a fresh Debian/Ubuntu with Python 3.11+ it:
#   1. uses the uv on PATH, or the one in .tools/ from an earlier run, or else makes a small tools venv .tools/
#      (python3 -m venv; apt-get installs python3-venv when the venv module is missing) and pip-installs uv there;
#   2. runs `uv sync --frozen`, which creates or updates .venv from uv.lock and never re-resolves.
# Network: PyPI (uv and the locked wheels) and Debian's archive (python3-venv) only. uv is told never to
# download a Python build: it uses the system's Python 3.11+.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"

TOOLS=$ROOT/.tools
export UV_PYTHON_DOWNLOADS=never

find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Sets UV to a working uv executable, installing it into .tools/ when there is none.
ensure_uv() {
    if UV=$(command -v uv 2>/dev/null) && "$UV" --version >/dev/null 2>&1; then
        log "using uv on PATH: $UV ($("$UV" --version))"
        return
    fi
    UV=$TOOLS/bin/uv
    if [ -x "$UV" ] && "$UV" --version >/dev/null 2>&1; then
        log "using uv from an earlier bootstrap: $UV ($("$UV" --version))"
        return
    fi
    local python
    python=$(find_python) || die "Python 3.11+ is needed (python3 on PATH is $(python3 --version 2>&1 || echo missing))"
    if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
        log "$python has no working venv module: apt-get install python3-venv"
        apt_get update
        apt_get install --no-install-recommends python3-venv
    fi
    log "creating the tools venv $TOOLS with $python ($("$python" --version))"
    rm -rf "$TOOLS"
    "$python" -m venv "$TOOLS"
    echo '*' >"$TOOLS/.gitignore" # a tool cache, never committed
    log "pip install uv into $TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check 'uv>=0.8'
    "$UV" --version >/dev/null 2>&1 || die "uv was installed into $TOOLS but does not run"
    log "installed $("$UV" --version)"
}

cd "$ROOT"
ensure_uv
log "uv sync --frozen (creates or updates .venv from uv.lock)"
"$UV" sync --frozen
log ".venv ready: $(.venv/bin/python --version)"
