"""`mcpeeker feedback FINDING_ID --verdict …` and `mcpeeker finding show|list`."""

from __future__ import annotations

import argparse
import hashlib
from datetime import datetime, timezone
import json
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.table import Table

from . import audit
from .client import make_client
from .errors import MCPeekerError
from .roles import Actor, authorize
from .settings import Settings, add_connection_arguments, resolve
from .timeutil import iso, parse_iso, utcnow

VERDICTS = ("true_positive", "false_positive", "benign", "needs_info")
console = Console(soft_wrap=True)


def _finding(settings: Settings, client: Any, finding_id: str) -> dict[str, Any]:
    doc = client.get(index=settings.index("mcp-findings"), id=finding_id, ignore=[404])
    if not doc.get("found"):
        raise MCPeekerError(f"no finding {finding_id!r} in {settings.index('mcp-findings')}")
    return doc["_source"]


def add_feedback(settings: Settings, client: Any, actor: Actor, finding_id: str, verdict: str, note: str) -> dict[str, Any]:
    if verdict not in VERDICTS:
        raise MCPeekerError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    _finding(settings, client, finding_id)
    audit.signing_key(settings)  # no audit key: stop before the feedback is stored
    now = iso(utcnow())
    doc = {"@timestamp": now, "finding_id": finding_id, "verdict": verdict, "note": note,
           "actor": {"name": actor.name, "role": actor.role}}
    doc["feedback_id"] = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]
    client.index(index=settings.index("mcp-feedback"), id=doc["feedback_id"], body=doc, refresh="wait_for")
    audit.append(settings, client, actor, "feedback.add", "finding", finding_id,
                 {"feedback_id": doc["feedback_id"], "verdict": verdict, "note": note})
    return doc


