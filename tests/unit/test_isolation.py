"""The test suite's own isolation: nothing from the developer's shell reaches a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oar.settings import documented_variables
from tests.conftest import scrubbed

REPO = Path(__file__).parents[2]


def test_no_setting_from_the_shell_reaches_a_test() -> None:
    leaked = sorted(name for name in documented_variables() if name in os.environ)
    assert leaked == []


def test_every_documented_setting_is_scrubbed() -> None:
    assert [name for name in documented_variables() if not scrubbed(name)] == []
    assert not scrubbed("OAR_TEST_POSTGRES_URL")  # the suite's own settings stay


def test_a_token_in_the_developers_shell_does_not_reach_a_test(tmp_path: Path) -> None:
    """ERRATA_TOKEN (and every other setting) exported in the shell that runs pytest."""
    shell = {**os.environ, **dict.fromkeys(documented_variables(), "from-the-shell")}
    shell["ERRATA_TOKEN"] = "errata-token-from-the-shell"
    inner = f"{Path(__file__).relative_to(REPO)}::test_no_setting_from_the_shell_reaches_a_test"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", inner],
        cwd=REPO,
        env=shell,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
