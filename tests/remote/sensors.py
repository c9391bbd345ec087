"""Run the real sensors over the remote-service pcaps (tests/pcaps/remote/) and summarise what they raised.

    .venv/bin/python tests/remote/sensors.py --update-labels   # write suricata_sids / zeek_mcp_remote into labels.json

The labels' sensor keys come from this run (as zeek/tests/Scripts/gen-pcap-tests fills zeek_notices): read the diff
before committing it; tests/remote/test_sensors.py then holds both sensors to them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
REMOTE_PCAPS = REPO / "tests" / "pcaps" / "remote"
REMOTE_LABELS = REMOTE_PCAPS / "labels.json"
REMOTE_RULES = REPO / "suricata" / "mcp-remote.rules"
MCP_RULES = REPO / "suricata" / "mcp.rules"
SURICATA_CONFIG = REPO / "suricata" / "suricata-test.yaml"
ZEEK_PACKAGE = REPO / "zeek" / "scripts"
REMOTE_SIDS = range(9_400_300, 9_400_400)
# Ways only Zeek reports: the server certificate's names (SAN, CN), in clear before TLS 1.3. mcp-remote.rules has no
# certificate rule: Suricata 7 has no SAN buffer (tls.subjectaltname is 8.0) and cannot compare the SNI with the
# certificate's names, which is what keeps a multi-name certificate from counting (docs/detections.md).
ZEEK_ONLY_SEEN = frozenset({"certificate"})


def labels() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(REMOTE_LABELS.read_text())["pcaps"]
    return data


def suricata(
    pcap: Path, out: Path, rules: list[Path], binary: str = "suricata", datasets: Path = REMOTE_RULES.parent
) -> list[dict[str, Any]]:
    """Eve records of one Suricata run over `pcap` with `rules` (several files: -S takes one, so they are joined
    in `out`, next to copies of the `datasets` the remote rules load relative to their file)."""
    out.mkdir(parents=True, exist_ok=True)
    joined = out / "rules.rules"
    joined.write_text("\n".join(r.read_text() for r in rules))
    for lst in datasets.glob("mcp-remote-*.lst"):
        shutil.copy(lst, out / lst.name)
    eve = out / "eve.json"
    eve.unlink(missing_ok=True)
    proc = subprocess.run(
        [binary, "-c", str(SURICATA_CONFIG), "-S", str(joined), "-r", str(pcap), "-l", str(out), "-k", "none"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"suricata failed on {pcap.name}: {proc.stderr[-2000:]}")
    return [json.loads(line) for line in eve.read_text().splitlines() if line.strip()]


def sid_counts(records: list[dict[str, Any]], sids: range = REMOTE_SIDS) -> dict[str, int]:
    counts = Counter(
        str(r["alert"]["signature_id"])
        for r in records
        if r.get("event_type") == "alert" and r["alert"]["signature_id"] in sids
    )
    return dict(sorted(counts.items()))


def zeek(pcap: Path, out: Path, binary: str, extra: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Zeek with the package over `pcap` (JSON logs): log name -> records."""
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [binary, "-C", "-r", str(pcap), str(ZEEK_PACKAGE), "LogAscii::use_json=T", *(extra or [])],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"zeek failed on {pcap.name}: {proc.stderr[-2000:]}")
    logs = {}
    for log in out.glob("*.log"):
        logs[log.stem] = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return logs


def remote_counts(logs: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """mcp_remote.log as 'service seen' -> lines."""
    counts = Counter(f"{r['service']} {r['seen']}" for r in logs.get("mcp_remote", []))
    return dict(sorted(counts.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update-labels", action="store_true")
    ap.add_argument("--zeek", default=shutil.which("zeek") or "/opt/zeek/bin/zeek")
    args = ap.parse_args()
    doc = json.loads(REMOTE_LABELS.read_text())
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"mcpeeker-remote-{os.getpid()}"
    for entry in doc["pcaps"]:
        pcap = REMOTE_PCAPS / entry["file"]
        sids = sid_counts(suricata(pcap, work / entry["scenario"] / "suricata", [REMOTE_RULES]))
        remote = remote_counts(zeek(pcap, work / entry["scenario"] / "zeek", args.zeek))
        print(f"{entry['file']}: suricata {sids} zeek {remote}")
        entry["suricata_sids"], entry["zeek_mcp_remote"] = sids, remote
    shutil.rmtree(work, ignore_errors=True)
    if args.update_labels:
        REMOTE_LABELS.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
