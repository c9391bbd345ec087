"""The notifier's persistent outbox (the agent's outbox pattern: temp file, rename, fsync of file and directory;
a cycle's batch is made durable by flush() before the notifier's memory records its events as queued).

<root>/outbox/<channel>/<ns>-<key hash>.json   messages waiting for delivery, oldest first
<root>/held/<channel>/...                      held back by the throttle, for the next digest
<root>/dead/<channel>/... (+ .reason)          dead letters: a permanent failure or too many transient ones
<root>/delivered.log                           channel + dedup key + time of every delivery (fsync'd per line)
<root>/throttle.json                           send times per channel and per channel+host, last digest times

A message is enqueued only if its (channel, dedup key) is neither waiting nor delivered within the dedup window,
and leaves the outbox only after its delivery is in delivered.log: a crash at any point loses nothing, and the
only message that can be delivered twice is the one in flight when the process died (it carries the same
X-MCPeeker-Delivery / dedup key both times).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from .events import Event


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def key_hash(channel: str, dedup_key: str) -> str:
    return hashlib.sha256(f"{channel}\0{dedup_key}".encode()).hexdigest()[:24]


@dataclass
class Message:
    path: Path
    channel: str
    event: Event
    attempts: int
    created: float
    last_error: str = ""

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "channel": self.channel,
                "dedup_key": self.event.dedup_key,
                "event": self.event.to_json(),
                "attempts": self.attempts,
                "created": self.created,
                "last_error": self.last_error,
            }
        )


class Outbox:
    def __init__(self, root: Path, dedup_window: float) -> None:
        self.root, self.window = root, dedup_window
        for sub in ("outbox", "held", "dead"):
            (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        for tmp in root.rglob("*.tmp"):  # a crash mid-write: that file was never complete
            tmp.unlink(missing_ok=True)
        self.log_path = root / "delivered.log"
        self.delivered: dict[tuple[str, str], float] = {}
        self.waiting: dict[str, set[str]] = {}  # channel -> key hashes in outbox/ or held/
        self.unsynced: list[Path] = []  # queued since the last flush()
        self._load_log()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One notifier at a time per outbox (`correlate --every` and a manual `notify run`)."""
        with open(self.root / "lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- the delivered ledger -------------------------------------------------------------------------------------
    def _load_log(self) -> None:
        horizon = time.time() - self.window
        kept: dict[tuple[str, str], float] = {}
        stale = False
        if self.log_path.exists():
            for line in self.log_path.read_bytes().splitlines():
                try:
                    item = orjson.loads(line)
                    at = float(item["t"])
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    stale = True  # a torn last line after a crash: that delivery's message is still in the outbox
                    continue
                if at >= horizon:
                    kept[(str(item["c"]), str(item["k"]))] = at
                else:
                    stale = True
        self.delivered = kept
        if stale:  # compact: only deliveries inside the dedup window matter
            data = b"".join(orjson.dumps({"c": c, "k": k, "t": t}) + b"\n" for (c, k), t in kept.items())
            _atomic_write(self.log_path, data)

    def was_delivered(self, channel: str, dedup_key: str) -> bool:
        at = self.delivered.get((channel, dedup_key))
        return at is not None and at >= time.time() - self.window

    def mark_delivered(self, channel: str, keys: list[str]) -> None:
        now = time.time()
        data = b"".join(orjson.dumps({"c": channel, "k": k, "t": now}) + b"\n" for k in keys)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        for key in keys:
            self.delivered[(channel, key)] = now

    # --- messages -------------------------------------------------------------------------------------------------
    def _dir(self, kind: str, channel: str) -> Path:
        path = self.root / kind / channel
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def _waiting(self, channel: str, digest: str) -> bool:
        # One listing per channel and run (a first cycle may queue thousands: no glob per message).
        if channel not in self.waiting:
            found = set()
            for path in (p for k in ("outbox", "held") for p in self._dir(k, channel).glob("*.json")):
                try:
                    orjson.loads(path.read_bytes())
                except orjson.JSONDecodeError:
                    # Queued, then the machine crashed before flush(): the rename survived, the bytes did not.
                    # The memory was not written either, so the event is derived and queued again.
                    path.unlink(missing_ok=True)
                    continue
                found.add(path.stem.rpartition("-")[2])
            self.waiting[channel] = found
        return digest in self.waiting[channel]

    def put(self, channel: str, event: Event) -> bool:
        """Enqueue; False when the same notification is waiting or was delivered within the window. Durable only
        after flush(), which the caller runs before recording that the event was queued."""
        digest = key_hash(channel, event.dedup_key)
        if self.was_delivered(channel, event.dedup_key) or self._waiting(channel, digest):
            return False
        directory = self._dir("outbox", channel)
        message = Message(directory / f"{time.time_ns():020d}-{digest}.json", channel, event, 0, time.time())
        _atomic_write(message.path, message.to_bytes(), durable=False)
        self.unsynced.append(message.path)
        self.waiting[channel].add(digest)
        return True

    def flush(self) -> None:
        """Make everything put() since the last flush durable: a few files one fsync each, a batch (the first cycle
        after enabling may queue thousands) with one sync() instead of thousands of fsyncs."""
        if len(self.unsynced) > 8:
            os.sync()
        else:
            for path in self.unsynced:
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
            for parent in {p.parent for p in self.unsynced}:
                _fsync_dir(parent)
        self.unsynced = []

    @staticmethod
    def read(path: Path) -> Message | None:
        try:
            data: dict[str, Any] = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError:
            path.unlink(missing_ok=True)  # torn by a crash before flush(): it is queued again (see _waiting)
            return None
        return Message(
            path,
            str(data["channel"]),
            Event.from_json(data["event"]),
            int(data.get("attempts", 0)),
            float(data.get("created", 0)),
            str(data.get("last_error", "")),
        )

    def pending(self, channel: str) -> list[Path]:
        return sorted(self._dir("outbox", channel).glob("*.json"))

    def held(self, channel: str) -> list[Path]:
        return sorted(self._dir("held", channel).glob("*.json"))

    def dead(self, channel: str) -> list[Path]:
        return sorted(self._dir("dead", channel).glob("*.json"))

    def channels(self) -> list[str]:
        return sorted(
            {p.name for kind in ("outbox", "held", "dead") for p in (self.root / kind).iterdir() if p.is_dir()}
        )

    def remove(self, path: Path) -> None:
        # No fsync: a removal lost in a crash leaves a message delivered.log already lists, which drain() drops.
        path.unlink(missing_ok=True)

    def save(self, message: Message) -> None:
        _atomic_write(message.path, message.to_bytes())

    def _move(self, path: Path, kind: str, channel: str, durable: bool = True) -> Path:
        target = self._dir(kind, channel) / path.name
        os.replace(path, target)
        if durable:
            _fsync_dir(target.parent)
            _fsync_dir(path.parent)
        return target

    def hold(self, message: Message) -> Path:
        # No fsync: a hold lost in a crash leaves the message queued, to be held (or sent) again.
        return self._move(message.path, "held", message.channel, durable=False)

    def dead_letter(self, message: Message, reason: str) -> Path:
        reason_path = self._dir("dead", message.channel) / (message.path.stem + ".reason")
        _atomic_write(reason_path, (reason + "\n").encode())
        return self._move(message.path, "dead", message.channel)

    def requeue_dead(self, channel: str) -> int:
        moved = 0
        for path in self.dead(channel):
            path.with_suffix(".reason").unlink(missing_ok=True)
            message = self.read(self._move(path, "outbox", channel))
            if message is not None:  # a fresh start: max_attempts counts again
                message.attempts, message.last_error = 0, ""
                self.save(message)
            moved += 1
        return moved


class ThrottleState:
    """Send times per channel and per channel+host (only those inside the longest period are kept)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sends: dict[str, list[float]] = {}
        self.digests: dict[str, float] = {}
        if path.exists():
            try:
                data = orjson.loads(path.read_bytes())
                self.sends = {k: [float(t) for t in v] for k, v in data.get("sends", {}).items()}
                self.digests = {k: float(v) for k, v in data.get("digests", {}).items()}
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                self.sends, self.digests = {}, {}

    def count(self, key: str, period: float, now: float) -> int:
        return sum(1 for t in self.sends.get(key, ()) if t > now - period)

    def record(self, keys: list[str], now: float, keep: float) -> None:
        for key in keys:
            self.sends[key] = [t for t in self.sends.get(key, []) if t > now - keep] + [now]

    def prune(self, keeps: dict[str, float], now: float) -> bool:
        """Drop send times older than their channel's longest period (`keeps`), keys left empty (a host not sent
        to within it) and every key of a channel no longer configured; True if anything was dropped."""
        before = (sum(len(v) for v in self.sends.values()), len(self.sends), len(self.digests))
        sends: dict[str, list[float]] = {}
        for key, times in self.sends.items():
            keep = keeps.get(key.split("|", 1)[0])  # channel names never contain "|" (schema)
            recent = [t for t in times if keep is not None and t > now - keep]
            if recent:
                sends[key] = recent
        self.sends = sends
        self.digests = {c: t for c, t in self.digests.items() if c in keeps}
        return before != (sum(len(v) for v in self.sends.values()), len(self.sends), len(self.digests))

    def save(self) -> None:
        # Not fsync'd: after a crash the throttle may allow a few more messages, nothing is lost or repeated.
        _atomic_write(self.path, orjson.dumps({"sends": self.sends, "digests": self.digests}), durable=False)
