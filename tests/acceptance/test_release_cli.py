"""``oar`` and ``oarctl config`` as a release engineer runs them, against the sandbox's
encrypted configuration and ocp-build-data stand-in: status, manual updates, issues,
StateBox export, and commands that raise or are interrupted (recorded as Fail)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from oar.db import Database
from oar.release.checklist import TaskStatus
from oar.release.records import ReleaseInfo
from oar.release.state import ReleaseState
from oar.sandbox import releaseconfig, seed
from oar.sandbox.builddata import BuildDataStandIn
from tests.acceptance.conftest import REPO, oar, wait_for

RELEASE = seed.RELEASE


@pytest.fixture
async def env(subprocess_env: dict[str, str], tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    server = BuildDataStandIn()
    async with server.serving() as base_url:
        yield {
            **subprocess_env,
            **releaseconfig.write_config(tmp_path / "config"),
            **server.environment(base_url),
            "OAR_LOG_LEVEL": "WARNING",
        }


async def read(env: dict[str, str]) -> ReleaseInfo:
    async with Database(env["OAR_DATABASE_URL"]) as db:
        return await ReleaseState(db).get(RELEASE)


async def test_status_shows_the_checklist_of_a_release_read_from_its_configuration(
    env: dict[str, str],
) -> None:
    code, stdout, stderr = await oar("-r", RELEASE, "status", env=env)
    assert code == 0, stderr
    assert f"release {RELEASE} (konflux flow): ○ NOT STARTED" in stdout
    assert seed.JIRA_TICKETS[RELEASE] in stdout
    assert "take-ownership" in stdout
    assert "Not Started" in stdout
    assert "blockers: none" in stdout

    code, stdout, _ = await oar("-r", RELEASE, "status", "--json", env=env)
    assert code == 0
    data = json.loads(stdout)
    assert data["overall_status"] == "not started"
    assert data["metadata"]["advisory_ids"] == seed.ADVISORIES[RELEASE]


async def test_manual_updates_issues_and_the_statebox_export(env: dict[str, str]) -> None:
    code, stdout, stderr = await oar(
        "-r", RELEASE, "task", "image-signed-check", "--status", "fail", "--note", "no sig", env=env
    )
    assert code == 0, stderr
    assert f"{RELEASE} image-signed-check: Fail" in stdout
    code, stdout, _ = await oar(
        "-r", RELEASE, "issue", "add", "Signature missing", "-t", "image-signed-check", env=env
    )
    assert code == 0
    assert "blocker #" in stdout

    code, stdout, _ = await oar("-r", RELEASE, "status", env=env)
    assert "BLOCKED" in stdout
    assert "Signature missing" in stdout

    info = await read(env)
    (blocker,) = info.open_blockers
    code, _, _ = await oar(
        "-r", RELEASE, "issue", "resolve", str(blocker.id), "--resolution", "re-signed", env=env
    )
    assert code == 0
    code, _, _ = await oar("-r", RELEASE, "task", "image-signed-check", "-s", "Pass", env=env)
    assert code == 0
    code, stdout, _ = await oar("-r", RELEASE, "task", "image-signed-check", "--json", env=env)
    shown = json.loads(stdout)
    assert shown["status"] == "Pass"
    assert [r["status"] for r in shown["runs"]] == ["Pass", "Fail"]

    code, stdout, _ = await oar("-r", RELEASE, "statebox", "export", env=env)
    assert code == 0
    document = yaml.safe_load(stdout)
    assert document["schema_version"] == "1.0"
    assert document["release"] == RELEASE
    assert document["tasks"][0]["name"] == "image-signed-check"
    assert document["issues"][0]["resolved"] is True


async def test_bad_input_is_explained(env: dict[str, str]) -> None:
    code, _, stderr = await oar("status", env=env)
    assert code == 2
    assert "-r/--release is required" in stderr
    code, _, stderr = await oar("-r", "4.19", "status", env=env)
    assert code == 2
    assert "expected X.Y.Z" in stderr
    code, _, stderr = await oar("-r", RELEASE, "task", "deploy", env=env)
    assert code == 2
    code, stdout, _ = await oar("-r", RELEASE, "status", "--help", env={**env})
    assert "Show the release's checklist" in stdout
    bare = {k: v for k, v in env.items() if k not in ("OAR_CONFIG_FILE", "OAR_JWK")}
    code, _, stderr = await oar("-r", "4.19.9", "status", env=bare)
    assert code == 1
    assert "release 4.19.9 is not tracked" in stderr
    assert "OAR_CONFIG_FILE" in stderr


async def tracked_command(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.acceptance.release_commands",
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_command_that_raises_records_fail_and_exits_non_zero(env: dict[str, str]) -> None:
    """Also: its task log, as the StateBox export shows it, holds what the command reported
    and no DEBUG line, service plumbing or local path, even when run with debug logging."""
    debug = {**env, "GITHUB_TOKEN": "x" * 10, "OAR_LOG_LEVEL": "DEBUG"}
    process = await tracked_command("-r", RELEASE, "boom", env=debug)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert "RuntimeError: the signature server answered 500" in stderr.decode()
    task = (await read(env)).task("image-signed-check")
    assert task.status is TaskStatus.FAIL
    assert task.log is not None
    assert "boom.about_to_fail owner=[EMAIL_REDACTED]" in task.log
    assert "the signature server answered 500" in task.log

    code, exported, stderr = await oar("-r", RELEASE, "statebox", "export", env=env)
    assert code == 0, stderr
    assert "boom.about_to_fail" in exported
    assert ": DEBUG: " not in exported
    assert "service.started" not in exported
    data_dir = Path(env["OAR_DATA_DIR"])
    for local in {str(data_dir), str(data_dir.resolve()), str(Path.home())}:
        assert local not in exported, local


async def test_a_failing_command_says_what_failed_once_and_never_shows_a_secret(
    env: dict[str, str],
) -> None:
    token = "ghp-acceptance-token-0123456789"
    process = await tracked_command("-r", RELEASE, "leak", env={**env, "GITHUB_TOKEN": token})
    _, raw = await asyncio.wait_for(process.communicate(), timeout=60)
    stderr = raw.decode()
    assert process.returncode == 1
    assert stderr.count("401 Unauthorized for token") == 1, stderr
    assert "error: image-signed-check failed: RuntimeError: 401 Unauthorized for token ***" in (
        stderr
    )
    assert token not in stderr
    task = (await read(env)).task("image-signed-check")
    assert task.status is TaskStatus.FAIL
    assert task.log is not None
    assert "release.command.failed" in task.log  # the run's failure is in its task log
    assert "leak.calling url=https://api.example/files?access_token=***" in task.log
    assert token not in task.log


async def test_missing_credentials_stop_a_command_before_it_starts(env: dict[str, str]) -> None:
    bare = {k: v for k, v in env.items() if k != "OAR_JWK"}
    process = await tracked_command("-r", RELEASE, "boom", env=bare)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "oar image-signed-check needs OAR_JWK, GITHUB_TOKEN" in stderr.decode()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_an_interrupted_command_records_fail_not_in_progress_forever(
    env: dict[str, str], sig: signal.Signals, code: int
) -> None:
    process = await tracked_command("-r", RELEASE, "sleepy", env=env)

    async def sleeping() -> bool:
        try:
            info = await read(env)
        except Exception:
            return False
        log = info.task("stage-testing").log or ""
        return info.task("stage-testing").status is TaskStatus.IN_PROGRESS and not log

    try:
        await wait_for(sleeping, timeout=60, what="the sleepy command to be In Progress")
        # Wait until the body runs (its release row was filled from the configuration).
        await wait_for(
            lambda: _has_metadata(env), timeout=30, what="the release metadata to be recorded"
        )
        os.kill(process.pid, sig)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == code, stderr.decode()
    assert f"interrupted by {sig.name}; recorded as Fail" in stderr.decode()
    task = (await read(env)).task("stage-testing")
    assert task.status is TaskStatus.FAIL
    assert task.log is not None
    assert "sleepy.waiting" in task.log
    assert f"release.command.interrupted release={RELEASE} task=stage-testing by={sig.name}" in (
        task.log
    )


async def _has_metadata(env: dict[str, str]) -> bool:
    return bool((await read(env)).metadata.get("jira_ticket"))


async def test_config_encrypt_decrypt_and_show(env: dict[str, str], tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({**releaseconfig.config(), "google_app_passwd": "hunter22"}))
    target = tmp_path / "config.jwe"
    code, _, stderr = await oar(
        "config", "encrypt", "--in", str(plain), "--out", str(target), env=env, program="oarctl"
    )
    assert code == 0, stderr
    assert "hunter22" not in target.read_text()
    code, stdout, _ = await oar("config", "decrypt", "--in", str(target), env=env, program="oarctl")
    assert code == 0
    assert json.loads(stdout)["google_app_passwd"] == "hunter22"

    shown_env = {**env, "OAR_CONFIG_FILE": str(target)}
    code, stdout, stderr = await oar(
        "config", "show", "-r", RELEASE, "--json", env=shown_env, program="oarctl"
    )
    assert code == 0, stderr
    shown = json.loads(stdout)
    assert shown["configuration"]["google_app_passwd"] == "***"
    assert "hunter22" not in stdout
    assert shown["release"]["flow"] == "konflux"
    assert shown["release"]["assemblies"] == ["4.19.3", "4.19.2", "4.19.1"]

    code, stdout, _ = await oar("config", "genkey", env=env, program="oarctl")
    wrong = {**shown_env, "OAR_JWK": stdout.strip()}
    code, _, stderr = await oar("config", "show", env=wrong, program="oarctl")
    assert code == 2
    assert "cannot decrypt" in stderr


async def _tracked(release: str, env: dict[str, str]) -> bool:
    async with Database(env["OAR_DATABASE_URL"]) as db:
        await db.upgrade()
        return await ReleaseState(db).exists(release)


async def test_a_typo_records_nothing_and_a_release_made_by_mistake_can_be_deleted(
    env: dict[str, str],
) -> None:
    process = await tracked_command("-r", "5.0.1", "sleepy", "--seconds", "0", env=env)
    _, raw = await asyncio.wait_for(process.communicate(), timeout=60)
    stderr = raw.decode()
    assert process.returncode == 2, stderr
    assert "no releases.yml on branch openshift-5.0" in stderr  # what is missing
    assert "nothing was recorded for release 5.0.1" in stderr
    assert not await _tracked("5.0.1", env)

    code, _, stderr = await oar("-r", RELEASE, "task", "image-signed-check", "-s", "fail", env=env)
    assert code == 0, stderr
    asked = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "oar"),
        *("-r", RELEASE, "release", "delete"),
        env=env,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, raw = await asyncio.wait_for(asked.communicate(b"n\n"), timeout=60)
    assert asked.returncode == 1  # answered no: nothing deleted
    assert f"Delete release {RELEASE}" in raw.decode()
    assert await _tracked(RELEASE, env)

    code, stdout, stderr = await oar("-r", RELEASE, "release", "delete", "--yes", env=env)
    assert code == 0, stderr
    assert f"release {RELEASE} deleted" in stdout
    assert not await _tracked(RELEASE, env)
    code, _, stderr = await oar("-r", RELEASE, "release", "delete", "--yes", env=env)
    assert code == 1
    assert f"release {RELEASE} is not tracked" in stderr
