"""A follow kind for tests (``test.flag``): done when a file exists.

Registered on import; worker subprocesses load it with ``--plugin tests.follow_kinds``.
Every check and every finish is written to the follow's journal file, so a test sees how
often each really ran (a checkpointed step replayed after a restart writes nothing).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from oar.integrations.slack import Notifier
from oar.release.follows import (
    Check,
    Finished,
    FollowInfo,
    FollowRequest,
    FollowStatus,
    kinds,
)
from oar.settings import Settings

KIND = "test.flag"


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def journal(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


class FlagKind:
    """Pending until ``data["flag"]`` exists; finishing writes ``finished`` once."""

    name = KIND
    noun = "follow"

    def started_line(self, follow: FollowInfo) -> str:
        return f"test follow started for {follow.subject}"

    async def check(self, follow: FollowInfo, number: int) -> Check:
        _append(follow.data["journal"], f"check {number}")
        if Path(follow.data["flag"]).exists():
            return Check.finished(f"check #{number}: the flag is there")
        return Check.pending(f"check #{number}: no flag yet")

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        _append(follow.data["journal"], "finished")
        return Finished(ok=True, line="finished: the flag was seen")

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        return f"test follow {status.value}"

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        return f"test follow {follow.id}: {status.value}"


@contextlib.asynccontextmanager
async def flag_kind(settings: Settings) -> AsyncIterator[FlagKind]:
    yield FlagKind()


kinds.register(KIND, flag_kind)


def flag_request(tmp_path: Path, *, key: str = "flag:one", **values: Any) -> FollowRequest:
    """A follow of the test kind whose flag and journal live under ``tmp_path``."""
    fields: dict[str, Any] = {
        "kind": KIND,
        "key": key,
        "subject": "the flag",
        "started_by": "tester",
        "interval": 600.0,
        "deadline": 900.0,
        "data": {"flag": str(tmp_path / "flag"), "journal": str(tmp_path / "journal.txt")},
        **values,
    }
    return FollowRequest(**fields)
