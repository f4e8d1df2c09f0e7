"""The Slack command runner's progress updates: they stop when the command ends, and none
lands after the result.

Under load in CI a thread stayed busy for good: the runner stopped its progress ticker by
cancelling it, the cancellation arrived while an update was in flight and was lost there
(Python 3.11's ``asyncio.wait_for`` can drop one), so the ticker went on and the runner
waited for it forever. The ticker is now stopped, never cancelled.
"""

from __future__ import annotations

import asyncio
import sys

from oar.slack.runner import CommandRunner

QUICK = [sys.executable, "-c", "import time; time.sleep(0.3); print('done')"]


def runner() -> CommandRunner:
    return CommandRunner(timeout=30, progress_interval=0.05, environ={})


async def test_an_update_that_swallows_its_cancellation_does_not_hold_the_command() -> None:
    events: list[str] = []

    async def swallowing(seconds: float) -> None:
        events.append("update")
        try:
            await asyncio.sleep(0.2)  # a slow Slack
        except asyncio.CancelledError:
            events.append("cancel swallowed")  # as a lost cancellation looks from outside

    async with asyncio.timeout(20):
        result = await runner().run(QUICK, channel="C1", thread_ts="1.0", progress=swallowing)

    assert result.ok
    assert result.output == "done\n"
    assert "update" in events
    assert "cancel swallowed" not in events  # stopped, not cancelled


async def test_no_progress_update_lands_after_the_result() -> None:
    events: list[str] = []

    async def slow(seconds: float) -> None:
        events.append("update started")
        await asyncio.sleep(0.2)
        events.append("update finished")

    result = await runner().run(QUICK, channel="C1", thread_ts="1.0", progress=slow)
    events.append("result")

    assert result.ok
    assert events[-1] == "result"
    assert events.count("update started") == events.count("update finished") >= 1
