"""The command line loads only what the invoked command needs."""

from __future__ import annotations

import subprocess
import sys

# Packages that only some commands use; importing the command line must not load them.
HEAVY_PACKAGES = (
    "sqlalchemy",
    "alembic",
    "openpyxl",
    "fastapi",
    "lxml",
    "cryptography",
    "matplotlib",
)
COMMANDS = (
    "init",
    "config",
    "inventory",
    "models",
    "evidence",
    "eligibility",
    "device",
    "run",
    "status",
    "incidents",
    "demo",
    "route",
    "route-outcome",
    "serve",
    "duis",
    "report",
    "compliance",
)


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, check=True, timeout=60
    )


def test_cli_import_skips_heavy_packages() -> None:
    script = (
        "import sys\n"
        "import ecos_migration.cli\n"
        f"print(' '.join(name for name in {HEAVY_PACKAGES!r} if name in sys.modules))\n"
    )
    loaded = _run("-c", script).stdout.split()
    assert loaded == []


def test_cli_help_lists_every_command() -> None:
    output = _run("-m", "ecos_migration", "--help").stdout
    for command in COMMANDS:
        assert f" {command} " in output, command


def test_cli_version_prints_version() -> None:
    output = _run("-m", "ecos_migration", "--version").stdout
    assert output.startswith("ecos-migration ")
