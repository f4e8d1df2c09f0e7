"""Fixtures shared by every test tier.

* The environment is scrubbed of every documented setting (``documented_variables``) and
  of the OAR and credential families, and each test runs in its own working directory,
  so nothing from the developer's shell or ``.env`` leaks in.
* ``backend`` runs a test on SQLite and on PostgreSQL. PostgreSQL comes from
  ``OAR_TEST_POSTGRES_URL`` (default: the local server's ``oar_test`` database); without
  it those cases skip, unless ``OAR_TEST_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
  Under pytest-xdist (``make test`` runs ``-n``), each worker gets its own database on that
  server (``oar_test_gw0``, …, created when missing), since tests reset theirs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from oar.logs import configure_logging
from oar.service import Service
from oar.settings import Settings, documented_variables, load_settings
from oar.testing import reset_database

BASE_PG_URL = os.environ.get(
    "OAR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/oar_test"
)
# pytest-xdist names each worker (gw0, gw1, …) in the environment before conftest loads.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def worker_url(url: str, worker: str | None) -> str:
    """``url`` with the database renamed for an xdist ``worker`` (unchanged without one)."""
    if not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_URL = worker_url(BASE_PG_URL, XDIST_WORKER)
REQUIRE_PG = os.environ.get("OAR_TEST_REQUIRE_POSTGRES") == "1"
# Every variable Settings reads (derived: a new setting is scrubbed without being listed
# here), plus the families around them (and the engine's own DBOS_*).
SCRUBBED_VARIABLES = frozenset(documented_variables())
SCRUBBED_PREFIXES = (
    "OAR_",
    "SLACK_",
    "GITHUB",
    "MODEL_",
    "JIRA_",
    "GITLAB_",
    "JENKINS_",
    "APITOKEN",
    "GCS_",
    "GCP_",
    "DBOS_",
)
# The test suite's own settings (OAR_TEST_POSTGRES_URL, …), read above.
KEPT_PREFIX = "OAR_TEST_"
_pg_state: dict[str, bool] = {}


def scrubbed(name: str) -> bool:
    """Whether the environment variable ``name`` is removed before each test."""
    if name.startswith(KEPT_PREFIX):
        return False
    return name in SCRUBBED_VARIABLES or name.startswith(SCRUBBED_PREFIXES)


def scrub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every OAR setting and credential from the environment for one test."""
    for name in list(os.environ):
        if scrubbed(name):
            monkeypatch.delenv(name)


def postgres_available() -> bool:
    if "ok" not in _pg_state:
        import psycopg

        try:
            if PG_URL != BASE_PG_URL:
                _create_worker_database(psycopg)
            with psycopg.connect(PG_URL, connect_timeout=3):
                _pg_state["ok"] = True
        except psycopg.Error:
            _pg_state["ok"] = False
    return _pg_state["ok"]


def _create_worker_database(psycopg: Any) -> None:
    """Create this xdist worker's database on the server of OAR_TEST_POSTGRES_URL."""
    name = make_url(PG_URL).database
    with psycopg.connect(BASE_PG_URL, connect_timeout=3, autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            admin.execute(f'CREATE DATABASE "{name}"')


def require_postgres() -> str:
    """The PostgreSQL URL, or skip (fail in CI) when there is no server."""
    if not postgres_available():
        message = f"PostgreSQL not reachable at {PG_URL} (set OAR_TEST_POSTGRES_URL)"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    return PG_URL


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    configure_logging(level="WARNING")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    scrub_environment(monkeypatch)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    if backend == "postgres":
        require_postgres()
    return backend


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'oar.db'}"
    await reset_database(PG_URL)
    return PG_URL


def fast_environment(database_url: str, data_dir: Path) -> dict[str, str]:
    """Settings for tests: quick polling, no shutdown grace, short default retry delay."""
    return {
        "OAR_DATABASE_URL": database_url,
        "OAR_DATA_DIR": str(data_dir),
        "OAR_QUEUE_POLL_INTERVAL": "0.05",
        "OAR_NOTIFICATION_POLL_INTERVAL": "0.02",
        "OAR_CHANGE_POLL_INTERVAL": "0.05",
        "OAR_EXECUTOR_ID": "test-executor",
        "OAR_SHUTDOWN_GRACE": "0",
        "OAR_HEARTBEAT_INTERVAL": "1",
        "OAR_TASK_RETRY_DELAY": "0.05",
        "OAR_TASK_TIMEOUT": "30",
        "OAR_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(environ=fast_environment(database_url, tmp_path / "data"))


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    """A service running the web and worker roles in this test's event loop."""
    async with Service(settings, roles={"web", "worker"}) as running:
        yield running
