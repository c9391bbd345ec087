#!/usr/bin/env bash
# The main job on the embedded local OpenSearch: start the node, install templates, replay the SDK
# traffic corpus through the sensors, run a real MCP server here and scan this endpoint with the agent,
# run the Sigma rules, correlate, show the findings, approve one server, correlate again, write the report.
set -euo pipefail
cd "$(dirname "$0")/.."
M=.venv/bin/mcpeeker
PY=.venv/bin/python
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }
WORK=$(mktemp -d -t mcpeeker-demo-XXXXXX)
SERVER_PID=""
HOOK_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  [ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

step "starting the local OpenSearch node"
URL=$($M opensearch start)
export MCPEEKER_URL="$URL"
# The demo keeps its data under its own prefix and starts clean, so it can be run again and again.
export MCPEEKER_INDEX_PREFIX=demo-
# ... and its own throw-away config and keys, generated afresh each run by `mcpeeker init` (there is no built-in
# key). They stay after the run, beside the demo-* indices, so the data can still be looked at and verified.
DEMO_CONF="${XDG_STATE_HOME:-$HOME/.local/state}/mcpeeker/demo"
step "generating the demo's throw-away keys and config in $DEMO_CONF"
$M init "$DEMO_CONF" --force --url "$URL" --index-prefix demo-
export MCPEEKER_CONFIG="$DEMO_CONF/mcpeeker.yaml"
$PY -c "from mcpeeker.client import make_client; from mcpeeker.settings import resolve; \
c = make_client(resolve()); c.indices.delete(index='demo-*', expand_wildcards='all', ignore_unavailable=True); \
[c.indices.delete_index_template(name=t['name']) for t in c.indices.get_index_template(name='demo-*', ignore=[404]).get('index_templates', [])]"
step "installing index templates"
$M setup

step "replaying tests/pcaps/*.pcap through Suricata and Zeek (zeek on PATH or /opt/zeek/bin/zeek)"
# replay prints which sensors ran ("sensors: suricata 7.x, zeek 7.0.11"), and how to get Zeek when it is missing.
$M replay tests/pcaps/*.pcap

# The corpus's 'notes' server answers at 10.20.0.3:8000. Run a real MCP server (official Python SDK) on
# port 8000 here and tell the agent this host is reached at 10.20.0.3: endpoint and network evidence join.
DEMO_PORT=8000
AGENT_ARGS=(--no-processes --no-listeners)
if ! $PY -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $DEMO_PORT)) == 0)"; then
  echo "port $DEMO_PORT is taken here: the endpoint/network join is left out of this demo run"
else
  step "starting a real MCP server (python mcp SDK) on port $DEMO_PORT"
  $PY tests/agent/mcp_server_demo.py 0.0.0.0 $DEMO_PORT > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 40); do
    $PY -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $DEMO_PORT)) != 0)" && break
    sleep 0.25
  done
  AGENT_ARGS=(--host-address 10.20.0.3)
fi

step "scanning this endpoint with mcpeeker-agent (plus a fixture home with 17 MCP clients' configs)"
HOME_DIR=$($PY -c "import sys; from pathlib import Path; sys.path.insert(0, 'tests/agent'); \
from homes import make_home; print(make_home(Path(sys.argv[1]), 'linux').home)" "$WORK")
.venv/bin/mcpeeker-agent scan --home "$HOME_DIR" --root "$WORK" --no-state --machine-id mcpeeker-demo-host \
  "${AGENT_ARGS[@]}" -o "$WORK/agent.ndjson"
$M ingest agent "$WORK/agent.ndjson" --no-progress --dead-letter "$WORK/dead-letter.log"

step "running the Sigma rules over the evidence"
$M sigma run

step "starting a local webhook receiver for notifications (docs/notify.md)"
$PY -c "import secrets; print(secrets.token_hex(32))" > "$WORK/hook.key" && chmod 600 "$WORK/hook.key"
$PY scripts/webhook_receiver.py --key-file "$WORK/hook.key" --port-file "$WORK/hook.port" \
  --out "$WORK/notifications.ndjson" &
HOOK_PID=$!
for _ in $(seq 1 40); do [ -s "$WORK/hook.port" ] && break; sleep 0.25; done
cat > "$WORK/notify.yaml" <<YAML
enabled: true
channels:
  demo-hook:
    type: webhook
    url: http://127.0.0.1:$(cat "$WORK/hook.port")/hook
    key_file: hook.key
    route: {events: [new_unauthorized], classifications: [unauthorized]}
YAML

step "correlating evidence into findings, then notifying"
# The notifier's outbox lives in the throw-away work directory: each demo run notifies afresh.
MCPEEKER_STATE_DIR="$WORK/state" $M correlate --once --notify-config "$WORK/notify.yaml"
# Every unauthorized server notifies (the fixture home's configured servers too); show the one for the real server
# on port $DEMO_PORT when it ran, else the first.
FID=""
if [ -n "$SERVER_PID" ]; then
  FID=$($M finding list --json --size 500 | $PY -c "import json,sys; print(next(f['finding']['id'] for f in json.load(sys.stdin) \
if f['instance']['key'].startswith('host:') and f['instance']['key'].endswith(':port:$DEMO_PORT')))")
fi
$PY -c "import json,os,sys; rows=[json.loads(l) for l in open(sys.argv[1])] if os.path.exists(sys.argv[1]) else []; \
mine=[r for r in rows if r['body'].get('finding', {}).get('id') == sys.argv[2]]; \
print(f'{len(rows)} notification(s) received by the webhook, signature verified;', \
'the one for the server on port $DEMO_PORT:' if mine else 'the first:'); \
f=(mine or rows or [{'body': {}}])[0]['body']; print(' ', f.get('title'), '|', f.get('finding', {}).get('severity'), '|', \
f.get('finding', {}).get('summary'))" "$WORK/notifications.ndjson" "$FID"

step "findings"
$M finding list --size 60

if [ -n "$SERVER_PID" ]; then
  step "the owner confirms the server (claim), an admin approves it, correlation re-classifies it"
  $M finding show "$FID" | head -20 || true
  $M registry claim "$FID" --owner alice --team docs --purpose "team notes assistant" --as developer
  ENTRY=$($M registry list --json --as admin | $PY -c "import json,sys; print(next(e['entry_id'] for e in json.load(sys.stdin) \
if e.get('source_finding') == '$FID'))")
  $M registry approve "$ENTRY" --note "reviewed in the demo" --as admin
  $M correlate --once
  $M finding show "$FID" | head -3 || true
  $M audit verify
fi

step "writing the HTML report"
$M report --out report.html --quiet
step "starting the web UI with one demo user per role on a local OpenID provider"
$PY scripts/demo_ui.py start "$DEMO_CONF/ui" || echo "the web UI did not start (see above); the rest of the demo is done"
echo "The node keeps running at $URL (indices demo-*); stop it with: make demo-stop"
echo "The demo's settings and keys: export MCPEEKER_CONFIG=$MCPEEKER_CONFIG"
