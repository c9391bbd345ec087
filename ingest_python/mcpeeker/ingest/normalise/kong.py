"""Kong Gateway (and Kong AI Gateway) request log -> evidence that a client used a public remote MCP service (issue 18).

Kong's logging plugins (file-log, http-log, tcp-log, udp-log, syslog) write one JSON object per request, documented at
https://developer.konghq.com/plugins/file-log/ ("Log format"): `client_ip`, `started_at` (epoch milliseconds),
`request` (method, url, uri, headers), `upstream_uri` (the path sent upstream), `service` (the upstream: protocol,
host, port, path), `response.status`, `consumer` (username, id). Only requests whose upstream is a service of the
remote-endpoint catalogue become documents: any path of a host dedicated to MCP, or an MCP path of a shared host
(`mcpeeker.remote.seen` gateway_url, scored like a proxy URL: the gateway saw the whole request). Everything else
is ordinary API traffic: read, not indexed. Documents carry ECS url.*, http.*, source.*, user.name (a keyed hash of
the consumer) as context evidence with `mcpeeker.remote`. Request headers are never stored but the user agent.

Not on the compiled hot path (ingest/native.py HOT_PATH): a gateway log holds few MCP lines.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from typing import Any

from ... import remote_endpoints
from .. import privacy
from .common import Context, Data, NormaliseError, Output, Unsupported, doc_start, finish, put, sub_object
from .remote import remote_doc

SOURCE = "kong"
RTYPE = "request"
SEEN = "gateway_url"

_START = doc_start(module="kong", dataset="kong.request", kind="event", evidence_type="context", evidence_kind="proxy")


def _timestamp(data: Data) -> tuple[str, float]:
    started = data.get("started_at")
    if isinstance(started, bool) or not isinstance(started, (int, float)):
        raise NormaliseError("field 'started_at': missing or not epoch milliseconds")
    epoch = float(started) / 1000.0
    try:
        moment = datetime.fromtimestamp(epoch, timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise NormaliseError(f"field 'started_at': {started!r} is out of range") from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"), epoch


def normalise_kong(rtype: str, data: Data, raw: bytes, ctx: Context, file: str, line: int) -> list[Output]:
    if rtype != RTYPE:
        raise Unsupported(f"kong record {rtype!r} is not ingested")
    service = sub_object(data, "service")
    host = service.get("host")
    if not isinstance(host, str) or not host:
        return []  # a request Kong answered itself (no upstream service): nothing reached a remote service
    upstream = data.get("upstream_uri")
    fallback = service.get("path")
    path: str = upstream if isinstance(upstream, str) and upstream else fallback if isinstance(fallback, str) else "/"
    endpoint = remote_endpoints.default_matcher().url(host, path)
    if endpoint is None:
        return []  # ordinary API traffic through the gateway
    iso, epoch = _timestamp(data)
    doc = remote_doc(_START, iso, file, line, endpoint, SEEN, "Kong Gateway", "gateway")
    client = data.get("client_ip")
    if isinstance(client, str) and client:
        try:
            put(doc, ("source", "ip"), str(ipaddress.ip_address(client)))
        except ValueError:
            raise NormaliseError(f"field 'client_ip': not an IP address: {client[:60]!r}") from None
    consumer = sub_object(data, "consumer")
    name = consumer.get("username") or consumer.get("custom_id")
    if isinstance(name, str) and name:
        # A consumer is a person or a team's credential: keyed hash only (Context holds the site key).
        put(doc, ("user", "name"), privacy.keyed_hash(ctx.site_key or b"", name))
    request, response = sub_object(data, "request"), sub_object(data, "response")
    if isinstance(request.get("method"), str):
        put(doc, ("http", "request", "method"), request["method"])
    status = response.get("status")
    if isinstance(status, int) and not isinstance(status, bool):
        put(doc, ("http", "response", "status_code"), status)
    headers = request.get("headers")
    agent = headers.get("user-agent") if isinstance(headers, dict) else None
    if isinstance(agent, str) and agent:
        put(doc, ("user_agent", "original"), agent[:1024])
    scheme = service.get("protocol") if isinstance(service.get("protocol"), str) else "https"
    port = service.get("port")
    put(doc, ("destination", "domain"), host)
    shown_port = "" if port in (None, 443, 80) else f":{port}"
    original = privacy.redact_url(f"{scheme}://{host}{shown_port}{path}")  # query strings carry API keys
    url: dict[str, Any] = {"domain": host, "scheme": scheme, "original": original, "path": path.partition("?")[0]}
    if isinstance(port, int) and not isinstance(port, bool):
        url["port"] = port
    if "?" in original:
        url["query"] = original.partition("?")[2]
    doc["url"] = url
    return [finish(doc, ctx, epoch, SOURCE, RTYPE, raw)]
