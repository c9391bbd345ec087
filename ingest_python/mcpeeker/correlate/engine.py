"""One correlation cycle: scheduled queries over `mcp-events-*` -> upserted findings in `mcp-findings`.

Only composite, terms, cardinality, min/max and top_hits aggregations and search_after are used, so the same
code runs on OpenSearch and Elasticsearch without Painless, SQL or an alerting plugin.

1. hosts:   address -> host id, from agent evidence (all time)
2. touched: instance keys with evidence ingested since the watermark minus an overlap window
3. stats:   all-time counts per evidence type and first/last seen of every raw key of a touched instance
4. rebuild: only instances whose stats differ from their stored finding get their facts and evidence
            references aggregated (exact, all time, so re-runs agree) and their finding rebuilt
5. score:   every finding (touched or not) is re-scored against the registry, so an approval, expiry or
            revocation takes effect at the next cycle even without new evidence
   remote:  "remote MCP service used" findings (one per client host and public service, correlate/remote.py)
            are rebuilt from all remote sightings and re-scored against the registry in the same pass
6. cases:   each finding keeps its status (mcpeeker.cases.lifecycle); a closed one reopens on attack evidence it
            had not seen; active suppressions flag the findings they match, and when the set of active rules
            changes (one added, removed or expired) every finding is re-flagged
7. write:   only findings whose content changed are written; re-running over the same data writes nothing. A
            status set by an analyst while the cycle ran is kept (optimistic concurrency, then re-applied)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator, cast

from ..cases import lifecycle, suppressions
from ..cases.lifecycle import StatusChange
from ..cases.suppressions import Suppression
from ..errors import MCPeekerError
from ..model.records import EvidenceRefs, Finding, FindingEvidence, FindingInstance, FindingMcp, FindingRegistry
from ..paging import composite_pairs, scan_sorted
from ..model.instance_key import parse as parse_key
from ..registry.model import InstanceFacts, RegistryEntry, effective_status, is_active, matches, normalise_url
from ..roles import Actor
from ..settings import Settings
from ..timeutil import iso, parse_iso, utcnow
from .aggregate import (
    EVIDENCE_TYPES,
    FACT_FIELDS,
    KEY_FILTER_MAX,
    NETWORK_MODULES,
    EvidenceAggregator,
    InstanceAggregate,
    KeyStats,
)
from .instances import HostMap, finding_id, joinable_address, raw_keys_of, resolve
from .scoring import ScoringConfig, score_instance
from .trust import fingerprint as trust_fingerprint
from .trust import risks_of, trust

log = logging.getLogger(__name__)

WATERMARK_ID = "correlation.watermark"


@dataclass(frozen=True)
class CycleResult:
    touched: int
    rebuilt: int
    findings_total: int
    written: int
    deleted: int
    expired_entries: list[str]
    seconds: float
    reopened: tuple[str, ...] = ()  # finding ids reopened by new attack evidence
    suppressed: int = 0  # stored findings an active suppression mutes (still counted in findings_total)
    merged_away: tuple[str, ...] = ()  # ids of the findings deleted this cycle (merged into their host's finding)


class Correlator:
    def __init__(self, settings: Settings, client: Any, config: ScoringConfig | None = None) -> None:
        self.settings, self.client = settings, client
        self.config = config or ScoringConfig.load()
        corr = self.config.correlation
        self.page_size = int(corr.get("page_size", 1000))
        self.refs_per_type = int(corr.get("max_refs", 5))
        self.overlap = timedelta(seconds=int(corr.get("overlap_seconds", 600)))
        self.lookback = timedelta(days=int(corr.get("first_run_lookback_days", 30)))
        self.host_map_days = int(corr.get("host_map_days", 7))
        # Evidence delivered late (a spool drained after an outage longer than the overlap) carries an old
        # event.ingested: a periodic full sweep re-aggregates every instance so nothing stays unseen.
        self.full_sweep = timedelta(seconds=int(corr.get("full_sweep_seconds", 3600)))
        self.events = settings.index("mcp-events-*")
        self.findings = settings.index("mcp-findings")
        self.state = settings.index("mcp-state")
        self.evidence = EvidenceAggregator(client, self.events, self.refs_per_type)

    # --- steps ---------------------------------------------------------------------------
    def host_map(self) -> HostMap:
        hosts = HostMap()
        # Only recent reports: on DHCP networks an address moves between hosts, and an old claim must not
        # make it ambiguous forever.
        recent = {"range": {"@timestamp": {"gte": f"now-{self.host_map_days}d"}}}
        query = {"bool": {"filter": [{"term": {"event.module": "agent"}}, {"exists": {"field": "host.ip"}}, recent]}}
        ips: dict[str, list[str]] = {}
        for host, ip in composite_pairs(self.client, self.events, ("host.id", "host.ip"), query):
            ips.setdefault(host, []).append(ip)
        for host, addresses in ips.items():
            hosts.add(host, addresses)
        return hosts

    @staticmethod
    def _window_filters(since: datetime | None) -> list[dict[str, Any]]:
        if since is None:
            return []
        since_iso = iso(since)
        return [
            {
                "bool": {
                    "minimum_should_match": 1,
                    "should": [
                        {"range": {"event.ingested": {"gte": since_iso}}},
                        {
                            "bool": {
                                "must_not": {"exists": {"field": "event.ingested"}},
                                "filter": {"range": {"@timestamp": {"gte": since_iso}}},
                            }
                        },
                    ],
                }
            }
        ]

    def window_stats(self, since: datetime | None) -> tuple[set[str], dict[str, KeyStats] | None]:
        """Raw keys with evidence in the window, and (when the window holds most keys) stats of every key."""
        window = self._window_filters(since)
        if since is None:
            stats = self.evidence.stats(None)
            return set(stats), stats
        if self.evidence.count_keys(window) > KEY_FILTER_MAX:
            return self.evidence.keys_and_stats(window)
        return self.evidence.keys(window), None

    def instance_stats(
        self, raw_keys: set[str], hosts: HostMap, known: dict[str, KeyStats] | None
    ) -> dict[str, InstanceAggregate]:
        """Counts and first/last seen of every instance, merged over its raw keys."""
        stats = {k: known[k] for k in raw_keys if k in known} if known is not None else self.evidence.stats(raw_keys)
        instances: dict[str, InstanceAggregate] = {}
        for raw, key_stats in stats.items():
            resolved = resolve(raw, hosts)
            instances.setdefault(resolved, InstanceAggregate(resolved)).add_stats(raw, key_stats)
        return instances

    def add_facts(self, instances: list[InstanceAggregate]) -> None:
        """Facts and evidence references of these instances, from all of their evidence."""
        raw = set().union(*(i.raw_keys for i in instances)) if instances else set()
        facts, refs = self.evidence.facts_and_refs(raw)
        for instance in instances:
            for key in instance.raw_keys:
                instance.add_facts(facts.get(key, {}))
                instance.add_refs(refs.get(key, {}), self.refs_per_type)

    def registry_affected(
        self, entries: list[RegistryEntry], changed_ids: set[str] | None
    ) -> dict[str, dict[str, Any]]:
        """Stored findings a registry change can alter: those linked to a changed (or removed) entry and those a
        changed entry now matches. An unchanged finding matched by no changed entry keeps the same candidates,
        so the same winner. `changed_ids` None (no per-entry state yet) means every finding."""
        self.client.indices.refresh(index=self.findings)
        sort = [{"finding.id": "asc"}]
        if changed_ids is None:
            return {
                hit["_id"]: hit["_source"]
                for hit in scan_sorted(self.client, self.findings, {"match_all": {}}, sort, self.page_size)
            }
        changed = [e for e in entries if e["entry_id"] in changed_ids]
        source = ["instance.key", "instance.raw_keys", "instance.facts", "registry.entry_id"]
        affected = set()
        for hit in scan_sorted(self.client, self.findings, {"match_all": {}}, sort, self.page_size, source=source):
            stored = hit["_source"]
            if stored.get("registry", {}).get("entry_id") in changed_ids:
                affected.add(hit["_id"])
            elif changed:
                facts = self._facts_for_matching(_stored_instance(stored))
                if any(matches(e, facts) for e in changed):
                    affected.add(hit["_id"])
        return self.findings_by_id(affected)

    # --- building findings ---------------------------------------------------------------
    def _facts_for_matching(self, instance: InstanceAggregate) -> InstanceFacts:
        parts = parse_key(instance.key)
        host_ids = instance.values("host_id")
        urls = []
        for url in instance.values("url"):
            try:
                urls.append(normalise_url(url))
            except Exception:  # a malformed URL in evidence simply matches no entry
                continue
        if parts["kind"] == "url":
            urls.append(parts["url"])
        ports = instance.values("dst_port")
        # A listener's bind address (0.0.0.0, 127.0.0.1) says nothing about where the server is reached.
        server_ips = [ip for ip in instance.values("dst_ip") if joinable_address(str(ip))]
        host_ips = [ip for ip in instance.values("host_ip") if joinable_address(str(ip))]
        return InstanceFacts(
            key=instance.key,
            host_id=parts.get("host_id") or (host_ids[0] if host_ids else None),
            host_ips=tuple(host_ips),
            port=parts.get("port") or (int(ports[0]) if ports else None),
            server_names=tuple(
                instance.values("server_name")
                + instance.values("cfg_name")
                + ([parts["server_name"]] if parts.get("server_name") else [])
            ),
            urls=tuple(urls),
            # A listener is reached at its host's address; a stdio server from a config has no address at all.
            server_ip=parts.get("ip")
            or (server_ips[0] if server_ips else None)
            or (host_ips[0] if host_ips and parts["kind"] == "host_port" else None),
        )

    def _registry_match(
        self, facts: InstanceFacts, entries: list[RegistryEntry], now: datetime
    ) -> RegistryEntry | None:
        candidates = [e for e in entries if matches(e, facts)]
        if not candidates:
            return None
        # An active approval wins over a pending, revoked or expired entry for the same server.
        candidates.sort(key=lambda e: (not is_active(e, now), e["entry_id"]))
        return candidates[0]

    def build_finding(self, instance: InstanceAggregate, entries: list[RegistryEntry], now: datetime) -> Finding | None:
        present = {t for t in EVIDENCE_TYPES if instance.counts.get(t)}
        if not present:
            return None  # only context records (plain conn/dns lines): not an MCP instance
        attacks = set(instance.values("attack"))
        if "attack" in present and set(NETWORK_MODULES) & set(instance.values("module")):
            present.add("network")  # an attack seen on the wire is MCP traffic seen on the wire
        facts = self._facts_for_matching(instance)
        entry = self._registry_match(facts, entries, now)
        active = entry is not None and is_active(entry, now)
        score = score_instance(present, attacks, active, self.config)
        fid = finding_id(instance.key)
        doc: Finding = {
            "finding": {
                "id": fid,
                "status": "open",
                "summary": self._summary(instance, facts, present, entry, active, attacks, now),
            },
            # unknown times ("") are dropped with the other empty fields below
            "first_seen": instance.first_seen or "",
            "last_seen": instance.last_seen or "",
            "@timestamp": instance.last_seen or "",
            "score": score.score,
            "classification": score.classification,
            "severity": score.severity,
            # Posture (0-100) with each catalogue penalty and its reason; independent of the classification.
            "trust": trust(attacks, risks_of(instance.values("risk"))),
            "instance": _instance_fields(instance),
            "host": {"id": facts.host_id, "ip": list(facts.host_ips)[:10]},
            "destination": {"ip": facts.server_ip, "port": facts.port},
            "mcp": _mcp_fields(instance),
            "evidence": _evidence_fields(instance, present),
            "attack": {"types": sorted(attacks)},
            "registry": self._registry_fields(entry, now),
            "scoring": {"contributions": score.contributions},
        }
        if not active:
            doc["suggested_entry"] = self._suggested_entry(fid, facts)
        return cast(Finding, _drop_empty(doc))

    @staticmethod
    def _registry_fields(entry: RegistryEntry | None, now: datetime) -> FindingRegistry:
        if entry is None:
            return {"match": False}
        return {
            "match": is_active(entry, now),
            "entry_id": entry["entry_id"],
            "owner": entry.get("owner"),
            "team": entry.get("team"),
            "status": effective_status(entry, now),
            "expires": entry.get("expires"),
        }

    @staticmethod
    def _suggested_entry(fid: str, facts: InstanceFacts) -> dict[str, Any]:
        server = {
            "port": facts.port,
            "ip": facts.server_ip if not facts.host_id else None,
            "name": facts.server_names[0] if facts.server_names else None,
            "url": facts.urls[0] if facts.urls else None,
        }
        return _drop_empty(
            {
                "owner": "",
                "team": "",
                "purpose": "",
                "source_finding": fid,
                "host": {"id": facts.host_id},
                "server": server,
            }
        )

    @staticmethod
    def _summary(
        instance: InstanceAggregate,
        facts: InstanceFacts,
        present: set[str],
        entry: RegistryEntry | None,
        active: bool,
        attacks: set[str],
        now: datetime,
    ) -> str:
        if active and entry is not None:
            head = f"Registered MCP server (owner {entry.get('owner')})"
        elif entry is not None:
            head = f"MCP server with a {effective_status(entry, now)} registry entry"
        else:
            head = "Unregistered MCP server"
        name = facts.server_names[0] if facts.server_names else None
        if name:
            head += f" '{name}'"
        if facts.host_id:
            where = f" on host {facts.host_id[:12]}"
            where += f" port {facts.port}" if facts.port else ""
        elif facts.server_ip:
            where = f" at {facts.server_ip}:{facts.port}"
        else:
            where = f" at {facts.urls[0]}" if facts.urls else ""
        seen = {"endpoint": "agent", "network": "network", "judge": "judge"}
        by = [seen[t] for t in ("endpoint", "network", "judge") if t in present]
        text = f"{head}{where}, seen by {' and '.join(by) or 'attack sensors'}"
        if attacks:
            text += f"; attacks: {', '.join(sorted(attacks))}"
        return text

    # --- the cycle -----------------------------------------------------------------------
    def read_state(self) -> dict[str, Any]:
        doc = self.client.get(index=self.state, id=WATERMARK_ID, ignore=[404])
        return doc["_source"]["value"] if doc.get("found") else {}

    def write_state(self, value: dict[str, Any]) -> None:
        # get-by-id is real-time, so the state needs no refresh.
        self.client.index(
            index=self.state, id=WATERMARK_ID, body={"@timestamp": iso(utcnow()), "name": WATERMARK_ID, "value": value}
        )

    def current_fingerprints(self, fingerprints: set[str]) -> set[str]:
        """Which of these evidence fingerprints a stored finding already has: a terms aggregation, so no
        document is fetched (reading 10^4 findings back would be most of a cycle)."""
        current: set[str] = set()
        ordered = sorted(fingerprints)
        for start in range(0, len(ordered), 10_000):
            chunk = ordered[start : start + 10_000]
            body = {
                "size": 0,
                "track_total_hits": False,
                "query": {"terms": {"instance.evidence_fp": chunk}},
                "aggs": {"fp": {"terms": {"field": "instance.evidence_fp", "size": len(chunk)}}},
            }
            response = self.client.search(index=self.findings, body=body, ignore_unavailable=True)
            current.update(b["key"] for b in response.get("aggregations", {}).get("fp", {}).get("buckets", []))
        return current

    def findings_by_id(self, ids: set[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        ordered = sorted(ids)
        for start in range(0, len(ordered), 1000):
            response = self.client.mget(index=self.findings, body={"ids": ordered[start : start + 1000]})
            found.update({d["_id"]: d["_source"] for d in response["docs"] if d.get("found")})
        return found

    def network_findings(self) -> Iterator[tuple[str, str]]:
        query = {"term": {"instance.kind": "net"}}
        self.client.indices.refresh(index=self.findings)
        for hit in scan_sorted(self.client, self.findings, query, [{"finding.id": "asc"}], self.page_size):
            yield hit["_id"], hit["_source"]["instance"]["key"]

    def run_once(self, actor: Actor | None = None) -> CycleResult:
        from ..registry.store import Registry

        started = utcnow()
        clock = started.timestamp()
        actor = actor or Actor("correlator", "admin")
        registry = Registry(
            self.settings,
            self.client,
            actor,
            int(self.config.registry.get("default_ttl_days", 90)),
        )
        entries = registry.all()
        expired = registry.expire_due(entries)
        if expired:
            entries = registry.all()
        state = self.read_state()
        watermark = parse_iso(state["at"]) if state.get("at") else None
        last_sweep = parse_iso(state["full_sweep_at"]) if state.get("full_sweep_at") else None
        sweep = last_sweep is None or started - last_sweep >= self.full_sweep
        if sweep:
            since = None if watermark else started - self.lookback
        else:
            since = watermark - self.overlap if watermark else started - self.lookback
        hosts = self.host_map()
        rules = suppressions.active(suppressions.load(self.settings, self.client), started)
        rules_fp = suppressions.fingerprint(rules)
        at = iso(started)
        bases: dict[str, dict[str, Any] | None] = {}  # the stored finding each written one was finalised against
        reopens: dict[str, StatusChange] = {}

        def finalise(doc: Finding, stored: dict[str, Any] | None) -> Finding:
            fid = doc["finding"]["id"]
            bases[fid] = stored
            change = self._finalise(doc, stored, at, actor.name, rules)
            if change:
                reopens[fid] = change
            else:
                reopens.pop(fid, None)
            return doc

        entry_fps = _entry_fingerprints(entries, started)
        hosts_fp = hosts.fingerprint()

        window_keys, known_stats = self.window_stats(since)
        touched = {resolve(k, hosts) for k in window_keys}
        stale_ids: set[str] = set()
        merged_into: dict[str, str] = {}  # host finding id -> a network-only finding it absorbs
        if hosts_fp != state.get("hosts_fp"):
            # New host addresses: network-only findings whose server is now a known host merge into it.
            for fid, key in self.network_findings():
                if resolve(key, hosts) != key:
                    touched.add(resolve(key, hosts))
                    stale_ids.add(fid)
                    merged_into.setdefault(finding_id(resolve(key, hosts)), fid)
        raw = set().union(*(raw_keys_of(k, hosts) for k in touched)) if touched else set()
        instances = self.instance_stats(raw, hosts, known_stats)

        fingerprints = {key: _evidence_fingerprint(instance) for key, instance in instances.items()}
        current = self.current_fingerprints(set(fingerprints.values()))
        rebuild = [instances[key] for key, fp in fingerprints.items() if fp not in current]
        self.add_facts(rebuild)
        docs = [d for d in (self.build_finding(i, entries, started) for i in rebuild) if d]
        existing = self.findings_by_id({d["finding"]["id"] for d in docs})
        # A host finding made by a merge takes over the status of the network-only finding it absorbs.
        absorbed = self.findings_by_id({merged_into[f] for f in merged_into if f not in existing})
        docs = [
            finalise(d, existing.get(d["finding"]["id"]) or absorbed.get(merged_into.get(d["finding"]["id"], "")))
            for d in docs
        ]
        changed = [d for d in docs if _differs(existing.get(d["finding"]["id"]), d)]
        rebuilt_ids = {finding_id(i.key) for i in rebuild}
        remote_ids = self._remote_findings(hosts, entries, started, finalise, changed)
        rebuilt_ids |= remote_ids
        ids = {finding_id(key) for key in instances}
        known = state.get("registry_entries")
        if known != entry_fps:
            # A changed registry (or a passing expiry date) re-scores, from their stored facts, the findings
            # it can alter; findings whose evidence changed were rebuilt above.
            changed_ids = _changed_entries(known, entry_fps) if isinstance(known, dict) else None
            for fid, old in self.registry_affected(entries, changed_ids).items():
                if fid not in rebuilt_ids and fid not in stale_ids:
                    doc = finalise(self.rescore_stored(old, entries, started), old)
                    if _differs(old, doc):
                        changed.append(doc)
        if rules_fp != state.get("suppressions_fp"):
            changed += self.reflag(rules, {d["finding"]["id"] for d in changed} | stale_ids, finalise)
        if reopens:
            from .. import audit

            audit.signing_key(self.settings)  # a reopen is recorded: no audit key stops the cycle before it writes
        if changed or stale_ids - ids:
            self.write(changed, stale_ids - ids, bases, finalise, at)
            # One refresh: the count below, dashboards and the next cycle see what was just written.
            self.client.indices.refresh(index=self.findings)
        written = {d["finding"]["id"] for d in changed}
        lifecycle.record_reopens(
            self.settings, self.client, actor, [c for fid, c in sorted(reopens.items()) if fid in written]
        )
        self.write_state(
            {
                "at": iso(started),
                "registry_entries": entry_fps,
                "hosts_fp": hosts_fp,
                "full_sweep_at": iso(started) if sweep else state.get("full_sweep_at"),
                "suppressions_fp": rules_fp,
            }
        )
        total = self.client.count(index=self.findings)["count"]
        muted = self.client.count(index=self.findings, body={"query": {"term": {"finding.suppressed": True}}})["count"]
        return CycleResult(
            len(touched),
            len(rebuild),
            total,
            len(changed),
            len(stale_ids - ids),
            expired,
            utcnow().timestamp() - clock,
            tuple(sorted(fid for fid in reopens if fid in written)),
            muted,
            tuple(sorted(stale_ids - ids)),
        )

    def _remote_findings(
        self,
        hosts: HostMap,
        entries: list[RegistryEntry],
        now: datetime,
        finalise: Callable[[Finding, dict[str, Any] | None], Finding],
        changed: list[Finding],
    ) -> set[str]:
        """ "Remote MCP service used" findings (correlate/remote.py), all rebuilt each cycle and appended to `changed`
        when they differ from the stored ones; returns their ids so the registry and suppression passes skip them."""
        from . import remote

        docs = remote.findings(self.client, self.events, hosts, entries, self.config, now, self.page_size)
        stored = self.findings_by_id({d["finding"]["id"] for d in docs})
        for doc in docs:
            old = stored.get(doc["finding"]["id"])
            finalise(doc, old)
            if _differs(old, doc):
                changed.append(doc)
        return {d["finding"]["id"] for d in docs}

    # --- cases: status and suppressions -------------------------------------------------
    @staticmethod
    def _finalise(
        doc: Finding, stored: dict[str, Any] | None, at: str, by: str, rules: list[Suppression]
    ) -> StatusChange | None:
        """Carry the stored status into a rebuilt finding, reopen it on unseen attack evidence, flag suppression."""
        lifecycle.carry(stored, doc)
        change = lifecycle.reopen_for(stored, doc, at, by)
        suppressions.apply(doc, rules)
        return change

    def reflag(
        self, rules: list[Suppression], skip: set[str], finalise: Callable[[Finding, dict[str, Any] | None], Finding]
    ) -> list[Finding]:
        """The set of active suppressions changed: every stored finding not written anyway gets its flags again."""
        self.client.indices.refresh(index=self.findings)
        out: list[Finding] = []
        for hit in scan_sorted(self.client, self.findings, {"match_all": {}}, [{"finding.id": "asc"}], self.page_size):
            if hit["_id"] in skip:
                continue
            old = hit["_source"]
            doc = cast(Finding, {k: v for k, v in old.items() if k != "updated"})
            doc["finding"] = cast(Any, dict(old.get("finding", {})))
            finalise(doc, old)
            if _differs(old, doc):
                out.append(doc)
        return out

    def _heads(self, ids: set[str]) -> dict[str, tuple[dict[str, Any], int, int]]:
        """finding id -> (its stored `finding` head, seq_no, primary_term), read just before writing."""
        found: dict[str, tuple[dict[str, Any], int, int]] = {}
        ordered = sorted(ids)
        for start in range(0, len(ordered), 1000):
            docs = [{"_id": fid, "_source": ["finding"]} for fid in ordered[start : start + 1000]]
            response = self.client.mget(index=self.findings, body={"docs": docs})
            for d in response["docs"]:
                if d.get("found"):
                    found[d["_id"]] = (d["_source"].get("finding", {}), d["_seq_no"], d["_primary_term"])
        return found

    def write(
        self,
        changed: list[Finding],
        deletes: set[str],
        bases: dict[str, dict[str, Any] | None],
        finalise: Callable[[Finding, dict[str, Any] | None], Finding],
        at: str,
        attempts: int = 5,
    ) -> None:
        """Write the findings, each only over the version whose status it carries: a status an analyst set since
        the finding was read is carried over (and the reopen rule applied to it) and the write retried."""
        from ..client import bulk_helper

        pending = {d["finding"]["id"]: d for d in changed}
        actions: list[dict[str, Any]] = [{"_op_type": "delete", "_index": self.findings, "_id": f} for f in deletes]
        for _ in range(attempts):
            heads = self._heads(set(pending))
            for fid, doc in pending.items():
                action: dict[str, Any] = {"_index": self.findings, "_id": fid}
                current = heads.get(fid)
                if current is None:
                    action["_op_type"] = "create" if bases.get(fid) is None else "index"
                else:
                    head, seq_no, primary_term = current
                    base = bases.get(fid) or {}
                    if _lifecycle(head) != _lifecycle(base.get("finding", {})):
                        finalise(doc, {**base, "finding": head})
                    action.update({"_op_type": "index", "if_seq_no": seq_no, "if_primary_term": primary_term})
                action["_source"] = {**doc, "updated": at}
                actions.append(action)
            if not actions:
                return
            _, errors = bulk_helper(self.settings).bulk(self.client, actions, raise_on_error=False, refresh=False)
            conflicts: set[str] = set()
            for item in cast(list[dict[str, Any]], errors):
                info = next(iter(item.values()))
                if info.get("status") != 409:
                    raise MCPeekerError(f"writing finding {info.get('_id')} to {self.findings} failed: {info}")
                conflicts.add(str(info["_id"]))
            pending = {fid: pending[fid] for fid in conflicts if fid in pending}
            actions = []
            if not pending:
                return
        raise MCPeekerError(f"findings {sorted(pending)[:5]} kept changing while the cycle wrote them")

    def rescore_stored(self, old: dict[str, Any], entries: list[RegistryEntry], now: datetime) -> Finding:
        """Re-evaluate a finding that saw no new evidence against the current registry."""
        doc = self.build_finding(_stored_instance(old), entries, now)
        return doc if doc is not None else cast(Finding, old)


def _instance_fields(instance: InstanceAggregate) -> FindingInstance:
    # Every fact is kept (unindexed) so a re-score without new evidence sees exactly what a fresh build saw.
    return {
        "key": instance.key,
        "kind": parse_key(instance.key)["kind"],
        "raw_keys": sorted(instance.raw_keys),
        "evidence_fp": _evidence_fingerprint(instance),
        "facts": {name: instance.values(name) for name in FACT_FIELDS if instance.facts.get(name)},
    }


def _mcp_fields(instance: InstanceAggregate) -> FindingMcp:
    return {
        "server": {
            "name": (instance.values("server_name") or [None])[0],
            "version": (instance.values("server_version") or [None])[0],
        },
        "transport": instance.values("transport"),
        "spec_era": instance.values("spec_era"),
        "protocol": {"version": instance.values("protocol_version")},
        "config": {"client": instance.values("cfg_client"), "server_name": instance.values("cfg_name")},
        "tools": {"names": sorted(set(instance.values("tool")) | set(instance.values("tools")))[:50]},
    }


def _evidence_fields(instance: InstanceAggregate, present: set[str]) -> FindingEvidence:
    counts = {t: instance.counts.get(t, 0) for t in EVIDENCE_TYPES}
    return {
        "types": sorted(present),
        "total": sum(counts.values()),
        "endpoint": counts["endpoint"],
        "network": counts["network"],
        "attack": counts["attack"],
        "judge": counts["judge"],
        # newest first per type; `refs` is all of them, for an ids query
        "refs": [ref for t in EVIDENCE_TYPES for ref in instance.refs.get(t, [])],
        "refs_by_type": cast(EvidenceRefs, {t: instance.refs[t] for t in EVIDENCE_TYPES if instance.refs.get(t)}),
        "sources": instance.values("module"),
    }


def _stored_instance(old: dict[str, Any]) -> InstanceAggregate:
    """The aggregate a stored finding was built from (its facts are kept for this), as far as `old` holds it."""
    instance = InstanceAggregate(old["instance"]["key"], set(old["instance"].get("raw_keys", [])))
    evidence = old.get("evidence", {})
    instance.counts = {t: evidence.get(t, 0) for t in EVIDENCE_TYPES}
    instance.refs = {t: list(ids) for t, ids in evidence.get("refs_by_type", {}).items()}
    instance.first_seen, instance.last_seen = old.get("first_seen"), old.get("last_seen")
    instance.facts = {name: set(values) for name, values in old["instance"].get("facts", {}).items()}
    return instance


_KEPT_EMPTY = frozenset(("match", "owner", "team", "purpose"))  # empty on purpose: shown as blanks to fill in


def _drop_empty(value: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        if type(item) is dict:
            item = _drop_empty(item)
        if (item is None or item == "" or (type(item) in (list, dict) and not item)) and key not in _KEPT_EMPTY:
            continue
        cleaned[key] = item
    return cleaned


def _differs(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    if old is None:
        return True
    return {k: v for k, v in old.items() if k != "updated"} != new


def _evidence_fingerprint(instance: InstanceAggregate) -> str:
    """Changes when the instance's evidence does. Evidence is only ever added (or aged out with its index),
    so equal counts, first and last seen over the same raw keys mean nothing new arrived."""
    parts = [
        instance.key,
        *(str(instance.counts.get(t, 0)) for t in EVIDENCE_TYPES),
        instance.first_seen or "",
        instance.last_seen or "",
        *sorted(instance.raw_keys),
        # a changed penalty table re-scores every finding once
        trust_fingerprint(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _entry_fingerprints(entries: list[RegistryEntry], now: datetime) -> dict[str, str]:
    """entry id -> what a finding shows of it; changes when the entry changes state, crosses its expiry date or
    is edited where matching or findings can see it."""

    def fingerprint(e: RegistryEntry) -> str:
        part = (
            f"{effective_status(e, now)}|{e.get('expires')}|{json.dumps(e.get('host'), sort_keys=True)}|"
            f"{json.dumps(e.get('server'), sort_keys=True)}|{e.get('owner')}|{e.get('team')}"
        )
        return hashlib.sha256(part.encode()).hexdigest()[:16]

    return {e["entry_id"]: fingerprint(e) for e in entries}


def _changed_entries(before: dict[str, str], now: dict[str, str]) -> set[str]:
    """Ids of entries added, removed or changed between two cycles."""
    return {k for k in before.keys() | now.keys() if before.get(k) != now.get(k)}


def _lifecycle(head: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(head.get(name) for name in lifecycle.LIFECYCLE_FIELDS)
