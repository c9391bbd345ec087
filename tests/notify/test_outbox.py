"""The outbox on disk: dedup against waiting and delivered messages, what a crash can leave behind (a torn message
file, a torn ledger line, leftover temp files) and the dedup window."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from mcpeeker.notify.events import Event
from mcpeeker.notify.outbox import Outbox


def event(subject: str = "f1") -> Event:
    return Event("new_unauthorized", subject, "1", "high", "unauthorized", "host-a", "2026-12-06T08:00:00.000Z")


def test_dedup_waiting_and_delivered(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, dedup_window=3600)
    assert outbox.put("c", event()) and not outbox.put("c", event())  # waiting
    assert outbox.put("other", event())  # dedup is per channel
    outbox.flush()
    [path] = outbox.pending("c")
    outbox.mark_delivered("c", [event().dedup_key])
    outbox.remove(path)
    restarted = Outbox(tmp_path, dedup_window=3600)
    assert not restarted.put("c", event()) and restarted.was_delivered("c", "f1:new_unauthorized:1")
    assert restarted.put("c", event("f2"))


def test_what_a_crash_leaves_behind(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, dedup_window=3600)
    outbox.put("c", event())
    [path] = outbox.pending("c")
    path.write_bytes(b"")  # renamed, but its bytes never reached the disk
    (path.parent / "half.json.tmp").write_bytes(b"{")
    with (tmp_path / "delivered.log").open("ab") as log:
        log.write(orjson.dumps({"c": "c", "k": "old", "t": time.time() - 7200}) + b"\n")
        log.write(orjson.dumps({"c": "c", "k": "kept", "t": time.time()}) + b"\n")
        log.write(b'{"c": "c", "k": "tor')  # the process died mid-append
    restarted = Outbox(tmp_path, dedup_window=3600)
    assert not (path.parent / "half.json.tmp").exists()
    assert restarted.put("c", event())  # the torn message does not block its own re-queueing
    assert [Outbox.read(p) is not None for p in restarted.pending("c")] == [True]
    assert restarted.was_delivered("c", "kept") and not restarted.was_delivered("c", "old")
    assert (tmp_path / "delivered.log").read_bytes().count(b"\n") == 1  # compacted to the dedup window
