# shellcheck shell=bash
# Helpers shared by scripts/*.sh (sourced, not executed): logging, root escalation, non-interactive apt.

# Prefix every line with the script's name so a CI log shows which step printed it.
SCRIPT_NAME=${SCRIPT_NAME:-$(basename "$0")}

log() {
    printf '==> [%s] %s\n' "$SCRIPT_NAME" "$*"
}

die() {
    printf '\n*** [%s] ERROR: %s\n\n' "$SCRIPT_NAME" "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root (CI, containers), else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# apt-get without prompts; waits for a concurrent apt/dpkg to release its lock instead of failing.
apt_get() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 "$@"
}

# True when every named Debian package is installed (dpkg status "install ok installed").
debs_installed() {
    local pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || return 1
        [ "$status" = "install ok installed" ] || return 1
    done
}
