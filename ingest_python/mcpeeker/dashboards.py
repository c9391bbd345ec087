"""Our saved objects into Kibana 8.x or OpenSearch Dashboards 2.x (`mcpeeker dashboards`, cli/dashboards.py).

`install` posts the NDJSON to the product's saved-objects import API (multipart field `file`) with the
header each product requires (`kbn-xsrf` / `osd-xsrf`). `overwrite=true` replaces existing objects with
the same ids; every id in our file starts with `mcpeeker-`, so only our own objects are overwritten.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MCPeekerError
from .kibana_objects import FLAVOURS, ID_PREFIX, NDJSON_NAMES, build, load_spec, to_ndjson
from .settings import Settings

XSRF_HEADER = {"kibana": "kbn-xsrf", "opensearch-dashboards": "osd-xsrf"}


@dataclass(frozen=True)
class ImportResult:
    success: bool
    success_count: int
    errors: list[dict[str, Any]]


def multipart_body(ndjson: str, filename: str = "mcpeeker.ndjson") -> tuple[bytes, str]:
    """A multipart/form-data body with the one `file` field the import API reads."""
    boundary = f"----mcpeeker{uuid.uuid4().hex}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    body = head + ndjson.encode("utf-8") + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    # The cluster's context: same CA, client certificate and checks, and the same loud --insecure warning.
    from .client import tls_context, warn_insecure

    warn_insecure(settings)
    return tls_context(settings)


def _auth_header(settings: Settings) -> dict[str, str]:
    if settings.api_key:
        return {"Authorization": f"ApiKey {settings.api_key}"}
    if settings.username:
        token = base64.b64encode(f"{settings.username}:{settings.password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def import_url(base_url: str, space: str | None) -> str:
    base = base_url.rstrip("/")
    if space:
        base = f"{base}/s/{space}"
    return f"{base}/api/saved_objects/_import?overwrite=true"


def install(base_url: str, flavour: str, ndjson: str, settings: Settings, space: str | None = None) -> ImportResult:
    ids = [json.loads(line)["id"] for line in ndjson.splitlines() if line.strip()]
    foreign = [i for i in ids if not i.startswith(ID_PREFIX)]
    if foreign:
        # overwrite=true must never replace somebody else's objects.
        raise MCPeekerError(f"refusing to import objects whose id lacks the {ID_PREFIX!r} prefix: {foreign[:5]}")
    body, content_type = multipart_body(ndjson)
    headers = {"Content-Type": content_type, XSRF_HEADER[flavour]: "true", **_auth_header(settings)}
    request = urllib.request.Request(import_url(base_url, space), data=body, headers=headers, method="POST")
    context = _ssl_context(settings) if base_url.startswith("https") else None
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout, context=context) as response:
            payload = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        raise MCPeekerError(f"saved-objects import at {base_url} failed: HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise MCPeekerError(f"cannot reach {base_url}: {exc}") from exc
    return ImportResult(
        bool(payload.get("success")), int(payload.get("successCount", 0)), list(payload.get("errors") or [])
    )


def export(out_dir: Path, spec_path: Path | None = None, index_prefix: str = "") -> list[Path]:
    spec = load_spec(spec_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for flavour in FLAVOURS:
        path = out_dir / NDJSON_NAMES[flavour]
        path.write_text(to_ndjson(build(spec, flavour, index_prefix)), encoding="utf-8")
        written.append(path)
    return written
