"""Checklist rules: task names, statuses as people type them, the overall status, masking."""

from __future__ import annotations

import pytest

from oar.errors import ReleaseTaskError
from oar.release.checklist import (
    EMAIL_MASK,
    FLOW_TASKS,
    TASKS,
    WORKFLOW_TASKS,
    Flow,
    OverallStatus,
    TaskStatus,
    mask_emails,
    overall_status,
    task_name,
    task_status,
)


def test_the_checklist_holds_every_workflow_task_of_the_original_tool() -> None:
    assert set(WORKFLOW_TASKS) <= set(TASKS)
    for extra in (
        "create-test-report",
        "update-bug-list",
        "check-greenwave-cvp-tests",
        "drop-bugs",
    ):
        assert extra in TASKS


def test_unknown_task_names_list_the_known_ones() -> None:
    assert task_name("Stage-Testing") == "stage-testing"
    with pytest.raises(ReleaseTaskError) as caught:
        task_name("deploy-everything")
    assert "deploy-everything" in caught.value.message
    assert "take-ownership" in caught.value.message


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Pass", TaskStatus.PASS),
        ("pass", TaskStatus.PASS),
        ("FAIL", TaskStatus.FAIL),
        ("In Progress", TaskStatus.IN_PROGRESS),
        ("in-progress", TaskStatus.IN_PROGRESS),
        ("not_started", TaskStatus.NOT_STARTED),
    ],
)
def test_statuses_are_read_as_people_type_them(text: str, status: TaskStatus) -> None:
    assert task_status(text) is status


def test_an_unknown_status_names_the_allowed_ones() -> None:
    with pytest.raises(ReleaseTaskError, match="Not Started, In Progress, Pass, Fail, Cancelled"):
        task_status("done")


def _tasks(**statuses: TaskStatus) -> dict[str, TaskStatus]:
    every = dict.fromkeys(TASKS, TaskStatus.NOT_STARTED)
    return every | {name.replace("_", "-"): status for name, status in statuses.items()}


ALL_PASSED = dict.fromkeys(TASKS, TaskStatus.PASS)


@pytest.mark.parametrize(
    ("tasks", "flow", "blockers", "expected"),
    [
        pytest.param(_tasks(), Flow.KONFLUX, 0, OverallStatus.NOT_STARTED, id="nothing done"),
        pytest.param({}, None, 0, OverallStatus.NOT_STARTED, id="no task rows at all"),
        pytest.param(
            _tasks(create_test_report=TaskStatus.PASS),
            Flow.KONFLUX,
            0,
            OverallStatus.IN_PROGRESS,
            id="one task done",
        ),
        pytest.param(
            _tasks(take_ownership=TaskStatus.CANCELLED),
            Flow.ERRATA,
            0,
            OverallStatus.IN_PROGRESS,
            id="a cancelled task blocks nothing",
        ),
        pytest.param(
            _tasks(create_test_report=TaskStatus.PASS, stage_testing=TaskStatus.FAIL),
            Flow.KONFLUX,
            0,
            OverallStatus.BLOCKED,
            id="a failed task",
        ),
        pytest.param(
            _tasks(create_test_report=TaskStatus.PASS),
            Flow.KONFLUX,
            1,
            OverallStatus.BLOCKED,
            id="an open blocker",
        ),
        pytest.param(ALL_PASSED, Flow.KONFLUX, 0, OverallStatus.DONE, id="all done"),
        pytest.param(ALL_PASSED, Flow.KONFLUX, 2, OverallStatus.BLOCKED, id="done but blocked"),
        pytest.param(
            ALL_PASSED | {"image-consistency-check": TaskStatus.NOT_STARTED},
            Flow.ERRATA,
            0,
            OverallStatus.DONE,
            id="errata flow: no image consistency check",
        ),
        pytest.param(
            ALL_PASSED | {"image-consistency-check": TaskStatus.NOT_STARTED},
            Flow.KONFLUX,
            0,
            OverallStatus.IN_PROGRESS,
            id="konflux flow: image consistency check still to pass",
        ),
        pytest.param(
            ALL_PASSED | {"drop-bugs": TaskStatus.CANCELLED},
            Flow.KONFLUX,
            0,
            OverallStatus.IN_PROGRESS,
            id="a cancelled task is not done",
        ),
    ],
)
def test_overall_status_says_not_started_in_progress_blocked_or_done(
    tasks: dict[str, TaskStatus], flow: Flow | None, blockers: int, expected: OverallStatus
) -> None:
    assert overall_status(tasks, flow=flow, open_blockers=blockers) is expected


def test_the_flow_tasks_agree_with_the_command_registry() -> None:
    from oar.release.commands import COMMANDS

    for spec in COMMANDS:
        if not spec.records_task:
            continue
        for flow in Flow:
            assert (spec.name in FLOW_TASKS[flow]) == (flow in spec.flows), (spec.name, flow)


def test_a_cancelled_status_is_final_and_read_as_people_type_it() -> None:
    assert TaskStatus.CANCELLED.finished
    assert task_status("canceled") is TaskStatus.CANCELLED
    assert task_status("Cancelled") is TaskStatus.CANCELLED


def test_emails_are_masked_in_logs() -> None:
    text = "owner set to release.owner@example.com and qa.alice+x@sub.example.org; not a@b"
    assert mask_emails(text) == f"owner set to {EMAIL_MASK} and {EMAIL_MASK}; not a@b"
    assert mask_emails("nothing to hide") == "nothing to hide"
