"""Durable follows of a test kind on a real engine, on SQLite and PostgreSQL: check-now,
cancel, a deadline kept across a restart, two starts at once (one follow, one joined)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from oar.db.models import FollowRecord
from oar.db.types import utcnow
from oar.engine import TaskStatus as EngineTaskStatus
from oar.errors import ReleaseBusyError, ReleaseNotFoundError
from oar.release.checklist import TaskStatus
from oar.release.follows import LEGACY_WATCH_TASK, FollowInfo, Follows, FollowStatus
from oar.release.state import ReleaseState
from oar.service import Service
from oar.settings import Settings, load_settings
from oar.web import create_app
from tests.conftest import fast_environment
from tests.follow_kinds import KIND, flag_request, journal
from tests.live_server import live_server
from tests.waiting import eventually

RELEASE = "4.19.3"
TASK = "image-consistency-check"


async def _checked(follows: Follows, follow_id: str, checks: int) -> FollowInfo | None:
    follow = await follows.get(follow_id)
    return follow if follow.checks >= checks else None


async def _finished(follows: Follows, follow_id: str) -> FollowInfo | None:
    follow = await follows.get(follow_id)
    return None if follow.status is FollowStatus.RUNNING else follow


async def test_check_now_runs_the_next_check_at_once(settings: Settings, tmp_path: Path) -> None:
    async with Service(settings, roles=("worker",)) as service:
        follows = Follows(service.db, service.tasks)
        follow, created = await follows.start(flag_request(tmp_path))  # every 600 s
        assert created
        await eventually(lambda: _checked(follows, follow.id, 1), what="the first check")
        (tmp_path / "flag").touch()
        _, woken = await follows.check_now(follow.id, actor="tester")
        assert woken
        done = await eventually(lambda: _finished(follows, follow.id), what="the follow to end")
        assert done.status is FollowStatus.SUCCEEDED
        assert done.checks == 2
        assert journal(tmp_path / "journal.txt") == ["check 1", "check 2", "finished"]
        assert any("check now asked by tester via cli" in line for line in done.log)

        async def task_succeeded() -> bool:
            return (await service.tasks.get(follow.id)).status is EngineTaskStatus.SUCCEEDED

        await eventually(task_succeeded, what="the follow's task to succeed")
        # A finished follow has nothing to wake.
        assert (await follows.check_now(follow.id, actor="tester"))[1] is False


async def test_cancel_stops_it_and_records_the_run_waiting_on_it_cancelled(
    settings: Settings, tmp_path: Path
) -> None:
    async with Service(settings, roles=("worker",)) as service:
        state = ReleaseState(service.db)
        run_id = await state.start_task(RELEASE, TASK, actor="tester", interface="cli")
        follows = Follows(service.db, service.tasks)
        follow, _ = await follows.start(
            flag_request(tmp_path, release=RELEASE, task=TASK, run_id=run_id)
        )
        await eventually(lambda: _checked(follows, follow.id, 1), what="the first check")
        with pytest.raises(ReleaseBusyError, match=f"follow {follow.id}"):
            await state.delete(RELEASE)  # work for it runs: refused, nothing removed
        assert await state.exists(RELEASE)
        cancelled = await follows.cancel(follow.id, actor="lead", interface="slack")
        assert cancelled.status is FollowStatus.CANCELLED
        assert cancelled.error == "follow cancelled by lead via slack"
        assert (await service.tasks.get(follow.id)).status is EngineTaskStatus.CANCELLED
        (run,) = await state.runs(RELEASE, task=TASK)
        assert run.status is TaskStatus.CANCELLED
        # Cancelled is final: a second cancel changes nothing, a new start is a new follow.
        assert (await follows.cancel(follow.id, actor="lead")).status is FollowStatus.CANCELLED
        again, created = await follows.start(flag_request(tmp_path))
        assert created
        assert again.id == f"{follow.key}:2"
        await follows.cancel(again.id, actor="lead")

        # A cancelled follow leaves the worker at once (not at its next check, 600 s on).
        async def left_the_process() -> bool:
            return follow.id not in service.engine.busy_workflows()

        await eventually(left_the_process, timeout=5, what="the cancelled follow to leave")

        # Nothing runs for the release any more: it can be deleted, with all its rows.
        await state.delete(RELEASE)
        assert not await state.exists(RELEASE)
        assert await state.runs(RELEASE) == []
        assert [f.id for f in await follows.list() if f.release == RELEASE] == []
        with pytest.raises(ReleaseNotFoundError):
            await state.delete(RELEASE)


async def test_the_deadline_is_kept_across_a_restart(settings: Settings, tmp_path: Path) -> None:
    request = flag_request(tmp_path, deadline=3.0)  # checks every 600 s, for 3 s
    async with Service(settings, roles=("worker",)) as service:
        follows = Follows(service.db, service.tasks)
        follow, _ = await follows.start(request)
        first = await eventually(lambda: _checked(follows, follow.id, 1), what="the first check")
    # The worker is gone while the follow waits; a new one resumes the same workflow.
    async with Service(settings, roles=("worker",)) as service:
        follows = Follows(service.db, service.tasks)
        done = await eventually(
            lambda: _finished(follows, follow.id), timeout=20, what="the deadline"
        )
    assert done.status is FollowStatus.TIMED_OUT
    assert done.deadline_at == first.deadline_at == first.started_at + timedelta(seconds=3)
    assert done.finished_at is not None
    assert done.finished_at >= done.deadline_at
    assert sum("test follow started" in line for line in done.log) == 1
    assert journal(tmp_path / "journal.txt") == ["check 1", "check 2"]  # the last at the deadline


async def test_two_starts_at_once_make_one_follow_that_finishes_both_runs(
    settings: Settings, tmp_path: Path
) -> None:
    async with Service(settings, roles=()) as one, Service(settings, roles=()) as two:
        state = ReleaseState(one.db)
        runs = [await state.start_task(RELEASE, TASK, actor=who, interface="cli") for who in "ab"]
        results = await asyncio.gather(
            *(
                Follows(service.db, service.tasks).start(
                    flag_request(tmp_path, release=RELEASE, task=TASK, run_id=run, started_by=who)
                )
                for service, run, who in ((one, runs[0], "a"), (two, runs[1], "b"))
            )
        )
    assert sorted(created for _, created in results) == [False, True]
    (follow_id,) = {follow.id for follow, _ in results}
    (tmp_path / "flag").touch()
    async with Service(settings, roles=("worker",)) as service:
        follows = Follows(service.db, service.tasks)
        done = await eventually(lambda: _finished(follows, follow_id), what="the follow to end")
        assert done.status is FollowStatus.SUCCEEDED
        assert len(done.joined_runs) == 1
        assert len(await follows.list()) == 1
        state = ReleaseState(service.db)

        async def both_passed() -> bool:
            found = await state.runs(RELEASE, task=TASK)
            return sorted(r.id for r in found if r.status is TaskStatus.PASS) == sorted(runs)

        await eventually(both_passed, what="both runs to pass")
    assert journal(tmp_path / "journal.txt") == ["check 1", "finished"]


async def test_the_http_api_lists_shows_wakes_and_cancels_follows_with_the_token(
    database_url: str, tmp_path: Path
) -> None:
    token = "follows-token-0123456789abcdef"
    env = {**fast_environment(database_url, tmp_path / "data"), "OAR_API_TOKEN": token}
    bearer = {"Authorization": f"Bearer {token}"}
    async with (
        Service(load_settings(environ=env), roles={"web", "worker"}) as service,
        live_server(create_app(service, owns_service=False)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        follows = Follows(service.db, service.tasks)
        follow, _ = await follows.start(flag_request(tmp_path))
        (tmp_path / "other").mkdir()
        other, _ = await follows.start(flag_request(tmp_path / "other", key="flag:two"))
        await eventually(lambda: _checked(follows, follow.id, 1), what="the first check")
        for path in ("/api/follows", f"/api/follows/{follow.id}"):
            assert (await http.get(path)).status_code == 401
        assert (await http.post(f"/api/follows/{follow.id}/cancel")).status_code == 401
        listed = (await http.get("/api/follows", params={"kind": KIND}, headers=bearer)).json()
        assert {f["id"] for f in listed["follows"]} == {follow.id, other.id}
        shown = (await http.get(f"/api/follows/{follow.id}", headers=bearer)).json()
        assert (shown["kind"], shown["status"], shown["checks"]) == (KIND, "running", 1)
        missing = await http.get("/api/follows/no-such-follow", headers=bearer)
        assert missing.status_code == 404

        (tmp_path / "flag").touch()
        woken = await http.post(f"/api/follows/{follow.id}/check-now", headers=bearer)
        assert woken.status_code == 200
        assert woken.json()["woken"] is True
        done = await eventually(lambda: _finished(follows, follow.id), what="the follow to end")
        assert done.status is FollowStatus.SUCCEEDED
        assert any("check now asked by" in line and "via http" in line for line in done.log)

        cancelled = await http.post(f"/api/follows/{other.id}/cancel", headers=bearer)
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"


async def test_a_watch_enqueued_before_follows_existed_runs_on_its_follow(
    settings: Settings, tmp_path: Path
) -> None:
    """Migration 0009 leaves such a watch's task (``release.approval-watch``, payload
    ``watch_id``) as it was; the legacy handler runs it on the copied row."""
    async with Service(settings, roles=("worker",)) as service:
        follows = Follows(service.db, service.tasks)
        request = flag_request(tmp_path, key="flag:legacy")
        async with service.db.transaction() as session:
            session.add(
                FollowRecord(
                    id=request.key,
                    kind=request.kind,
                    key=request.key,
                    subject=request.subject,
                    status=FollowStatus.RUNNING.value,
                    started_at=utcnow(),
                    interval_seconds=request.interval,
                    started_by="before-the-upgrade",
                    interface="cli",
                    checks=0,
                    log=[],
                    data=request.data,
                )
            )
        (tmp_path / "flag").touch()
        await service.tasks.enqueue(
            LEGACY_WATCH_TASK,
            {"watch_id": request.key, "deadline": 600.0, "interval": 600.0},
            key=request.key,
            allow_internal=True,
        )
        done = await eventually(lambda: _finished(follows, request.key), what="the old watch")
        assert done.status is FollowStatus.SUCCEEDED
        assert journal(tmp_path / "journal.txt") == ["check 1", "finished"]
