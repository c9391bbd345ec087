#!/usr/bin/env bash
# The main job on the embedded local OpenSearch: start the node, install templates, replay the test
# traffic through Suricata (and Zeek when installed), ingest the agent fixtures, correlate, report.
set -euo pipefail
cd "$(dirname "$0")/.."
M=.venv/bin/mcpeeker
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }

step "starting the local OpenSearch node"
URL=$($M opensearch start)
export MCPEEKER_URL="$URL"
step "installing index templates"
$M setup
if $M replay --help >/dev/null 2>&1; then
  step "replaying tests/pcaps/*.pcap through the sensors"
  $M replay tests/pcaps/*.pcap
fi
if $M ingest --help >/dev/null 2>&1 && ls tests/fixtures/agent/*.ndjson >/dev/null 2>&1; then
  step "ingesting endpoint agent reports"
  $M ingest agent tests/fixtures/agent/*.ndjson || true
fi
if $M correlate --help >/dev/null 2>&1; then
  step "correlating evidence into findings"
  $M correlate --once
fi
if $M report --help >/dev/null 2>&1; then
  step "writing the HTML report"
  $M report --out report.html
fi
step "status"
$M opensearch status
echo "The node keeps running at $URL; stop it with: make demo-stop"
