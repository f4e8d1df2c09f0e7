"""Checklist rules: task names, statuses as people type them, the colour, email masking."""

from __future__ import annotations

import pytest

from oar.errors import ReleaseTaskError
from oar.release.checklist import (
    EMAIL_MASK,
    TASKS,
    WORKFLOW_TASKS,
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
    with pytest.raises(ReleaseTaskError, match="Not Started, In Progress, Pass, Fail"):
        task_status("done")


def test_the_release_is_red_when_a_task_failed_or_a_blocker_is_open() -> None:
    green = [TaskStatus.PASS, TaskStatus.IN_PROGRESS, TaskStatus.NOT_STARTED]
    assert overall_status(green, open_blockers=0) is OverallStatus.GREEN
    assert overall_status([*green, TaskStatus.FAIL], open_blockers=0) is OverallStatus.RED
    assert overall_status(green, open_blockers=1) is OverallStatus.RED


def test_emails_are_masked_in_logs() -> None:
    text = "owner set to release.owner@example.com and qa.alice+x@sub.example.org; not a@b"
    assert mask_emails(text) == f"owner set to {EMAIL_MASK} and {EMAIL_MASK}; not a@b"
    assert mask_emails("nothing to hide") == "nothing to hide"
