"""``GITHUBAPP_TASK_QUEUE_BACKEND=memory``: for tests only.

Background handlers run as asyncio tasks of the receiving process, with the same timeout
and retry policy as durable tasks, but nothing is stored: a restart loses them, and their
status is visible only in this process. The durable engine (``database``) is the default
and the only choice for real use.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from oar.backoff import Backoff
from oar.logs import get_logger

log = get_logger(__name__)

Attempt = Callable[[int], Awaitable[Any]]


class MemoryRunner:
    def __init__(self) -> None:
        self._status: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(
        self, name: str, attempt: Attempt, *, timeout: float, retries: int, retry_delay: float
    ) -> str:
        task_id = f"memory-{uuid.uuid4()}"
        self._status[task_id] = {
            "id": task_id,
            "name": name,
            "status": "pending",
            "attempts": 0,
            "last_error": None,
            "result": None,
            "backend": "memory",
        }
        task = asyncio.create_task(self._run(task_id, attempt, timeout, retries, retry_delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task_id

    async def _run(
        self, task_id: str, attempt: Attempt, timeout: float, retries: int, retry_delay: float
    ) -> None:
        status = self._status[task_id]
        backoff = Backoff(delay=retry_delay)
        for number in range(1, retries + 2):
            status.update(status="running", attempts=number)
            started = time.monotonic()
            try:
                async with asyncio.timeout(timeout):
                    result = await attempt(number)
            except TimeoutError:
                status["last_error"] = f"attempt {number} timed out after {timeout:g}s"
            except Exception as exc:  # a handler's failure is data: retried, then dead
                status["last_error"] = f"{type(exc).__name__}: {exc}"
            else:
                status.update(status="succeeded", result=result)
                return
            log.info(
                "github.memory_attempt_failed",
                task_id=task_id,
                attempt=number,
                seconds=time.monotonic() - started,
            )
            if number <= retries:
                status["status"] = "pending"
                await asyncio.sleep(backoff.delay_for(number, seed=task_id))
        status["status"] = "dead"

    def status(self, task_id: str) -> dict[str, Any] | None:
        found = self._status.get(task_id)
        return dict(found) if found is not None else None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
