"""Fuzz the HTTP API from its own OpenAPI schema (schemathesis), over a real server.

Valid and invalid requests for every operation, on SQLite and PostgreSQL, with and without
an API token. Whatever is sent, the server answers no 5xx; with a token, no request
without it is accepted (only the public health checks answer). A bounded, derandomized
run (EXAMPLES per operation and mode), so it is the same run every time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.core import NotSet

from oar.service import Service
from oar.settings import load_settings
from oar.web import create_app
from tests.conftest import fast_environment
from tests.live_server import live_server

TOKEN = "oar-fuzz-token-0123456789"
EXAMPLES = 6
PUBLIC = {"/healthz", "/readyz"}


def _describe(case: Case, response: Any) -> str:
    body = "" if isinstance(case.body, NotSet) else f" body={case.body!r}"
    return (
        f"{case.method} {case.formatted_path} query={case.query!r}{body}"
        f" -> {response.status_code} {response.text[:300]}"
    )


def fuzz(schema: dict[str, Any], base_url: str, *, token: str | None) -> int:
    """Run every operation's examples; return how many requests were sent."""
    loaded = schemathesis.openapi.from_dict(schema)
    sent = 0
    for result in loaded.get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.POSITIVE]
        if len(operation.query) or len(operation.body):
            # A plain string path parameter has no invalid value to generate: only queries
            # and bodies get the invalid (negative) examples.
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def attempt(case: Case) -> None:
                nonlocal sent
                headers = None
                if token is not None:
                    bare = case.call(base_url=base_url, timeout=30)
                    sent += 1
                    if case.path not in PUBLIC:
                        assert bare.status_code == 401, "accepted without the token: " + (
                            _describe(case, bare)
                        )
                    headers = {"Authorization": f"Bearer {token}"}
                response = case.call(base_url=base_url, headers=headers, timeout=30)
                sent += 1
                assert response.status_code < 500, "server error: " + _describe(case, response)

            attempt()
    return sent


async def _fuzz_service(database_url: str, tmp_path: Path, token: str | None) -> int:
    env = fast_environment(database_url, tmp_path / "data")
    if token is not None:
        env["OAR_API_TOKEN"] = token
    async with Service(load_settings(environ=env), roles={"web", "worker"}) as service:
        app = create_app(service, owns_service=False)
        async with live_server(app) as port:
            # The requests block: they go from a thread, the server answers on this loop.
            return await asyncio.to_thread(
                fuzz, app.openapi(), f"http://127.0.0.1:{port}", token=token
            )


async def test_no_request_makes_a_server_error_without_a_token(
    database_url: str, tmp_path: Path
) -> None:
    assert await _fuzz_service(database_url, tmp_path, None) > 100


async def test_no_request_without_the_token_is_accepted_nor_any_a_server_error(
    database_url: str, tmp_path: Path
) -> None:
    assert await _fuzz_service(database_url, tmp_path, TOKEN) > 200
