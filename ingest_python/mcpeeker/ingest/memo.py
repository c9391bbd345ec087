"""The one bounded cache of the ingest hot path: a dict that fills itself from a function.

`memo[key]` is `fn(key)`, computed once and kept while the memo holds fewer than `maxsize` entries; when it is
full it starts again empty (the values that recur on a sensor's logs, an address, a URL, the current second, come
back at once). Keys longer than `max_len` are computed every time and never kept, so memory stays bounded by
`maxsize * max_len`. A hit is a plain dict lookup, which the native table applier (`_tables.NativeTable`) does in C.
"""

from __future__ import annotations

from typing import Callable, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(dict[K, V]):
    __slots__ = ("fn", "maxsize", "max_len")

    def __init__(self, fn: Callable[[K], V], maxsize: int, max_len: int | None = None) -> None:
        super().__init__()
        self.fn = fn
        self.maxsize = maxsize
        self.max_len = max_len

    def __missing__(self, key: K) -> V:
        value = self.fn(key)  # what fn raises reaches the caller, and nothing is kept
        if self.max_len is None or len(key) <= self.max_len:  # type: ignore[arg-type]
            if len(self) >= self.maxsize:
                self.clear()
            self[key] = value
        return value

    def __repr__(self) -> str:
        return f"Memo({getattr(self.fn, '__name__', self.fn)!r}, {len(self)}/{self.maxsize})"
