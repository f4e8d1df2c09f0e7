"""``oar --help`` starts fast: listing the commands imports no command body, no engine,
no database library and no client library (each ``oar`` run from Slack is a process a
person waits for). Checked in a fresh interpreter, by what ends up in ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "oar.release.commands.approval",
    "oar.engine",
    "oar.service",
    "dbos",
    "sqlalchemy",
    "githubkit",
    "gitlab",
    "jira",
    "slack_sdk",
    "fastapi",
)

PROBE = """
import json, sys
from oar.cli.oar import cli
try:
    cli(sys.argv[1:], prog_name="oar")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("change-advisory-status", "--help"), ("-r", "4.19.3", "--help")],
    ids=" ".join,
)
def test_help_imports_nothing_heavy(argv: tuple[str, ...]) -> None:
    modules = loaded_by(*argv)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)
    heavy += sorted(m for m in modules for h in HEAVY if "." in h and m.startswith(h))
    assert not heavy, f"`oar {' '.join(argv)}` imported {sorted(set(heavy))}"
