"""The checklist as a dependency graph, and what a drive does next: pure rules.

Each checklist task has preconditions (the tasks that must have passed first), in the
original ``/release:drive`` order: the report first; the checks on the report's data next;
push-to-cdn-staging once the owner is set and the CVE trackers and Greenwave tests passed;
stage-testing after the push (the command itself waits for the Konflux stage pipeline);
drop-bugs after stage-testing; change-advisory-status last, once every gate passed.

:func:`plan` reads a release's state (values only) and answers what is done, what is
ready to run, and what waits — and on what: a ``follow`` (the task runs in a durable
follow), a ``blocker`` (an open blocker issue of the task or of a task it needs, even a
passed one, or of the release), a
``manual`` task (no command: analyze-candidate-build and analyze-promoted-build are a
person's judgement, marked with ``oar task --status``; a failed task without a blocker
waits for a person too), a ``precondition``, or the ``gate`` (set by the drive while a
human approval of a gated command is pending). The drive runs one task at a time, in
checklist order, so a release's runs read in the order they happened.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from oar.errors import InvalidArgumentError
from oar.jsonvalue import JSON
from oar.release.checklist import TASKS, Flow, TaskStatus
from oar.release.records import IssueInfo, ReleaseInfo, TaskInfo

# Tasks no command runs: a person analyses the builds' test results and marks them.
MANUAL_TASKS: frozenset[str] = frozenset({"analyze-candidate-build", "analyze-promoted-build"})

# Tasks that count as done once they ran (Pass, or In Progress when nothing follows it):
# update-bug-list stays In Progress while bugs are unverified; drop-bugs handles those.
SETTLED_WHEN_RUN: frozenset[str] = frozenset({"update-bug-list"})

_GATES = (
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
)

# task -> the tasks that must be done first (any flow; a task outside the flow is skipped).
PRECONDITIONS: Mapping[str, tuple[str, ...]] = {
    "create-test-report": (),
    "take-ownership": ("create-test-report",),
    "update-bug-list": ("create-test-report",),
    "image-consistency-check": ("create-test-report",),
    "analyze-candidate-build": ("create-test-report",),
    "analyze-promoted-build": ("create-test-report",),
    "check-greenwave-cvp-tests": ("create-test-report",),
    "check-cve-tracker-bug": ("create-test-report",),
    "push-to-cdn-staging": (
        "take-ownership",
        "check-greenwave-cvp-tests",
        "check-cve-tracker-bug",
    ),
    "stage-testing": ("push-to-cdn-staging",),
    "image-signed-check": ("create-test-report",),
    "drop-bugs": ("update-bug-list", "stage-testing"),
    "change-advisory-status": _GATES,
}

# Tasks that exist only in one flow (the registry's flows); the others run in both.
FLOW_ONLY: Mapping[str, Flow] = {"image-consistency-check": Flow.KONFLUX}


class Waiting(enum.StrEnum):
    """What a task that is not ready waits for."""

    FOLLOW = "follow"
    BLOCKER = "blocker"
    MANUAL = "manual"
    PRECONDITION = "precondition"
    GATE = "gate"


@dataclass(frozen=True, kw_only=True)
class Wait:
    task: str
    on: Waiting
    reason: str

    def to_dict(self) -> dict[str, JSON]:
        return {"task": self.task, "on": self.on.value, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Where the drive stands: done tasks, the tasks ready to run (in order), the waits."""

    flow: Flow
    tasks: tuple[str, ...]  # the tasks of this drive, in order (up to --until)
    done: tuple[str, ...]
    ready: tuple[str, ...]
    waiting: tuple[Wait, ...]
    release_blocked: tuple[int, ...] = ()  # open blockers naming no task: all waits

    @property
    def finished(self) -> bool:
        return set(self.tasks) <= set(self.done)

    @property
    def next(self) -> str | None:
        """The task to run now: the first ready one, unless another is running (one at a
        time) or the release is blocked."""
        if self.release_blocked or any(w.on is Waiting.FOLLOW for w in self.waiting):
            return None
        return self.ready[0] if self.ready else None

    def lines(self) -> list[str]:
        """The plan as text (``--dry-run``)."""
        out = [f"flow {self.flow.value}: {len(self.done)}/{len(self.tasks)} task(s) done"]
        if self.release_blocked:
            ids = ", ".join(f"#{i}" for i in self.release_blocked)
            out.append(f"release blocked by open blocker(s) {ids}: nothing runs")
        waits = {w.task: w for w in self.waiting}
        for task in self.tasks:
            if task in self.done:
                out.append(f"  done     {task}")
            elif task in self.ready:
                mark = "next" if task == self.next else "ready"
                out.append(f"  {mark:<8} {task}")
            elif task in waits:
                out.append(f"  waiting  {task}: {waits[task].on.value}: {waits[task].reason}")
        return out

    def to_dict(self) -> dict[str, JSON]:
        return {
            "flow": self.flow.value,
            "tasks": list(self.tasks),
            "done": list(self.done),
            "ready": list(self.ready),
            "next": self.next,
            "waiting": [w.to_dict() for w in self.waiting],
            "release_blocked": list(self.release_blocked),
            "finished": self.finished,
        }


