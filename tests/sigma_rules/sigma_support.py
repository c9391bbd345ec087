"""Load the Sigma rules, pipeline and per-rule samples; convert with the pySigma backends."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from paths import REPO_ROOT

SIGMA = REPO_ROOT / "sigma"
RULES = sorted((SIGMA / "rules").glob("*.yml"))
TEST_DATA = SIGMA / "test-data"
PIPELINE = SIGMA / "pipelines" / "mcpeeker.yaml"
TEMPLATE = REPO_ROOT / "ingest_python" / "mcpeeker" / "templates" / "mcp-events.json"


@lru_cache(maxsize=1)
def pipeline() -> ProcessingPipeline:
    return ProcessingPipeline.from_yaml(PIPELINE.read_text(encoding="utf-8"))


def load_rule(path: Path) -> SigmaRule:
    return SigmaCollection.from_yaml(path.read_text(encoding="utf-8")).rules[0]


def backend(name: str, pipe: ProcessingPipeline | None = None):
    if name == "opensearch_lucene":
        from sigma.backends.opensearch import OpensearchLuceneBackend as cls
    else:
        from sigma.backends.elasticsearch import LuceneBackend as cls
    return cls(processing_pipeline=pipe if pipe is not None else pipeline())


def convert(path: Path, target: str = "opensearch_lucene") -> str:
    queries = backend(target).convert(SigmaCollection.from_yaml(path.read_text(encoding="utf-8")))
    assert len(queries) == 1, queries
    return queries[0]


def samples(path: Path) -> tuple[list[dict], list[dict]]:
    folder = TEST_DATA / path.stem
    return (json.loads((folder / "positive.json").read_text()), json.loads((folder / "negative.json").read_text()))


def mapped_fields() -> set[str]:
    """Dotted paths of every leaf field in the mcp-events template."""
    props = json.loads(TEMPLATE.read_text())["template"]["mappings"]["properties"]
    out: set[str] = set()

    def walk(node: dict, prefix: str) -> None:
        for name, spec in node.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(spec["properties"], path + ".")
            else:
                out.add(path)

    walk(props, "")
    return out


def leaf_fields(doc: dict, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in doc.items():
        if isinstance(value, dict):
            out |= leaf_fields(value, f"{prefix}{key}.")
        else:
            out.add(f"{prefix}{key}")
    return out
