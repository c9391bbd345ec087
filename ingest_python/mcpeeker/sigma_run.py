"""Run the Sigma rules (converted with our pySigma pipeline) as scheduled queries over mcp-events-* and write one
`sigma.match` evidence document per matched event (`mcpeeker sigma run|list`: cli/sigma.py).

Ids are deterministic (rule id + matched document), so overlapping windows and re-runs overwrite.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from . import catalogue
from .client import bulk_helper, make_client
from . import resources
from .errors import MCPeekerError
from . import lifecycle
from .ingest.ids import document_id, events_index
from .settings import Settings

DEFAULT_SIGMA_DIR = resources.path("sigma")
# Fields copied from the matched document, so correlation can attach the match to its instance.
CARRY = ("host", "user", "process", "file", "destination", "source", "network", "mcp", "url")
LEVEL_SCORE = {"informational": 0.1, "low": 0.3, "medium": 0.5, "high": 0.7, "critical": 0.9}
LEVEL_CONFIDENCE = {"informational": "low", "low": "low", "medium": "medium", "high": "high", "critical": "high"}
LEVEL_SEVERITY = {"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}


@dataclass(frozen=True)
class CompiledRule:
    stem: str
    id: str
    title: str
    level: str
    query: str
    evidence_type: str
    attack_type: str | None
    tags: tuple[str, ...]


def compile_rules(sigma_dir: Path, backend: str) -> list[CompiledRule]:
    """Convert every rule under sigma_dir/rules with the pipeline sigma_dir/pipelines/mcpeeker.yaml."""
    try:
        from sigma.collection import SigmaCollection
        from sigma.processing.pipeline import ProcessingPipeline

        # Imported from the defining modules: the packages' __init__ re-exports are implicit. The OpenSearch
        # backend subclasses the Elasticsearch one (pySigma-backend-opensearch depends on it).
        from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend

        Backend: type[LuceneBackend] = LuceneBackend
        if backend != "elasticsearch":
            from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend

            Backend = OpensearchLuceneBackend
    except ImportError as exc:
        raise MCPeekerError("sigma run needs the extra: pip install 'mcpeeker[sigma]'") from exc
    pipeline_path = sigma_dir / "pipelines" / "mcpeeker.yaml"
    rules_dir = sigma_dir / "rules"
    if not rules_dir.is_dir() or not pipeline_path.is_file():
        raise MCPeekerError(f"{sigma_dir}: expected rules/*.yml and pipelines/mcpeeker.yaml (use --sigma-dir)")
    pipeline = ProcessingPipeline.from_yaml(pipeline_path.read_text(encoding="utf-8"))
    weights = catalogue.implementations("sigma")
    out: list[CompiledRule] = []
    for path in sorted(rules_dir.glob("*.yml")):
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
            rule = collection.rules[0]
            query = Backend(processing_pipeline=pipeline).convert(collection)[0]
        except Exception as exc:  # noqa: BLE001 - pySigma raises many error types; name the file
            raise MCPeekerError(f"{path}: cannot convert: {exc}") from exc
        # Keyed by the rule's id, so a renamed file keeps its weight; a rule the catalogue does not name (a site's
        # own, under --sigma-dir) is endpoint evidence.
        evidence_type, attack_type = weights.get(str(rule.id), ("endpoint", None))
        out.append(
            CompiledRule(
                stem=path.stem,
                id=str(rule.id),
                title=rule.title,
                level=str(rule.level or "medium").lower(),
                query=query,
                evidence_type=evidence_type,
                attack_type=attack_type,
                tags=tuple(str(t) for t in rule.tags),
            )
        )
    return out


def _search(client: Any, settings: Settings, rule: CompiledRule, since: str, size: int) -> list[dict[str, Any]]:
    body = {
        "size": size,
        "sort": [{"@timestamp": "asc"}],
        "query": {
            "bool": {
                "must": [{"query_string": {"query": rule.query}}],
                "filter": [{"range": {"@timestamp": {"gte": f"now-{since}"}}}],
                "must_not": [{"term": {"event.module": "sigma"}}],
            }
        },
    }
    res = client.search(index=settings.index("mcp-events-*"), body=body, ignore_unavailable=True, allow_no_indices=True)
    hits: list[dict[str, Any]] = res["hits"]["hits"]
    return hits


def match_document(rule: CompiledRule, hit: dict[str, Any], settings: Settings) -> tuple[str, str, dict[str, Any]]:
    src = hit["_source"]
    doc: dict[str, Any] = {k: src[k] for k in CARRY if k in src}
    ts = src.get("@timestamp") or datetime.now(timezone.utc).isoformat()
    epoch = datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()
    doc_id = document_id("sigma", "match", f"{rule.id}\0{hit['_index']}\0{hit['_id']}".encode())
    doc["@timestamp"] = ts
    doc["event"] = {
        "id": doc_id,
        "module": "sigma",
        "dataset": "sigma.match",
        "kind": "alert",
        "severity": LEVEL_SEVERITY.get(rule.level, 47),
        "provider": "mcpeeker-sigma-run",
        "created": datetime.now(timezone.utc).isoformat(),
    }
    doc["rule"] = {
        "id": rule.id,
        "uuid": rule.id,
        "name": rule.title,
        "ruleset": "sigma",
        "category": rule.stem,
        "reference": f"sigma/rules/{rule.stem}.yml",
    }
    if rule.tags:
        doc["tags"] = list(rule.tags)
    evidence = {
        "type": rule.evidence_type,
        "kind": "sigma",
        "score": LEVEL_SCORE.get(rule.level, 0.5),
        "confidence": LEVEL_CONFIDENCE.get(rule.level, "medium"),
        "reason": rule.title[:1024],
    }
    doc["mcpeeker"] = {"evidence": evidence, "source": {"file": f"{hit['_index']}/{hit['_id']}"}}
    key = (src.get("mcpeeker") or {}).get("instance", {}).get("key")
    if key:
        doc["mcpeeker"]["instance"] = {"key": key}
    if rule.attack_type:
        doc["mcpeeker"]["attack"] = {"type": rule.attack_type}
    return events_index(settings.index_prefix, epoch), doc_id, doc


def run_once(settings: Settings, rules: list[CompiledRule], since: str, size: int) -> dict[str, int]:
    client = make_client(settings)
    counts: dict[str, int] = {}
    actions: list[dict[str, Any]] = []
    for rule in rules:
        hits = _search(client, settings, rule, since, size)
        counts[rule.stem] = len(hits)
        for hit in hits:
            index, doc_id, doc = match_document(rule, hit, settings)
            actions.append({"_op_type": "index", "_index": index, "_id": doc_id, "_source": doc})
    if actions:
        lifecycle.bootstrap(client, settings)  # the matches go through the evidence write alias ...
        # ... except a match already stored (a rerun over the same window, after a rollover): overwritten in place.
        stored = lifecycle.locate(client, lifecycle.events_pattern(settings), [a["_id"] for a in actions])
        for action in actions:
            action["_index"] = stored.get(action["_id"], action["_index"])
        _ok, errors = bulk_helper(settings).bulk(client, actions, raise_on_error=False, refresh="wait_for")
        if errors:
            raise MCPeekerError(f"{len(errors)} sigma.match documents rejected: {str(errors[0])[:300]}")
    return counts


def iter_runs(every: float | None) -> Iterator[int]:
    """Run numbers 0, 1, 2 …, sleeping `every` seconds between them; just 0 without `every`."""
    n = 0
    while True:
        yield n
        n += 1
        if every is None:
            return
        time.sleep(every)