def drive_tasks(flow: Flow, until: str | None = None) -> tuple[str, ...]:
    """The tasks a drive of ``flow`` goes through, in order, up to ``until`` included
    (with what ``until`` needs: its preconditions are all earlier in the order)."""
    tasks = tuple(t for t in TASKS if FLOW_ONLY.get(t, flow) is flow)
    if until is None:
        return tasks
    if until not in tasks:
        raise InvalidArgumentError(
            "--until", f"{until!r} is not a task of the {flow.value} flow: use one of {tasks}"
        )
    needed = _closure(until, tasks)
    return tuple(t for t in tasks if t in needed)


def _closure(task: str, tasks: Iterable[str]) -> set[str]:
    allowed = set(tasks)
    found: set[str] = set()
    todo = [task]
    while todo:
        current = todo.pop()
        if current in found or current not in allowed:
            continue
        found.add(current)
        todo.extend(PRECONDITIONS[current])
    return found


def _done(task: TaskInfo, following: bool) -> bool:
    if task.status is TaskStatus.PASS:
        return True
    return task.name in SETTLED_WHEN_RUN and task.status is TaskStatus.IN_PROGRESS and not following


def _blockers(issues: Iterable[IssueInfo], task: str) -> list[IssueInfo]:
    return [i for i in issues if i.blocker and not i.resolved and task in i.related_tasks]


def _unblocked_since(issues: Iterable[IssueInfo], task: str, at: datetime | None) -> bool:
    """Whether a blocker of ``task`` was resolved after ``at`` (its last run's end)."""
    return any(
        i.blocker
        and i.resolved
        and task in i.related_tasks
        and i.resolved_at is not None
        and (at is None or i.resolved_at >= at)
        for i in issues
    )


def plan(
    release: ReleaseInfo,
    *,
    following: Iterable[str] = (),
    gated: Mapping[str, str] | None = None,
    until: str | None = None,
) -> Plan:
    """What the drive of ``release`` does next. ``following``: the tasks a running
    follow is finishing; ``gated``: task -> the approval it waits on. Pure."""
    flow = release.flow or Flow.ERRATA
    tasks = drive_tasks(flow, until)
    by_name = {t.name: t for t in release.tasks}
    followed = set(following)
    gates = dict(gated or {})
    done = tuple(t for t in tasks if _done(by_name.get(t) or _blank(t), t in followed))
    release_blocked = tuple(
        i.id for i in release.issues if i.blocker and not i.resolved and not i.related_tasks
    )
    ready: list[str] = []
    waiting: list[Wait] = []
    for name in tasks:
        if name in done:
            continue
        task = by_name.get(name) or _blank(name)
        missing = [p for p in PRECONDITIONS[name] if p in tasks and p not in done]
        blockers = [
            b
            for needed in sorted(_closure(name, tasks), key=TASKS.index)
            for b in _blockers(release.issues, needed)
        ]
        if blockers:
            text = "; ".join(f"#{b.id} {b.text} ({', '.join(b.related_tasks)})" for b in blockers)
            waiting.append(Wait(task=name, on=Waiting.BLOCKER, reason=text))
        elif name in followed or (
            task.status is TaskStatus.IN_PROGRESS and name not in MANUAL_TASKS
        ):
            if name in followed:
                reason = "its follow is running"
                waiting.append(Wait(task=name, on=Waiting.FOLLOW, reason=reason))
            else:
                reason = "In Progress and followed by nothing: rerun it or set its status"
                waiting.append(Wait(task=name, on=Waiting.MANUAL, reason=reason))
        elif missing:
            reason = "after " + ", ".join(missing)
            waiting.append(Wait(task=name, on=Waiting.PRECONDITION, reason=reason))
        elif name in MANUAL_TASKS:
            reason = "a person analyses it and marks it: oar task " + name + " --status pass"
            waiting.append(Wait(task=name, on=Waiting.MANUAL, reason=reason))
        elif task.status is TaskStatus.FAIL and not _unblocked_since(
            release.issues, name, task.completed_at
        ):
            reason = "failed: rerun it by hand, set its status, or resolve its blocker"
            waiting.append(Wait(task=name, on=Waiting.MANUAL, reason=reason))
        elif task.status is TaskStatus.CANCELLED:
            # Stopped on purpose (its follow was cancelled): not run again by itself.
            reason = "cancelled: rerun it by hand or set its status"
            waiting.append(Wait(task=name, on=Waiting.MANUAL, reason=reason))
        elif name in gates:
            reason = f"approval {gates[name]} pending in Slack"
            waiting.append(Wait(task=name, on=Waiting.GATE, reason=reason))
        else:
            ready.append(name)
    return Plan(
        flow=flow,
        tasks=tasks,
        done=done,
        ready=tuple(ready),
        waiting=tuple(waiting),
        release_blocked=release_blocked,
    )


def _blank(name: str) -> TaskInfo:
    return TaskInfo(name=name, status=TaskStatus.NOT_STARTED)


__all__ = [
    "FLOW_ONLY",
    "MANUAL_TASKS",
    "PRECONDITIONS",
    "Plan",
    "Wait",
    "Waiting",
    "drive_tasks",
    "plan",
]
