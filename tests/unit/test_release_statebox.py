"""The StateBox export: the documented schema 1.0, the merge rules, and writing through the
GitHub files port with sha locking (a concurrent change is merged, not overwritten)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import yaml

from oar.backoff import Backoff
from oar.errors import IntegrationConflictError
from oar.integrations.fakes.github import FakeRepositoryFiles
from oar.integrations.github import RepoFile
from oar.release import statebox
from oar.release.checklist import TASKS, Flow, TaskStatus
from oar.release.records import IssueInfo, ReleaseInfo, TaskInfo

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 20, 9, 5, 30, tzinfo=UTC)
NO_WAIT = Backoff(delay=0, jitter=0)
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


def release_info() -> ReleaseInfo:
    ran = {
        "take-ownership": TaskInfo(
            name="take-ownership",
            status=TaskStatus.PASS,
            started_at=T0,
            completed_at=T1,
            log="2026-11-20T09:00:00Z: INFO: owner set\n2026-11-20T09:05:30Z: INFO: done",
            run_id=1,
            updated_at=T1,
        ),
        "stage-testing": TaskInfo(
            name="stage-testing",
            status=TaskStatus.IN_PROGRESS,
            started_at=T1,
            run_id=2,
            updated_at=T1,
        ),
    }
    tasks = [ran.get(n, TaskInfo(name=n, status=TaskStatus.NOT_STARTED)) for n in TASKS]
    return ReleaseInfo(
        release="4.19.3",
        y_stream="4.19",
        flow=Flow.KONFLUX,
        metadata={
            "jira_ticket": "ART-20003",
            "advisory_ids": {"rpm": 150101, "rhcos": 150102},
            "release_date": "2026-Nov-26",
            "candidate_builds": {"x86_64": "registry/x:1"},
            "shipment_mr": "https://gitlab.example/mr/301",
            "flow": "konflux",
            "owner": "release.owner@example.com",
        },
        created_at=T0,
        updated_at=T1,
        tasks=tasks,
        issues=[
            IssueInfo(
                id=1,
                release="4.19.3",
                text="CVE tracker bug missing from the rpm advisory",
                blocker=True,
                related_tasks=["check-cve-tracker-bug"],
                reported_at=T0,
                reported_by="me",
                resolved=False,
                resolution=None,
                resolved_at=None,
                resolved_by=None,
            )
        ],
    )


def test_the_export_matches_the_documented_schema() -> None:
    document = yaml.safe_load(statebox.dump(statebox.statebox_document(release_info())))
    assert list(document) == [
        "schema_version",
        "release",
        "created_at",
        "updated_at",
        "metadata",
        "tasks",
        "issues",
    ]
    assert document["schema_version"] == "1.0"
    assert document["release"] == "4.19.3"
    for key in ("created_at", "updated_at"):
        assert isinstance(document[key], str)
        assert re.match(TIMESTAMP, document[key])
    assert list(document["metadata"]) == list(statebox.METADATA_FIELDS)
    assert document["metadata"]["advisory_ids"] == {"rpm": 150101, "rhcos": 150102}
    assert "owner" not in document["metadata"]  # e-mails stay out of the public file
    assert [t["name"] for t in document["tasks"]] == ["take-ownership", "stage-testing"]
    for task in document["tasks"]:
        assert list(task) == list(statebox.TASK_FIELDS)
        assert task["status"] in {"Not Started", "In Progress", "Pass", "Fail"}
    assert document["tasks"][0]["result"].endswith("INFO: done")
    assert document["tasks"][1]["completed_at"] is None
    (issue,) = document["issues"]
    assert list(issue) == list(statebox.ISSUE_FIELDS)
    assert issue["blocker"] is True
    assert issue["related_tasks"] == ["check-cve-tracker-bug"]


def test_multi_line_results_are_written_as_blocks() -> None:
    text = statebox.dump(statebox.statebox_document(release_info()))
    assert "result: |" in text


def test_path_follows_the_z_stream_branch_layout() -> None:
    assert statebox.statebox_path("4.19.3") == "_releases/4.19/statebox/4.19.3.yaml"


async def test_writing_creates_then_updates_the_file_on_z_stream() -> None:
    files = FakeRepositoryFiles(branch="main")
    document = statebox.statebox_document(release_info())
    sha = await statebox.write(files, document, backoff=NO_WAIT)
    stored = await files.get_file("_releases/4.19/statebox/4.19.3.yaml", ref="z-stream")
    assert stored is not None
    assert stored.sha == sha
    assert yaml.safe_load(stored.content) == document
    assert files.commits == ["Initialize StateBox for 4.19.3"]
    await statebox.write(files, document, backoff=NO_WAIT)
    assert files.commits[-1] == "Update StateBox for 4.19.3"


async def test_someone_elses_change_is_merged_not_overwritten() -> None:
    path = "_releases/4.19/statebox/4.19.3.yaml"
    remote = statebox.statebox_document(release_info())
    remote["tasks"] = [
        {
            "name": "image-signed-check",
            "status": "Pass",
            "started_at": "2026-11-19T08:00:00Z",
            "completed_at": "2026-11-19T08:01:00Z",
            "result": "signed",
        },
        {"name": "take-ownership", "status": "Fail", "result": "old"},
    ]
    remote["issues"][0].update(resolved=True, resolution="attached", resolved_at="2026-11-20T10Z")
    remote["issues"].append({"issue": "Remote only", "resolved": False, "blocker": False})
    files = FakeRepositoryFiles({path: statebox.dump(remote)}, branch="z-stream")
    await statebox.write(files, statebox.statebox_document(release_info()), backoff=NO_WAIT)
    stored = await files.get_file(path, ref="z-stream")
    assert stored is not None
    merged = yaml.safe_load(stored.content)
    by_name = {t["name"]: t for t in merged["tasks"]}
    assert by_name["image-signed-check"]["status"] == "Pass"  # theirs kept
    assert by_name["take-ownership"]["status"] == "Pass"  # ours wins
    assert by_name["stage-testing"]["status"] == "In Progress"  # ours added
    issues = {i["issue"]: i for i in merged["issues"]}
    assert issues["CVE tracker bug missing from the rpm advisory"]["resolved"] is True
    assert "Remote only" in issues


class RacingFiles(FakeRepositoryFiles):
    """Someone else commits between our read and our write, ``races`` times."""

    def __init__(self, races: int) -> None:
        super().__init__(branch="z-stream")
        self.races = races

    async def get_file(self, path: str, *, ref: str | None = None) -> RepoFile | None:
        found = await super().get_file(path, ref=ref)
        if self.races > 0:
            self.races -= 1
            other = {"schema_version": "1.0", "release": "4.19.3", "tasks": [], "issues": []}
            other["tasks"].append(
                {"name": "drop-bugs", "status": "Pass", "result": f"{self.races}"}
            )
            current = await super().get_file(path, ref=ref)
            await super().put_file(
                path,
                statebox.dump(other),
                message="someone else",
                sha=current.sha if current else None,
                branch=ref,
            )
        return found


async def test_a_lost_race_is_retried_and_merged() -> None:
    files = RacingFiles(races=2)
    await statebox.write(files, statebox.statebox_document(release_info()), backoff=NO_WAIT)
    stored = await files.get_file("_releases/4.19/statebox/4.19.3.yaml", ref="z-stream")
    assert stored is not None
    names = [t["name"] for t in yaml.safe_load(stored.content)["tasks"]]
    assert "drop-bugs" in names
    assert "take-ownership" in names


async def test_a_race_lost_every_time_gives_up_with_the_conflict() -> None:
    files = RacingFiles(races=100)
    with pytest.raises(IntegrationConflictError):
        await statebox.write(
            files, statebox.statebox_document(release_info()), attempts=3, backoff=NO_WAIT
        )
