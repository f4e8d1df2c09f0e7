"""What the dashboard shows, as values: heatmap cells, a release's row, its approvals.

Pure: the web layer reads the release state, the follows and the approvals, hands them
here, and renders what comes back (:mod:`oar.web.dashboard`). A cell says its status in
a symbol and a word as well as a colour, so colour is never the only signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oar.release.checklist import OverallStatus, TaskStatus
from oar.release.records import ReleaseInfo, RunInfo, TaskInfo
from oar.release.shipment import RECORD_KEY as shipment_record_key
from oar.release.versions import ReleaseVersion

_SYMBOLS = {
    TaskStatus.NOT_STARTED: "·",
    TaskStatus.IN_PROGRESS: "…",
    TaskStatus.PASS: "✓",
    TaskStatus.FAIL: "✗",
    TaskStatus.CANCELLED: "⊘",
}
_CLASSES = {
    TaskStatus.NOT_STARTED: "not-started",
    TaskStatus.IN_PROGRESS: "in-progress",
    TaskStatus.PASS: "pass",
    TaskStatus.FAIL: "fail",
    TaskStatus.CANCELLED: "cancelled",
}


def when(value: datetime | None) -> str:
    """A timestamp as the dashboard prints it (UTC, to the second), or a dash."""
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One task of one release in the heatmap."""

    task: str
    status: TaskStatus
    symbol: str
    css: str
    title: str  # started, finished, by whom: the hover and focus text


@dataclass(frozen=True, kw_only=True)
class Row:
    """One release in the overview: its cells, colour and open blockers."""

    release: str
    flow: str
    overall: OverallStatus
    open_blockers: int
    cells: tuple[Cell, ...]


def cell(task: TaskInfo, last_run: RunInfo | None = None) -> Cell:
    """The heatmap cell of ``task``; ``last_run`` (the run it shows) names who ran it."""
    parts = [f"{task.name}: {task.status.value}", f"started {when(task.started_at)}"]
    if task.status.finished:
        parts.append(f"finished {when(task.completed_at)}")
    if last_run is not None:
        parts.append(f"by {last_run.actor} ({last_run.interface})")
    return Cell(
        task=task.name,
        status=task.status,
        symbol=_SYMBOLS[task.status],
        css=_CLASSES[task.status],
        title="; ".join(parts),
    )


def latest_runs(runs: Iterable[RunInfo]) -> dict[int, RunInfo]:
    """Runs by ID (a task names the run it shows by ID)."""
    return {run.id: run for run in runs}


def row(info: ReleaseInfo, runs: Iterable[RunInfo] = ()) -> Row:
    """The overview row of ``info``: one cell per checklist task, in checklist order."""
    by_id = latest_runs(runs)
    return Row(
        release=info.release,
        flow=info.flow.value if info.flow else "unknown flow",
        overall=info.overall,
        open_blockers=len(info.open_blockers),
        cells=tuple(
            cell(t, by_id.get(t.run_id) if t.run_id is not None else None) for t in info.tasks
        ),
    )


def runs_by_task(runs: Iterable[RunInfo]) -> dict[str, list[RunInfo]]:
    """A release's runs grouped by task, newest first within each."""
    grouped: dict[str, list[RunInfo]] = {}
    for run in sorted(runs, key=lambda r: r.id, reverse=True):
        grouped.setdefault(run.task, []).append(run)
    return grouped


def concerns_release(release: str, run_id: str, context: Any) -> bool:
    """Whether an approval (its ``run_id`` and ``context``) is about ``release``.

    Release commands name their approvals' runs ``<release>`` or ``<release> <subject>``
    (drop-bugs: ``4.18.3 OCPBUGS-1``), or carry ``release`` in the context.
    """
    if run_id == release or run_id.startswith(f"{release} "):
        return True
    return isinstance(context, dict) and context.get("release") == release


def pending_for(release: str, approvals: Sequence[Any]) -> list[Any]:
    """The approvals (anything with ``run_id`` and ``context``) that concern ``release``."""
    return [a for a in approvals if concerns_release(release, a.run_id, a.context)]


def release_of(run_id: str, context: Any, releases: Iterable[str]) -> str | None:
    """Which of ``releases`` an approval concerns (None: none of them)."""
    return next((r for r in releases if concerns_release(r, run_id, context)), None)


@dataclass(frozen=True, kw_only=True)
class Hidden:
    """A release hidden from the overview: listed collapsed, with a Show button."""

    release: str
    hidden_at: datetime
    hidden_by: str | None


def hidden_list(hidden: Mapping[str, tuple[datetime, str | None]]) -> list[Hidden]:
    """The hidden releases (``release -> (when, by whom)``), newest version first."""
    return [
        Hidden(release=name, hidden_at=at, hidden_by=by)
        for name, (at, by) in sorted(
            hidden.items(), key=lambda item: ReleaseVersion.parse(item[0]), reverse=True
        )
    ]


def advisories(metadata: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The release's advisories as ``(impetus, id, state)`` rows, as its metadata records
    them; the state is the one the last ``is-shipped`` saw (``""`` when none was seen)."""
    found = metadata.get("advisory_ids") or {}
    if not isinstance(found, Mapping):
        return []
    shipment = metadata.get(shipment_record_key)
    states = shipment.get("advisory_states") if isinstance(shipment, Mapping) else None
    states = states if isinstance(states, Mapping) else {}
    return [
        (str(kind), str(number), str(states.get(str(number)) or ""))
        for kind, number in found.items()
    ]


def candidate_builds(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The candidate builds as ``(architecture, build)`` rows, architectures sorted."""
    found = metadata.get("candidate_builds") or {}
    if not isinstance(found, Mapping):
        return []
    return sorted((str(arch), str(build)) for arch, build in found.items())


def actor_name(identity: str, given: str = "") -> str:
    """Who a dashboard form records: the name typed, with the authenticated identity it
    came through (``Dana via api-token``), or the identity alone."""
    name = " ".join(given.split())
    return f"{name} via {identity}" if name else identity
