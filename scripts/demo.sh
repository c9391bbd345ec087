#!/usr/bin/env bash
# The main job on the embedded local OpenSearch: start the node, install templates, replay the SDK
# traffic corpus through the sensors, scan a demo endpoint with the agent, run the Sigma rules,
# correlate, print the findings and write the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
M=.venv/bin/mcpeeker
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }
WORK=$(mktemp -d -t mcpeeker-demo-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

step "starting the local OpenSearch node"
URL=$($M opensearch start)
export MCPEEKER_URL="$URL"
step "installing index templates"
$M setup

step "replaying tests/pcaps/*.pcap through Suricata (and Zeek when installed)"
$M replay tests/pcaps/*.pcap

step "scanning a demo endpoint (a fixture home with 17 MCP clients' configs) with mcpeeker-agent"
HOME_DIR=$(.venv/bin/python -c "import sys; from pathlib import Path; sys.path.insert(0, 'tests/agent'); \
from homes import make_home; print(make_home(Path(sys.argv[1]), 'linux').home)" "$WORK")
.venv/bin/mcpeeker-agent scan --home "$HOME_DIR" --root "$WORK" --no-state --no-processes --no-listeners \
  -o "$WORK/agent.ndjson"
$M ingest agent "$WORK/agent.ndjson" --no-progress --dead-letter "$WORK/dead-letter.log"

step "running the Sigma rules over the evidence"
$M sigma run

step "correlating evidence into findings"
$M correlate --once

step "findings"
$M finding list --size 50

step "writing the HTML report"
$M report --out report.html --quiet
echo "report: $(pwd)/report.html"
echo "The node keeps running at $URL; stop it with: make demo-stop"
