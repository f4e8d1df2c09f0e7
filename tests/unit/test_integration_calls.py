"""The shared call policy: transient errors retried, the rest translated at once."""

from __future__ import annotations

import asyncio

import pytest

from oar.backoff import Backoff
from oar.errors import (
    IntegrationAuthError,
    IntegrationNotFoundError,
    IntegrationTimeoutError,
    IntegrationUnavailableError,
)
from oar.integrations.calls import CallPolicy, call, call_sync, failure_for_status


class Status(Exception):
    def __init__(self, code: int, retry_after: float | None = None) -> None:
        self.code = code
        self.retry_after = retry_after


def classify(exc: BaseException):
    if isinstance(exc, Status):
        return failure_for_status(exc.code, f"HTTP {exc.code}", retry_after=exc.retry_after)
    return None


POLICY = CallPolicy(
    system="Jira", credential="JIRA_TOKEN", timeout=2, retries=2, backoff=Backoff(delay=0)
)


def failing(*codes: int):
    remaining = list(codes)
    calls = []

    async def attempt() -> str:
        calls.append(1)
        if remaining:
            raise Status(remaining.pop(0))
        return "ok"

    return attempt, calls


async def test_transient_errors_are_retried_until_success() -> None:
    attempt, calls = failing(429, 503)
    assert await call(POLICY, "search", attempt, classify) == "ok"
    assert len(calls) == 3


async def test_retries_are_bounded_and_end_as_unavailable() -> None:
    attempt, calls = failing(502, 502, 502, 502)
    with pytest.raises(IntegrationUnavailableError, match="after 3 attempts"):
        await call(POLICY, "search", attempt, classify)
    assert len(calls) == 3


async def test_auth_failure_names_the_credential_and_is_not_retried() -> None:
    attempt, calls = failing(401)
    with pytest.raises(IntegrationAuthError, match="JIRA_TOKEN") as info:
        await call(POLICY, "search", attempt, classify)
    assert info.value.variable == "JIRA_TOKEN"
    assert len(calls) == 1


async def test_not_found_is_translated() -> None:
    attempt, _ = failing(404)
    with pytest.raises(IntegrationNotFoundError):
        await call(POLICY, "get issue", attempt, classify)


async def test_a_hang_ends_with_a_timeout_error() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    policy = CallPolicy(system="Jira", credential="JIRA_TOKEN", timeout=0.05)
    with pytest.raises(IntegrationTimeoutError, match="no answer"):
        await call(policy, "search", hang, classify)


async def test_sync_calls_run_off_the_loop() -> None:
    def blocking() -> int:
        return 42

    assert await call_sync(POLICY, "get", blocking, classify) == 42


async def test_unknown_exceptions_propagate_unchanged() -> None:
    async def boom() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await call(POLICY, "get", boom, classify)
