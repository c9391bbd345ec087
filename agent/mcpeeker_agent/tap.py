"""`mcpeeker-agent tap -- COMMAND [ARGS...]`: a transparent stdio relay between an MCP client and the server it
launches.

The relay threads copy raw bytes (os.read / os.write, no decoding, no framing) and only then hand a copy to a
parser thread through a bounded queue: the bytes on both sides are identical with and without the tap, and a slow or
failing parser never delays or stops the relay (a full queue drops the copy, not the bytes). Newline-delimited
JSON-RPC lines are parsed from the copy with a bounded line buffer; a line that is not JSON, or is longer than the
bound, is relayed untouched and counted. The server's stderr is the tap's stderr (inherited). The exit status of the
server is the tap's; SIGTERM, SIGINT and SIGHUP are forwarded; when the client closes stdin the server gets EOF,
then SIGTERM after a grace period, then SIGKILL (the MCP stdio shutdown sequence); when the client goes away (a
write to it fails) the server is killed. Recording errors are logged to the tap's log file, never to the streams.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .toolmeta import Recorder, Session, Sink, ToolList

CHUNK = 1 << 16
MAX_LINE = 32 << 20  # a line longer than this is relayed but not parsed
QUEUE_CHUNKS = 1024  # parser backlog (x CHUNK bytes, 64 MiB at most) before copies are dropped
# Parsing holds the GIL the relay threads need: a line over this size is read only when it is a tool list (a 1 MB
# tools/call result would stall the relay for tens of milliseconds and tells nothing the tap records).
PARSE_LIMIT = 256 << 10
SWITCH_INTERVAL = 0.0005  # s: a relay thread waiting for the GIL gets it this soon (default 5 ms)
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

log = logging.getLogger("mcpeeker_agent.tap")


def default_log() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mcpeeker-agent" / "tap.log"


def setup_log(path: Path) -> None:
    """Log to a file only: stdout and stderr belong to the server and the client."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


class LineSplitter:
    """Newline-delimited frames of one direction, from arbitrary chunks, with a bounded buffer."""

    def __init__(self, on_line: Callable[[bytes], None], on_skip: Callable[[], None], max_line: int = MAX_LINE):
        self.buf = bytearray()
        self.overflow = False  # inside a line already over the bound: skip to its newline
        self.on_line, self.on_skip, self.max_line = on_line, on_skip, max_line

    def feed(self, chunk: bytes) -> None:
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                if not self.overflow:
                    self.buf += chunk[start:]
                    if len(self.buf) > self.max_line:
                        self.buf.clear()
                        self.overflow = True
                return
            if self.overflow:
                self.overflow = False
                self.on_skip()
            else:
                self.buf += chunk[start:nl]
                line = bytes(self.buf).strip()
                self.buf.clear()
                if line:
                    self.on_line(line)
            start = nl + 1


@dataclass
class TapStats:
    to_server: int = 0
    to_client: int = 0
    dropped_copies: int = 0


