"""The agent's outbox and sender against a real HTTP server (stdlib http.server in a thread): order, retry on
503, bounded disk, rejected reports set aside."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mcpeeker_agent.outbox import Outbox, Shipper


class Server:
    def __init__(self, answers: list[int]) -> None:
        self.answers = answers  # status per request, in turn; 202 once exhausted
        self.received: list[tuple[str, str]] = []  # (scan id, authorization header)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = outer.answers.pop(0) if outer.answers else 202
                outer.received.append((json.loads(body)["scan_id"], self.headers.get("Authorization", "")))
                payload = b'{"error": "field \'host_id\': bad"}' if status == 422 else b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    made: list[Server] = []

    def make(answers: list[int]) -> Server:
        made.append(Server(answers))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _report(n: int) -> bytes:
    return json.dumps({"scan_id": f"scan-{n:04d}", "n": n}).encode()


def test_sent_in_order_with_retries_on_503(tmp_path, server):
    srv = server([503, 503])
    box = Outbox(tmp_path / "outbox")
    for n in range(4):
        box.put(_report(n), f"scan-{n:04d}")
    shipper = Shipper(srv.url, "mcpk_token", retries=3, backoff_base=0.01)
    result = shipper.drain(box)
    assert (result.sent, result.left, result.error) == (4, 0, None)
    assert [r[0] for r in srv.received] == ["scan-0000"] * 3 + ["scan-0001", "scan-0002", "scan-0003"]
    assert {r[1] for r in srv.received} == {"Bearer mcpk_token"}
    assert box.pending() == []


def test_unavailable_keeps_the_rest_in_order(tmp_path, server):
    srv = server([202, 503, 503])
    box = Outbox(tmp_path / "outbox")
    for n in range(3):
        box.put(_report(n), f"scan-{n:04d}")
    result = Shipper(srv.url, "t", retries=1, backoff_base=0.01).drain(box)
    assert result.sent == 1 and result.left == 2 and "503" in result.error
    assert [p.read_bytes() for p in box.pending()] == [_report(1), _report(2)]  # unchanged bytes, same order


def test_auth_refusal_keeps_everything(tmp_path, server):
    srv = server([401])
    box = Outbox(tmp_path / "outbox")
    box.put(_report(0), "scan-0000")
    result = Shipper(srv.url, "t", retries=3, backoff_base=0.01).drain(box)
    assert result.sent == 0 and result.left == 1 and "401" in result.error
    assert len(srv.received) == 1  # an auth refusal is not retried


def test_invalid_report_is_set_aside(tmp_path, server):
    srv = server([422])
    box = Outbox(tmp_path / "outbox")
    box.put(_report(0), "scan-0000")
    box.put(_report(1), "scan-0001")
    result = Shipper(srv.url, "t", backoff_base=0.01).drain(box)
    assert (result.sent, result.rejected) == (1, 1)
    rejected = list((tmp_path / "outbox" / "rejected").glob("*.json"))
    assert len(rejected) == 1 and rejected[0].read_bytes() == _report(0)
    assert "field 'host_id'" in rejected[0].with_suffix(".reason").read_text()


def test_outbox_is_bounded_and_atomic(tmp_path, capsys):
    box = Outbox(tmp_path / "outbox", max_reports=3)
    (tmp_path / "outbox" / "00000000000000000001-half.tmp").write_bytes(b'{"scan_id": "half')  # a crash mid-write
    box = Outbox(tmp_path / "outbox", max_reports=3)
    assert not list((tmp_path / "outbox").glob("*.tmp"))
    for n in range(5):
        box.put(_report(n), f"scan-{n:04d}")
    assert [p.read_bytes() for p in box.pending()] == [_report(2), _report(3), _report(4)]
    assert "dropped the oldest" in capsys.readouterr().err
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in box.pending())


def test_ship_url_must_be_http(tmp_path):
    with pytest.raises(ValueError, match="collector's URL"):
        Shipper("ftp://collector", "t")
    assert Shipper("https://c.example:8443", "t").url == "https://c.example:8443/api/v1/reports"
