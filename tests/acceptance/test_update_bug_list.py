"""``oar -r X update-bug-list`` and ``oar -r X bugs`` from a terminal, both flows: real
``oar`` processes and real client libraries against the sandbox's stand-ins (Errata Tool,
Jira, GitLab, LDAP, Slack) in this test's event loop, a real database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oar.release.checklist import TaskStatus
from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, seed
from oar.sandbox.gitlab import SHIPMENT_FILE
from oar.sandbox.registry import Sandbox
from oar.service import Service
from tests.acceptance.conftest import oar

FORUM = seed.SLACK_CHANNELS["forum-qe"]
ALICE, BOB, LEAD = "<@U0ALICE002>", "<@U0BOB00003>", "<@U0LEAD0001>"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(base_port=0) as running:
        yield running


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **subprocess_env,
        **sandbox.environment(),
        **releaseconfig.write_config(tmp_path / "config"),
        "OAR_LOG_LEVEL": "INFO",
    }


def forum_texts(sandbox: Sandbox) -> list[str]:
    slack = sandbox.servers["slack"]
    return [m["text"] for m in slack.channel_messages(FORUM)]  # type: ignore[attr-defined]


def attached(release: str) -> set[str]:
    advisories = {v for k, v in seed.ADVISORIES[release].items() if k != "microshift"}
    shipped = release == seed.RELEASE
    return {
        b.key
        for b in seed.BUGS
        if b.advisory in advisories
        or (shipped and b.target_version == f"{seed.Y_STREAM}.z" and b.in_shipment)
    }


async def test_update_bug_list_in_both_flows_run_twice_and_shown_without_credentials(
    env: dict[str, str], sandbox: Sandbox, client: Service, subprocess_env: dict[str, str]
) -> None:
    state = ReleaseState(client.db)

    # Usage error naming both options: nothing runs, nothing is recorded.
    code, _, stderr = await oar(
        "-r", seed.RELEASE, "update-bug-list", "--no-notify", "--notify-managers", env=env
    )
    assert code == 2, stderr
    assert "--no-notify cannot be used together with --notify-managers" in stderr
    assert not await state.exists(seed.RELEASE)

    # Konflux: the advisories' and the shipment file's bugs, announced per QA contact.
    code, stdout, stderr = await oar("-r", seed.RELEASE, "update-bug-list", "--json", env=env)
    assert code == 0, stderr
    outcome = json.loads(stdout)
    assert outcome["status"] == "In Progress"  # bugs still wait for verification
    assert {c["kind"] for c in outcome["data"]["changes"]} == {"new"}
    recorded = await state.bugs(seed.RELEASE)
    assert {r.key for r in recorded} == attached(seed.RELEASE)
    by_key = {r.key: r for r in recorded}
    assert by_key["OCPBUGS-50006"].shipment_files == (SHIPMENT_FILE,)
    assert by_key["OCPBUGS-50006"].critical
    assert by_key["OCPBUGS-50005"].cve_tracker
    assert by_key["OCPBUGS-50007"].customer_case
    (announcement,) = forum_texts(sandbox)
    assert announcement.startswith(f"[{seed.RELEASE}] Please pay attention to following ON_QA")
    assert announcement.count(f"{ALICE}:") == 1
    assert announcement.count(f"{BOB}:") == 1
    alice = announcement.split(f"{ALICE}:\n", 1)[1].split(":\n", 1)[0]
    assert "OCPBUGS-50001|" in alice
    assert "OCPBUGS-50005> This is a CVE bug and must be verified." in alice
    assert "OCPBUGS-50003" not in announcement  # Verified

    # Again: no duplicate, "no change"; the forum is reminded.
    code, stdout, stderr = await oar("-r", seed.RELEASE, "update-bug-list", env=env)
    assert code == 0, stderr
    assert "no change since the last run" in stdout
    again = await state.bugs(seed.RELEASE)
    assert [r.key for r in again] == [r.key for r in recorded]
    assert len(forum_texts(sandbox)) == 2
    runs = await state.runs(seed.RELEASE, task="update-bug-list")
    assert [r.status for r in runs] == [TaskStatus.IN_PROGRESS, TaskStatus.IN_PROGRESS]

    # Errata flow, managers asked about the unverified CVE tracker.
    code, stdout, stderr = await oar(
        "-r", seed.ERRATA_RELEASE, "update-bug-list", "--notify-managers", env=env
    )
    assert code == 0, stderr
    assert {r.key for r in await state.bugs(seed.ERRATA_RELEASE)} == attached(seed.ERRATA_RELEASE)
    managers = forum_texts(sandbox)[-1]
    assert managers.startswith(f"[{seed.ERRATA_RELEASE}] The following issues must be verified")
    assert managers.endswith(f"|OCPBUGS-49002> {LEAD}\n")

    # `bugs` reads the release state only: no token, no stand-in needed.
    code, stdout, stderr = await oar("-r", seed.RELEASE, "bugs", "--json", env=subprocess_env)
    assert code == 0, stderr
    shown = json.loads(stdout)
    assert [b["key"] for b in shown["bugs"]] == [r.key for r in again]
    code, stdout, stderr = await oar("-r", seed.RELEASE, "bugs", env=subprocess_env)
    assert code == 0, stderr
    assert "OCPBUGS-50006" in stdout
    assert "critical" in stdout
