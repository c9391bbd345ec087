"""Tamper-evident audit trail: an HMAC-SHA256 chain in `mcp-audit`.

Record n signs its own content and record n-1's MAC, so an edited, deleted or reordered record breaks
the chain at a place `mcpeeker audit verify` can name. Records are created with their sequence number
as `_id` and op_type=create: two concurrent writers cannot fork the chain, the loser retries.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Iterator

from rich.console import Console

from .client import make_client
from .errors import MCPeekerError
from .paging import scan_sorted
from .roles import Actor, authorize
from .settings import Settings, add_connection_arguments, resolve
from .timeutil import iso, utcnow

GENESIS_MAC = "0" * 64
console = Console(soft_wrap=True)


HEAD_ID = "audit.head"


def _key(settings: Settings) -> bytes:
    """The chain's own key (audit_key / MCPEEKER_AUDIT_KEY). Endpoint agents hold the site key, so a chain
    keyed only from it could be re-signed by anyone with an agent config: set an audit key in production."""
    if settings.audit_key:
        return settings.audit_key.encode()
    return hmac.new(settings.site_key_bytes(), b"mcpeeker-audit-chain", hashlib.sha256).digest()


def _canonical(record: dict[str, Any]) -> bytes:
    signed = {k: record.get(k) for k in ("seq", "@timestamp", "actor", "action", "object", "content_json", "prev_mac")}
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def compute_mac(settings: Settings, record: dict[str, Any]) -> str:
    return hmac.new(_key(settings), _canonical(record), hashlib.sha256).hexdigest()


def _last_record(client: Any, index: str) -> dict[str, Any] | None:
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"size": 1, "sort": [{"seq": "desc"}], "query": {"match_all": {}}})
    found = hits["hits"]["hits"]
    return found[0]["_source"] if found else None


def append(settings: Settings, client: Any, actor: Actor, action: str, object_type: str, object_id: str,
           content: dict[str, Any], attempts: int = 5) -> dict[str, Any]:
    index = settings.index("mcp-audit")
    for _ in range(attempts):
        last = _last_record(client, index)
        record = {
            "seq": (last["seq"] + 1) if last else 1,
            "@timestamp": iso(utcnow()),
            "actor": {"name": actor.name, "role": actor.role},
            "action": action,
            "object": {"type": object_type, "id": object_id},
            "content_json": json.dumps(content, sort_keys=True, default=str),
            "prev_mac": last["mac"] if last else GENESIS_MAC,
        }
        record["mac"] = compute_mac(settings, record)
        try:
            # No refresh wait: the next append refreshes before it reads the head of the chain.
            client.index(index=index, id=str(record["seq"]), body=record, op_type="create")
            # The head (newest seq and MAC) lets verify notice records deleted from the end of the chain.
            client.index(index=settings.index("mcp-state"), id=HEAD_ID, body={
                "@timestamp": record["@timestamp"], "name": HEAD_ID,
                "value": {"seq": record["seq"], "mac": record["mac"]}})
            return record
        except Exception as exc:  # ConflictError of either client: another writer took this seq
            if getattr(exc, "status_code", None) != 409 and "409" not in str(exc)[:40]:
                raise
    raise MCPeekerError(f"could not append to {index}: too many concurrent writers")


@dataclass(frozen=True)
class Problem:
    seq: int | None
    doc_id: str
    reason: str


def _records(client: Any, index: str) -> Iterator[dict[str, Any]]:
    client.indices.refresh(index=index)
    for hit in scan_sorted(client, index, {"match_all": {}}, [{"seq": "asc"}, {"mac": "asc"}]):
        yield {"_id": hit["_id"], **hit["_source"]}


def verify(settings: Settings, client: Any) -> tuple[int, list[Problem]]:
    """Walk the chain in sequence order; return (records checked, problems found)."""
    problems: list[Problem] = []
    expected_seq, prev_mac, count = 1, GENESIS_MAC, 0
    for record in _records(client, settings.index("mcp-audit")):
        count += 1
        seq = record.get("seq")
        if record["_id"] != str(seq):
            problems.append(Problem(seq, record["_id"], f"stored as document {record['_id']} but claims seq {seq}: moved or reordered"))
        if seq != expected_seq:
            if isinstance(seq, int) and seq > expected_seq:
                missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
                problems.append(Problem(seq, record["_id"], f"record(s) {missing} missing: deleted"))
            else:
                problems.append(Problem(seq, record["_id"], f"out of order: expected seq {expected_seq}"))
        if compute_mac(settings, record) != record.get("mac"):
            problems.append(Problem(seq, record["_id"], "MAC does not match the content: edited"))
        elif record.get("prev_mac") != prev_mac:
            problems.append(Problem(seq, record["_id"], "does not chain to the previous record: reordered or a predecessor was removed"))
        prev_mac = record.get("mac", "")
        expected_seq = (seq + 1) if isinstance(seq, int) else expected_seq + 1
    head = client.get(index=settings.index("mcp-state"), id=HEAD_ID, ignore=[404])
    if head.get("found"):
        last = head["_source"]["value"]
        if last["seq"] >= expected_seq:
            missing = f"{expected_seq}" if last["seq"] == expected_seq else f"{expected_seq}-{last['seq']}"
            problems.append(Problem(last["seq"], str(last["seq"]), f"record(s) {missing} missing at the end of the chain: deleted"))
        elif last["mac"] != prev_mac:
            problems.append(Problem(last["seq"], str(last["seq"]), "the newest record does not match the recorded head"))
    return count, problems


def cmd_verify(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "audit.verify")
    count, problems = verify(settings, make_client(settings))
    if not problems:
        console.print(f"[green]audit chain intact[/]: {count} records verified")
        return 0
    for problem in problems:
        console.print(f"[red]seq {problem.seq} (doc {problem.doc_id})[/]: {problem.reason}", highlight=False)
    console.print(f"[red]audit chain BROKEN[/]: {len(problems)} problem(s) in {count} records")
    return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit", help="the tamper-evident audit trail")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify_parser = actions.add_parser("verify", help="verify the HMAC chain; names every broken record")
    add_connection_arguments(verify_parser)
    verify_parser.set_defaults(func=cmd_verify)
