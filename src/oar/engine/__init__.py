"""The durable engine: the only package that imports ``dbos``.

``Engine`` launches and stops the executor; ``TaskManager`` runs background tasks with
retries, timeouts and dead letters; ``ScheduleManager`` runs periodic workflows on the
engine's scheduler; approvals and watches live beside them.
"""

from __future__ import annotations

import oar.engine.attempts  # noqa: F401  (registers the task workflows with DBOS)
from oar.engine.runtime import DEFAULT_QUEUE, WORKFLOW_VERSION, Engine, LocalRun, QueueSpec
from oar.engine.schedules import (
    ScheduleInfo,
    ScheduleManager,
    ScheduleRegistry,
    ScheduleRun,
    schedule,
)
from oar.engine.tasks import (
    AttemptStatus,
    TaskContext,
    TaskInfo,
    TaskManager,
    TaskRegistry,
    TaskStatus,
    registry,
    task,
)

__all__ = [
    "DEFAULT_QUEUE",
    "WORKFLOW_VERSION",
    "AttemptStatus",
    "Engine",
    "LocalRun",
    "QueueSpec",
    "ScheduleInfo",
    "ScheduleManager",
    "ScheduleRegistry",
    "ScheduleRun",
    "TaskContext",
    "TaskInfo",
    "TaskManager",
    "TaskRegistry",
    "TaskStatus",
    "registry",
    "schedule",
    "task",
]
