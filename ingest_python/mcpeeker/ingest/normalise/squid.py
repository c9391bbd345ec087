"""Squid access.log -> evidence that a client used a public remote MCP service (issue 18).

Squid writes its native format (`logformat squid`, the default) or the Apache emulations `common` and `combined`;
all three are read, line by line:

    native    1796545532.756     31 10.1.2.3 TCP_TUNNEL/200 1943 CONNECT mcp.linear.app:443 alice HIER_DIRECT/1.2.3.4 -
    common    10.1.2.3 - alice [06/Dec/2026:08:25:32 +0000] "CONNECT mcp.linear.app:443 HTTP/1.1" 200 1943 TCP_TUNNEL:HIER_DIRECT
    combined  the common line with "referer" "user agent" before the result codes

A proxy sees every web request of the company; only the lines that name a service of the remote-endpoint catalogue
(detections/remote/endpoints.yaml, mcpeeker.remote_endpoints) become documents: a CONNECT to a host dedicated to
MCP (`mcpeeker.remote.seen` proxy_connect), or a URL (plain HTTP, or https:// from a TLS-inspecting proxy) on a
dedicated host or on an MCP path of a shared host (proxy_url). Every other line is ordinary web use: read, not
indexed. Documents carry ECS url.*, http.*, source.*, user.name (a keyed hash; Squid's user is a person) and
event.action (Squid's result code), as context evidence with `mcpeeker.remote`.

Not on the compiled hot path (ingest/native.py HOT_PATH): a proxy log holds few MCP lines.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from ... import remote_endpoints
from .. import privacy
from .common import Context, Data, NormaliseError, Output, Unsupported, doc_start, finish, put
from .remote import remote_doc

SOURCE = "squid"
RTYPE = "access"

NATIVE = re.compile(
    r"(?P<ts>\d{9,11}\.\d{1,6})\s+(?P<elapsed>-?\d+)\s+(?P<client>\S+)\s+(?P<code>[A-Z_]+)/(?P<status>\d{3})\s+"
    r"(?P<bytes>\d+)\s+(?P<method>\S+)\s+(?P<url>\S+)\s+(?P<user>\S+)\s+(?P<hierarchy>[A-Z_]+)/(?P<peer>\S+)"
    r"\s+(?P<mime>\S+)"
)
COMMON = re.compile(
    r'(?P<client>\S+)\s+(?P<ident>\S+)\s+(?P<user>\S+)\s+\[(?P<time>[^\]]+)\]\s+"(?P<method>\S+)\s+(?P<url>\S+)'
    r'(?:\s+(?P<protocol>[^"]*))?"\s+(?P<status>\d{1,3})\s+(?P<bytes>\d+)'  # status 0: Squid's own errors
    r'(?:\s+"(?P<referrer>(?:[^"\\]|\\.)*)"\s+"(?P<user_agent>(?:[^"\\]|\\.)*)")?'
    r"\s+(?P<code>[A-Z_]+):(?P<hierarchy>[A-Z_]+)"
)
FORMATS = (("native", NATIVE), ("common", COMMON))  # combined is common with its two quoted fields


def parse_line(text: str) -> dict[str, str]:
    """One access.log line as its named fields plus `format` (native, common, combined); ValueError says why not."""
    for name, pattern in FORMATS:
        m = pattern.fullmatch(text.strip())
        if m:
            fields = {k: v for k, v in m.groupdict().items() if v is not None}
            fields["format"] = "combined" if name == "common" and "user_agent" in fields else name
            return fields
    raise ValueError("not a Squid access.log line (native squid, common or combined logformat)")


def _timestamp(fields: Data) -> tuple[str, float]:
    if "ts" in fields:
        epoch = float(fields["ts"])
        moment = datetime.fromtimestamp(epoch, timezone.utc)
    else:
        try:
            moment = datetime.strptime(fields["time"], "%d/%b/%Y:%H:%M:%S %z")
        except ValueError:
            raise NormaliseError(f"field 'time': not a common-log time: {fields['time'][:40]!r}") from None
        epoch = moment.timestamp()
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"), epoch


_START = doc_start(module="squid", dataset="squid.access", kind="event", evidence_type="context", evidence_kind="proxy")


def _target(method: str, url: str) -> tuple[str, int | None, str, str, str, str]:
    """(host, port, scheme, path, query, seen) of the request line's target."""
    if method == "CONNECT":
        host, _, port = url.rpartition(":")
        if not host or not port.isdigit():
            raise NormaliseError(f"field 'url': CONNECT target is not host:port: {url[:80]!r}")
        return host.strip("[]"), int(port), "", "", "", "proxy_connect"
    parts = urlsplit(url)
    if not parts.hostname:
        return "", None, "", "", "", ""  # Squid's own error entries ("error:transaction-end-before-headers")
    try:
        url_port = parts.port
    except ValueError:
        raise NormaliseError(f"field 'url': bad port in {url[:80]!r}") from None
    return parts.hostname, url_port, parts.scheme, parts.path or "/", parts.query, "proxy_url"


def normalise_squid(rtype: str, data: Data, raw: bytes, ctx: Context, file: str, line: int) -> list[Output]:
    if rtype != RTYPE:
        raise Unsupported(f"squid record {rtype!r} is not ingested")
    method, url = data["method"], data["url"]
    host, port, scheme, path, query, seen = _target(method, url)
    if not seen:
        return []
    matcher = remote_endpoints.default_matcher()
    endpoint = matcher.host(host) if seen == "proxy_connect" else matcher.url(host, path)
    if endpoint is None:
        return []  # ordinary web use
    iso, epoch = _timestamp(data)
    doc = remote_doc(_START, iso, file, line, endpoint, seen, "Squid", "proxy")
    put(doc, ("event", "action"), data["code"])
    client = data["client"]
    try:
        put(doc, ("source", "ip"), str(ipaddress.ip_address(client)))
    except ValueError:
        put(doc, ("source", "address"), client)  # log_fqdn on: a name
    user = data.get("user", "-")
    if user != "-":
        # A proxy user name is a person: keyed hash only (Context holds the site key).
        put(doc, ("user", "name"), privacy.keyed_hash(ctx.site_key or b"", user))
    put(doc, ("http", "request", "method"), method)
    put(doc, ("http", "response", "status_code"), int(data["status"]))
    if data.get("user_agent") not in (None, "-"):
        put(doc, ("user_agent", "original"), data["user_agent"])
    put(doc, ("destination", "domain"), host)
    url_part: dict[str, Any] = {"domain": host}
    if port is not None:
        url_part["port"] = port
    if seen == "proxy_url":
        original = privacy.redact_url(url)  # query strings carry API keys (?token=...)
        url_part.update(original=original, scheme=scheme, path=path)
        if query:
            url_part["query"] = original.partition("?")[2]
    else:
        url_part["original"] = url
    doc["url"] = url_part
    return [finish(doc, ctx, epoch, SOURCE, RTYPE, raw)]


class SquidParser:
    """readers.LineParser for access.log: the text of a line -> Record("squid", "access", fields)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def parse(self, raw: bytes, line: int, end: int) -> Any:
        from ..readers import BadLine, Record

        if not raw.strip():
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return BadLine(self.file, line, end, f"not UTF-8 at byte {exc.start}", raw[:200])
        try:
            fields = parse_line(text)
        except ValueError as exc:
            return BadLine(self.file, line, end, str(exc), raw[:200])
        return Record(SOURCE, RTYPE, fields, raw, self.file, line, end)
