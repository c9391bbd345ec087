"""The command line's layout: one module per command under mcpeeker/cli/, the library free of argparse, and a
command group that fails to import stops `mcpeeker` instead of disappearing from it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mcpeeker
from mcpeeker import cli

PACKAGE = Path(mcpeeker.__file__).resolve().parent
# settings.py holds the connection flags every command shares (add_connection_arguments, resolve(args)).
ARGPARSE_ALLOWED = {PACKAGE / "settings.py"}


def _command_files() -> set[str]:
    # cli/_name.py modules are output helpers shared by commands (tables, CSV), not commands themselves.
    return {f"mcpeeker.cli.{p.stem}" for p in (PACKAGE / "cli").glob("*.py") if not p.stem.startswith("_")}


def test_every_command_module_is_registered() -> None:
    assert set(cli.COMMAND_MODULES) == _command_files()


def _imports_argparse(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "argparse":
            return True
    return False


def test_library_modules_do_not_parse_arguments() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in sorted(PACKAGE.rglob("*.py"))
        if "cli" not in p.relative_to(PACKAGE).parts[:1] and p not in ARGPARSE_ALLOWED and _imports_argparse(p)
    ]
    assert offenders == [], f"argparse belongs in mcpeeker/cli/<command>.py, not in {offenders}"


def test_broken_command_group_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A command module whose own import fails on a missing mcpeeker module: the old loader skipped exactly this.
    (tmp_path / "mcpeeker_broken_command.py").write_text("import mcpeeker.no_such_module\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "mcpeeker_broken_command"))
    with pytest.raises(ModuleNotFoundError, match="mcpeeker.no_such_module"):
        cli.build_parser()


def test_python_m_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "mcpeeker.cli", "--help"], capture_output=True, text=True, check=True)
    for command in (
        "init",
        "keys",
        "opensearch",
        "setup",
        "ingest",
        "collect",
        "replay",
        "correlate",
        "registry",
        "feedback",
        "finding",
        "audit",
        "sigma",
        "analytics",
        "report",
        "dashboards",
    ):
        assert f"\n    {command} " in out.stdout, command
