"""What the server logs when a request fails: a plain traceback, never locals or the token.

The server runs as ``oarctl serve`` runs it (uvicorn on 127.0.0.1, the real app and
service, one logging handler configured from the settings); a route added for the test
raises while the request carries ``Authorization: Bearer <OAR_API_TOKEN>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import Request

from oar.logs import configure_logging
from oar.service import Service
from oar.settings import Settings, load_settings
from oar.web import create_app
from tests.conftest import fast_environment

TOKEN = "tok-4f0c2a-never-in-the-logs"
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


class _Server(uvicorn.Server):
    """uvicorn's server, leaving the test process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    configure_logging(level="WARNING")  # back to the suite's default


@pytest.fixture
def token_settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        environ={
            **fast_environment(database_url, tmp_path / "data"),
            "OAR_API_TOKEN": TOKEN,
            "OAR_LOG_LEVEL": "INFO",
        }
    )


@pytest.fixture
async def base_url(token_settings: Settings) -> AsyncIterator[str]:
    async with Service(token_settings, roles={"web"}) as service:
        app = create_app(service, owns_service=False)

        @app.get("/api/explode")
        async def explode(request: Request) -> None:
            headers = dict(request.headers)  # a local holding the Authorization header
            raise RuntimeError(f"the handler failed after reading {len(headers)} headers")

        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, timeout=30)


@pytest.mark.parametrize("fmt", ["console", "json"])
async def test_a_failing_request_logs_a_plain_traceback_without_locals_or_the_token(
    fmt: str, token_settings: Settings, log_stream: io.StringIO, base_url: str
) -> None:
    configure_logging(
        level="INFO", fmt=fmt, secrets=token_settings.secret_values(), stream=log_stream
    )
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as http:
        for _ in range(3):
            assert (await http.get("/api/explode")).status_code == 500

    deadline = asyncio.get_running_loop().time() + 10
    while log_stream.getvalue().count("RuntimeError: the handler failed") < 3:
        assert asyncio.get_running_loop().time() < deadline, log_stream.getvalue()[-3000:]
        await asyncio.sleep(0.05)
    output = log_stream.getvalue()
    assert "Exception in ASGI application" in output
    assert "Traceback (most recent call last)" in output  # the error is still explained
    assert TOKEN not in output
    assert "│" not in output  # rich's traceback draws each frame and its locals in boxes
    assert "b'authorization'" not in output  # the request scope, a local of every frame
    # A plain traceback, not ~470 KB per error rendered on the event loop.
    assert len(output) < 3 * 30_000, len(output)
