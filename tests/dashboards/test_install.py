"""`mcpeeker dashboards install` against a real local HTTP server that enforces the saved-objects import
contract of Kibana / OpenSearch Dashboards (xsrf header, multipart `file` field) and records each request."""

from __future__ import annotations

import base64
import json
import threading
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from mcpeeker import cli
from mcpeeker.kibana_objects import NDJSON_NAMES, build, load_spec, to_ndjson

XSRF = {"kibana": "kbn-xsrf", "opensearch-dashboards": "osd-xsrf"}


class ImportServer:
    """Accepts POST /api/saved_objects/_import (optionally under /s/<space>) like the products do."""

    def __init__(self, flavour: str, fail_ids: set[str] | None = None) -> None:
        self.flavour = flavour
        self.fail_ids = fail_ids or set()
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                status, payload = server.answer(self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        url = urlsplit(path)
        if not url.path.endswith("/api/saved_objects/_import"):
            return 404, {"statusCode": 404, "error": "Not Found"}
        if headers.get(XSRF[self.flavour]) is None:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a xsrf header."}
        content_type = headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            return 415, {"statusCode": 415, "error": "Unsupported Media Type"}
        message = BytesParser(policy=policy.default).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        if "file" not in parts or not parts["file"].get_filename("").endswith(".ndjson"):
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "[request body.file]: expected .ndjson"}
        objects = [json.loads(line) for line in parts["file"].get_content().splitlines() if line.strip()]
        errors = [
            {"id": o["id"], "type": o["type"], "error": {"type": "unknown"}}
            for o in objects
            if o["id"] in self.fail_ids
        ]
        return 200, {"success": not errors, "successCount": len(objects) - len(errors), "errors": errors}

    def __enter__(self) -> "ImportServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=["kibana", "opensearch-dashboards"])
def server(request: pytest.FixtureRequest) -> Iterator[ImportServer]:
    with ImportServer(request.param) as srv:
        yield srv


def _flag(flavour: str) -> str:
    return "--kibana-url" if flavour == "kibana" else "--dashboards-url"


def _uploaded(request: dict[str, Any]) -> tuple[str, str]:
    message = BytesParser(policy=policy.default).parsebytes(
        f"Content-Type: {request['headers']['content-type']}\r\n\r\n".encode() + request["body"]
    )
    part = next(message.iter_parts())
    return part.get_content_type(), part.get_payload(decode=True).decode("utf-8")


def test_install_posts_the_generated_objects(server: ImportServer) -> None:
    assert cli.main(["dashboards", "install", _flag(server.flavour), server.url]) == 0
    [request] = server.requests
    url = urlsplit(request["path"])
    assert url.path == "/api/saved_objects/_import"
    assert parse_qs(url.query) == {"overwrite": ["true"]}
    assert request["headers"][XSRF[server.flavour]] == "true"
    other = XSRF["kibana" if server.flavour != "kibana" else "opensearch-dashboards"]
    assert other not in request["headers"]
    content_type, content = _uploaded(request)
    assert content_type == "application/ndjson"
    assert content == to_ndjson(build(load_spec(), server.flavour))
    assert "authorization" not in request["headers"]


def test_install_uses_auth_space_and_prefix(server: ImportServer) -> None:
    code = cli.main(
        [
            "dashboards",
            "install",
            _flag(server.flavour),
            server.url + "/",
            "--space",
            "soc",
            "--username",
            "elastic",
            "--password",
            "s3cret",
            "--index-prefix",
            "lab-",
        ]
    )
    assert code == 0
    [request] = server.requests
    assert urlsplit(request["path"]).path == "/s/soc/api/saved_objects/_import"
    assert request["headers"]["authorization"] == "Basic " + base64.b64encode(b"elastic:s3cret").decode()
    titles = [json.loads(line)["attributes"].get("title") for line in _uploaded(request)[1].splitlines()]
    assert "lab-mcp-events-*" in titles and "lab-mcp-findings" in titles


def test_install_reports_failed_objects() -> None:
    with ImportServer("kibana", fail_ids={"mcpeeker-vis-overview-classification"}) as srv:
        assert cli.main(["dashboards", "install", "--kibana-url", srv.url]) == 1


def test_install_refuses_foreign_ids(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.ndjson"
    foreign.write_text(json.dumps({"id": "someone-elses-dashboard", "type": "dashboard", "attributes": {}}) + "\n")
    with ImportServer("kibana") as srv:
        assert cli.main(["dashboards", "install", "--kibana-url", srv.url, "--file", str(foreign)]) == 2
        assert srv.requests == []


def test_install_without_xsrf_is_what_the_server_rejects() -> None:
    # The recording server enforces the header: a request without it gets the products' 400.
    import urllib.error
    import urllib.request

    with ImportServer("opensearch-dashboards") as srv:
        request = urllib.request.Request(
            srv.url + "/api/saved_objects/_import?overwrite=true",
            data=b"x",
            method="POST",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 400


def test_export_writes_both_files(tmp_path: Path) -> None:
    assert cli.main(["dashboards", "export", "--out", str(tmp_path)]) == 0
    for flavour, name in NDJSON_NAMES.items():
        assert (tmp_path / name).read_text() == to_ndjson(build(load_spec(), flavour))
