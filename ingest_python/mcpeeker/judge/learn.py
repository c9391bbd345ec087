"""`mcpeeker judge train --from-feedback`: analysts' verdicts on findings become labelled "is this MCP?" examples.

true_positive and benign (a real MCP server, approved or not) -> mcp; false_positive -> not_mcp; needs_info is
skipped. Each example is the same bounded input the judge builds from the finding's evidence, written to
data/judge/feedback.jsonl with its source (the feedback id). The retrained model replaces the shipped one only if
it is no worse on the fixed held-out set (feedback never enters that set) on either question.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MCPeekerError
from ..settings import Settings
from . import train
from .local import LocalModel, model_dir
from .run import Candidate, Judge, build_input

LABELS = {"true_positive": "mcp", "benign": "mcp", "false_positive": "not_mcp"}


@dataclass(frozen=True)
class Retrain:
    added: int
    examples: int
    before: dict[str, Any]
    after: dict[str, Any]
    replaced: bool
    version: str
    reason: str


def feedback_examples(settings: Settings, client: Any, judge: Judge) -> list[dict[str, Any]]:
    response = client.search(
        index=settings.index("mcp-feedback"),
        body={"size": 10000, "sort": [{"@timestamp": "asc"}], "query": {"terms": {"verdict": sorted(LABELS)}}},
        ignore_unavailable=True,
    )
    latest: dict[str, dict[str, Any]] = {}
    for hit in response["hits"]["hits"]:
        latest[hit["_source"]["finding_id"]] = hit["_source"]  # the newest verdict on a finding wins
    rows = []
    for finding_id, verdict in sorted(latest.items()):
        found = client.search(
            index=settings.index("mcp-findings"), body={"size": 1, "query": {"term": {"finding.id": finding_id}}}
        )["hits"]["hits"]
        if not found:
            continue
        src = found[0]["_source"]
        key = src["instance"]["key"]
        candidate = Candidate(finding_id, key, tuple(src["instance"].get("raw_keys") or [key]), "")
        judged, _ = build_input(judge.evidence_of(candidate))
        if not judged.protocol_text():
            continue
        rows.append(
            {
                "id": f"feedback:{verdict['feedback_id']}",
                "label": LABELS[verdict["verdict"]],
                "source": f"analyst verdict {verdict['verdict']} on finding {finding_id} (feedback {verdict['feedback_id']})",
                "input": judged.as_dict(),
            }
        )
    return rows


def retrain(rows: list[dict[str, Any]], data_dir: Path, target: Path | None = None) -> Retrain:
    """Add `rows` to data_dir/feedback.jsonl, retrain, and replace the model in `target` unless it got worse."""
    target = target or model_dir()
    current = LocalModel.load(target)
    meta = json.loads((target / "judge.json").read_text())
    patterns = {k: (v[0], bool(v[1])) for k, v in meta["indicators"].items()}
    path = data_dir / "feedback.jsonl"
    known = (
        {json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()} if path.exists() else set()
    )
    new = [row for row in rows if row["id"] not in known]
    base = train.load(data_dir, with_feedback=True)
    before = train.evaluate(current, base)
    candidate_rows = (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    )
    data = train.load(data_dir, with_feedback=False)
    for number, row in enumerate(candidate_rows + new, 1):
        example = train.evidence_example(row, f"feedback row {number}")
        data.mcp.append(
            train.Example(
                example.id, "feedback:" + train._train_group(example.id), example.label, example.source, example.text
            )
        )
    data.mcp.sort(key=lambda e: e.id)
    blob, new_meta = train.fit(data, patterns)
    after = new_meta["held_out"]
    worse = [q for q in ("is_mcp", "poisoned") if after[q]["f1"] < before[q]["f1"]]
    if worse:
        return Retrain(
            len(new), len(data.mcp), before, after, False, meta["version"], f"refused: held-out F1 fell on {worse}"
        )
    if not new:
        return Retrain(0, len(data.mcp), before, after, False, meta["version"], "no new feedback examples")
    with path.open("a") as handle:
        for row in new:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
    train.write(target, blob, new_meta)
    return Retrain(len(new), len(data.mcp), before, after, True, new_meta["version"], "replaced")


def check_data_dir(data_dir: Path) -> Path:
    if not (data_dir / "evidence.jsonl").exists():
        raise MCPeekerError(f"{data_dir}: no evidence.jsonl: pass --data the repository's data/judge directory")
    return data_dir
