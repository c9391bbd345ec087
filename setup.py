"""The compiled part of the build: the ingest hot path (see ingest_python/mcpeeker/ingest/native.py).

Everything else is in pyproject.toml, except the package data taken from the repository's top-level
directories (configs/, schemas/, detections/, suricata/, sigma/, dashboards/kibana/, zeek/scripts/, zkg.meta):
build_py copies them into mcpeeker/_data/ of the wheel (the list is mcpeeker.resources.DATA_FILES, which
also reads them). An editable install reads them from the checkout instead.

Cython compiles the hot-path modules from their Python sources, and
`ingest/_tables.pyx`, the native mapping-table applier and Zeek TSV header parser. The extensions are optional: where they cannot be
compiled (no C compiler), the install goes on and the same Python sources run interpreted (same documents,
slower); `mcpeeker.ingest.native.status()` says which modules are compiled.
"""

import runpy
import shutil
import sys
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
ROOT = HERE / "ingest_python"
native = runpy.run_path(str(ROOT / "mcpeeker" / "ingest" / "native.py"))
resources = runpy.run_path(str(ROOT / "mcpeeker" / "resources.py"))


class build_py_with_data(build_py):
    """Copy the top-level data directories into mcpeeker/_data/ of the build (their repository paths kept)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the editable install reads the checkout itself (mcpeeker.resources)
        target = Path(self.build_lib) / resources["DATA_PACKAGE"] / resources["DATA_SUBDIR"]
        shutil.rmtree(target, ignore_errors=True)
        copied = 0
        for pattern in resources["DATA_FILES"]:
            matches = sorted(p for p in HERE.glob(pattern) if p.is_file())
            if not matches:
                raise SystemExit(f"setup.py: package data {pattern!r} matches no file (see mcpeeker/resources.py)")
            for source in matches:
                dest = target / source.relative_to(HERE)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, dest)
                copied += 1
        print(f"setup.py: {copied} package data files in {target}")


# Without debug symbols the compiled modules are a third of their size (the wheel's bulk); PyInit_* stays exported.
STRIP = ["-s"] if sys.platform.startswith("linux") else []


def _extension(module: str, suffix: str) -> Extension:
    return Extension(module, [str((ROOT / module.replace(".", "/")).with_suffix(suffix).relative_to(HERE))],
                     optional=True, extra_link_args=STRIP)


setup(
    cmdclass={"build_py": build_py_with_data},
    ext_modules=cythonize(
        [_extension(m, ".py") for m in native["HOT_PATH"]] + [_extension(m, ".pyx") for m in native["NATIVE_ONLY"]],
        compiler_directives={"language_level": "3", "annotation_typing": False},
        quiet=True,
    ),
)
