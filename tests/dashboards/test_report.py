"""`mcpeeker report`: the page is self-contained and renders in a real browser (Debian's chromium, headless)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mcpeeker import cli
from mcpeeker.client import make_client
from mcpeeker.kibana_objects import load_spec
from mcpeeker.report import TITLES

from .objects import REPO_ROOT
from .seed import Seeded

pytestmark = pytest.mark.opensearch
SCREENSHOT_COPY = REPO_ROOT / "docs" / "report-screenshot.png"
# Every request the page might make goes to a closed port: the page must render without any.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium not installed: scripts/install-debs.sh installs it (apt-get install chromium)")
    return path


def _browser(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr[-2000:]}"
    return result


class DomSummary(HTMLParser):
    """What the test reads from the browser's DOM: panel titles, feed rows, anchors and their targets."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.feed_links: list[str] = []
        self.hrefs: list[str] = []
        self.finding_rows = 0
        self.h3: list[str] = []
        self.fetching: list[str] = []
        self._in_h3 = False
        self._in_feed = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "table" and a.get("id") == "feed-table":
            self._in_feed = True
        if tag == "tr" and "finding-row" in (a.get("class") or "").split():
            self.finding_rows += 1
        if a.get("href") is not None:
            self.hrefs.append(a["href"] or "")
        if tag == "a" and self._in_feed and a.get("href"):
            self.feed_links.append(a["href"] or "")
        if tag in ("script", "link", "img", "iframe", "object", "embed") or a.get("src"):
            self.fetching.append(tag)
        self._in_h3 = tag == "h3"

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_feed = False
        if tag == "h3":
            self._in_h3 = False

    def handle_data(self, data: str) -> None:
        if self._in_h3:
            self.h3.append(data.strip())


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG into rows of raw pixel bytes (zlib + the five PNG row filters)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), f"unexpected PNG format depth={depth} colour={colour}"
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


def _pixel_stats(png: bytes) -> tuple[float, int]:
    width, bpp, rows = png_pixels(png)
    values, colours = [], set()
    for row in rows[::4]:
        for x in range(0, width * bpp, bpp * 4):
            r, g, b = row[x], row[x + 1], row[x + 2]
            values.append(0.299 * r + 0.587 * g + 0.114 * b)
            colours.add((r // 16, g // 16, b // 16))
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5, len(colours)


@pytest.fixture(scope="module")
def report(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert (
        cli.main(
            [
                "report",
                "--out",
                str(out),
                "--quiet",
                "--url",
                seeded.settings.url,
                "--index-prefix",
                seeded.settings.index_prefix,
            ]
        )
        == 0
    )
    return out


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    page = DomSummary()
    page.feed(text)
    assert page.fetching == [], f"elements that load something: {page.fetching}"
    assert page.hrefs and all(h.startswith("#") for h in page.hrefs), "only in-page links"
    assert "url(" not in text and "@import" not in text  # no stylesheet fetch
    assert "<svg" in text


def test_overview_titles_match_the_dashboard() -> None:
    spec = load_spec()
    overview = {spec["visualizations"][p]["title"] for p in spec["dashboards"]["overview"]["panels"]}
    assert set(TITLES.values()) == overview


def test_report_in_headless_chromium(seeded: Seeded, report: Path, tmp_path: Path) -> None:
    dom = _browser(["--dump-dom", report.resolve().as_uri()], tmp_path / "profile-dom").stdout
    page = DomSummary()
    page.feed(dom)
    for title in TITLES.values():
        assert title in page.h3, f"panel {title!r} missing from the rendered DOM"
    client = make_client(seeded.settings)
    in_index = client.count(index=seeded.settings.index("mcp-findings"))["count"]
    assert in_index == len(seeded.findings)
    assert page.finding_rows == in_index
    anchors = [link for link in page.feed_links if link.startswith("#finding-")]
    assert len(anchors) == in_index
    assert all(link[1:] in page.ids for link in anchors), "a feed link points to no evidence section"
    assert {"registry-expiring", "registry-expired", "overview", "feed"} <= page.ids
    assert page.fetching == []
    expiring = dom.split('id="registry-expiring"', 1)[1].split("</table>", 1)[0]
    assert "dave" in expiring and "judy" in expiring and "frank" not in expiring  # 5 and 12 days; expired

    shot = tmp_path / "report.png"
    _browser([f"--screenshot={shot}", "--window-size=1400,1800", report.resolve().as_uri()], tmp_path / "profile-png")
    stddev, colours = _pixel_stats(shot.read_bytes())
    assert stddev > 10 and colours > 20, f"screenshot looks blank: luminance stddev {stddev:.1f}, {colours} colours"
    # The README's picture: written when missing, refreshed on request (keeps test runs from dirtying the tree).
    if not SCREENSHOT_COPY.exists() or os.environ.get("MCPEEKER_UPDATE_SCREENSHOT"):
        SCREENSHOT_COPY.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT_COPY)


def test_png_decoder_detects_a_blank_image() -> None:
    # The blank check must be able to fail: a uniform white 8x8 RGB PNG has no variance.
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + b"\xff" * 24 for _ in range(8))
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    stddev, colours = _pixel_stats(png)
    assert stddev == 0 and colours == 1


def test_report_and_analytics_on_empty_indices(
    os_settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh installation (templates, no data yet) gives an empty but valid report, not a crash."""
    out = tmp_path / "empty.html"
    conn = ["--url", os_settings.url, "--index-prefix", os_settings.index_prefix]
    assert cli.main(["report", "--out", str(out), "--quiet", *conn]) == 0
    page = DomSummary()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.finding_rows == 0 and set(TITLES.values()) <= set(page.h3)
    for analytic in ("summary", "score-distribution", "trendlines", "coverage"):
        assert cli.main(["analytics", analytic, "--json", *conn]) == 0
