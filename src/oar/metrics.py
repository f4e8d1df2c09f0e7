"""Prometheus metrics of this process, exposed at ``/metrics``.

Counters and histograms count what this process did; gauges that describe shared state
(tasks by status, pending approvals) are refreshed from the database at scrape time, so
every process reports the same totals.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

TASKS = Gauge(
    "oar_tasks", "Background tasks by status (from the database).", ["status"], registry=REGISTRY
)
TASK_ATTEMPTS = Counter(
    "oar_task_attempts",
    "Task attempts finished in this process, by task name and outcome.",
    ["name", "outcome"],
    registry=REGISTRY,
)
TASK_ATTEMPT_SECONDS = Histogram(
    "oar_task_attempt_duration_seconds",
    "How long task attempts took, by task name.",
    ["name"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
    registry=REGISTRY,
)
TASKS_ENQUEUED = Counter(
    "oar_tasks_enqueued",
    "Tasks enqueued by this process, by task name.",
    ["name"],
    registry=REGISTRY,
)

APPROVALS_PENDING = Gauge(
    "oar_approvals_pending",
    "Approvals waiting for a decision (from the database).",
    registry=REGISTRY,
)
APPROVAL_RESOLUTIONS = Counter(
    "oar_approval_resolutions",
    "Approvals that ended in this process, by outcome (approved, rejected, modified,"
    " expired, cancelled).",
    ["outcome"],
    registry=REGISTRY,
)
APPROVAL_SECONDS = Histogram(
    "oar_approval_resolution_seconds",
    "Time from request to decision of resolved approvals.",
    buckets=(1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400),
    registry=REGISTRY,
)
