"""The compiled part of the build: the ingest hot path (see ingest_python/mcpeeker/ingest/native.py).

Everything else is in pyproject.toml. Cython compiles the hot-path modules from their Python sources, and
`ingest/_tables.pyx`, the native mapping-table applier and Zeek TSV header parser. The extensions are optional: where they cannot be
compiled (no C compiler), the install goes on and the same Python sources run interpreted (same documents,
slower); `mcpeeker.ingest.native.status()` says which modules are compiled.
"""

import runpy
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

ROOT = Path(__file__).parent / "ingest_python"
native = runpy.run_path(str(ROOT / "mcpeeker" / "ingest" / "native.py"))


def _extension(module: str, suffix: str) -> Extension:
    return Extension(module, [str((ROOT / module.replace(".", "/")).with_suffix(suffix).relative_to(Path(__file__).parent))],
                     optional=True)


setup(
    ext_modules=cythonize(
        [_extension(m, ".py") for m in native["HOT_PATH"]] + [_extension(m, ".pyx") for m in native["NATIVE_ONLY"]],
        compiler_directives={"language_level": "3", "annotation_typing": False},
        quiet=True,
    ),
)