def timeline(settings: Settings, client: Any, finding_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Evidence, verdicts and registry events of one finding, in time order."""
    finding = _finding(settings, client, finding_id)
    raw_keys = finding.get("instance", {}).get("raw_keys") or [finding["instance"]["key"]]
    rows: list[dict[str, Any]] = []
    # The newest evidence matters most on a busy finding; the rows are put back in time order below.
    events = client.search(index=settings.index("mcp-events-*"), params={"ignore_unavailable": "true"}, body={
        "size": limit, "sort": [{"@timestamp": "desc"}],
        "query": {"terms": {"mcpeeker.instance.key": raw_keys}}})
    for hit in events["hits"]["hits"]:
        src = hit["_source"]
        what = src.get("rule", {}).get("name") or src.get("mcp", {}).get("method", {}).get("name") \
            or src.get("mcpeeker", {}).get("evidence", {}).get("kind") or src.get("event", {}).get("dataset")
        rows.append({"at": src.get("@timestamp"), "kind": f"evidence/{src.get('mcpeeker', {}).get('evidence', {}).get('type')}",
                     "source": src.get("event", {}).get("dataset"), "detail": str(what), "id": hit["_id"]})
    verdicts = client.search(index=settings.index("mcp-feedback"), body={
        "size": limit, "sort": [{"@timestamp": "asc"}], "query": {"term": {"finding_id": finding_id}}})
    for hit in verdicts["hits"]["hits"]:
        src = hit["_source"]
        rows.append({"at": src["@timestamp"], "kind": "verdict", "source": src["actor"]["name"],
                     "detail": f"{src['verdict']}: {src.get('note', '')}", "id": hit["_id"]})
    entry_id = finding.get("registry", {}).get("entry_id")
    registry_query: dict[str, Any] = {"bool": {"should": [{"term": {"object.id": finding_id}}], "minimum_should_match": 1}}
    if entry_id:
        registry_query["bool"]["should"].append({"term": {"object.id": entry_id}})
    records = client.search(index=settings.index("mcp-audit"), body={
        "size": limit, "sort": [{"seq": "asc"}], "query": registry_query})
    for hit in records["hits"]["hits"]:
        src = hit["_source"]
        if src["action"].startswith("registry."):
            rows.append({"at": src["@timestamp"], "kind": "registry", "source": src["actor"]["name"],
                         "detail": f"{src['action']} {src['object']['id']}", "id": hit["_id"]})
    return sorted(rows, key=lambda r: parse_iso(r["at"]) if r["at"] else datetime.min.replace(tzinfo=timezone.utc))


def cmd_feedback(args: argparse.Namespace) -> int:
    settings = resolve(args)
    if args.as_identity:
        settings = replace(settings, identity=args.as_identity)
    actor = authorize(settings, "feedback.add")
    doc = add_feedback(settings, make_client(settings), actor, args.finding_id, args.verdict, args.note or "")
    console.print(f"recorded {doc['verdict']} on {args.finding_id} ({doc['feedback_id']})")
    return 0


def cmd_finding_show(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "finding.show")
    client = make_client(settings)
    finding = _finding(settings, client, args.finding_id)
    rows = timeline(settings, client, args.finding_id)
    if args.json:
        print(json.dumps({"finding": finding, "timeline": rows}, indent=2))
        return 0
    console.print(f"[bold]{finding['finding']['summary']}[/]")
    console.print(f"score {finding['score']}  {finding['classification']}  severity {finding['severity']}  "
                  f"first {finding.get('first_seen')}  last {finding.get('last_seen')}", highlight=False)
    table = Table("time", "kind", "source", "detail")
    for row in rows:
        table.add_row(str(row["at"]), row["kind"], str(row["source"]), row["detail"])
    console.print(table)
    return 0


def list_findings(settings: Settings, client: Any, size: int = 100) -> list[dict[str, Any]]:
    client.indices.refresh(index=settings.index("mcp-findings"))
    hits = client.search(index=settings.index("mcp-findings"), body={
        "size": size, "sort": [{"score": "desc"}, {"last_seen": "desc"}], "query": {"match_all": {}}})
    return [hit["_source"] for hit in hits["hits"]["hits"]]


def findings_table(findings: list[dict[str, Any]]) -> Table:
    table = Table("finding", "class", "score", "severity", "instance", "server", "evidence", "attacks", "registry")
    colours = {"unauthorized": "red", "suspect": "yellow", "authorized": "green"}
    for f in findings:
        cls = f["classification"]
        table.add_row(f["finding"]["id"], f"[{colours.get(cls, 'white')}]{cls}[/]", f"{f['score']:g}", f["severity"],
                      f["instance"]["key"][:48], (f.get("mcp", {}).get("server", {}) or {}).get("name", ""),
                      ",".join(f.get("evidence", {}).get("types", [])), ",".join(f.get("attack", {}).get("types", [])),
                      f.get("registry", {}).get("entry_id", "") if f.get("registry", {}).get("match") else "-")
    return table


def cmd_finding_list(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "finding.show")
    findings = list_findings(settings, make_client(settings), args.size)
    if args.json:
        print(json.dumps(findings, indent=2))
    else:
        console.print(findings_table(findings))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    feedback = subparsers.add_parser("feedback", help="record an analyst verdict on a finding")
    feedback.add_argument("finding_id")
    feedback.add_argument("--verdict", required=True, choices=VERDICTS)
    feedback.add_argument("--note")
    feedback.add_argument("--as", dest="as_identity", help="act as this identity")
    add_connection_arguments(feedback)
    feedback.set_defaults(func=cmd_feedback)

    finding = subparsers.add_parser("finding", help="inspect findings")
    actions = finding.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="a finding and its investigation timeline")
    show.add_argument("finding_id")
    show.add_argument("--json", action="store_true")
    add_connection_arguments(show)
    show.set_defaults(func=cmd_finding_show)
    listing = actions.add_parser("list", help="findings, highest score first")
    listing.add_argument("--size", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    add_connection_arguments(listing)
    listing.set_defaults(func=cmd_finding_list)
