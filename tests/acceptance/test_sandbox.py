"""``oarctl sandbox`` as a user runs it: it starts every stand-in, prints the environment,
and a fresh OAR configured with that environment reads the seeded release from each system
through the real adapters; ``--reset`` restores the seed; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI
from slack_sdk.web.async_client import AsyncWebClient

from oar.integrations.errata import ErrataClient
from oar.integrations.gcs import GcsJobArtifacts
from oar.integrations.github import GitHubPullRequestLabels, GitHubRepositoryFiles
from oar.integrations.gitlab import GitLabClient
from oar.integrations.jenkins import JenkinsClient
from oar.integrations.jira import JiraClient
from oar.integrations.ldap import LdapDirectory
from oar.integrations.payloads import HttpPayloadInspector
from oar.integrations.prow import GangwayProwJobs, ProwJobState
from oar.integrations.releasecontroller import HttpReleaseStreams
from oar.release.configstore import ConfigStore
from oar.release.versions import parse_release
from oar.sandbox import releasetests, seed
from oar.sandbox.registry import STAND_INS
from oar.settings import load_settings

OARCTL = str(Path(sys.executable).parent / "oarctl")
REGISTRY = "_releases/ocp-4.19-test-jobs-amd64.json"


def parse_exports(lines: list[str]) -> dict[str, str]:
    environment = {}
    for line in lines:
        if line.startswith("export "):
            name, _, value = shlex.split(line[len("export ") :])[0].partition("=")
            environment[name] = value
    return environment


class RunningSandbox:
    def __init__(self, process: asyncio.subprocess.Process, output: list[str]) -> None:
        self.process = process
        self.output = output
        self.environment = parse_exports(output)


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["OAR_DATA_DIR"] = str(tmp_path / "data")
    env["OAR_LOG_LEVEL"] = "WARNING"
    return env


async def oarctl(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        OARCTL, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode()


@pytest.fixture
async def sandbox(base_env: dict[str, str], tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    process = await asyncio.create_subprocess_exec(
        OARCTL,
        "sandbox",
        "--base-port",
        "0",
        "--env-file",
        str(tmp_path / "sandbox.env"),
        env=base_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        while not (output and output[-1].startswith("# ready")):
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            if not line:
                pytest.fail("oarctl sandbox exited early:\n" + "\n".join(output))
            output.append(line.decode().rstrip("\n"))
        yield RunningSandbox(process, output)
    finally:
        if process.returncode is None:
            process.kill()
        # Drain the pipe to its end so its transport closes before this test's loop does.
        await asyncio.wait_for(process.communicate(), timeout=30)


async def test_every_stand_in_answers_and_the_state_file_names_them(
    sandbox: RunningSandbox, base_env: dict[str, str], tmp_path: Path
) -> None:
    state = json.loads((Path(base_env["OAR_DATA_DIR"]) / "sandbox.json").read_text())
    assert set(state["stand_ins"]) == {entry.name for entry in STAND_INS}
    async with httpx.AsyncClient(timeout=10) as client:
        for name, url in state["stand_ins"].items():
            if url.startswith("ldap://"):
                host, port = url.removeprefix("ldap://").split(":")
                _, writer = await asyncio.open_connection(host, int(port))
                writer.close()
                continue
            if url.startswith("file://"):  # elliott: a program; it answers as elliott
                elliott = Path(url.removeprefix("file://"))
                assert os.access(elliott, os.X_OK), name
                assert sandbox.environment["OAR_ELLIOTT_PATH"] == str(elliott)
                continue
            answer = await client.get(f"{url}/_sandbox/journal")
            assert answer.status_code == 200, name
    assert "sandbox credentials" in sandbox.output[0]
    written = (tmp_path / "sandbox.env").read_text().splitlines()
    assert parse_exports(written) == sandbox.environment


async def test_a_fresh_oar_reads_the_seeded_release_from_each_system(
    sandbox: RunningSandbox,
) -> None:
    settings = load_settings(environ=sandbox.environment)

    registry = await GitHubRepositoryFiles.from_settings(settings).get_file(REGISTRY)
    assert registry is not None
    assert len(json.loads(registry.content)["nightly"]) == 6
    z_stream = await GitHubRepositoryFiles.from_settings(settings).get_file(
        "_releases/4.19/4.19.z.yaml", ref="z-stream"
    )
    assert z_stream is not None
    assert seed.RELEASE in z_stream.content
    labels = await GitHubPullRequestLabels.from_settings(settings).labels("openshift/origin", 29001)
    assert "verified" in labels

    streams = HttpReleaseStreams.from_settings(settings)
    stable = await streams.latest(seed.Y_STREAM, nightly=False)
    nightly = await streams.latest(seed.Y_STREAM, nightly=True, arch="arm64")
    assert stable is not None
    assert stable.name == "4.19.2"
    assert nightly is not None
    assert nightly.pull_spec == seed.CANDIDATE_BUILDS["aarch64"]

    prow = GangwayProwJobs.from_settings(settings)
    job_id = await prow.trigger(
        releasetests.NIGHTLY_JOBS[0], payload=seed.CANDIDATE_BUILDS["x86_64"]
    )
    status = await prow.status(job_id)
    assert status.job_name == releasetests.NIGHTLY_JOBS[0]
    assert status.state in (ProwJobState.TRIGGERED, ProwJobState.PENDING)

    run = releasetests.ARTIFACT_RUN
    results = await GcsJobArtifacts.from_settings(settings).test_results(run.job_name, run.build_id)
    assert results is not None
    assert results["cucushift-e2e"]["total"] == 18

    inspector = HttpPayloadInspector.from_settings(settings)
    url = await inspector.metadata_url(seed.Y_STREAM)
    assert url is not None
    assert url.endswith("/_metadata/4.19/4.19.2")
    assert not await inspector.is_accessible(url)

    async with ErrataClient.from_settings(settings) as errata:
        advisory = await errata.get_advisory(seed.ADVISORIES[seed.RELEASE]["rpm"])
        assert advisory.state == "QE"
    async with JiraClient.from_settings(settings) as jira:
        ticket = await jira.get_issue(seed.JIRA_TICKETS[seed.RELEASE])
        assert ticket.key == seed.JIRA_TICKETS[seed.RELEASE]
    async with GitLabClient.from_settings(settings) as gitlab:
        mr = await gitlab.get_merge_request(seed.SHIPMENT_PROJECT, seed.SHIPMENT_MR_IID)
        assert mr.iid == seed.SHIPMENT_MR_IID
    async with JenkinsClient.from_settings(settings) as jenkins:
        assert await jenkins.queued("zstreams/Stage-Pipeline") == []
    manager = await LdapDirectory.from_settings(settings).manager_of("qa.alice@example.com")
    assert manager is not None
    assert manager.email == "mlead@example.com"

    # The release configuration (encrypted, with its key printed) and ocp-build-data.
    config = await ConfigStore.load(settings, parse_release(seed.RELEASE))
    assert config.advisories() == seed.ADVISORIES[seed.RELEASE]
    assert config.is_konflux

    # Slack and the model, through their real clients.
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "",
        base_url=settings.slack_api_url,
    )
    identity = await slack.auth_test()
    assert identity["user_id"] == seed.SLACK_BOT_USER_ID
    llm = AsyncOpenAI(
        base_url=f"{settings.model_api_base}/v1",
        api_key=settings.model_api_key.get_secret_value() if settings.model_api_key else "",
    )
    answer = await llm.chat.completions.create(
        model=settings.model_api_name or "", messages=[{"role": "user", "content": "hi"}]
    )
    await llm.close()
    assert "Sandbox answer to: hi" in (answer.choices[0].message.content or "")


async def test_reset_restores_the_seed_and_sigterm_stops_the_sandbox(
    sandbox: RunningSandbox, base_env: dict[str, str]
) -> None:
    settings = load_settings(environ=sandbox.environment)
    files = GitHubRepositoryFiles.from_settings(settings)
    registry = await files.get_file(REGISTRY)
    assert registry is not None
    await files.delete_file(REGISTRY, message="oops", sha=registry.sha)
    assert await files.get_file(REGISTRY) is None

    code, output = await oarctl("sandbox", "--reset", env=base_env)
    assert code == 0, output
    for entry in STAND_INS:
        # LDAP speaks only LDAP (no HTTP control API), its directory is read-only anyway;
        # elliott is a program without state.
        expected = "skipped" if entry.name in ("ldap", "elliott") else "reset"
        assert f"{entry.name}: {expected}" in output
    assert await files.get_file(REGISTRY) is not None

    sandbox.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(sandbox.process.wait(), timeout=30) == 0
    assert not (Path(base_env["OAR_DATA_DIR"]) / "sandbox.json").exists()


async def test_reset_without_a_running_sandbox_says_so(base_env: dict[str, str]) -> None:
    code, output = await oarctl("sandbox", "--reset", env=base_env)
    assert code == 2
    assert "no running sandbox" in output
