"""The release state store on SQLite and PostgreSQL: runs, outcomes, history, issues, and
concurrent writers that never lose each other's updates."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator

import pytest

from oar.db import Database
from oar.errors import ReleaseIssueNotFoundError, ReleaseNotFoundError, ReleaseTaskError
from oar.release.checklist import TASKS, Flow, OverallStatus, ReleaseMetadata, TaskStatus
from oar.release.state import ReleaseState
from oar.sandbox import seed

RELEASE = seed.RELEASE


@pytest.fixture
async def state(database_url: str) -> AsyncIterator[ReleaseState]:
    async with Database(database_url) as db:
        await db.upgrade()
        yield ReleaseState(db)


def metadata() -> ReleaseMetadata:
    return ReleaseMetadata(
        release=RELEASE,
        y_stream=seed.Y_STREAM,
        flow=Flow.KONFLUX,
        jira_ticket=seed.JIRA_TICKETS[RELEASE],
        advisory_ids=seed.ADVISORIES[RELEASE],
        release_date=seed.RELEASE_DATES[RELEASE],
        candidate_builds=seed.CANDIDATE_BUILDS,
        shipment_mr=seed.SHIPMENT_MR_URL,
    )


async def test_a_new_release_shows_the_whole_checklist_not_started(state: ReleaseState) -> None:
    await state.ensure_release(RELEASE, metadata())
    info = await state.get(RELEASE)
    assert [t.name for t in info.tasks] == list(TASKS)
    assert {t.status for t in info.tasks} == {TaskStatus.NOT_STARTED}
    assert info.overall is OverallStatus.NOT_STARTED
    assert info.flow is Flow.KONFLUX
    assert info.metadata["shipment_mr"] == seed.SHIPMENT_MR_URL
    assert info.metadata["advisory_ids"] == seed.ADVISORIES[RELEASE]


async def test_an_unknown_release_is_a_clear_error(state: ReleaseState) -> None:
    with pytest.raises(ReleaseNotFoundError, match=r"release 4\.19\.9 is not tracked"):
        await state.get("4.19.9")


async def test_a_run_goes_in_progress_then_pass_with_its_log_masked(state: ReleaseState) -> None:
    run_id = await state.start_task(RELEASE, "take-ownership", actor="rowner", interface="cli")
    running = (await state.get(RELEASE)).task("take-ownership")
    assert running.status is TaskStatus.IN_PROGRESS
    assert running.started_at is not None
    assert running.completed_at is None
    await state.finish_task(
        RELEASE,
        "take-ownership",
        TaskStatus.PASS,
        log_text="owner set to release.owner@example.com",
        run_id=run_id,
    )
    done = (await state.get(RELEASE)).task("take-ownership")
    assert done.status is TaskStatus.PASS
    assert done.completed_at is not None
    assert done.started_at == running.started_at
    assert done.log == "owner set to [EMAIL_REDACTED]"
    (run,) = await state.runs(RELEASE, task="take-ownership")
    assert (run.status, run.actor, run.interface) == (TaskStatus.PASS, "rowner", "cli")
    assert run.log == done.log


async def test_background_work_finishes_the_run_its_command_left_in_progress(
    state: ReleaseState,
) -> None:
    run_id = await state.start_task(
        RELEASE,
        "change-advisory-status",
        actor="bot",
        interface="slack",
        slack_channel="C0QERELEAS",
        slack_thread="1732.000100",
    )
    await state.finish_task(
        RELEASE,
        "change-advisory-status",
        TaskStatus.IN_PROGRESS,
        log_text="Background metadata checker started",
        run_id=run_id,
    )
    assert (await state.get(RELEASE)).task("change-advisory-status").status is (
        TaskStatus.IN_PROGRESS
    )
    # Later, in a worker: the same store API, no run ID needed.
    assert (
        await state.finish_task(
            RELEASE, "change-advisory-status", "Pass", log_text="advisories moved to REL_PREP"
        )
        == run_id
    )
    task = (await state.get(RELEASE)).task("change-advisory-status")
    assert task.status is TaskStatus.PASS
    assert task.log == "Background metadata checker started\nadvisories moved to REL_PREP"
    (run,) = await state.runs(RELEASE)
    assert (run.slack_channel, run.slack_thread) == ("C0QERELEAS", "1732.000100")
    assert run.ended_at is not None


async def test_a_late_finish_of_an_old_run_does_not_overwrite_a_newer_run(
    state: ReleaseState,
) -> None:
    first = await state.start_task(RELEASE, "stage-testing", actor="a", interface="cli")
    second = await state.start_task(RELEASE, "stage-testing", actor="b", interface="cli")
    await state.finish_task(RELEASE, "stage-testing", "Pass", log_text="second", run_id=second)
    await state.finish_task(RELEASE, "stage-testing", "Fail", log_text="first", run_id=first)
    task = (await state.get(RELEASE)).task("stage-testing")
    assert (task.status, task.log, task.run_id) == (TaskStatus.PASS, "second", second)
    runs = await state.runs(RELEASE, task="stage-testing")
    assert [(r.id, r.status) for r in runs] == [(second, TaskStatus.PASS), (first, TaskStatus.FAIL)]


async def test_a_failed_task_turns_the_release_red_and_a_manual_pass_back_green(
    state: ReleaseState,
) -> None:
    await state.set_task_status(RELEASE, "image-signed-check", "Fail", actor="a", interface="cli")
    assert (await state.get(RELEASE)).overall is OverallStatus.BLOCKED
    await state.set_task_status(
        RELEASE, "image-signed-check", "pass", actor="a", interface="cli", note="signed later"
    )
    info = await state.get(RELEASE)
    assert info.overall is OverallStatus.IN_PROGRESS
    assert info.task("image-signed-check").log == "signed later"
    assert len(await state.runs(RELEASE, task="image-signed-check")) == 2
    with pytest.raises(ReleaseTaskError, match="unknown task status"):
        await state.set_task_status(RELEASE, "image-signed-check", "ok", actor="a", interface="cli")


async def test_blockers_are_deduplicated_linked_and_resolvable(state: ReleaseState) -> None:
    first = await state.add_issue(
        RELEASE, "Advisory 150101 in NEW_FILES", related_tasks=["push-to-cdn-staging"], actor="a"
    )
    again = await state.add_issue(RELEASE, "advisory 150101  in new_files", actor="b")
    assert again.id == first.id
    note = await state.add_issue(RELEASE, "Ask qa.bob@example.com", blocker=False, actor="a")
    assert note.text == "Ask [EMAIL_REDACTED]"
    info = await state.get(RELEASE)
    assert info.overall is OverallStatus.BLOCKED
    assert [b.id for b in info.open_blockers] == [first.id]
    assert info.open_blockers[0].related_tasks == ["push-to-cdn-staging"]

    resolved = await state.resolve_issue(RELEASE, first.id, "pushed after fix", actor="c")
    assert (resolved.resolved, resolved.resolution, resolved.resolved_by) == (
        True,
        "pushed after fix",
        "c",
    )
    assert (await state.resolve_issue(RELEASE, first.id, "other", actor="d")).resolution == (
        "pushed after fix"
    )
    assert (await state.get(RELEASE)).overall is OverallStatus.NOT_STARTED
    # The same text can be reported again once resolved: a new issue.
    reopened = await state.add_issue(RELEASE, "Advisory 150101 in NEW_FILES", actor="a")
    assert reopened.id != first.id
    with pytest.raises(ReleaseIssueNotFoundError):
        await state.resolve_issue(RELEASE, 9999, "x", actor="a")


async def test_two_concurrent_task_updates_to_one_release_are_both_recorded(
    state: ReleaseState, database_url: str
) -> None:
    await state.ensure_release(RELEASE, metadata())
    # A second handle with its own pool: a second command talking to the same database.
    async with Database(database_url) as other_db:
        other = ReleaseState(other_db)

        async def run(store: ReleaseState, task: str, outcome: str) -> None:
            run_id = await store.start_task(RELEASE, task, actor=task, interface="cli")
            await store.finish_task(RELEASE, task, outcome, log_text=task, run_id=run_id)

        await asyncio.gather(
            run(state, "image-signed-check", "Pass"),
            run(other, "push-to-cdn-staging", "Fail"),
            state.add_issue(RELEASE, "one", actor="a"),
            other.add_issue(RELEASE, "two", actor="b"),
        )
    info = await state.get(RELEASE)
    assert info.task("image-signed-check").status is TaskStatus.PASS
    assert info.task("push-to-cdn-staging").status is TaskStatus.FAIL
    assert {i.text for i in info.issues} == {"one", "two"}


async def test_many_concurrent_writers_lose_nothing(state: ReleaseState) -> None:
    async def run(task: str) -> None:
        run_id = await state.start_task(RELEASE, task, actor="load", interface="cli")
        await state.finish_task(RELEASE, task, "Pass", log_text=f"{task} ok", run_id=run_id)

    await asyncio.gather(*(run(task) for task in TASKS))
    info = await state.get(RELEASE)
    assert {t.status for t in info.tasks} == {TaskStatus.PASS}
    assert len(await state.runs(RELEASE, limit=100)) == len(TASKS)


_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from oar.db import Database
    from oar.release.state import ReleaseState

    async def main(url, tasks):
        async with Database(url) as db:
            state = ReleaseState(db)
            for round in range(3):
                for task in tasks:
                    run_id = await state.start_task("4.19.3", task, actor="p", interface="cli")
                    await state.finish_task("4.19.3", task, "Pass", log_text=str(round),
                                            run_id=run_id)
                await state.add_issue("4.19.3", f"issue {tasks[0]} {round}", actor="p")

    asyncio.run(main(sys.argv[1], sys.argv[2].split(",")))
    """
)


@pytest.mark.slow
async def test_two_processes_updating_one_release_both_land(
    state: ReleaseState, database_url: str
) -> None:
    await state.ensure_release(RELEASE, metadata())
    halves = [",".join(TASKS[:6]), ",".join(TASKS[6:])]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WRITER, database_url, half, stderr=subprocess.PIPE
        )
        for half in halves
    ]
    for process in processes:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, stderr.decode()
    info = await state.get(RELEASE)
    assert {t.status for t in info.tasks} == {TaskStatus.PASS}
    assert len(await state.runs(RELEASE, limit=500)) == 3 * len(TASKS)
    assert len(info.issues) == 6
