"""`make judge-model`: retrain the local judge from data/judge/ and write ingest_python/mcpeeker/judge/model/.

The indicator features are the catalogue's groups (detections/indicators) in their Zeek rendering; the model's
judge.json records them with the data's fingerprint, so tests/judge/test_model.py fails when the data, the
catalogue or the model file changed without a retrain.

    .venv/bin/python scripts/judge_model.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ingest_python"))
sys.path.insert(0, str(ROOT / "scripts"))

import catalogue as gen  # noqa: E402
from mcpeeker.judge import train  # noqa: E402
from mcpeeker.judge.local import model_dir  # noqa: E402

DATA = ROOT / "data" / "judge"
# The indicator files whose groups become features of a tool definition.
FEATURE_FILES = ("poisoning_markers", "sensitive_paths", "shell_injection")


def indicator_patterns() -> dict[str, tuple[str, bool]]:
    indicators = gen.load_indicators()
    out = {}
    for name in FEATURE_FILES:
        spec = indicators[name]
        for group in spec["groups"]:
            out[f"{name}.{group}"] = (
                gen.render_group(spec, group, "zeek", indicators),
                bool(spec["zeek"].get("case_insensitive")),
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the shipped model is not what training gives")
    args = parser.parse_args()
    data = train.load(DATA, with_feedback=True)
    blob, meta = train.fit(data, indicator_patterns())
    train.dumps_check(blob)
    target = model_dir()
    if args.check:
        shipped = json.loads((target / "judge.json").read_text())
        if shipped.get("sha256") != meta["sha256"]:
            print(f"judge model is stale: shipped {shipped.get('version')}, training gives {meta['version']}")
            return 1
        print(f"judge model {meta['version']} is current")
        return 0
    train.write(target, blob, meta)
    held = meta["held_out"]
    print(
        f"judge model {meta['version']}: is-MCP train {meta['data']['mcp']['train']} held-out "
        f"{meta['data']['mcp']['held_out']} F1 {held['is_mcp']['f1']}; tools train {meta['data']['tools']['train']} "
        f"held-out {meta['data']['tools']['held_out']} poisoned F1 {held['poisoned']['f1']}; errors {held['errors']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
