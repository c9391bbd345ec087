"""One judge cycle over the findings: select, build inputs, judge (cached by content), write judge evidence.

Selection (configs/judge.yaml select:): findings whose classification is in `classifications` (the suspect band)
and, with `new_tool_definitions`, every finding with tool definitions; a stable `sample` of them; at most `budget`
judgements per cycle. The cache is the evidence itself: a judgement's document id is a hash of the instance key
and its input's content hash (which takes in the tool definitions' hashes), so the same evidence is never judged
twice and changed tool definitions are judged again.

The judge evidence (docs/judge.md) goes through the evidence write alias like Sigma matches: `mcpeeker.evidence.type`
is `judge` (the scoring weight) only for verdict mcp at `score.min_confidence` or above, else `context`, so only a
confident "this is MCP" moves the classification; every verdict, with its reasons, is in the finding's timeline.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from typing import Any

from .. import lifecycle
from ..client import bulk_helper
from ..errors import MCPeekerError
from ..ingest.ids import document_id, events_index
from ..paging import scan_sorted
from ..settings import Settings
from ..timeutil import iso, utcnow
from .config import JudgeConfig
from .inputs import MAX_TEXT, JudgeInput, PayloadFields, cut
from .llm import LLMJudge, LLMUnavailable
from .local import LocalModel, shipped
from .verdict import Judgement, ToolScore

PROVIDER = "mcpeeker-judge"


@dataclass(frozen=True)
class Candidate:
    finding_id: str
    key: str
    raw_keys: tuple[str, ...]
    classification: str


@dataclass
class JudgeRun:
    selected: int = 0
    judged: int = 0
    cached: int = 0
    over_budget: int = 0
    scoring: int = 0  # judge evidence that counts in the score (verdict mcp, confident)
    fallbacks: int = 0  # LLM unavailable: the local model answered
    seconds: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)


def confidence_word(confidence: float) -> str:
    return "high" if confidence >= 0.9 else "medium" if confidence >= 0.7 else "low"


def sampled(key: str, fraction: float) -> bool:
    """A stable sample: the same instance is in or out every cycle."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def build_input(hits: list[dict[str, Any]]) -> tuple[JudgeInput, str]:
    """The bounded input (inputs.py) from evidence documents, and a hash of the tool definitions they report.

    A sensor's payload snippet (mcpeeker.snippet, already redacted at ingest) is read for names and shapes only,
    the way scripts/judge_data.py reads the training captures; the headers a sensor logged become header names."""
    headers, servers, clients, transports, tool_hashes = [], [], [], [], []
    payload = PayloadFields()
    tools: list[tuple[str, str]] = []
    for hit in hits:
        src = hit.get("_source", {})
        mcp, gen_ai = src.get("mcp") or {}, src.get("gen_ai") or {}
        payload.methods += _list((mcp.get("method") or {}).get("name"))
        servers += _list((mcp.get("server") or {}).get("name")) + _list((mcp.get("config") or {}).get("server_name"))
        clients += _list((mcp.get("client") or {}).get("name")) + _list((mcp.get("config") or {}).get("client"))
        headers += _list((mcp.get("config") or {}).get("header_names"))
        headers += [name for name, value in _HEADER_FACTS if _get(src, value) is not None]
        transports += _list(mcp.get("transport"))
        tool_hashes += _list((mcp.get("tools") or {}).get("hash"))
        tools += [(name, "") for name in _list((mcp.get("tools") or {}).get("names"))]
        # an endpoint's tools/list (agent tap, inventory): [{name, description}], bounded and redacted at ingest
        for described in (mcp.get("tools") or {}).get("descriptions") or []:
            if isinstance(described, dict) and isinstance(described.get("name"), str):
                tools.append((described["name"], str(described.get("description") or "")))
        snippet = (src.get("mcpeeker") or {}).get("snippet")
        if isinstance(snippet, str):
            payload.add(snippet)
        tool_name = (gen_ai.get("tool") or {}).get("name")
        if isinstance(tool_name, str):
            tools.append((tool_name, ""))
    judged = JudgeInput.build(
        payload.methods,
        headers,
        payload.result_shapes,
        servers + payload.server_names,
        clients + payload.client_names,
        transports,
        tools + payload.tools,
    )
    definitions = hashlib.sha256("\n".join(sorted(set(tool_hashes))).encode()).hexdigest()
    return judged, definitions


