"""Suricata eve.json (`alert`, `http`, `tls`, `flow`, `fileinfo`, `anomaly`) -> evidence documents.

Alerts of our rules (msg prefix "MCPEEKER") weigh as the rule's `mcpeeker_evidence` metadata says (network or
attack, attack type from `mcpeeker_detection`, one of the catalogue's attack types; tests/catalogue/test_catalogue.py keeps
the metadata of every rule in line with its catalogue entry); every other signature is supporting context.
Alerts of suricata/mcp-remote.rules (`mcpeeker_detection remote_mcp_service`) say a client used a public remote MCP
service: context evidence with `mcpeeker.remote` (service, host, how seen), never an MCP server instance (the DNS
alert's destination is the resolver, a proxy's CONNECT goes to the proxy).
"""

from __future__ import annotations

from typing import Any

from ... import catalogue, remote_endpoints
from .. import privacy
from .common import Begin, Context, Data, Doc, RecordFn, as_ip, as_port, as_str, compiled
from .common import converter, dispatcher, id_str, network_bytes, parse_iso, put, put_instance_key
from .common import sni_domain, split_url, starter, sub_object, tables

OUR_PREFIX = "MCPEEKER"
SPEC_ERAS = {"2024": "2024-11-05", "2026": "2026-07-28"}  # rule metadata mcp_era -> the spec revision
ATTACK_TYPES = frozenset(catalogue.vocabulary()["attack_types"])  # detections/_vocabulary.yaml
REMOTE_DETECTION = "remote_mcp_service"  # suricata/mcp-remote.rules


@converter
def http_version(value: Any) -> str:
    """Suricata's `HTTP/1.1` as Zeek writes it: `1.1`."""
    return as_str(value).removeprefix("HTTP/")


_TABLES = tables("suricata")  # mappings.txt
COMMON, ALERT, HTTP, TLS = _TABLES["COMMON"], _TABLES["ALERT"], _TABLES["HTTP"], _TABLES["TLS"]
FLOW, FILEINFO, ANOMALY = _TABLES["FLOW"], _TABLES["FILEINFO"], _TABLES["ANOMALY"]


# HTTP headers Suricata may log (http.request_headers, when enabled): MCP headers are facts, Authorization is
# only a presence bit and a scheme, every other value is dropped.
MCP_HEADERS: dict[str, tuple[str, ...]] = {
    "mcp-session-id": ("mcp", "session", "id"),
    "mcp-protocol-version": ("mcp", "protocol", "version"),
    "mcp-method": ("mcp", "method", "name"),
    "mcp-name": ("mcp", "name"),
}


def _headers(doc: Doc, http: Data) -> None:
    headers = http.get("request_headers")
    if not isinstance(headers, list):
        return
    for header in headers:
        if not isinstance(header, dict):
            continue
        name = str(header.get("name", "")).lower()
        value = header.get("value")
        if name == "authorization":
            put(doc, ("mcp", "auth", "present"), True)
            if isinstance(value, str) and value.strip():
                put(doc, ("mcp", "auth", "scheme"), value.split(None, 1)[0].lower()[:32])
        elif name in MCP_HEADERS and isinstance(value, str):
            put(doc, MCP_HEADERS[name], value[:256])


_COMMON, _ALERT, _HTTP, _TLS = compiled(COMMON), compiled(ALERT), compiled(HTTP), compiled(TLS)
_FLOW, _FILEINFO, _ANOMALY = compiled(FLOW), compiled(FILEINFO), compiled(ANOMALY)


def _timestamp(data: Data) -> tuple[str, float]:
    return parse_iso(data.get("timestamp"), "timestamp")


def _start(dataset: str, kind: str, ev_type: str, ev_kind: str) -> Begin:
    """The constant part of a document of one kind, bound once (at import) rather than per record."""
    return starter(
        _timestamp,
        module="suricata",
        dataset=f"suricata.{dataset}",
        kind=kind,
        evidence_type=ev_type,
        evidence_kind=ev_kind,
    )


_ALERT_STARTS = {ev_type: _start("alert", "alert", ev_type, "alert") for ev_type in ("network", "attack", "context")}
_HTTP_START = _start("http", "event", "context", "http")
_TLS_START = _start("tls", "event", "context", "tls")
_FLOW_START = _start("flow", "event", "context", "flow")
_FILEINFO_STARTS = {
    "http": _start("fileinfo", "event", "context", "http"),
    "flow": _start("fileinfo", "event", "context", "flow"),
}
_ANOMALY_START = _start("anomaly", "event", "context", "flow")


