"""The one way tests wait: on an event, with a deadline, never on a bare sleep.

``eventually(predicate, timeout)`` polls a sync or async predicate until it returns a truthy
value and returns that value; past the deadline it fails naming what it waited for (and the last
value seen). ``eventually_sync`` is the same for code without an event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest

INTERVAL = 0.05


async def eventually(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    *,
    what: str | None = None,
    interval: float = INTERVAL,
) -> Any:
    """Await until ``predicate()`` (sync or async) is truthy; return its value."""
    deadline = time.monotonic() + timeout
    value: Any = None
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(
                f"timed out after {timeout}s waiting for {_name(predicate, what)}"
                f" (last value: {value!r})"
            )
        await asyncio.sleep(interval)


def eventually_sync(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    *,
    what: str | None = None,
    interval: float = INTERVAL,
) -> Any:
    """``eventually`` for a test without an event loop (blocking polls)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(
                f"timed out after {timeout}s waiting for {_name(predicate, what)}"
                f" (last value: {value!r})"
            )
        time.sleep(interval)


def _name(predicate: Callable[[], Any], what: str | None) -> str:
    return what or getattr(predicate, "__qualname__", repr(predicate))
