"""The dashboard's values: heatmap cells say status in symbol and words, rows keep the
checklist order, approvals are matched to their release."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from oar.release import board
from oar.release.checklist import TASKS, OverallStatus, TaskStatus
from oar.release.records import IssueInfo, ReleaseInfo, RunInfo, TaskInfo

AT = datetime(2026, 11, 30, 9, 15, 0, tzinfo=UTC)


def _run(run_id: int, task: str, actor: str = "alice") -> RunInfo:
    return RunInfo(
        id=run_id,
        release="4.18.3",
        task=task,
        status=TaskStatus.PASS,
        started_at=AT,
        ended_at=AT,
        log="ok",
        actor=actor,
        interface="slack",
    )


def test_a_cell_says_its_status_without_colour_and_who_ran_it() -> None:
    task = TaskInfo(
        name="take-ownership", status=TaskStatus.PASS, started_at=AT, completed_at=AT, run_id=7
    )
    cell = board.cell(task, _run(7, "take-ownership"))
    assert (cell.symbol, cell.css) == ("✓", "pass")
    assert cell.title == (
        "take-ownership: Pass; started 2026-11-30 09:15:00 UTC;"
        " finished 2026-11-30 09:15:00 UTC; by alice (slack)"
    )
    waiting = board.cell(TaskInfo(name="push-to-cdn-staging", status=TaskStatus.NOT_STARTED))
    assert (waiting.symbol, waiting.title) == ("·", "push-to-cdn-staging: Not Started; started -")
    assert {board.cell(TaskInfo(name="t", status=s)).symbol for s in TaskStatus} == {
        "·",
        "…",
        "✓",
        "✗",
        "⊘",
    }


def test_a_row_keeps_the_checklist_order_and_counts_open_blockers_only() -> None:
    tasks = [TaskInfo(name=n, status=TaskStatus.NOT_STARTED) for n in TASKS]
    tasks[1] = TaskInfo(name=TASKS[1], status=TaskStatus.FAIL, run_id=3)

    def issue(issue_id: int, *, resolved: bool) -> IssueInfo:
        return IssueInfo(
            id=issue_id,
            release="4.18.3",
            text="x",
            blocker=True,
            related_tasks=[],
            reported_at=AT,
            reported_by="a",
            resolved=resolved,
            resolution=None,
            resolved_at=None,
            resolved_by=None,
        )

    info = ReleaseInfo(
        release="4.18.3",
        y_stream="4.18",
        flow=None,
        metadata={},
        created_at=AT,
        updated_at=AT,
        tasks=tasks,
        issues=[issue(1, resolved=False), issue(2, resolved=True)],
    )
    row = board.row(info, [_run(3, TASKS[1], actor="bob")])
    assert [c.task for c in row.cells] == list(TASKS)
    assert row.cells[1].title.endswith("by bob (slack)")
    assert (row.overall, row.open_blockers, row.flow) == (OverallStatus.BLOCKED, 1, "unknown flow")


def test_runs_are_grouped_by_task_newest_first() -> None:
    grouped = board.runs_by_task([_run(1, "a"), _run(3, "a"), _run(2, "b")])
    assert {k: [r.id for r in v] for k, v in grouped.items()} == {"a": [3, 1], "b": [2]}


def test_an_approval_concerns_a_release_by_its_run_or_its_context() -> None:
    approvals = [
        SimpleNamespace(run_id="4.18.3 OCPBUGS-1", context={}),
        SimpleNamespace(run_id="4.18.3", context=None),
        SimpleNamespace(run_id="wf-1", context={"release": "4.18.3"}),
        SimpleNamespace(run_id="4.18.30 OCPBUGS-2", context={}),
        SimpleNamespace(run_id="wf-2", context={"release": "4.18.4"}),
    ]
    assert [a.run_id for a in board.pending_for("4.18.3", approvals)] == [
        "4.18.3 OCPBUGS-1",
        "4.18.3",
        "wf-1",
    ]

    assert board.release_of("4.18.3 OCPBUGS-1", {}, ["4.18.30", "4.18.3"]) == "4.18.3"
    assert board.release_of("wf-9", {}, ["4.18.3"]) is None


def test_hidden_releases_are_listed_newest_version_first_with_who_hid_them() -> None:
    hidden = {"4.9.1": (AT, "bob"), "4.18.3": (AT, None), "4.18.10": (AT, "alice")}
    listed = board.hidden_list(hidden)
    assert [(h.release, h.hidden_by) for h in listed] == [
        ("4.18.10", "alice"),
        ("4.18.3", None),
        ("4.9.1", "bob"),
    ]


def test_advisories_and_candidate_builds_are_rows_from_the_metadata() -> None:
    meta = {
        "advisory_ids": {"extras": 2, "image": 1},
        "candidate_builds": {"x86_64": "4.18.3-x86", "aarch64": "4.18.3-arm"},
    }
    assert board.advisories(meta) == [("extras", "2", ""), ("image", "1", "")]
    shipped = {**meta, "shipment": {"shipped": False, "advisory_states": {"1": "REL_PREP"}}}
    assert board.advisories(shipped) == [("extras", "2", ""), ("image", "1", "REL_PREP")]
    assert board.candidate_builds(meta) == [("aarch64", "4.18.3-arm"), ("x86_64", "4.18.3-x86")]
    assert board.advisories({}) == board.candidate_builds({"candidate_builds": None}) == []
    assert board.advisories({"advisory_ids": ["not", "a", "mapping"]}) == []


def test_a_form_records_the_name_typed_with_the_identity_it_came_through() -> None:
    assert board.actor_name("api-token", "  Dana   Scully ") == "Dana Scully via api-token"
    assert board.actor_name("local") == "local"
    assert board.actor_name("local", "   ") == "local"
