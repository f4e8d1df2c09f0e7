"""Load: a burst of 50 messages in 50 threads, 15 of them to a model that hangs.

The seed's thread-pool bot hung for good after ten slow model calls. Here every message
is answered or explicitly failed, the hung ones end at the deadline, and the bot still
answers a new message at once while they hang.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from oar.sandbox.seed import SLACK_BOT_USER_ID
from tests.integration.test_slack_bot import CHANNEL, _world, texts

LLM_TIMEOUT = 5.0
MESSAGES = 50
HANGING = 15


async def test_a_burst_with_hanging_model_calls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with _world(
        f"sqlite:///{tmp_path / 'data' / 'oar.db'}", tmp_path, OAR_LLM_TIMEOUT=str(LLM_TIMEOUT)
    ) as world:
        texts_sent = [
            f"<@{SLACK_BOT_USER_ID}> question {i}: " + ("please HANG" if i % 10 < 3 else "status?")
            for i in range(MESSAGES)
        ]
        assert sum("HANG" in t for t in texts_sent) == HANGING
        started = time.monotonic()
        roots = await asyncio.gather(*(world.say(text) for text in texts_sent))

        def answered(ts: str) -> bool:
            return "Sandbox answer to" in texts(world.slack.thread(CHANNEL, ts))

        normal = [ts for ts, text in zip(roots, texts_sent, strict=True) if "HANG" not in text]
        hung = [ts for ts, text in zip(roots, texts_sent, strict=True) if "HANG" in text]
        await world.slack.wait_for(lambda: all(answered(ts) for ts in normal), 30, "35 answers")

        # While the 15 still hang, a new message is answered at once.
        assert not any("did not answer" in texts(world.slack.thread(CHANNEL, ts)) for ts in hung)
        probe_sent = time.monotonic()
        probe = await world.say(f"<@{SLACK_BOT_USER_ID}> are you there?")
        await world.slack.wait_for(lambda: answered(probe), 10, "probe answer")
        probe_latency = time.monotonic() - probe_sent

        await world.slack.wait_for(
            lambda: all(
                "did not answer within" in texts(world.slack.thread(CHANNEL, ts)) for ts in hung
            ),
            LLM_TIMEOUT + 5,
            "15 timeout replies",
        )
        timeouts_done = time.monotonic() - started
    assert probe_latency < 1.0, f"a new message waited {probe_latency:.2f}s during the burst"
    assert timeouts_done < LLM_TIMEOUT + 5
    locked = [r.getMessage() for r in caplog.records if "locked" in r.getMessage().lower()]
    assert locked == []
