"""One operation per Slack thread: claimed atomically on the event loop, released in
``finally``, and watched — never force-released.

The seed's thread-pool bot force-released locks from a watchdog, which corrupted them
(``RuntimeError: release unlocked lock``). In asyncio, check-and-claim with no ``await``
in between is atomic; the watchdog here only reports operations running unusually long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from oar.logs import get_logger

log = get_logger(__name__)


@dataclass(kw_only=True)
class Operation:
    channel: str
    thread_ts: str
    what: str
    started: float
    reported: bool = False


class ThreadClaims:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._busy: dict[tuple[str, str], Operation] = {}
        self.clock = clock

    def claim(self, channel: str, thread_ts: str, what: str) -> Operation | None:
        """Claim the thread; None when it is busy (the running operation is in ``busy``)."""
        key = (channel, thread_ts)
        if key in self._busy:
            return None
        operation = Operation(channel=channel, thread_ts=thread_ts, what=what, started=self.clock())
        self._busy[key] = operation
        return operation

    def busy(self, channel: str, thread_ts: str) -> Operation | None:
        return self._busy.get((channel, thread_ts))

    def release(self, operation: Operation) -> None:
        key = (operation.channel, operation.thread_ts)
        if self._busy.get(key) is operation:
            del self._busy[key]

    @contextlib.contextmanager
    def holding(self, operation: Operation) -> Iterator[Operation]:
        try:
            yield operation
        finally:
            self.release(operation)

    def running(self) -> list[Operation]:
        return list(self._busy.values())

    def overdue(self, threshold: float) -> list[Operation]:
        """Operations past ``threshold`` seconds not reported yet (each reported once)."""
        now = self.clock()
        found = []
        for operation in self._busy.values():
            if not operation.reported and now - operation.started > threshold:
                operation.reported = True
                found.append(operation)
        return found


class Watchdog:
    """Logs operations that run past a threshold. Reports only: it never releases."""

    def __init__(self, claims: ThreadClaims, *, threshold: float, interval: float = 10.0) -> None:
        self.claims = claims
        self.threshold = threshold
        self.interval = min(interval, threshold)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="slack-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for operation in self.claims.overdue(self.threshold):
                log.warning(
                    "slack.operation_long",
                    channel=operation.channel,
                    thread_ts=operation.thread_ts,
                    what=operation.what,
                    seconds=round(self.claims.clock() - operation.started),
                )