class Tap:
    def __init__(
        self,
        argv: list[str],
        recorder: Recorder | None,
        grace: float = 2.0,
        stdin_fd: int = 0,
        stdout_fd: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv, self.recorder, self.grace = argv, recorder, grace
        self.stdin_fd, self.stdout_fd = stdin_fd, stdout_fd
        self.env = env
        self.stats = TapStats()
        self.copies: queue.Queue[tuple[bool, bytes] | None] = queue.Queue(QUEUE_CHUNKS)
        self.proc: subprocess.Popen[bytes] | None = None
        self.client_gone = threading.Event()

    # -- recording (never on the relay's path) -------------------------------------------------------------------
    def _copy(self, from_client: bool, chunk: bytes) -> None:
        if self.recorder is None:
            return
        try:
            self.copies.put_nowait((from_client, chunk))
        except queue.Full:
            self.stats.dropped_copies += 1

    def _parse(self) -> None:
        rec = self.recorder
        assert rec is not None
        skip = self._skip(rec)
        splitters = {
            True: LineSplitter(lambda ln: self._line(rec, ln, True), skip),
            False: LineSplitter(lambda ln: self._line(rec, ln, False), skip),
        }
        while True:
            item = self.copies.get()
            if item is None:
                return
            try:
                splitters[item[0]].feed(item[1])
            except Exception:  # noqa: BLE001 - the relay goes on whatever the recorder does
                log.exception("recording failed")

    @staticmethod
    def _skip(rec: Recorder) -> Callable[[], None]:
        def skip() -> None:
            rec.session.skipped_lines += 1

        return skip

    @staticmethod
    def _line(rec: Recorder, line: bytes, from_client: bool) -> None:
        if len(line) > PARSE_LIMIT and b'"inputSchema"' not in line:
            rec.session.skipped_lines += 1
            return
        try:
            rec.line(line, from_client)
        except Exception:  # noqa: BLE001
            log.exception("recording a message failed")

    # -- relay ----------------------------------------------------------------------------------------------------
    def _pump_in(self) -> None:
        """Client -> server. EOF from the client: EOF to the server, then the stdio shutdown sequence."""
        proc = self.proc
        assert proc is not None and proc.stdin is not None
        dst = proc.stdin.fileno()
        try:
            while True:
                try:
                    chunk = os.read(self.stdin_fd, CHUNK)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                # Queued for the parser before the server can see it: a request's copy must precede its response's
                # copy, or the recorder meets the tools/list answer before it knows what id 2 asked.
                self._copy(True, chunk)
                if not _write_all(dst, chunk):
                    break  # the server closed its stdin or died; keep reading nothing more
                self.stats.to_server += len(chunk)
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
        self._shutdown(proc)

    def _shutdown(self, proc: subprocess.Popen[bytes]) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                proc.wait(self.grace)
                return
            except subprocess.TimeoutExpired:
                log.info("server %s did not exit after stdin closed; sending %s", proc.pid, sig.name)
                _signal(proc, sig)

    def _pump_out(self) -> None:
        """Server -> client. A failed write means the client is gone: the server is killed."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        src = proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(src, CHUNK)
            except OSError:
                chunk = b""
            if not chunk:
                return
            self._copy(False, chunk)  # before the client sees it, as in _pump_in (server requests, client answers)
            if not _write_all(self.stdout_fd, chunk):
                log.info("client went away; killing server %s", proc.pid)
                self.client_gone.set()
                _signal(proc, signal.SIGKILL)
                return
            self.stats.to_client += len(chunk)

    def run(self) -> int:
        """The server's exit status (128 + signal number when a signal ended it)."""
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, bufsize=0, env=self.env
        )
        proc = self.proc
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for forwarded in FORWARDED:
                previous[forwarded] = signal.signal(
                    forwarded, lambda signum, _frame: _signal(proc, signal.Signals(signum))
                )
        parser = threading.Thread(target=self._parse, name="tap-parse", daemon=True)
        if self.recorder is not None:
            parser.start()
        pin = threading.Thread(target=self._pump_in, name="tap-in", daemon=True)
        pout = threading.Thread(target=self._pump_out, name="tap-out", daemon=True)
        pin.start()
        pout.start()
        try:
            pout.join()
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.recorder is not None:
            self.copies.put(None)
            parser.join(30)
        return code if code >= 0 else 128 - code


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except (BrokenPipeError, OSError):
            return False
        view = view[n:]
    return True


def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        proc.send_signal(sig)
    except (ProcessLookupError, OSError):
        pass


def run_tap(
    argv: list[str],
    client: str,
    server_name: str,
    sink: Sink | None,
    grace: float = 2.0,
) -> int:
    """Relay, record, and write the session's evidence at the end; recording problems are logged only."""
    session = Session("tap", client, server_name)

    def emit(s: Session, tools: ToolList | None, call: dict[str, Any] | None) -> None:
        if sink is None:
            return
        try:
            sink.write(sink.report([sink.tools_evidence(s, tools, call)]))
        except Exception:  # noqa: BLE001 - evidence is best effort, the relay is not
            log.exception("writing tap evidence failed")

    recorder = Recorder(session, emit) if sink is not None else None
    signal.signal(signal.SIGPIPE, signal.SIG_IGN) if hasattr(signal, "SIGPIPE") else None
    sys.setswitchinterval(SWITCH_INTERVAL)
    tap = Tap(argv, recorder, grace=grace)
    try:
        code = tap.run()
    except OSError as exc:  # the server's command cannot start: say so where the client shows server errors
        print(f"mcpeeker-agent tap: cannot start {argv[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return 127
    if sink is not None and session.methods:
        try:
            sink.write(sink.report([sink.tools_evidence(session, None, None, final=True)]))
        except Exception:  # noqa: BLE001
            log.exception("writing the session summary failed")
    log.info(
        "session %s/%s ended: exit %s, %d bytes to server, %d to client, %d copies dropped",
        client,
        server_name,
        code,
        tap.stats.to_server,
        tap.stats.to_client,
        tap.stats.dropped_copies,
    )
    return code
