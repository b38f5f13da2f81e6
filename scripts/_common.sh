# shellcheck shell=bash
# Shared helpers for scripts/*; sourced, never run. Keeps the apt logic in one place so
# bootstrap (node, venv) and system-deps (postgres, chromium, fonts) behave the same way.

# Messages go to stderr so that a script's stdout stays clean for whatever it runs.
say()  { printf '%s: %s\n' "${SCRIPT_NAME:-tongban}" "$*" >&2; }
die()  { printf '%s: ERROR: %s\n' "${SCRIPT_NAME:-tongban}" "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# deb_installed PKG -> true when dpkg says the package is fully installed.
deb_installed() {
    command -v dpkg-query >/dev/null 2>&1 || return 1
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

# apt_install PKG... : non-interactive install; 'apt-get update' runs at most once per script run.
_APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install these yourself: $*"
    local opts=(-y -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3 -o DPkg::Lock::Timeout=600)
    local log=${TMPDIR:-/tmp}/tongban-apt.log
    if [ "$_APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" update >"$log" 2>&1 \
            || { tail -n 40 "$log" >&2; die "apt-get update failed (full log: $log)"; }
        _APT_UPDATED=1
    fi
    say "apt-get install $* (log: $log)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install --no-install-recommends "$@" \
            </dev/null >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "apt-get install $* failed (full log: $log)"
    fi
}

# need_packages REASON PKG... : root -> install; otherwise print the command and fail.
need_packages() {
    local reason=$1; shift
    if is_root; then
        say "$reason: installing Debian packages: $*"
        apt_install "$@"
    else
        die "$reason. Install them with:  sudo apt-get install $*   (then re-run $0)"
    fi
}
