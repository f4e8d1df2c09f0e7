"""The release state's contract: the same behaviours from the database's
:class:`~oar.release.state.ReleaseState` (SQLite and PostgreSQL) and from the in-memory
:class:`~oar.testing.release.FakeReleaseStore` the commands' unit tests use, so the fake
cannot drift from the real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oar.db import Database
from oar.errors import ReleaseNotFoundError, ReleaseTaskError
from oar.release.checklist import TASKS, Flow, OverallStatus, ReleaseMetadata, TaskStatus
from oar.release.state import ReleaseState, TrackingStore
from oar.sandbox import seed
from oar.testing import reset_database
from oar.testing.release import FakeReleaseStore
from tests.conftest import require_postgres

RELEASE = seed.RELEASE
TASK = "create-test-report"


@pytest.fixture(params=["sqlite", "postgres", "fake"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TrackingStore]:
    """Each implementation, fresh (PostgreSQL: skipped, or failed in CI, without a server)."""
    if request.param == "fake":
        yield FakeReleaseStore()
        return
    if request.param == "postgres":
        url = require_postgres()
        await reset_database(url)
    else:
        url = f"sqlite:///{tmp_path / 'oar.db'}"
    async with Database(url) as db:
        await db.upgrade()
        yield ReleaseState(db)


def metadata(**changes: object) -> ReleaseMetadata:
    fields: dict[str, object] = {
        "release": RELEASE,
        "y_stream": seed.Y_STREAM,
        "flow": Flow.KONFLUX,
        "jira_ticket": seed.JIRA_TICKETS[RELEASE],
        "advisory_ids": seed.ADVISORIES[RELEASE],
        "release_date": seed.RELEASE_DATES[RELEASE],
        "candidate_builds": seed.CANDIDATE_BUILDS,
        "shipment_mr": seed.SHIPMENT_MR_URL,
        **changes,
    }
    return ReleaseMetadata(**fields)  # type: ignore[arg-type]


async def test_a_release_is_created_once_and_its_metadata_replaced_only_when_given(
    store: TrackingStore,
) -> None:
    await store.ensure_release(RELEASE, metadata())
    await store.ensure_release(RELEASE)  # no metadata: leaves it alone
    info = await store.get(RELEASE)
    assert [t.name for t in info.tasks] == list(TASKS)
    assert {t.status for t in info.tasks} == {TaskStatus.NOT_STARTED}
    assert (info.release, info.y_stream, info.flow) == (RELEASE, seed.Y_STREAM, Flow.KONFLUX)
    assert info.metadata == metadata().to_dict() | {
        "advisory_ids": dict(seed.ADVISORIES[RELEASE]),
        "candidate_builds": dict(seed.CANDIDATE_BUILDS),
    }
    assert info.overall is OverallStatus.NOT_STARTED

    await store.ensure_release(RELEASE, metadata(flow=Flow.ERRATA, shipment_mr=None))
    again = await store.get(RELEASE)
    assert again.flow is Flow.ERRATA
    assert again.metadata["shipment_mr"] is None
    assert again.created_at == info.created_at


async def test_a_metadata_key_set_apart_survives_the_configurations_metadata(
    store: TrackingStore,
) -> None:
    """is-shipped's verdict (key ``shipment``) is kept when a command records the
    configuration's metadata again; the configuration's own keys are replaced."""
    await store.set_metadata(RELEASE, "shipment", {"shipped": False})  # creates the release
    await store.ensure_release(RELEASE, metadata())
    await store.set_metadata(RELEASE, "shipment", {"shipped": True})
    await store.ensure_release(RELEASE, metadata(jira_ticket="ART-1"))
    found = (await store.get(RELEASE)).metadata
    assert (found["shipment"], found["jira_ticket"]) == ({"shipped": True}, "ART-1")


async def test_an_unknown_release_is_the_same_clear_error(store: TrackingStore) -> None:
    with pytest.raises(ReleaseNotFoundError, match=r"release 4\.19\.9 is not tracked"):
        await store.get("4.19.9")


async def test_first_run_is_the_oldest_run_that_ended_with_the_status(
    store: TrackingStore,
) -> None:
    assert await store.first_run(RELEASE, TASK, status=TaskStatus.PASS) is None
    failed = await store.start_task(RELEASE, TASK, actor="mlead", interface="cli")
    await store.finish_task(RELEASE, TASK, TaskStatus.FAIL, log_text="boom", run_id=failed)
    assert await store.first_run(RELEASE, TASK, status=TaskStatus.PASS) is None

    passed = await store.start_task(RELEASE, TASK, actor="rowner", interface="slack")
    await store.finish_task(
        RELEASE, TASK, "Pass", log_text="told release.owner@example.com", run_id=passed
    )
    later = await store.start_task(RELEASE, TASK, actor="mlead", interface="cli")
    await store.finish_task(RELEASE, TASK, TaskStatus.PASS, run_id=later)

    first = await store.first_run(RELEASE, TASK, status="pass")
    assert first is not None
    assert (first.id, first.actor, first.interface) == (passed, "rowner", "slack")
    assert first.status is TaskStatus.PASS
    assert first.log == "told [EMAIL_REDACTED]"
    assert first.ended_at is not None
    oldest_fail = await store.first_run(RELEASE, TASK, status=TaskStatus.FAIL)
    assert oldest_fail is not None
    assert oldest_fail.id == failed
    assert failed < passed < later
    assert await store.first_run(RELEASE, "take-ownership", status=TaskStatus.PASS) is None
    task = (await store.get(RELEASE)).task(TASK)
    assert (task.status, task.run_id) == (TaskStatus.PASS, later)


async def test_in_progress_never_undoes_an_outcome_and_a_late_finish_keeps_the_newer_run(
    store: TrackingStore,
) -> None:
    name = "change-advisory-status"
    old = await store.start_task(RELEASE, name, actor="bot", interface="slack")
    await store.finish_task(RELEASE, name, TaskStatus.IN_PROGRESS, log_text="watching", run_id=old)
    # background work finishes the latest run left in progress, without its ID
    assert await store.finish_task(RELEASE, name, TaskStatus.PASS, log_text="moved") == old
    await store.finish_task(RELEASE, name, TaskStatus.IN_PROGRESS, run_id=old)
    task = (await store.get(RELEASE)).task(name)
    assert task.status is TaskStatus.PASS
    assert task.log == "watching\nmoved"

    new = await store.start_task(RELEASE, name, actor="mlead", interface="cli")
    await store.finish_task(RELEASE, name, TaskStatus.FAIL, log_text="late", run_id=old)
    task = (await store.get(RELEASE)).task(name)
    assert (task.status, task.run_id) == (TaskStatus.IN_PROGRESS, new)
    assert (await store.get(RELEASE)).overall is OverallStatus.IN_PROGRESS


async def test_one_open_issue_per_text_masked_and_a_blocker_turns_the_release_red(
    store: TrackingStore,
) -> None:
    text = "Advisories in abnormal state (NEW_FILES instead of QE): 1, ask art@example.com"
    issue = await store.add_issue(
        RELEASE, text, related_tasks=["Push-To-CDN-Staging"], actor="tester"
    )
    same = await store.add_issue(RELEASE, f"  {text.upper()}\n", blocker=False, actor="other")
    assert same == issue
    assert (
        issue.text
        == "Advisories in abnormal state (NEW_FILES instead of QE): 1, ask [EMAIL_REDACTED]"
    )
    assert (issue.release, issue.blocker, issue.reported_by) == (RELEASE, True, "tester")
    assert issue.related_tasks == ["push-to-cdn-staging"]
    assert (issue.resolved, issue.resolution, issue.resolved_at) == (False, None, None)
    other = await store.add_issue(RELEASE, "stage pipeline down", blocker=False, actor="tester")
    assert other.id > issue.id

    info = await store.get(RELEASE)  # add_issue created the release
    assert [i.id for i in info.issues] == [issue.id, other.id]
    assert [i.id for i in info.open_blockers] == [issue.id]
    assert info.overall is OverallStatus.BLOCKED

    with pytest.raises(ReleaseTaskError, match="an issue needs a description"):
        await store.add_issue(RELEASE, " \n ", actor="tester")


async def test_a_resolved_issue_reported_again_is_a_new_one(store: TrackingStore) -> None:
    assert isinstance(store, ReleaseState | FakeReleaseStore)
    first = await store.add_issue(RELEASE, "stage pipeline down", actor="tester")
    resolved = await store.resolve_issue(RELEASE, first.id, " fixed ", actor="rowner")
    assert (resolved.resolved, resolved.resolution, resolved.resolved_by) == (
        True,
        "fixed",
        "rowner",
    )
    again = await store.add_issue(RELEASE, "stage pipeline down", actor="tester")
    assert again.id != first.id
    assert not again.resolved
    assert (await store.get(RELEASE)).overall is OverallStatus.BLOCKED
