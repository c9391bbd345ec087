#!/bin/sh
# One MCPeeker agent scan, shipped to the collector (`mcpeeker collect`). For Linux (Ansible, cron, systemd)
# and macOS (called by ../jamf/mcpeeker-agent-jamf.sh). Runs the self-contained zipapp (make agent-zipapp) with
# the system's Python >= 3.11: no venv, nothing installed. Run as root: it scans every user's home.
#
# Settings come from the environment, else from $MCPEEKER_AGENT_ENV (default $PREFIX/agent.env, shell syntax):
#   MCPEEKER_COLLECTOR_URL  collector URL, e.g. https://collector.corp.example:8443         (required)
#   MCPEEKER_TOKEN_FILE     this agent's enrollment token (`mcpeeker collect token issue`)   ($PREFIX/token)
#   MCPEEKER_SITE_KEY_FILE  the site key file (`mcpeeker init`), keys the host and user hashes ($PREFIX/site.key)
#   MCPEEKER_CA_CERTS       CA bundle that verifies the collector (default: the system's trust store)
#   MCPEEKER_AGENT_PYZ      the zipapp                                                    ($PREFIX/mcpeeker-agent.pyz)
#   MCPEEKER_PYTHON         a Python >= 3.11 (default: the first one found, see find_python)
#   MCPEEKER_STATE_DIR      outbox, scan state and the unpacked zipapp          (/var/lib/mcpeeker-agent)
# PREFIX is /etc/mcpeeker-agent on Linux and "/Library/Application Support/MCPeeker" on macOS.
# Extra arguments go to `mcpeeker-agent scan` (e.g. --probe). Exit code: the agent's (0 = scanned and shipped
# or queued; reports the collector did not acknowledge stay in the outbox for the next run).
set -eu

case "$(uname -s)" in
    Darwin) PREFIX="/Library/Application Support/MCPeeker"; DEFAULT_STATE="/Library/Application Support/MCPeeker/state" ;;
    *) PREFIX="/etc/mcpeeker-agent"; DEFAULT_STATE="/var/lib/mcpeeker-agent" ;;
esac

ENV_FILE="${MCPEEKER_AGENT_ENV:-$PREFIX/agent.env}"
if [ -f "$ENV_FILE" ]; then
    # shellcheck disable=SC1090
    . "$ENV_FILE"
fi

fail() { echo "mcpeeker-agent-scan: $*" >&2; exit 2; }

find_python() {
    # macOS's /usr/bin/python3 (Xcode tools) is 3.9: try the python.org and Homebrew installs first.
    for py in "${MCPEEKER_PYTHON:-}" python3.13 python3.12 python3.11 \
              /Library/Frameworks/Python.framework/Versions/Current/bin/python3 \
              /opt/homebrew/bin/python3 /usr/local/bin/python3 /usr/bin/python3 python3; do
        [ -n "$py" ] || continue
        command -v "$py" >/dev/null 2>&1 || continue
        if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$py"
            return 0
        fi
    done
    return 1
}

URL="${MCPEEKER_COLLECTOR_URL:-}"
TOKEN_FILE="${MCPEEKER_TOKEN_FILE:-$PREFIX/token}"
KEY_FILE="${MCPEEKER_SITE_KEY_FILE:-$PREFIX/site.key}"
PYZ="${MCPEEKER_AGENT_PYZ:-$PREFIX/mcpeeker-agent.pyz}"
STATE="${MCPEEKER_STATE_DIR:-$DEFAULT_STATE}"

[ -n "$URL" ] || fail "MCPEEKER_COLLECTOR_URL is not set (environment or $ENV_FILE)"
[ -r "$TOKEN_FILE" ] || fail "$TOKEN_FILE: enrollment token file missing or unreadable (MCPEEKER_TOKEN_FILE)"
[ -r "$KEY_FILE" ] || fail "$KEY_FILE: site key file missing or unreadable (MCPEEKER_SITE_KEY_FILE)"
[ -r "$PYZ" ] || fail "$PYZ: agent zipapp missing (MCPEEKER_AGENT_PYZ; build it with make agent-zipapp)"
PYTHON="$(find_python)" || fail "no Python >= 3.11 found (install one, or set MCPEEKER_PYTHON)"

umask 077
mkdir -p "$STATE"
# shiv unpacks the zipapp once, into a directory only root writes (not a user's home).
SHIV_ROOT="$STATE/shiv"
export SHIV_ROOT

set -- scan --all-users --ship "$URL" --token-file "$TOKEN_FILE" --site-key-file "$KEY_FILE" \
    --spool-dir "$STATE/outbox" --state "$STATE/state.json" "$@"
if [ -n "${MCPEEKER_CA_CERTS:-}" ]; then
    set -- "$@" --ca-certs "$MCPEEKER_CA_CERTS"
fi
exec "$PYTHON" "$PYZ" "$@"
