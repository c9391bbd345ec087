"""Tamper-evident audit trail: an HMAC-SHA256 chain in `mcp-audit`.

Record n signs its own content and record n-1's MAC, so an edited, deleted or reordered record breaks
the chain at a place `mcpeeker audit verify` (cli/audit.py) can name. Records are created with their sequence number
as `_id` and op_type=create: two concurrent writers cannot fork the chain, the loser retries.

The chain has its own key ring (audit.key_file / MCPEEKER_AUDIT_KEY; no built-in key). Each record names the id of
the key that signed it (`key_id`, signed too). A rotation of the audit key appends a `keys.rotate` record, signed
with the old key, that names the new key id; from there on records must be signed with the new key. Verify checks
each record with the key its id names and refuses a change of key that no rotation record announced, so a
leaked old key cannot extend the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Iterator

from .errors import MCPeekerError
from .paging import scan_sorted
from .roles import Actor
from .settings import Settings
from .site.keys import Key, KeyRing
from .timeutil import iso, utcnow

GENESIS_MAC = "0" * 64


HEAD_ID = "audit.head"


ROTATE_ACTION = "keys.rotate"
_SIGNED = ("seq", "@timestamp", "actor", "action", "object", "content_json", "prev_mac")


def signing_key(settings: Settings) -> Key:
    """The current audit key; raises MissingKeyError naming audit.key_file before anything is written."""
    return settings.audit_keys().current


def _canonical(record: dict[str, Any]) -> bytes:
    # Records written before key ids existed carry none; their MAC covers the other fields only.
    names = _SIGNED + (("key_id",) if "key_id" in record else ())
    signed = {k: record.get(k) for k in names}
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def _record_key(ring: KeyRing, record: dict[str, Any]) -> Key | None:
    kid = record.get("key_id")
    return ring.get(kid) if kid else ring.current


def compute_mac(settings: Settings, record: dict[str, Any], ring: KeyRing | None = None) -> str:
    """The MAC of `record` with the key its key_id names ("" when the ring does not hold that key)."""
    key = _record_key(ring or settings.audit_keys(), record)
    return hmac.new(key.secret, _canonical(record), hashlib.sha256).hexdigest() if key else ""


def _last_record(client: Any, index: str) -> dict[str, Any] | None:
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"size": 1, "sort": [{"seq": "desc"}], "query": {"match_all": {}}})
    found = hits["hits"]["hits"]
    return found[0]["_source"] if found else None


def append(
    settings: Settings,
    client: Any,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    content: dict[str, Any],
    attempts: int = 5,
    key: Key | None = None,
) -> dict[str, Any]:
    """Append a signed record (with `key`, else the current audit key)."""
    key = key or signing_key(settings)
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
            "key_id": key.id,
        }
        record["mac"] = hmac.new(key.secret, _canonical(record), hashlib.sha256).hexdigest()
        try:
            # No refresh wait: the next append refreshes before it reads the head of the chain.
            client.index(index=index, id=str(record["seq"]), body=record, op_type="create")
            # The head (newest seq and MAC) lets verify notice records deleted from the end of the chain.
            client.index(
                index=settings.index("mcp-state"),
                id=HEAD_ID,
                body={
                    "@timestamp": record["@timestamp"],
                    "name": HEAD_ID,
                    "value": {"seq": record["seq"], "mac": record["mac"]},
                },
            )
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
    ring = settings.audit_keys()
    expected_seq, prev_mac, count = 1, GENESIS_MAC, 0
    chain_kid: str | None = None  # the key the chain is signed with; changes only at a rotation record
    for record in _records(client, settings.index("mcp-audit")):
        count += 1
        seq = record.get("seq")
        if record["_id"] != str(seq):
            problems.append(
                Problem(
                    seq, record["_id"], f"stored as document {record['_id']} but claims seq {seq}: moved or reordered"
                )
            )
        if seq != expected_seq:
            if isinstance(seq, int) and seq > expected_seq:
                missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
                problems.append(Problem(seq, record["_id"], f"record(s) {missing} missing: deleted"))
            else:
                problems.append(Problem(seq, record["_id"], f"out of order: expected seq {expected_seq}"))
        kid = record.get("key_id")
        if kid and chain_kid and kid != chain_kid:
            problems.append(
                Problem(
                    seq,
                    record["_id"],
                    f"signed with key {kid} but the chain uses {chain_kid} and no "
                    f"rotation record announced {kid}: written with another key",
                )
            )
        authentic = False
        if kid and ring.get(kid) is None:
            problems.append(
                Problem(
                    seq,
                    record["_id"],
                    f"signed with key {kid}, which the audit key ring ({ring.source}) "
                    "does not hold: a key missing from the ring, or a forged record",
                )
            )
        elif compute_mac(settings, record, ring) != record.get("mac"):
            problems.append(Problem(seq, record["_id"], "MAC does not match the content: edited"))
        else:
            authentic = True
            if record.get("prev_mac") != prev_mac:
                problems.append(
                    Problem(
                        seq,
                        record["_id"],
                        "does not chain to the previous record: reordered or a predecessor was removed",
                    )
                )
        # Only an authentic rotation record hands the chain over to a new key. After a broken record (already
        # reported) the next record's key is taken as it is, so one edit is not reported again for every later record.
        chain_kid = (_announced_audit_key(record) or kid or chain_kid) if authentic else None
        prev_mac = record.get("mac", "")
        expected_seq = (seq + 1) if isinstance(seq, int) else expected_seq + 1
    if chain_kid and chain_kid != ring.current.id:
        # A chain that ends on a retired key was written (or rewritten) without the current key: someone holding an
        # old key, or a rotation of the ring file that the chain never recorded.
        problems.append(
            Problem(
                expected_seq - 1,
                str(expected_seq - 1),
                f"the chain ends signed with key {chain_kid}, not the "
                f"current audit key {ring.current.id}: rewritten with a retired key, or a rotation not recorded",
            )
        )
    head = client.get(index=settings.index("mcp-state"), id=HEAD_ID, ignore=[404])
    if head.get("found"):
        last = head["_source"]["value"]
        if last["seq"] >= expected_seq:
            missing = f"{expected_seq}" if last["seq"] == expected_seq else f"{expected_seq}-{last['seq']}"
            problems.append(
                Problem(last["seq"], str(last["seq"]), f"record(s) {missing} missing at the end of the chain: deleted")
            )
        elif last["mac"] != prev_mac:
            problems.append(
                Problem(last["seq"], str(last["seq"]), "the newest record does not match the recorded head")
            )
    return count, problems


def _announced_audit_key(record: dict[str, Any]) -> str | None:
    """The new audit key id a rotation record hands the chain over to (None for any other record)."""
    if record.get("action") != ROTATE_ACTION or (record.get("object") or {}).get("id") != "audit":
        return None
    try:
        new_key_id: str | None = json.loads(record.get("content_json") or "{}").get("new_key_id")
    except ValueError:
        return None
    return new_key_id


def record_rotation(
    settings: Settings, client: Any, actor: Actor, ring_name: str, old: Key, new: Key, signer: Key
) -> dict[str, Any]:
    """Append the `keys.rotate` record of a site or audit key rotation, signed with `signer` (for an audit
    rotation: the old audit key, which hands the chain over to the new one)."""
    return append(
        settings,
        client,
        actor,
        ROTATE_ACTION,
        "key_ring",
        ring_name,
        {"old_key_id": old.id, "new_key_id": new.id},
        key=signer,
    )
