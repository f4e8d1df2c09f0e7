"""``oar --help`` starts fast: listing the commands imports no command body, no engine,
no database library and no client library (each ``oar`` run from Slack is a process a
person waits for); ``oar -r X status`` reads the database without loading the engine.
Checked in a fresh interpreter, by what ends up in ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oar.db import Database
from oar.integrations.fakes import FakeBuildData
from oar.release.configstore import ConfigStore
from oar.release.state import ReleaseState
from oar.release.versions import ReleaseVersion
from oar.sandbox import releaseconfig, seed
from oar.settings import load_settings

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


def loaded_by(*argv: str, env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
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


async def test_status_of_a_tracked_release_loads_no_engine(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OAR_", "SLACK_"))},
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_DATA_DIR": str(tmp_path / "data"),
    }
    settings = load_settings(environ=env)
    settings.ensure_database_dir()
    version = ReleaseVersion.parse(seed.RELEASE)
    config = await ConfigStore.load(
        settings, version, build_data=FakeBuildData(seed.build_data_files())
    )
    async with Database(settings.database_url) as db:
        await db.upgrade()
        await ReleaseState(db).ensure_release(version, config.metadata())

    modules = loaded_by("-r", seed.RELEASE, "status", env=env)

    assert "oar.release.state" in modules  # it did read the release
    assert not sorted(m for m in modules if m.split(".")[0] == "dbos")
    assert "oar.engine.runtime" not in modules
