"""`mcpeeker judge train --from-feedback`: analyst verdicts become examples; a worse model is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mcpeeker.judge.learn import retrain
from mcpeeker.judge.local import model_dir

from paths import REPO_ROOT

DATA = REPO_ROOT / "data" / "judge"


def _copies(tmp_path: Path) -> tuple[Path, Path]:
    data, model = tmp_path / "data", tmp_path / "model"
    shutil.copytree(DATA, data)
    (data / "feedback.jsonl").unlink(missing_ok=True)
    shutil.copytree(model_dir(), model)
    return data, model


def _rows(label: str, count: int) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in (DATA / "evidence.jsonl").read_text().splitlines()]
    mcp = [r for r in rows if r["label"] == "mcp"]
    return [
        {
            "id": f"feedback:test-{label}-{i}",
            "label": label,
            "source": "test verdict",
            "input": mcp[i % len(mcp)]["input"],
        }
        for i in range(count)
    ]


def test_a_worse_model_is_refused(tmp_path: Path) -> None:
    """Analysts marking real MCP servers false positive, many times over: the held-out F1 falls and nothing changes."""
    data, model = _copies(tmp_path)
    before = (model / "judge.skops").read_bytes()
    result = retrain(_rows("not_mcp", 300), data, model)
    assert not result.replaced and "refused" in result.reason
    assert result.after["is_mcp"]["f1"] < result.before["is_mcp"]["f1"]
    assert (model / "judge.skops").read_bytes() == before and not (data / "feedback.jsonl").exists()


def test_feedback_that_does_not_hurt_replaces_the_model(tmp_path: Path) -> None:
    data, model = _copies(tmp_path)
    result = retrain(_rows("mcp", 5), data, model)
    assert result.replaced and result.added == 5, result
    assert result.after["is_mcp"]["f1"] >= result.before["is_mcp"]["f1"]
    assert len((data / "feedback.jsonl").read_text().splitlines()) == 5
    meta = json.loads((model / "judge.json").read_text())
    assert meta["version"] == result.version and meta["data"]["mcp"]["sources"]["feedback"] == 5
    # the same verdicts again add nothing
    again = retrain(_rows("mcp", 5), data, model)
    assert again.added == 0 and not again.replaced
