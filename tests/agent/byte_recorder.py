"""A plain byte relay that keeps a copy of both directions, for comparing the streams on either side of the tap.

Usage: python byte_recorder.py LOG_PREFIX [--split] -- COMMAND [ARGS...]
Writes LOG_PREFIX.c2s (bytes from its stdin, as sent to COMMAND) and LOG_PREFIX.s2c (bytes from COMMAND's stdout,
as sent to its stdout). --split forwards the client's bytes in small pieces with pauses, so the next hop sees
partial lines.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time


def main() -> int:
    argv = sys.argv[1:]
    prefix, split = argv[0], "--split" in argv[: argv.index("--")]
    cmd = argv[argv.index("--") + 1 :]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert proc.stdin is not None and proc.stdout is not None
    rng = random.Random(19)

    def c2s() -> None:
        with open(prefix + ".c2s", "wb") as log:
            while chunk := os.read(0, 65536):
                log.write(chunk)
                log.flush()
                pieces = [chunk]
                if split:
                    cuts = sorted(rng.sample(range(1, len(chunk)), min(3, len(chunk) - 1))) if len(chunk) > 1 else []
                    pieces = [chunk[i:j] for i, j in zip([0, *cuts], [*cuts, len(chunk)])]
                for piece in pieces:
                    assert proc.stdin is not None
                    proc.stdin.write(piece)
                    if split:
                        time.sleep(0.01)
        assert proc.stdin is not None
        proc.stdin.close()

    threading.Thread(target=c2s, daemon=True).start()
    with open(prefix + ".s2c", "wb") as log:
        while chunk := os.read(proc.stdout.fileno(), 65536):
            log.write(chunk)
            log.flush()
            os.write(1, chunk)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
