"""Which parts of the ingest hot path run as compiled code.

`setup.py` compiles these modules with Cython from the same Python sources (and `_tables.pyx`: the native
mapping-table applier and Zeek TSV header parser) when a C compiler is there; without one the install goes on and the same code
runs interpreted. Nothing here imports the modules' dependencies: setup.py reads `HOT_PATH` from this file.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from types import ModuleType

# Modules on the path of every ingested line: read -> parse -> normalise -> serialise.
HOT_PATH: tuple[str, ...] = (
    "mcpeeker.ingest.readers",
    "mcpeeker.ingest.pipeline",
    "mcpeeker.ingest.ids",
    "mcpeeker.ingest.privacy",
    "mcpeeker.ingest.normalise.common",
    "mcpeeker.ingest.normalise.zeek",
    "mcpeeker.ingest.normalise.suricata",
)
NATIVE_ONLY: tuple[str, ...] = ("mcpeeker.ingest._tables",)


def tables_module() -> ModuleType | None:
    """The native table appliers, unless not built or turned off with MCPEEKER_PURE_PYTHON=1 (for comparing
    or debugging; the compiled hot-path modules stay what they are, the same code as their sources)."""
    if os.environ.get("MCPEEKER_PURE_PYTHON"):
        return None
    try:
        return importlib.import_module(f"{__package__}._tables")
    except ImportError:
        return None


def is_compiled(module_name: str) -> bool:
    module = importlib.import_module(module_name)
    return str(getattr(module, "__file__", "")).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def status() -> dict[str, bool]:
    """Module -> compiled? (a module not built, or whose build failed, runs from its .py source)."""
    result: dict[str, bool] = {}
    for name in HOT_PATH + NATIVE_ONLY:
        try:
            result[name] = is_compiled(name)
        except ImportError:
            result[name] = False
    return result


def stale() -> list[str]:
    """Compiled modules older than their source: an editable install whose sources changed after the build.
    `make` rebuilds them; `pip install -e .` does too."""
    found = []
    for name in HOT_PATH + NATIVE_ONLY:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        built = str(getattr(module, "__file__", ""))
        if not built.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            continue
        base = built[: built.index(".", built.rindex(os.sep))]
        for source in (base + ".py", base + ".pyx"):
            if os.path.exists(source) and os.path.getmtime(source) > os.path.getmtime(built):
                found.append(f"{name}: {os.path.basename(source)} is newer than {os.path.basename(built)}")
    return found


def interpreted() -> list[str]:
    """What of the hot path runs interpreted here: modules not compiled, and the native pieces when turned off."""
    slow = [name.rsplit(".", 1)[1] for name, compiled in status().items() if not compiled]
    if tables_module() is None and "_tables" not in slow:
        slow.append("_tables: MCPEEKER_PURE_PYTHON is set")
    return slow


def summary() -> str:
    """One line for benches and reports: how much of the hot path is compiled."""
    modules = status()
    compiled = [name.rsplit(".", 1)[1] for name, ok in modules.items() if ok]
    if not compiled:
        return "none compiled (pure Python)"
    return f"{len(compiled)}/{len(modules)} hot-path modules compiled ({', '.join(compiled)})"
