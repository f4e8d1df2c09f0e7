"""The checklist as a dependency graph: what a drive runs next, and what it waits on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oar.errors import InvalidArgumentError
from oar.release.checklist import TASKS, Flow, TaskStatus
from oar.release.driveplan import PRECONDITIONS, Waiting, drive_tasks, plan
from oar.release.records import IssueInfo, ReleaseInfo, TaskInfo

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
PASS, FAIL, RUNNING = TaskStatus.PASS, TaskStatus.FAIL, TaskStatus.IN_PROGRESS


def release(
    flow: Flow = Flow.KONFLUX,
    issues: tuple[IssueInfo, ...] = (),
    **statuses: TaskStatus | tuple[TaskStatus, datetime],
) -> ReleaseInfo:
    tasks = []
    for name in TASKS:
        given = statuses.get(name.replace("-", "_"), TaskStatus.NOT_STARTED)
        status, at = given if isinstance(given, tuple) else (given, T0)
        tasks.append(TaskInfo(name=name, status=status, completed_at=at))
    return ReleaseInfo(
        release="4.19.3",
        y_stream="4.19",
        flow=flow,
        metadata={},
        created_at=T0,
        updated_at=T0,
        tasks=tasks,
        issues=list(issues),
    )


def issue(
    id_: int, *tasks: str, resolved_at: datetime | None = None, blocker: bool = True
) -> IssueInfo:
    return IssueInfo(
        id=id_,
        release="4.19.3",
        text=f"issue {id_}",
        blocker=blocker,
        related_tasks=list(tasks),
        reported_at=T0,
        reported_by="qe",
        resolved=resolved_at is not None,
        resolution="fixed" if resolved_at else None,
        resolved_at=resolved_at,
        resolved_by="qe" if resolved_at else None,
    )


def all_passed(*but: str) -> dict[str, TaskStatus]:
    return {t.replace("-", "_"): PASS for t in TASKS if t not in but}


def test_every_precondition_is_an_earlier_task() -> None:
    assert set(PRECONDITIONS) == set(TASKS)
    for task, needs in PRECONDITIONS.items():
        assert all(TASKS.index(n) < TASKS.index(task) for n in needs), task


def test_a_new_release_starts_with_the_report() -> None:
    planned = plan(release())
    assert planned.ready == ("create-test-report",)
    assert planned.next == "create-test-report"
    waits = {w.task: w.on for w in planned.waiting}
    assert waits["push-to-cdn-staging"] is Waiting.PRECONDITION
    assert not planned.finished


def test_after_the_report_the_checks_run_in_checklist_order_and_manual_tasks_wait() -> None:
    planned = plan(release(create_test_report=PASS))
    assert planned.next == "take-ownership"
    assert planned.ready[:3] == ("take-ownership", "update-bug-list", "image-consistency-check")
    waits = {w.task: w.on for w in planned.waiting}
    assert waits["analyze-candidate-build"] is Waiting.MANUAL
    assert waits["stage-testing"] is Waiting.PRECONDITION


def test_the_errata_flow_has_no_image_consistency_check() -> None:
    assert "image-consistency-check" not in drive_tasks(Flow.ERRATA)
    assert "image-consistency-check" in drive_tasks(Flow.KONFLUX)


def test_a_running_follow_holds_the_drive_one_task_at_a_time() -> None:
    state = release(create_test_report=PASS, take_ownership=RUNNING)
    planned = plan(state, following=["take-ownership"])
    assert [w.on for w in planned.waiting if w.task == "take-ownership"] == [Waiting.FOLLOW]
    assert planned.ready  # others are ready, but the drive waits for the follow first
    assert planned.next is None


def test_in_progress_without_a_follow_waits_for_a_person() -> None:
    planned = plan(release(create_test_report=PASS, take_ownership=RUNNING))
    wait = next(w for w in planned.waiting if w.task == "take-ownership")
    assert wait.on is Waiting.MANUAL
    assert planned.next == "update-bug-list"


def test_update_bug_list_in_progress_counts_as_run() -> None:
    planned = plan(release(create_test_report=PASS, update_bug_list=RUNNING))
    assert "update-bug-list" in planned.done


def test_stage_testing_after_the_push_and_approval_after_every_gate() -> None:
    before_push = all_passed(
        "push-to-cdn-staging", "stage-testing", "drop-bugs", "change-advisory-status"
    )
    assert plan(release(**before_push)).next == "push-to-cdn-staging"
    pushed = all_passed("stage-testing", "drop-bugs", "change-advisory-status")
    assert plan(release(**pushed)).next == "stage-testing"
    last = plan(release(**all_passed("change-advisory-status")))
    assert last.next == "change-advisory-status"
    missing_analysis = plan(
        release(**all_passed("analyze-promoted-build", "change-advisory-status"))
    )
    wait = next(w for w in missing_analysis.waiting if w.task == "change-advisory-status")
    assert wait.on is Waiting.PRECONDITION
    assert "analyze-promoted-build" in wait.reason
    assert plan(release(**all_passed())).finished


def test_a_blocker_of_a_task_holds_it_and_its_dependents() -> None:
    state = release(
        issues=(issue(7, "push-to-cdn-staging"),),
        **all_passed("push-to-cdn-staging", "stage-testing", "drop-bugs", "change-advisory-status"),
    )
    planned = plan(state)
    wait = next(w for w in planned.waiting if w.task == "push-to-cdn-staging")
    assert wait.on is Waiting.BLOCKER
    assert "#7" in wait.reason
    assert planned.next is None


def test_a_blocker_of_a_passed_task_still_holds_what_needs_it() -> None:
    state = release(
        issues=(issue(2, "check-cve-tracker-bug"),),
        **all_passed("push-to-cdn-staging", "stage-testing", "drop-bugs", "change-advisory-status"),
    )
    planned = plan(state)
    wait = next(w for w in planned.waiting if w.task == "push-to-cdn-staging")
    assert (wait.on, wait.reason) == (Waiting.BLOCKER, "#2 issue 2 (check-cve-tracker-bug)")
    assert planned.next is None


def test_a_release_wide_blocker_stops_everything() -> None:
    planned = plan(release(issues=(issue(3),)))
    assert planned.release_blocked == (3,)
    assert planned.ready == ("create-test-report",)
    assert planned.next is None
    assert "release blocked" in "\n".join(planned.lines())


def test_not_a_blocker_and_resolved_blockers_do_not_hold() -> None:
    issues = (issue(1, "create-test-report", blocker=False), issue(2, resolved_at=T0))
    assert plan(release(issues=issues)).next == "create-test-report"


def test_a_failed_task_waits_for_a_person_then_reruns_once_its_blocker_is_resolved() -> None:
    failed_at = T0 + timedelta(minutes=5)
    held = plan(release(create_test_report=PASS, take_ownership=(FAIL, failed_at)))
    assert next(w for w in held.waiting if w.task == "take-ownership").on is Waiting.MANUAL
    later = issue(4, "take-ownership", resolved_at=failed_at + timedelta(minutes=1))
    freed = plan(
        release(issues=(later,), create_test_report=PASS, take_ownership=(FAIL, failed_at))
    )
    assert freed.next == "take-ownership"
    earlier = issue(4, "take-ownership", resolved_at=T0)
    stale = plan(
        release(issues=(earlier,), create_test_report=PASS, take_ownership=(FAIL, failed_at))
    )
    assert "take-ownership" not in stale.ready


def test_a_cancelled_task_waits_for_a_person_and_is_not_rerun_by_itself() -> None:
    held = plan(release(create_test_report=PASS, take_ownership=(TaskStatus.CANCELLED, T0)))
    wait = next(w for w in held.waiting if w.task == "take-ownership")
    assert (wait.on, wait.reason) == (
        Waiting.MANUAL,
        "cancelled: rerun it by hand or set its status",
    )
    assert "take-ownership" not in held.ready


def test_a_pending_gate_is_a_wait_not_a_run() -> None:
    planned = plan(
        release(**all_passed("change-advisory-status")), gated={"change-advisory-status": "a1"}
    )
    assert planned.next is None
    wait = planned.waiting[0]
    assert (wait.on, wait.reason) == (Waiting.GATE, "approval a1 pending in Slack")


def test_until_keeps_the_task_and_what_it_needs() -> None:
    assert drive_tasks(Flow.ERRATA, "take-ownership") == ("create-test-report", "take-ownership")
    stage = drive_tasks(Flow.KONFLUX, "stage-testing")
    assert "update-bug-list" not in stage
    assert {"push-to-cdn-staging", "check-cve-tracker-bug"} <= set(stage)
    state = release(create_test_report=PASS, take_ownership=PASS)
    assert plan(state, until="take-ownership").finished
    with pytest.raises(InvalidArgumentError, match="--until"):
        drive_tasks(Flow.ERRATA, "image-consistency-check")


def test_plan_as_json_and_text() -> None:
    planned = plan(release(create_test_report=PASS))
    data = planned.to_dict()
    assert data["next"] == "take-ownership"
    assert data["done"] == ["create-test-report"]
    text = "\n".join(planned.lines())
    assert "next     take-ownership" in text
    assert "waiting  analyze-candidate-build: manual" in text
