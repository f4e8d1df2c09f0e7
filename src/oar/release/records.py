"""What the release state store returns: frozen views of releases, tasks, runs, issues."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oar.release.checklist import Flow, OverallStatus, TaskStatus, overall_status


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@dataclass(frozen=True, kw_only=True)
class TaskInfo:
    name: str
    status: TaskStatus
    started_at: datetime | None = None
    completed_at: datetime | None = None
    log: str | None = None
    run_id: int | None = None
    updated_at: datetime | None = None

    def to_dict(self, *, with_log: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "status": self.status.value,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "run_id": self.run_id,
        }
        if with_log:
            data["log"] = self.log
        return data


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    id: int
    release: str
    task: str
    status: TaskStatus
    started_at: datetime
    ended_at: datetime | None
    log: str | None
    actor: str
    interface: str
    slack_channel: str | None = None
    slack_thread: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "status": self.status.value,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "actor": self.actor,
            "interface": self.interface,
            "slack_channel": self.slack_channel,
            "slack_thread": self.slack_thread,
            "log": self.log,
        }


@dataclass(frozen=True, kw_only=True)
class IssueInfo:
    id: int
    release: str
    text: str
    blocker: bool
    related_tasks: list[str]
    reported_at: datetime
    reported_by: str
    resolved: bool
    resolution: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "issue": self.text,
            "blocker": self.blocker,
            "related_tasks": list(self.related_tasks),
            "reported_at": _iso(self.reported_at),
            "reported_by": self.reported_by,
            "resolved": self.resolved,
            "resolution": self.resolution,
            "resolved_at": _iso(self.resolved_at),
            "resolved_by": self.resolved_by,
        }


@dataclass(frozen=True, kw_only=True)
class ReleaseInfo:
    """A release with its checklist (every task, Not Started when never run) and issues."""

    release: str
    y_stream: str
    flow: Flow | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    tasks: list[TaskInfo] = field(default_factory=list)
    issues: list[IssueInfo] = field(default_factory=list)

    @property
    def open_blockers(self) -> list[IssueInfo]:
        return [i for i in self.issues if i.blocker and not i.resolved]

    @property
    def overall(self) -> OverallStatus:
        return overall_status(
            {t.name: t.status for t in self.tasks},
            flow=self.flow,
            open_blockers=len(self.open_blockers),
        )

    def task(self, name: str) -> TaskInfo:
        return next(t for t in self.tasks if t.name == name)

    def to_dict(self, *, with_logs: bool = False) -> dict[str, Any]:
        return {
            "release": self.release,
            "y_stream": self.y_stream,
            "flow": None if self.flow is None else self.flow.value,
            "overall_status": self.overall.value,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "metadata": dict(self.metadata),
            "tasks": [t.to_dict(with_log=with_logs) for t in self.tasks],
            "blockers": [i.to_dict() for i in self.open_blockers],
            "issues": [i.to_dict() for i in self.issues],
        }


@dataclass(frozen=True, kw_only=True)
class ReleaseSummary:
    release: str
    y_stream: str
    flow: Flow | None
    overall: OverallStatus
    updated_at: datetime
    tasks: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "y_stream": self.y_stream,
            "flow": None if self.flow is None else self.flow.value,
            "overall_status": self.overall.value,
            "updated_at": _iso(self.updated_at),
            "tasks": dict(self.tasks),
        }