def _doc(data: Data, start: Begin, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = start(data, file, line)
    _COMMON(doc, data)
    app = data.get("app_proto")
    if app.__class__ is str and app not in ("failed", "unknown"):
        network = doc.get("network")
        if network is None:
            doc["network"] = {"protocol": app.lower()}
        else:
            network["protocol"] = app.lower()
    return doc, epoch


def _http_part(doc: Doc, data: Data) -> None:
    http = sub_object(data, "http")
    if http:
        _HTTP(doc, http)
        split_url(doc)
        if "request_headers" in http:  # only when the sensor logs them (http.request_headers)
            _headers(doc, http)


def _server(doc: Doc, data: Data) -> tuple[Any, Any]:
    """The server end of the flow: Suricata 7 logs the flow's own direction in flow.{src,dest}_*; a to_client
    alert's packet goes server -> client, so its source is the server."""
    flow = data.get("flow")
    if isinstance(flow, dict) and flow.get("dest_ip") is not None:
        try:
            return as_ip(flow["dest_ip"]), as_port(flow.get("dest_port"))
        except (ValueError, TypeError):
            pass
    src, dst = doc.get("source", {}), doc.get("destination", {})
    if data.get("direction") == "to_client":
        return src.get("ip"), src.get("port")
    return dst.get("ip"), dst.get("port")


_MISSING = object()


def _meta_first(meta: Data, key: str) -> str | None:
    """The first value of a rule metadata key as text (Suricata logs each key as a list), None when absent or empty."""
    values = meta.get(key, _MISSING)
    if values is _MISSING:
        return None
    if isinstance(values, list):
        return str(values[0]) if values else None
    return str(values)


def alert(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    body = sub_object(data, "alert")
    signature = body.get("signature")
    ours = isinstance(signature, str) and signature.startswith(OUR_PREFIX)
    meta = body.get("metadata") if ours else None
    if not isinstance(meta, dict):
        meta = {}
    ev_type = (_meta_first(meta, "mcpeeker_evidence") or "network") if ours else "context"
    if ours and ev_type not in ("network", "attack"):
        ev_type = "network"
    remote = ours and _meta_first(meta, "mcpeeker_detection") == REMOTE_DETECTION
    if remote:
        ev_type = "context"
    doc, epoch = _doc(data, _ALERT_STARTS[ev_type], file, line)
    _ALERT(doc, body)
    put(doc, ("rule", "ruleset"), "mcpeeker" if ours else "suricata")
    if "signature_id" in body:
        put(doc, ("rule", "id"), id_str(body["signature_id"]))
    _http_part(doc, data)
    tls = sub_object(data, "tls")
    if tls:
        _TLS(doc, tls)
    if remote:
        _remote(doc, data, _meta_first(meta, "mcpeeker_seen") or "")
    elif ours:
        # doc["mcpeeker"] and its "evidence" come from the document start; no table writes below "mcpeeker".
        ours_part = doc["mcpeeker"]
        evidence = ours_part["evidence"]
        detection = _meta_first(meta, "mcpeeker_detection")
        if ev_type == "attack" and detection in ATTACK_TYPES:
            ours_part["attack"] = {"type": detection}
        if detection:
            evidence["reason"] = detection
        confidence = _meta_first(meta, "confidence")
        if confidence and confidence.lower() in ("low", "medium", "high"):
            evidence["confidence"] = confidence.lower()
        era = _meta_first(meta, "mcp_era")
        if era and era != "any":
            put(doc, ("mcp", "spec_era"), SPEC_ERAS.get(era, era))
        put_instance_key(doc, *_server(doc, data))
    payload = data.get("payload_printable")
    if isinstance(payload, str) and payload:
        put(doc, ("mcpeeker", "snippet"), privacy.snippet(payload))
    return doc, epoch


def _remote(doc: Doc, data: Data, seen: str) -> None:
    """mcpeeker.remote of a remote-service alert: the name the rule matched, and its service in the catalogue."""
    host, path = "", ""
    if seen == "dns":
        queries = sub_object(data, "dns").get("query")
        if isinstance(queries, list) and queries and isinstance(queries[0], dict):
            host = as_str(queries[0].get("rrname", ""))
    elif seen == "tls_sni":
        host = as_str(sub_object(data, "tls").get("sni", ""))
    else:
        http = sub_object(data, "http")
        host, path = as_str(http.get("hostname", "")), as_str(http.get("url", "") or "/")
    matcher = remote_endpoints.default_matcher()
    endpoint = matcher.url(host, path) if seen == "url" else matcher.host(host)
    part: dict[str, Any] = {"seen": seen, "host": host}
    if endpoint is not None:  # a name a site added to its dataset is not in the catalogue: host and seen only
        part["service"], part["dedicated"] = endpoint.service, endpoint.dedicated
    doc["mcpeeker"]["remote"] = part
    doc["mcpeeker"]["evidence"]["reason"] = REMOTE_DETECTION


def http(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _doc(data, _HTTP_START, file, line)
    _http_part(doc, data)
    return doc, epoch


def tls(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _doc(data, _TLS_START, file, line)
    body = sub_object(data, "tls")
    _TLS(doc, body)
    for key, path in (("ja3", ("tls", "client", "ja3")), ("ja3s", ("tls", "server", "ja3s"))):
        part = body.get(key)
        if isinstance(part, dict) and isinstance(part.get("hash"), str):
            put(doc, path, part["hash"])
    sni_domain(doc)
    return doc, epoch


def flow(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _doc(data, _FLOW_START, file, line)
    _FLOW(doc, sub_object(data, "flow"))
    network_bytes(doc)
    return doc, epoch


def fileinfo(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    app = data.get("app_proto")
    doc, epoch = _doc(data, _FILEINFO_STARTS["http" if app == "http" else "flow"], file, line)
    _FILEINFO(doc, sub_object(data, "fileinfo"))
    _http_part(doc, data)
    return doc, epoch


def anomaly(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _doc(data, _ANOMALY_START, file, line)
    _ANOMALY(doc, sub_object(data, "anomaly"))
    return doc, epoch


SURICATA: dict[str, RecordFn] = {
    "alert": alert,
    "http": http,
    "tls": tls,
    "flow": flow,
    "fileinfo": fileinfo,
    "anomaly": anomaly,
}

normalise_suricata = dispatcher("suricata", SURICATA, "Suricata event_type")