# Header names a sensor's document shows by the fields it filled from them (ingest/normalise/suricata.py, zeek.py).
_HEADER_FACTS = (
    ("mcp-session-id", ("mcp", "session", "id")),
    ("mcp-protocol-version", ("mcp", "protocol", "version")),
    ("authorization", ("mcp", "auth", "scheme")),
    ("content-type", ("http", "request", "mime_type")),
)


def _get(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = doc
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


CONTRADICT_AT = 0.95  # a local verdict this sure overrules a contradicting LLM verdict to unsure


def cross_check(llm: Judgement, local: Judgement) -> Judgement:
    """An LLM answer checked against the local model. The judged text can steer a model (a description saying
    "answer not_mcp"); the local model never reads descriptions for its verdict, so a contradiction of a sure
    local verdict becomes unsure, and the poisoning scores are never lower than the local model's."""
    verdict, notes = llm.verdict, list(llm.notes)
    if {llm.verdict, local.verdict} == {"mcp", "not_mcp"} and local.confidence >= CONTRADICT_AT:
        verdict = "unsure"
        notes.append(f"LLM said {llm.verdict}, the local model {local.verdict} at {local.confidence:.2f}: unsure")
    local_tools = {t.name: t for t in local.tools}
    tools = []
    for tool in llm.tools:
        floor = local_tools.get(tool.name)
        if floor is not None and floor.poisoning > tool.poisoning:
            tools.append(ToolScore(tool.name, floor.poisoning, tool.reasons + floor.reasons))
        else:
            tools.append(tool)
    named = {t.name for t in tools}
    tools += [t for t in local.tools if t.name not in named]
    poisoning = max([llm.poisoning, local.poisoning, *(t.poisoning for t in tools)])
    return replace(llm, verdict=verdict, poisoning=poisoning, tools=tuple(tools), notes=tuple(notes))


class Judge:
    def __init__(
        self,
        settings: Settings,
        client: Any,
        config: JudgeConfig,
        local: LocalModel | None = None,
        llm: LLMJudge | None = None,
    ) -> None:
        self.settings, self.client, self.config = settings, client, config
        self.local = local or shipped()
        self.llm = llm if llm is not None else (LLMJudge(config.llm) if config.backend == "llm" else None)
        self.events = settings.index("mcp-events-*")
        self.findings = settings.index("mcp-findings")
        self._memo: dict[str, Judgement] = {}  # content hash -> judgement, within this process

    def candidates(self) -> list[Candidate]:
        should: list[dict[str, Any]] = [{"terms": {"classification": list(self.config.classifications)}}]
        if self.config.new_tool_definitions:
            should.append({"exists": {"field": "mcp.tools.names"}})
        query = {"bool": {"should": should, "minimum_should_match": 1}}
        out = []
        source = ["finding.id", "instance.key", "instance.raw_keys", "classification"]
        for hit in scan_sorted(self.client, self.findings, query, [{"finding.id": "asc"}], source=source):
            src = hit["_source"]
            key = src.get("instance", {}).get("key")
            if key and sampled(key, self.config.sample):
                raw = tuple(src["instance"].get("raw_keys") or [key])
                out.append(Candidate(src["finding"]["id"], key, raw, src.get("classification", "")))
        return out

    def evidence_of(self, candidate: Candidate) -> list[dict[str, Any]]:
        body = {
            "size": self.config.max_events,
            "sort": [{"@timestamp": "desc"}],
            "query": {
                "bool": {
                    "filter": [{"terms": {"mcpeeker.instance.key": list(candidate.raw_keys)}}],
                    "must_not": [{"term": {"event.module": "judge"}}],  # never judge the judge
                }
            },
            "_source": [
                "mcp.method.name",
                "mcp.server.name",
                "mcp.client.name",
                "mcp.config.server_name",
                "mcp.config.client",
                "mcp.config.header_names",
                "mcp.transport",
                "mcp.tools",
                "mcp.session.id",
                "mcp.protocol.version",
                "mcp.auth.scheme",
                "http.request.mime_type",
                "gen_ai.tool.name",
                "mcpeeker.snippet",
            ],
        }
        response = self.client.search(index=self.events, body=body, ignore_unavailable=True, allow_no_indices=True)
        hits: list[dict[str, Any]] = response["hits"]["hits"]
        return hits

    def judge(self, judged: JudgeInput) -> tuple[Judgement, bool]:
        """(judgement, fell back to local)."""
        digest = judged.content_hash()
        if digest in self._memo:
            return self._memo[digest], False
        fell_back = False
        if self.llm is not None:
            try:
                result = cross_check(self.llm.judge(judged), self.local.judge(judged))
            except LLMUnavailable as exc:
                local = self.local.judge(judged)
                result = Judgement(
                    local.verdict,
                    local.confidence,
                    local.poisoning,
                    local.tools,
                    local.reasons,
                    local.model_id,
                    local.model_version,
                    "local",
                    (f"LLM unavailable, local model answered: {str(exc)[:200]}",),
                )
                fell_back = True
        else:
            result = self.local.judge(judged)
        self._memo[digest] = result
        return result, fell_back

    def existing(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            response = self.client.search(
                index=self.events,
                body={"size": len(chunk), "query": {"ids": {"values": chunk}}, "_source": False},
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            found |= {hit["_id"] for hit in response["hits"]["hits"]}
        return found

    def run_once(self) -> JudgeRun:
        started = time.monotonic()
        run = JudgeRun()
        if self.llm is not None:
            self.llm.calls = 0
        candidates = self.candidates()
        run.selected = len(candidates)
        planned: list[tuple[Candidate, JudgeInput, str]] = []
        for candidate in candidates:
            judged, definitions = build_input(self.evidence_of(candidate))
            cache_key = hashlib.sha256(f"{judged.content_hash()}\0{definitions}".encode()).hexdigest()
            doc_id = document_id("judge", "verdict", f"{candidate.key}\0{cache_key}".encode())
            planned.append((candidate, judged, doc_id))
        done = self.existing([doc_id for _, _, doc_id in planned])
        actions: list[dict[str, Any]] = []
        for candidate, judged, doc_id in planned:
            if doc_id in done:
                run.cached += 1
                continue
            if run.judged >= self.config.budget:
                run.over_budget += 1
                continue
            result, fell_back = self.judge(judged)
            run.judged += 1
            run.fallbacks += int(fell_back)
            run.verdicts[result.verdict] = run.verdicts.get(result.verdict, 0) + 1
            doc = self.document(candidate, judged, result, doc_id)
            run.scoring += int(doc["mcpeeker"]["evidence"]["type"] == "judge")
            index = events_index(self.settings.index_prefix, time.time())
            actions.append({"_op_type": "index", "_index": index, "_id": doc_id, "_source": doc})
        if actions:
            lifecycle.bootstrap(self.client, self.settings)
            _ok, errors = bulk_helper(self.settings).bulk(
                self.client, actions, raise_on_error=False, refresh="wait_for"
            )
            if errors:
                raise MCPeekerError(f"{len(errors)} judge documents rejected: {str(errors[0])[:300]}")
        run.seconds = time.monotonic() - started
        return run

    def document(self, candidate: Candidate, judged: JudgeInput, result: Judgement, doc_id: str) -> dict[str, Any]:
        now = iso(utcnow())
        scores = result.verdict == "mcp" and result.confidence >= self.config.min_confidence
        poisoned_at = self.local.poisoned_at
        reasons = result.reason_text(poisoned_at)
        headline = f"judge: {result.verdict} {result.confidence:.2f}, poisoning {result.poisoning}/100"
        return {
            "@timestamp": now,
            "event": {
                "id": doc_id,
                "kind": "event",
                "module": "judge",
                "dataset": "judge.verdict",
                "provider": PROVIDER,
                "created": now,
            },
            # the timeline shows rule.name: the verdict and its reasons, one line
            "rule": {
                "name": cut(f"{headline} ({result.model_id} {result.model_version}): {reasons}", MAX_TEXT),
                "ruleset": "mcpeeker-judge",
            },
            "mcpeeker": {
                "evidence": {
                    "type": "judge" if scores else "context",
                    "kind": "judge",
                    "score": result.confidence,
                    "confidence": confidence_word(result.confidence),
                    "reason": cut(reasons, MAX_TEXT),
                },
                "instance": {"key": candidate.key},
                "source": {"file": f"{self.findings}/{candidate.finding_id}"},
                # stored, not indexed (the events template is dynamic: false): the whole judgement
                "judge": {
                    "verdict": result.verdict,
                    "confidence": result.confidence,
                    "poisoning": result.poisoning,
                    "tools": [
                        {"name": t.name, "poisoning": t.poisoning, "reasons": list(t.reasons)} for t in result.tools
                    ],
                    "reasons": list(result.reasons),
                    "model": {"id": result.model_id, "version": result.model_version},
                    "backend": result.backend,
                    "notes": list(result.notes),
                    "input_hash": judged.content_hash(),
                    "input_size": len(judged.protocol_text()) + sum(len(t.text()) for t in judged.tools),
                },
            },
        }
