"""mcpeeker-agent scan reports (schemas/agent-event.schema.json) -> one endpoint evidence document per
evidence item plus one scan summary document."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, cast

import jsonschema
import jsonschema_rs

from ... import catalogue
from ...config import load_schema
from ...model import instance_key
from ...model.records import Evidence
from .. import privacy
from .common import Context, Data, Doc, NormaliseError, Output, as_ip, as_str, as_str_list, compiled
from .common import converter, doc_start, finish, parse_iso, put, redacted_text, tables

# agent evidence type -> (event.dataset suffix, mcpeeker.evidence.kind)
KINDS: dict[str, tuple[str, str]] = {
    "file": ("config", "config"),
    "process": ("process", "process"),
    "listener": ("listener", "listener"),
    "probe": ("probe", "probe"),
    "tools": ("tools", "tools"),  # the stdio tap and the inventory (toolmeta.py)
}
# Risk flag -> attack type, for the flags that are attack-like conditions on the endpoint (data model:
# mcpeeker.attack.type), from the detection catalogue (detections/, docs/detections.md).
RISK_ATTACKS: dict[str, str] = {
    risk: attack
    for risk, (ev_type, attack) in catalogue.implementations("agent").items()
    if ev_type == "attack" and attack
}


@converter
def snippet_str(value: Any) -> str:
    """A text cut to a snippet (a path, an executable), not redacted."""
    return privacy.cut_snippet(as_str(value))


@converter
def redacted_text_list(value: Any) -> list[str]:
    return [redacted_text(a) for a in as_str_list(value)]


DESCRIPTION_BYTES, DESCRIPTION_TOOLS = 1024, 64  # the judge's bounds (judge/inputs.py MAX_TEXT, MAX_ITEMS)


@converter
def tool_description_list(value: Any) -> list[dict[str, str]]:
    """An agent's tool name -> description object as [{name, description}] (mcp.tools.descriptions, the judge's
    input): redacted like a sensor's payload snippet, then cut to the judge's bounds."""
    if not isinstance(value, dict):
        raise ValueError(f"expected an object of tool name -> description, got {type(value).__name__}")
    return [
        {"name": privacy.cut_snippet(str(name), 256), "description": privacy.snippet(as_str(desc), DESCRIPTION_BYTES)}
        for name, desc in sorted(value.items())[:DESCRIPTION_TOOLS]
    ]


_TABLES = tables("agent")  # mappings.txt
FILE, CONFIG, PROCESS = _TABLES["FILE"], _TABLES["CONFIG"], _TABLES["PROCESS"]
LISTENER, PROBE, TOOLS = _TABLES["LISTENER"], _TABLES["PROBE"], _TABLES["TOOLS"]

# Bound once at import: a report pays no lookup.
_FILE, _CONFIG, _PROCESS = compiled(FILE), compiled(CONFIG), compiled(PROCESS)
_LISTENER, _PROBE, _TOOLS = compiled(LISTENER), compiled(PROBE), compiled(TOOLS)
_ITEM_STARTS = {
    item_type: doc_start(
        module="agent", dataset=f"agent.{dataset}", kind="event", evidence_type="endpoint", evidence_kind=kind
    )
    for item_type, (dataset, kind) in KINDS.items()
}
_SUMMARY_START = doc_start(
    module="agent", dataset="agent.scan", kind="state", evidence_type="context", evidence_kind="scan_summary"
)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema("agent-event"))


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(load_schema("agent-event"))


def _validate(data: Data) -> None:
    # A compiled validator answers "valid?" in about 2 us where the reference takes about 300 us per report; the
    # reference (jsonschema) still decides, and names the field, whenever the answer is no.
    if _fast_validator().is_valid(data):
        return
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(top level)"
        raise NormaliseError(f"field {where!r}: {first.message[:300]}")


def _confidence(score: float) -> str:
    return "high" if score >= 0.8 else "medium" if score >= 0.5 else "low"


def _derived_key(host_id: str, item: Data) -> str | None:
    """The instance key of the data model when the agent did not give one."""
    config, listener, probe = item.get("config") or {}, item.get("listener") or {}, item.get("probe") or {}
    if listener.get("port") is not None:
        return instance_key.host_port(host_id, listener["port"])
    if config.get("server_name"):
        return instance_key.host_cfg(host_id, config.get("client", "unknown"), config["server_name"])
    url = config.get("url") or probe.get("url")
    if isinstance(url, str) and url:
        try:
            return instance_key.url(url)
        except ValueError:
            return None
    return None


_KEY_ID = re.compile(r"^k[0-9a-f]{8}$")


def _host(doc: Doc, report: Data, ctx: Context) -> None:
    put(doc, ("host", "id"), report["host_id"])
    kid = report.get("key_id")
    if isinstance(kid, str) and _KEY_ID.match(kid):
        put(doc, ("mcpeeker", "key_id"), kid)  # the site key the agent hashed with (mcpeeker.site.keys.key_id)
    host = report.get("host") or {}
    if host.get("os"):
        put(doc, ("host", "os", "type"), host["os"])
    ips = []
    for ip in host.get("ips") or []:
        try:
            ips.append(as_ip(ip))
        except ValueError:
            continue  # a malformed address must not reject the host's evidence
    if ips:
        put(doc, ("host", "ip"), ips)
    version = (report.get("agent") or {}).get("version")
    put(doc, ("agent", "type"), "mcpeeker-agent")
    if isinstance(version, str):
        put(doc, ("agent", "version"), version)


def _item_doc(report: Data, item: Data, iso: str, ctx: Context, file: str, line: int) -> Evidence:
    doc = _ITEM_STARTS[item["type"]](iso, file, line)
    _host(doc, report, ctx)
    score = float(item["score"])
    put(doc, ("mcpeeker", "evidence", "score"), score)
    put(doc, ("mcpeeker", "evidence", "confidence"), _confidence(score))
    if item.get("reason"):
        put(doc, ("mcpeeker", "evidence", "reason"), privacy.cut_snippet(privacy.redact_text(item["reason"])))
    if item.get("snippet"):
        put(doc, ("mcpeeker", "snippet"), privacy.snippet(item["snippet"]))
    risks = item.get("risk") or []
    attacks = [RISK_ATTACKS[r] for r in risks if r in RISK_ATTACKS]
    if attacks:
        put(doc, ("mcpeeker", "attack", "type"), attacks)
    if risks:
        doc["tags"] = [f"risk:{r}" for r in risks]
    _FILE(doc, item.get("file") or {})
    config = item.get("config") or {}
    _CONFIG(doc, config)
    secrets = [s for s in config.get("secrets") or [] if isinstance(s, dict)]
    if secrets:
        # Only the kind and the agent's keyed fingerprint: never the value.
        put(doc, ("mcp", "config", "secret_kinds"), sorted({str(s["kind"]) for s in secrets if "kind" in s}))
        put(
            doc,
            ("mcp", "config", "secret_fingerprints"),
            [str(s["fingerprint"]) for s in secrets if "fingerprint" in s],
        )
    process = item.get("process") or {}
    _PROCESS(doc, process)
    if isinstance(process.get("user_id"), str) and process["user_id"]:
        put(doc, ("process", "user", "id"), privacy.ensure_keyed(cast(bytes, ctx.site_key), process["user_id"]))
    _LISTENER(doc, item.get("listener") or {})
    _PROBE(doc, item.get("probe") or {})
    _TOOLS(doc, item.get("tools") or {})
    key = item.get("instance_key") or _derived_key(report["host_id"], item)
    if key:
        put(doc, ("mcpeeker", "instance", "key"), privacy.redact_url(key))
    return cast(Evidence, doc)


def _summary_doc(report: Data, iso: str, ctx: Context, file: str, line: int) -> Evidence:
    doc = _SUMMARY_START(iso, file, line)
    _host(doc, report, ctx)
    put(doc, ("mcpeeker", "evidence", "score"), float(report["local_score"]))
    counts: dict[str, int] = {}
    for item in report["evidence"]:
        counts[item["type"]] = counts.get(item["type"], 0) + 1
    scan: dict[str, Any] = {"evidence_count": len(report["evidence"]), "evidence_by_type": counts}
    if report.get("scan_id"):
        scan["id"] = report["scan_id"]
    if report.get("duration_ms") is not None:
        scan["duration_ms"] = report["duration_ms"]
        put(doc, ("event", "duration"), int(float(report["duration_ms"]) * 1_000_000))
    errors = report.get("errors") or []
    if errors:
        scan["error_count"] = len(errors)
        scan["errors"] = [privacy.snippet(f"{e['where']}: {e['error']}", 256) for e in errors[:10]]
        # ECS fields, so dashboards and `analytics coverage` can find scans that hit errors.
        put(doc, ("event", "outcome"), "failure")
        put(doc, ("error", "message"), scan["errors"][0])
        put(doc, ("error", "type"), "scan_error")
    else:
        put(doc, ("event", "outcome"), "success")
    ports = (report.get("host") or {}).get("listening_ports")
    if ports:
        scan["listening_ports"] = ports[:1000]
    doc["mcpeeker"]["scan"] = scan
    return cast(Evidence, doc)


def normalise_agent(rtype: str, data: Data, raw: bytes, ctx: Context, file: str, line: int) -> list[Output]:
    _validate(data)
    iso, epoch = parse_iso(data["timestamp"], "timestamp")
    out: list[Output] = []
    for i, item in enumerate(data["evidence"]):
        doc = _item_doc(data, item, iso, ctx, file, line)
        out.append(finish(cast(Doc, doc), ctx, epoch, "agent", "report", raw, part=str(i)))
    summary = _summary_doc(data, iso, ctx, file, line)
    out.append(finish(cast(Doc, summary), ctx, epoch, "agent", "report", raw, part="scan"))
    return out
