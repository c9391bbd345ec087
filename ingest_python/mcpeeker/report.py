"""One self-contained HTML report page for teams without Kibana (`mcpeeker report --out report.html`: cli/report.py).

Inline CSS and inline SVG charts drawn here; no script, no font, no image and no stylesheet is fetched, so
the page opens from disk with no network. Content: the Overview panels, the detections feed with a link to
each finding's evidence section, the remote MCP services matrix (services x client hosts, unapproved first) and
the registry's expiring and expired entries.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import analytics
from .client import make_client
from .settings import Settings

MAX_FINDINGS = 2000  # the page stays readable and light; the feed says when it is cut
MAX_EVIDENCE = 10000
COLOURS = {"authorized": "#2e7d32", "suspect": "#f9a825", "unauthorized": "#c62828"}
SEVERITY_COLOURS = {"info": "#607d8b", "low": "#2e7d32", "medium": "#f9a825", "high": "#ef6c00", "critical": "#b71c1c"}
# Overview panel titles: the same as the Overview dashboard's visualizations (dashboards/kibana/spec.yaml).
TITLES = {
    "classification": "Active MCP instances by classification",
    "scores": "Score distribution",
    "trend": "New findings per day",
    "hosts": "Top hosts by MCP findings",
    "unregistered": "Unregistered MCP instances",
    "attacks": "Attack evidence by type",
    "trust": "Server trust scores",
}


@dataclass
class ReportData:
    generated: str
    summary: dict[str, Any]
    scores: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    top_hosts: list[tuple[str, int, float]]
    attacks: list[tuple[str, int]]
    findings: list[dict[str, Any]]
    findings_total: int
    evidence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    verdicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    expiring: list[dict[str, Any]] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    trust: list[tuple[str, int]] = field(default_factory=list)  # (score bucket, findings)
    remote: list[dict[str, Any]] = field(default_factory=list)  # "remote MCP service used" findings


@dataclass(frozen=True)
class RemoteMatrix:
    """Remote MCP services x client hosts: a cell per (service, client) finding; unapproved rows/columns first."""

    services: list[str]
    clients: list[str]
    cells: dict[tuple[str, str], dict[str, Any]]
    unapproved: dict[str, int]  # service -> clients using it without an active approval


def remote_matrix(findings: list[dict[str, Any]]) -> RemoteMatrix:
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for f in findings:
        remote = f.get("remote") or {}
        if remote.get("service") and remote.get("client"):
            cells[(str(remote["service"]), str(remote["client"]))] = f
    unapproved_s: dict[str, int] = {}
    unapproved_c: dict[str, int] = {}
    for (service, client), f in cells.items():
        open_use = not (f.get("registry") or {}).get("match")
        unapproved_s[service] = unapproved_s.get(service, 0) + open_use
        unapproved_c[client] = unapproved_c.get(client, 0) + open_use
    services = sorted(unapproved_s, key=lambda x: (-unapproved_s[x], x))
    clients = sorted(unapproved_c, key=lambda x: (-unapproved_c[x], x))
    return RemoteMatrix(services, clients, cells, unapproved_s)


# ------------------------------------------------------------------------------------------- queries


def _exists(client: Any, index: str) -> bool:
    return bool(client.indices.exists(index=index))


def _top_hosts(client: Any, settings: Settings) -> list[tuple[str, int, float]]:
    body = {
        "size": 0,
        "aggs": {"hosts": {"terms": {"field": "host.id", "size": 10}, "aggs": {"score": {"max": {"field": "score"}}}}},
    }
    buckets = client.search(index=settings.index("mcp-findings"), body=body)["aggregations"]["hosts"]["buckets"]
    return [(b["key"], b["doc_count"], b["score"]["value"] or 0.0) for b in buckets]


def _attacks(client: Any, settings: Settings) -> list[tuple[str, int]]:
    index = settings.index("mcp-events-*")
    body = {
        "size": 0,
        "query": {"term": {"mcpeeker.evidence.type": "attack"}},
        "aggs": {"types": {"terms": {"field": "mcpeeker.attack.type", "size": 10}}},
    }
    response = client.search(index=index, body=body, allow_no_indices=True, ignore_unavailable=True)
    return [(b["key"], b["doc_count"]) for b in response.get("aggregations", {}).get("types", {}).get("buckets", [])]


def _trust(client: Any, settings: Settings) -> list[tuple[str, int]]:
    """Findings per trust-score bucket of 10 (0-9 ... 90-99, 100), as the Overview dashboard's histogram."""
    body = {
        "size": 0,
        "aggs": {
            "t": {
                "histogram": {
                    "field": "trust.score",
                    "interval": 10,
                    "min_doc_count": 0,
                    "extended_bounds": {"min": 0, "max": 100},
                }
            }
        },
    }
    response = client.search(index=settings.index("mcp-findings"), body=body)
    return [(f"{b['key']:g}", b["doc_count"]) for b in response["aggregations"]["t"]["buckets"]]


