"""The release checklist: task names, task statuses, the overall status, log masking.

Pure rules shared by the state store, the CLI, the HTTP API and the StateBox export.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oar.errors import ReleaseTaskError


class TaskStatus(enum.StrEnum):
    """A checklist task's status, spelled as the Google Sheet and StateBox spell it."""

    NOT_STARTED = "Not Started"
    IN_PROGRESS = "In Progress"
    PASS = "Pass"  # noqa: S105  (a task status, not a password)
    FAIL = "Fail"
    # Stopped on purpose (a follow or watch cancelled by someone): neither a pass nor a
    # failure; the task still has to be done, and nothing is blocked by it.
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({TaskStatus.PASS, TaskStatus.FAIL, TaskStatus.CANCELLED})


class OverallStatus(enum.StrEnum):
    """Where the release stands (:func:`overall_status`), spelled as people say it."""

    NOT_STARTED = "not started"  # no task has run yet
    IN_PROGRESS = "in progress"  # started, nothing blocks it, tasks still to pass
    BLOCKED = "blocked"  # an open blocker issue or a failed task
    DONE = "done"  # every checklist task of the release's flow passed

    @property
    def css(self) -> str:
        """The class the dashboard styles it with (``in-progress``)."""
        return self.value.replace(" ", "-")

    @property
    def symbol(self) -> str:
        """A symbol that says it without colour (the dashboard and the CLI)."""
        return _OVERALL_SYMBOLS[self]


_OVERALL_SYMBOLS = {
    OverallStatus.NOT_STARTED: "○",
    OverallStatus.IN_PROGRESS: "◐",
    OverallStatus.BLOCKED: "▲",
    OverallStatus.DONE: "●",
}


class Flow(enum.StrEnum):
    """How the release ships: Errata Tool advisories, or a Konflux shipment MR."""

    ERRATA = "errata"
    KONFLUX = "konflux"


# The commands whose status the original tool recorded (its WORKFLOW_TASK_NAMES).
WORKFLOW_TASKS: tuple[str, ...] = (
    "take-ownership",
    "image-consistency-check",
    "analyze-candidate-build",
    "analyze-promoted-build",
    "check-cve-tracker-bug",
    "push-to-cdn-staging",
    "stage-testing",
    "image-signed-check",
    "change-advisory-status",
)

# Every task of the checklist, in the order a release goes through them.
TASKS: tuple[str, ...] = (
    "create-test-report",
    "take-ownership",
    "update-bug-list",
    "image-consistency-check",
    "analyze-candidate-build",
    "analyze-promoted-build",
    "check-greenwave-cvp-tests",
    "check-cve-tracker-bug",
    "push-to-cdn-staging",
    "stage-testing",
    "image-signed-check",
    "drop-bugs",
    "change-advisory-status",
)

# The tasks a release of each flow goes through: image-consistency-check runs on the
# Konflux shipment MR only (the registry's flows say the same; a unit test keeps them so).
FLOW_TASKS: dict[Flow, tuple[str, ...]] = {
    Flow.KONFLUX: TASKS,
    Flow.ERRATA: tuple(t for t in TASKS if t != "image-consistency-check"),
}

_STATUS_ALIASES = {
    re.sub(r"[\s_-]+", "", status.value.lower()): status for status in TaskStatus
} | {
    "passed": TaskStatus.PASS,
    "failed": TaskStatus.FAIL,
    "todo": TaskStatus.NOT_STARTED,
    "canceled": TaskStatus.CANCELLED,
}

# The pattern StateBox masks before a log lands in a public repository.
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
EMAIL_MASK = "[EMAIL_REDACTED]"


def task_name(text: str) -> str:
    """``text`` if it names a checklist task, else ReleaseTaskError listing the tasks."""
    name = text.strip().lower()
    if name not in TASKS:
        raise ReleaseTaskError(f"unknown release task {text!r}: use one of {', '.join(TASKS)}")
    return name


def task_status(text: str | TaskStatus) -> TaskStatus:
    """Parse a status as people type it (``pass``, ``In Progress``, ``in-progress``)."""
    if isinstance(text, TaskStatus):
        return text
    status = _STATUS_ALIASES.get(re.sub(r"[\s_-]+", "", text.strip().lower()))
    if status is None:
        allowed = ", ".join(s.value for s in TaskStatus)
        raise ReleaseTaskError(f"unknown task status {text!r}: use one of {allowed}")
    return status


def overall_status(
    tasks: Mapping[str, TaskStatus], *, flow: Flow | None, open_blockers: int
) -> OverallStatus:
    """Where a release stands, from its tasks' statuses (by name; a task never run may be
    absent) and its open blockers:

    * **blocked**: a blocker issue is open, or a task's latest run failed;
    * **done**: every checklist task of the flow passed (unknown flow: every task);
    * **not started**: no task has run yet (nothing done, nothing running);
    * **in progress**: anything else.
    """
    statuses = tasks.values()
    if open_blockers > 0 or any(s is TaskStatus.FAIL for s in statuses):
        return OverallStatus.BLOCKED
    needed = TASKS if flow is None else FLOW_TASKS[flow]
    if all(tasks.get(name) is TaskStatus.PASS for name in needed):
        return OverallStatus.DONE
    if all(s is TaskStatus.NOT_STARTED for s in statuses):
        return OverallStatus.NOT_STARTED
    return OverallStatus.IN_PROGRESS


def mask_emails(text: str) -> str:
    """The text with every email address replaced by ``[EMAIL_REDACTED]``."""
    return _EMAIL.sub(EMAIL_MASK, text)


@dataclass(frozen=True, kw_only=True)
class ReleaseMetadata:
    """What the release state keeps about a release, as ConfigStore reads it."""

    release: str
    y_stream: str
    flow: Flow | None = None
    jira_ticket: str | None = None
    advisory_ids: dict[str, int] = field(default_factory=dict)
    release_date: str | None = None
    candidate_builds: dict[str, str] = field(default_factory=dict)
    shipment_mr: str | None = None
    owner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The StateBox ``metadata`` fields (plus flow and owner)."""
        return {
            "jira_ticket": self.jira_ticket,
            "advisory_ids": dict(self.advisory_ids),
            "release_date": self.release_date,
            "candidate_builds": dict(self.candidate_builds),
            "shipment_mr": self.shipment_mr,
            "flow": None if self.flow is None else self.flow.value,
            "owner": self.owner,
        }
