#!/usr/bin/env python3
"""The local judge's accuracy on the held-out split it never saw (data/judge, docs/judge.md).

    .venv/bin/python bench/judge_accuracy.py

Loads the shipped model, splits the repository's labelled data the way training did (a hash of each example's
group: every view of one capture, every copy of one tool text on the same side) and prints, for "is MCP" and for
"poisoned": the set sizes and sources of both sides, precision, recall, F1 and the confusion table, and the
held-out examples it got wrong. Targets: F1 >= 0.95 (is MCP), >= 0.9 (poisoned).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ingest_python"))

from mcpeeker.judge import train  # noqa: E402
from mcpeeker.judge.local import shipped  # noqa: E402


def sources(examples: list[train.Example]) -> str:
    kinds = Counter(
        "tests/pcaps"
        if e.source.startswith("tests/pcaps/")
        else "published"
        if e.id.startswith("published:")
        else "other"
        for e in examples
    )
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))


def main() -> int:
    model = shipped()
    data = train.load(ROOT / "data" / "judge", with_feedback=False)
    print(f"model {model.model_id} {model.version}; poisoned means a tool score >= {model.poisoned_at}")
    for question, examples, predict in (
        ("is MCP", data.mcp, lambda texts: [int(p >= 0.5) for p in model.p_mcp(texts)]),
        (
            "poisoned",
            data.tools,
            lambda texts: [int(round(p * 100) >= model.poisoned_at) for p in model.p_poisoned(texts)],
        ),
    ):
        training, held = data.split(examples)
        positive = "mcp" if question == "is MCP" else "poisoned"
        print(f"\n== {question} ==")
        for side, rows in (("train", training), ("held-out", held)):
            groups = len({e.group for e in rows})
            print(
                f"{side}: {len(rows)} examples ({sum(e.label for e in rows)} {positive}) in {groups} groups; {sources(rows)}"
            )
        predicted = predict([e.text for e in held])
        s = train.scores([e.label for e in held], predicted)
        print(f"precision {s.precision:.3f}  recall {s.recall:.3f}  F1 {s.f1:.3f}")
        print(f"confusion (rows truth, columns predicted): {positive}: {s.tp} {s.fn} | other: {s.fp} {s.tn}")
        for e, p in zip(held, predicted):
            if p != e.label:
                print(f"  wrong: {e.id} (truth {e.label}, predicted {p}) from {e.source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
