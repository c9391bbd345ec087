#!/bin/sh
# Jamf Pro policy script (macOS): one MCPeeker agent scan, shipped to the collector.
# Jamf passes $1-$3 (mount point, computer name, user); the policy's parameters 4-7 are:
#   $4  collector URL (required), e.g. https://collector.corp.example:8443
#   $5  enrollment token file   (default /Library/Application Support/MCPeeker/token)
#   $6  site key file           (default /Library/Application Support/MCPeeker/site.key)
#   $7  CA bundle for the collector (optional)
# Deploy with it, in one package: mcpeeker-agent.pyz (the macos-arm64 or macos-x86_64 build, renamed),
# mcpeeker-agent-scan.sh, the token and the site key, all under /Library/Application Support/MCPeeker, root-owned,
# token and key mode 0600. macOS needs a Python >= 3.11 (python.org or Homebrew; Apple's is 3.9).
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
SUPPORT="/Library/Application Support/MCPeeker"
[ -n "${4:-}" ] || { echo "mcpeeker-agent-jamf: parameter 4 (collector URL) is empty" >&2; exit 2; }
MCPEEKER_COLLECTOR_URL="$4"
MCPEEKER_TOKEN_FILE="${5:-$SUPPORT/token}"
MCPEEKER_SITE_KEY_FILE="${6:-$SUPPORT/site.key}"
export MCPEEKER_COLLECTOR_URL MCPEEKER_TOKEN_FILE MCPEEKER_SITE_KEY_FILE
if [ -n "${7:-}" ]; then
    MCPEEKER_CA_CERTS="$7"
    export MCPEEKER_CA_CERTS
fi
SCAN="$SUPPORT/mcpeeker-agent-scan.sh"
[ -f "$SCAN" ] || SCAN="$HERE/../unix/mcpeeker-agent-scan.sh"
exec /bin/sh "$SCAN"
