"""The durable engine: the only package that imports ``dbos``.

``Engine`` launches and stops the executor; ``TaskManager`` runs background tasks with
retries, timeouts and dead letters; ``ScheduleManager`` runs periodic workflows on the
engine's scheduler; approvals and watches live beside them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Imported on first use: a process that only records release state (``oar -r X status``,
# the change feed's ``announce``) never loads the engine library. The first name taken from
# here registers the task workflows (``oar.engine.attempts``), as importing the package did.
_EXPORTS = {
    "DEFAULT_QUEUE": "oar.engine.runtime",
    "WORKFLOW_VERSION": "oar.engine.runtime",
    "Engine": "oar.engine.runtime",
    "LocalRun": "oar.engine.runtime",
    "QueueSpec": "oar.engine.runtime",
    "ScheduleInfo": "oar.engine.schedules",
    "ScheduleManager": "oar.engine.schedules",
    "ScheduleRegistry": "oar.engine.schedules",
    "ScheduleRun": "oar.engine.schedules",
    "schedule": "oar.engine.schedules",
    "AttemptStatus": "oar.engine.tasks",
    "TaskContext": "oar.engine.tasks",
    "TaskInfo": "oar.engine.tasks",
    "TaskManager": "oar.engine.tasks",
    "TaskRegistry": "oar.engine.tasks",
    "TaskStatus": "oar.engine.tasks",
    "registry": "oar.engine.tasks",
    "task": "oar.engine.tasks",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module("oar.engine.attempts")  # registers the task workflows
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
