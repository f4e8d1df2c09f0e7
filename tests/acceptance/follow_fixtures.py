"""The fixtures of the follow commands' acceptance tests (``pytest_plugins``): the
sandbox, and the CLI's environment with checks every second."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oar.sandbox import releaseconfig
from oar.sandbox.registry import Sandbox
from tests.acceptance.test_change_advisory_status import background_workers


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
async def env(
    sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[dict[str, str]]:
    """The CLI's environment (checks every second); afterwards every worker it started is
    stopped."""
    yield {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_IMAGE_CONSISTENCY_INTERVAL": "1",
        "OAR_IMAGE_CONSISTENCY_DEADLINE": "120",
        "OAR_STAGE_TESTING_INTERVAL": "1",
        "OAR_STAGE_TESTING_DEADLINE": "120",
        "OAR_LOG_LEVEL": "INFO",
    }
    for pid in background_workers(subprocess_env["OAR_DATABASE_URL"]):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