def _findings(client: Any, settings: Settings) -> tuple[list[dict[str, Any]], int]:
    body = {
        "size": MAX_FINDINGS,
        "track_total_hits": True,
        "sort": [{"last_seen": {"order": "desc", "unmapped_type": "date"}}],
        "query": {"exists": {"field": "finding.id"}},
    }
    response = client.search(index=settings.index("mcp-findings"), body=body)
    return [h["_source"] for h in response["hits"]["hits"]], response["hits"]["total"]["value"]


def _remote_findings(client: Any, settings: Settings) -> list[dict[str, Any]]:
    body = {"size": MAX_FINDINGS, "query": {"term": {"instance.kind": "remote"}}, "sort": [{"finding.id": "asc"}]}
    return [h["_source"] for h in client.search(index=settings.index("mcp-findings"), body=body)["hits"]["hits"]]


def _evidence(client: Any, settings: Settings, findings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each finding's referenced evidence documents, in one request (ids from evidence.refs)."""
    owner: dict[str, str] = {}
    for finding in findings:
        for ref in (finding.get("evidence") or {}).get("refs") or []:
            owner.setdefault(ref, finding["finding"]["id"])
    if not owner:
        return {}
    body = {
        "size": min(len(owner), MAX_EVIDENCE),
        "sort": [{"@timestamp": "asc"}],
        "query": {"ids": {"values": list(owner)[:MAX_EVIDENCE]}},
    }
    response = client.search(
        index=settings.index("mcp-events-*"), body=body, allow_no_indices=True, ignore_unavailable=True
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for hit in response["hits"]["hits"]:
        grouped.setdefault(owner[hit["_id"]], []).append(hit["_source"])
    return grouped


def _verdicts(client: Any, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    index = settings.index("mcp-feedback")
    if not _exists(client, index):
        return {}
    hits = client.search(index=index, body={"size": 5000, "sort": [{"@timestamp": "asc"}]})["hits"]["hits"]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for hit in hits:
        grouped.setdefault(hit["_source"].get("finding_id", ""), []).append(hit["_source"])
    return grouped


def _registry(client: Any, settings: Settings, days: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    index = settings.index("mcp-registry")
    if not _exists(client, index):
        return [], []
    expiring_q = {
        "bool": {
            "filter": [{"term": {"status": "approved"}}, {"range": {"expires": {"gte": "now", "lte": f"now+{days}d"}}}]
        }
    }
    expired_q = {
        "bool": {
            "should": [
                {"term": {"status": "expired"}},
                {"bool": {"filter": [{"term": {"status": "approved"}}, {"range": {"expires": {"lt": "now"}}}]}},
            ],
            "minimum_should_match": 1,
        }
    }
    sort = [{"expires": {"order": "asc", "unmapped_type": "date"}}]
    expiring = client.search(index=index, body={"size": 500, "sort": sort, "query": expiring_q})["hits"]["hits"]
    expired = client.search(index=index, body={"size": 500, "sort": sort, "query": expired_q})["hits"]["hits"]
    return [h["_source"] for h in expiring], [h["_source"] for h in expired]


def collect(client: Any, settings: Settings, expiring_days: int = 14) -> ReportData:
    findings, total = _findings(client, settings)
    expiring, expired = _registry(client, settings, expiring_days)
    return ReportData(
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        summary=analytics.summary(client, settings),
        scores=analytics.score_distribution(client, settings),
        trend=analytics.trendlines(client, settings, "1d", 30),
        top_hosts=_top_hosts(client, settings),
        attacks=_attacks(client, settings),
        findings=findings,
        findings_total=total,
        evidence=_evidence(client, settings, findings),
        verdicts=_verdicts(client, settings),
        expiring=expiring,
        expired=expired,
        trust=_trust(client, settings),
        remote=_remote_findings(client, settings),
    )


# -------------------------------------------------------------------------------------------- charts


def _e(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return html.escape("" if value is None else str(value), quote=True)


def _get(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{_e(label)}">{body}</svg>'
    )


def donut(parts: list[tuple[str, int, str]], label: str) -> str:
    total = sum(v for _, v, _ in parts)
    cx, cy, r, inner = 90, 90, 80, 48
    body, angle = [], -math.pi / 2
    for name, value, colour in parts:
        if not value:
            continue
        sweep = 2 * math.pi * value / total
        if sweep >= 2 * math.pi - 1e-9:
            body.append(
                f'<circle cx="{cx}" cy="{cy}" r="{(r + inner) / 2}" fill="none" stroke="{colour}" '
                f'stroke-width="{r - inner}"><title>{_e(name)}: {value}</title></circle>'
            )
            break
        end = angle + sweep
        large = 1 if sweep > math.pi else 0
        pts = [
            (cx + r * math.cos(angle), cy + r * math.sin(angle)),
            (cx + r * math.cos(end), cy + r * math.sin(end)),
            (cx + inner * math.cos(end), cy + inner * math.sin(end)),
            (cx + inner * math.cos(angle), cy + inner * math.sin(angle)),
        ]
        path = (
            f"M{pts[0][0]:.2f},{pts[0][1]:.2f} A{r},{r} 0 {large} 1 {pts[1][0]:.2f},{pts[1][1]:.2f} "
            f"L{pts[2][0]:.2f},{pts[2][1]:.2f} A{inner},{inner} 0 {large} 0 {pts[3][0]:.2f},{pts[3][1]:.2f} Z"
        )
        body.append(f'<path d="{path}" fill="{colour}"><title>{_e(name)}: {value}</title></path>')
        angle = end
    body.append(f'<text x="{cx}" y="{cy + 8}" text-anchor="middle" class="big">{total}</text>')
    for n, (name, value, colour) in enumerate(parts):
        y = 30 + n * 26
        body.append(
            f'<rect x="200" y="{y - 12}" width="14" height="14" fill="{colour}"/>'
            f'<text x="222" y="{y}">{_e(name)}: {value}</text>'
        )
    return _svg(380, 180, "".join(body), label)


def vbars(points: list[tuple[str, int]], label: str, colour: str = "#1565c0") -> str:
    width, height, left, bottom = 380, 180, 30, 24
    peak = max((v for _, v in points), default=0) or 1
    step = (width - left - 10) / max(len(points), 1)
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" class="axis"/>',
        f'<text x="{left - 6}" y="16" text-anchor="end" class="small">{peak}</text>',
    ]
    for n, (name, value) in enumerate(points):
        bar = (height - bottom - 20) * value / peak
        x = left + n * step + step * 0.1
        body.append(
            f'<rect x="{x:.1f}" y="{height - bottom - bar:.1f}" width="{step * 0.8:.1f}" height="{bar:.1f}" '
            f'fill="{colour}"><title>{_e(name)}: {value}</title></rect>'
        )
        if len(points) <= 24 or n % max(1, len(points) // 12) == 0:
            body.append(
                f'<text x="{x + step * 0.4:.1f}" y="{height - 8}" text-anchor="middle" class="small">{_e(name)}</text>'
            )
    return _svg(width, height, "".join(body), label)


def line(points: list[tuple[str, int]], label: str) -> str:
    width, height, left, bottom = 380, 180, 30, 24
    peak = max((v for _, v in points), default=0) or 1
    step = (width - left - 10) / max(len(points) - 1, 1)
    coords = [(left + n * step, height - bottom - (height - bottom - 20) * v / peak) for n, (_, v) in enumerate(points)]
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" class="axis"/>',
        f'<text x="{left - 6}" y="16" text-anchor="end" class="small">{peak}</text>',
    ]
    if coords:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>')
        for (x, y), (name, value) in zip(coords, points):
            if value:
                body.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#1565c0"><title>{_e(name)}: {value}'
                    f"</title></circle>"
                )
        for n in (0, len(points) // 2, len(points) - 1):
            body.append(
                f'<text x="{coords[n][0]:.1f}" y="{height - 8}" text-anchor="middle" class="small">'
                f"{_e(points[n][0][5:10])}</text>"
            )
    return _svg(width, height, "".join(body), label)


def hbars(points: list[tuple[str, int]], label: str, colour: str = "#6a1b9a") -> str:
    width, row = 380, 22
    height = max(40, row * len(points) + 10)
    peak = max((v for _, v in points), default=0) or 1
    body = []
    for n, (name, value) in enumerate(points):
        y = 5 + n * row
        bar = 180 * value / peak
        body.append(
            f'<text x="150" y="{y + 14}" text-anchor="end" class="small">{_e(name[:24])}</text>'
            f'<rect x="156" y="{y + 2}" width="{bar:.1f}" height="{row - 6}" fill="{colour}">'
            f"<title>{_e(name)}: {value}</title></rect>"
            f'<text x="{160 + bar:.1f}" y="{y + 14}" class="small">{value}</text>'
        )
    if not points:
        body.append('<text x="10" y="24">none</text>')
    return _svg(width, height, "".join(body), label)


# ---------------------------------------------------------------------------------------------- page

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1c2733}
header{background:#102a43;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#bcccdc;font-size:13px}main{padding:18px 28px}
h2{font-size:18px;margin:26px 0 10px}.grid{display:grid;grid-template-columns:repeat(3,minmax(280px,1fr));gap:14px}
.panel{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.panel h3{margin:0 0 8px;font-size:14px;color:#334e68}.metric{font-size:54px;font-weight:700;color:#c62828}
svg text{font-size:13px;fill:#1c2733}svg text.small{font-size:10px;fill:#486581}svg text.big{font-size:26px;font-weight:700}
svg .axis{stroke:#9fb3c8}table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{padding:6px 8px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}th{background:#e4e7eb}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px}
code{font-size:12px;word-break:break-all}.evidence{background:#fff;border-radius:8px;padding:10px 14px;margin:12px 0;
box-shadow:0 1px 3px rgba(0,0,0,.12)}.evidence h3{margin:4px 0;font-size:15px}.muted{color:#627d98;font-size:12px}
a{color:#0b69a3}
"""


def _badge(value: Any, colours: dict[str, str]) -> str:
    return f'<span class="badge" style="background:{colours.get(str(value), "#607d8b")}">{_e(value)}</span>'


def _short(value: Any, length: int = 12) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= length else text[:length] + "…"


def _one(value: Any) -> Any:
    """Correlation keeps some facts as lists (every transport seen ...): show the first."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _score(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value or "")


def _trust_score(f: dict[str, Any]) -> str:
    score = _get(f, "trust.score")
    return f"{score}/100" if isinstance(score, int) else ""


def _penalties(f: dict[str, Any]) -> str:
    """Each penalty with its catalogue id, points and reason (all escaped: evidence text is data)."""
    items = _get(f, "trust.penalties") or []
    if not items:
        return '<p class="muted">trust: no penalty</p>'
    rows = "".join(
        f"<li><b>{_e(p.get('detection'))}</b> "
        f'&minus;{_e(p.get("penalty"))}: {_e(p.get("reason"))} <span class="muted">({_e(p.get("evidence"))})</span></li>'
        for p in items
        if isinstance(p, dict)
    )
    return f'<p><b>Trust penalties</b></p><ul class="penalties">{rows}</ul>'


def _server(f: dict[str, Any]) -> str:
    name = str(_one(_get(f, "mcp.server.name")) or _one(_get(f, "mcp.config.server_name")) or "")
    ip, port = _one(_get(f, "destination.ip")), _one(_get(f, "destination.port"))
    where = (f"{ip}:{port}" if port is not None else str(ip)) if ip else (f"port {port}" if port is not None else "")
    return " ".join(p for p in (name, f"({where})" if where and name else where) if p)


def _overview(d: ReportData) -> str:
    s = d.summary
    parts = [(c, s["by_classification"].get(c, 0), COLOURS[c]) for c in analytics.CLASSES]
    panels = [
        (
            "unregistered",
            f'<div class="metric">{s["unregistered"]}</div><div class="muted">of {s["findings"]} '
            f"findings have no approved registry entry</div>",
        ),
        ("classification", donut(parts, TITLES["classification"])),
        ("scores", vbars([(f"{b['score']:g}", b["count"]) for b in d.scores], TITLES["scores"])),
        ("trend", line([(b["date"], b["new_findings"]) for b in d.trend], TITLES["trend"])),
        ("hosts", hbars([(_short(h, 16), n) for h, n, _ in d.top_hosts], TITLES["hosts"], "#00838f")),
        ("attacks", hbars(d.attacks, TITLES["attacks"], "#b71c1c")),
        ("trust", vbars(d.trust, TITLES["trust"], "#2e7d32")),
    ]
    cells = "".join(
        f'<div class="panel" data-panel="{key}"><h3>{_e(TITLES[key])}</h3>{body}</div>' for key, body in panels
    )
    return f'<section id="overview"><h2>Overview</h2><div class="grid">{cells}</div></section>'


def _feed(d: ReportData) -> str:
    rows = []
    for f in d.findings:
        fid = f["finding"]["id"]
        registry = f.get("registry") or {}
        reg = f"yes ({_e(registry.get('owner'))}/{_e(registry.get('team'))})" if registry.get("match") else "no"
        rows.append(
            f'<tr class="finding-row" data-finding="{_e(fid)}"><td><a href="#finding-{_e(fid)}">{_e(fid)}</a></td>'
            f"<td>{_e(str(f.get('last_seen', ''))[:16].replace('T', ' '))}</td>"
            f"<td><code>{_e(_short(_one(_get(f, 'host.id'))))}</code></td><td>{_e(_server(f))}</td>"
            f"<td>{_e(_score(f.get('score')))}</td><td>{_e(_trust_score(f))}</td>"
            f"<td>{_badge(f.get('classification'), COLOURS)}</td><td>{_badge(f.get('severity'), SEVERITY_COLOURS)}</td>"
            f"<td>{_e(', '.join((f.get('evidence') or {}).get('types') or []))}</td><td>{reg}</td></tr>"
        )
    cut = (
        f'<p class="muted">Showing the newest {len(d.findings)} of {d.findings_total} findings.</p>'
        if d.findings_total > len(d.findings)
        else ""
    )
    head = (
        "<tr><th>finding</th><th>last seen</th><th>host</th><th>server</th><th>score</th><th>trust</th><th>classification</th>"
        "<th>severity</th><th>evidence</th><th>registry</th></tr>"
    )
    return (
        f'<section id="feed"><h2>Detections feed</h2>{cut}<table id="feed-table"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _evidence_row(e: dict[str, Any]) -> str:
    what = _one(
        _get(e, "rule.name")
        or _get(e, "mcp.method.name")
        or _get(e, "mcp.config.server_name")
        or _get(e, "mcpeeker.evidence.reason")
        or ""
    )
    return (
        f"<tr><td>{_e(str(e.get('@timestamp', ''))[:19].replace('T', ' '))}</td>"
        f"<td>{_e(_get(e, 'event.dataset'))}</td><td>{_e(_get(e, 'mcpeeker.evidence.type'))}</td>"
        f"<td>{_e(_get(e, 'mcpeeker.attack.type') or '')}</td><td>{_e(what)}</td>"
        f"<td><code>{_e(_short(_one(_get(e, 'mcpeeker.snippet')), 160))}</code></td></tr>"
    )


def _evidence_sections(d: ReportData) -> str:
    sections = []
    for f in d.findings:
        fid = f["finding"]["id"]
        rows = "".join(_evidence_row(e) for e in d.evidence.get(fid, []))
        verdicts = "".join(
            f"<li>{_e(str(v.get('@timestamp', ''))[:16].replace('T', ' '))} <b>{_e(v.get('verdict'))}</b> "
            f"by {_e(_get(v, 'actor.name'))}: {_e(v.get('note'))}</li>"
            for v in d.verdicts.get(fid, [])
        )
        counts = f.get("evidence") or {}
        attack = ", ".join(_get(f, "attack.types") or []) or "none"
        sections.append(
            f'<div class="evidence" id="finding-{_e(fid)}"><h3>{_e((f.get("finding") or {}).get("summary") or fid)}</h3>'
            f'<p class="muted">finding {_e(fid)} · instance <code>{_e(_get(f, "instance.key"))}</code> · score '
            f"{_e(_score(f.get('score')))} · {_badge(f.get('classification'), COLOURS)} {_badge(f.get('severity'), SEVERITY_COLOURS)}"
            f" · first seen {_e(f.get('first_seen'))} · evidence: endpoint {_e(counts.get('endpoint', 0))}, network "
            f"{_e(counts.get('network', 0))}, attack {_e(counts.get('attack', 0))}, judge {_e(counts.get('judge', 0))}"
            f" · attack types: {_e(attack)} · trust {_e(_trust_score(f) or 'n/a')}</p>"
            + _penalties(f)
            + (
                f"<table><thead><tr><th>time</th><th>dataset</th><th>type</th><th>attack</th><th>what</th>"
                f"<th>snippet</th></tr></thead><tbody>{rows}</tbody></table>"
                if rows
                else '<p class="muted">no referenced evidence documents in the events indices</p>'
            )
            + (f"<p><b>Verdicts</b></p><ul>{verdicts}</ul>" if verdicts else "")
            + '<p><a href="#feed">back to the feed</a></p></div>'
        )
    return f'<section id="evidence"><h2>Evidence</h2>{"".join(sections)}</section>'


def _remote_entry(e: dict[str, Any]) -> str:
    remote = e.get("remote") or {}
    return f"remote {remote.get('service') or remote.get('host')}" if remote else ""


MAX_REMOTE_CLIENTS = 40  # matrix columns; the rest are counted


def _remote_section(d: ReportData) -> str:
    m = remote_matrix(d.remote)
    if not m.services:
        return '<section id="remote-services"><h2>Remote MCP services</h2><p class="muted">none seen</p></section>'
    clients = m.clients[:MAX_REMOTE_CLIENTS]
    cut = (
        f'<p class="muted">Showing {len(clients)} of {len(m.clients)} client hosts (unapproved use first).</p>'
        if len(m.clients) > len(clients)
        else ""
    )
    head = "<tr><th>service</th><th>vendor</th><th>unapproved</th>" + "".join(
        f'<th><code title="{_e(c)}">{_e(_short(c))}</code></th>' for c in clients
    )
    rows = []
    for service in m.services:
        any_f = next(f for (s, _), f in m.cells.items() if s == service)
        remote = any_f.get("remote") or {}
        cells = []
        for c in clients:
            f = m.cells.get((service, c))
            if f is None:
                cells.append("<td></td>")
                continue
            approved = bool((f.get("registry") or {}).get("match"))
            label = f"{'approved' if approved else 'unapproved'} {_get(f, 'remote.seen')}"
            cells.append(
                f'<td data-client="{_e(c)}" data-approved="{str(approved).lower()}">'
                f'<a href="#finding-{_e(f["finding"]["id"])}">{_badge(f.get("classification"), COLOURS)}</a> '
                f"{_e(label)}</td>"
            )
        rows.append(
            f'<tr class="remote-row" data-service="{_e(service)}"><td>{_e(remote.get("name") or service)} '
            f'<span class="muted">{_e(remote.get("host"))}</span></td><td>{_e(remote.get("vendor"))}</td>'
            f"<td>{m.unapproved[service]}</td>{''.join(cells)}</tr>"
        )
    return (
        f'<section id="remote-services"><h2>Remote MCP services</h2>{cut}<table id="remote-table"><thead>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _registry_table(entries: list[dict[str, Any]], table_id: str) -> str:
    if not entries:
        return f'<p class="muted" id="{table_id}">none</p>'
    rows = "".join(
        f"<tr><td>{_e(e.get('entry_id'))}</td><td>{_e(e.get('status'))}</td><td>{_e(e.get('owner'))}</td>"
        f"<td>{_e(e.get('team'))}</td><td>{_e(_get(e, 'server.name') or _get(e, 'server.url') or _remote_entry(e))}</td>"
        f"<td>{_e(str(e.get('expires', ''))[:10])}</td></tr>"
        for e in entries
    )
    return (
        f'<table id="{table_id}"><thead><tr><th>entry</th><th>status</th><th>owner</th><th>team</th><th>server</th>'
        f"<th>expires</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def render(d: ReportData, expiring_days: int = 14) -> str:
    s = d.summary
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>MCPeeker report</title><style>{CSS}</style></head><body>"
        f"<header><h1>MCPeeker report</h1><p>Generated {_e(d.generated)} · {s['findings']} findings · "
        f"{s['hosts']} hosts · {s['with_attack_evidence']} with attack evidence</p></header><main>"
        + _overview(d)
        + _feed(d)
        + _remote_section(d)
        + f'<section id="registry"><h2>Registry: expiring within {expiring_days} days</h2>'
        + _registry_table(d.expiring, "registry-expiring")
        + "<h2>Registry: expired</h2>"
        + _registry_table(d.expired, "registry-expired")
        + "</section>"
        + _evidence_sections(d)
        + "</main></body></html>"
    )


def write_report(settings: Settings, out: Path, expiring_days: int = 14, client: Any | None = None) -> ReportData:
    client = client or make_client(settings)
    data = collect(client, settings, expiring_days)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data, expiring_days), encoding="utf-8")
    return data


FEED_COLUMNS = ("finding", "host", "server", "score", "trust", "classification", "severity")


def feed_rows(data: ReportData, limit: int = 50) -> list[tuple[str, ...]]:
    """The newest findings as plain text cells (FEED_COLUMNS), for a terminal table."""
    return [
        tuple(
            str(v)
            for v in (
                f["finding"]["id"],
                _short(_one(_get(f, "host.id"))),
                _server(f),
                _score(f.get("score")),
                _trust_score(f),
                f.get("classification"),
                f.get("severity"),
            )
        )
        for f in data.findings[:limit]
    ]
