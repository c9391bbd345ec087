#!/usr/bin/env python3
"""Detection table for tests/pcaps: expected tags (labels.json) vs Suricata SIDs raised by mcp.rules.

    .venv/bin/python scripts/suricata-sids.py            # print the table, flag mismatches
    .venv/bin/python scripts/suricata-sids.py --write    # also record reviewed counts as suricata_sids

Each pcap runs in its own Suricata process. A row is "ok" when the rules' mcpeeker_detection tags
equal the Suricata-relevant tags the generator wrote into labels.json (and benign pcaps raise
nothing). --write only records rows that are ok, merging the `suricata_sids` key into the current
labels.json (other keys are left alone); review the printed table before committing.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ingest_python"))

import suricata.update.rule as surule  # noqa: E402

from mcpeeker.sensors.suricata import alert_sid_counts, run_suricata  # noqa: E402

RULES = REPO / "suricata" / "mcp.rules"
PCAPS = REPO / "tests" / "pcaps"
LABELS = PCAPS / "labels.json"
SURICATA_TAGS = {
    "mcp_server",
    "tool_poisoning",
    "sensitive_file",
    "command_injection",
    "unauthenticated",
    "oauth_discovery",
}


def detection_tags() -> dict[int, str]:
    tags = {}
    for rule in surule.parse_file(str(RULES)):
        for item in rule["metadata"]:
            key, _, value = item.partition(" ")
            if key == "mcpeeker_detection":
                tags[rule["sid"]] = value
    return tags


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record suricata_sids for rows that check out")
    ap.add_argument("files", nargs="*", help="only these pcap file names")
    args = ap.parse_args()
    entries = [e for e in json.loads(LABELS.read_text())["pcaps"] if not args.files or e["file"] in args.files]
    tags = detection_tags()
    with TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(
            pool.map(
                lambda e: (
                    e["file"],
                    alert_sid_counts(run_suricata(PCAPS / e["file"], RULES, Path(tmp) / e["scenario"])),
                ),
                entries,
            )
        )
    ok_rows: dict[str, dict[str, int]] = {}
    print(f"{'pcap':45s} {'expected (Suricata tags)':55s} raised sids (count)")
    for entry in entries:
        raised = results[entry["file"]]
        want = set(entry["expected"]) & SURICATA_TAGS
        got = {tags[s] for s in raised}
        ok = (got == want) and (not entry["benign"] or not raised)
        sids = " ".join(f"{s}x{n}" for s, n in sorted(raised.items())) or "-"
        print(
            f"{entry['file']:45s} {','.join(sorted(want)) or '(benign)':55s} {sids}  {'ok' if ok else 'MISMATCH ' + str(sorted(got ^ want))}"
        )
        if ok:
            ok_rows[entry["file"]] = {str(s): n for s, n in sorted(raised.items())}
    if args.write:
        doc = json.loads(LABELS.read_text())  # re-read: the pcap generator may have merged meanwhile
        for entry in doc["pcaps"]:
            if entry["file"] in ok_rows:
                entry["suricata_sids"] = ok_rows[entry["file"]]
        LABELS.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote suricata_sids for {len(ok_rows)} pcaps to {LABELS}")
    return 0 if len(ok_rows) == len(entries) else 1


if __name__ == "__main__":
    raise SystemExit(main())
