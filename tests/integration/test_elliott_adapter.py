"""The real elliott adapter running real programs: the sandbox's elliott executable, and
small scripts that record what they were given or misbehave on purpose."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from oar.errors import (
    ConfigurationError,
    IntegrationError,
    IntegrationTimeoutError,
    IntegrationUnavailableError,
)
from oar.integrations.elliott import BUILD_DATA_REPO, BuildSystem, ElliottCli
from oar.sandbox import seed
from oar.sandbox.elliott import ERRATA_MISSING, KONFLUX_MISSING, write_launcher
from oar.settings import load_settings

USER = "oar-bot@example.com"
SECRET = "s3cr3t-jira-token-value"


@pytest.fixture
def launcher(tmp_path: Path) -> Path:
    return write_launcher(tmp_path)


@pytest.fixture
def environ() -> Iterator[dict[str, str]]:
    """The parent environment handed to the child: no JIRA_EMAIL in it."""
    before = os.environ.get("JIRA_EMAIL"), os.environ.get("JIRA_USERNAME")
    yield {k: v for k, v in os.environ.items() if k != "JIRA_EMAIL"}
    # The workaround is the child's only: OAR's own environment is left as it was.
    assert (os.environ.get("JIRA_EMAIL"), os.environ.get("JIRA_USERNAME")) == before


def script(tmp_path: Path, body: str, name: str = "fake-elliott") -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time\n{body}\n")
    path.chmod(0o755)
    return path


def cli(executable: Path | str, environ: dict[str, str], **kwargs: object) -> ElliottCli:
    return ElliottCli(
        str(executable),
        jira_username=USER,
        environ=environ,
        timeout=float(kwargs.pop("timeout", 30.0)),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


async def test_the_sandbox_elliott_reports_the_errata_releases_missing_tracker(
    launcher: Path, environ: dict[str, str]
) -> None:
    trackers = await cli(launcher, environ).find_cve_trackers(
        group=f"openshift-{seed.ERRATA_Y_STREAM}",
        assembly=seed.ERRATA_RELEASE,
        build_system=BuildSystem.BREW,
    )
    assert trackers["image"] == [ERRATA_MISSING]
    assert set(trackers) == {"extras", "image", "metadata", "microshift", "rhcos", "rpm"}
    konflux = await cli(launcher, environ).find_cve_trackers(
        group=f"openshift-{seed.Y_STREAM}",
        assembly=seed.RELEASE,
        build_system=BuildSystem.KONFLUX,
    )
    assert konflux["image"] == [KONFLUX_MISSING]


async def test_the_argv_is_the_originals_and_jira_email_defaults_to_the_user(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    record = tmp_path / "calls.jsonl"
    recorder = script(
        tmp_path,
        f"open({str(record)!r}, 'a').write(json.dumps([sys.argv[1:],"
        " os.environ.get('JIRA_EMAIL'), os.environ.get('JIRA_USERNAME')]) + '\\n')\n"
        "print(json.dumps({'rpm': ['OCPBUGS-2', 'OCPBUGS-1', 'OCPBUGS-2']}, indent=4))",
    )
    adapter = cli(recorder, environ)
    brew = await adapter.find_cve_trackers(
        group="openshift-4.19", assembly="rc.1", build_system=BuildSystem.BREW
    )
    await adapter.find_cve_trackers(
        group="openshift-4.19", assembly="4.19.3", build_system=BuildSystem.KONFLUX
    )
    assert brew == {"rpm": ["OCPBUGS-1", "OCPBUGS-2"]}  # sorted, each once
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    brew_tail, json_out = ("--output", "json", "--permissive"), ("-o", "json")
    common = ["--data-path", BUILD_DATA_REPO, "--group", "openshift-4.19", "--assembly"]
    assert calls == [
        [
            [*common, "rc.1", "--build-system", "brew", "find-bugs", "--cve-only", *brew_tail],
            USER,
            USER,
        ],
        [
            [*common, "4.19.3", "--build-system", "konflux", "find-bugs", "--cve-only", *json_out],
            USER,
            USER,
        ],
    ]
    # A JIRA_EMAIL of the parent's environment is kept.
    await cli(recorder, {**environ, "JIRA_EMAIL": "me@example.com"}).find_cve_trackers(
        group="openshift-4.19", assembly="4.19.3", build_system=BuildSystem.KONFLUX
    )
    assert json.loads(record.read_text().splitlines()[-1])[1] == "me@example.com"


async def test_a_non_zero_exit_is_an_error_with_stderr_and_no_secret(
    tmp_path: Path, launcher: Path, environ: dict[str, str]
) -> None:
    with pytest.raises(IntegrationError, match=r"exited 1:\nelliott: assembly '4.19.99' is not"):
        await cli(launcher, environ).find_cve_trackers(
            group="openshift-4.19", assembly="4.19.99", build_system=BuildSystem.BREW
        )
    leaky = script(
        tmp_path,
        f"print('connecting to Jira with token {SECRET}', file=sys.stderr)\n"
        "print('401 Unauthorized', file=sys.stderr)\nsys.exit(3)",
    )
    with pytest.raises(IntegrationError) as caught:
        await cli(leaky, environ, secrets=[SECRET]).find_cve_trackers(
            group="openshift-4.19", assembly="4.19.3", build_system=BuildSystem.BREW
        )
    message = caught.value.message
    assert "exited 3" in message
    assert "401 Unauthorized" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("print('Found 3 bugs')", "printed no JSON"),
        ("print(json.dumps(['OCPBUGS-1']))", r"not \{kind: \[Jira keys\]\}"),
        ("print(json.dumps({'rpm': 'OCPBUGS-1'}))", r"not \{kind: \[Jira keys\]\}"),
    ],
)
async def test_output_that_is_not_elliotts_json_is_a_clear_error(
    tmp_path: Path, environ: dict[str, str], output: str, expected: str
) -> None:
    with pytest.raises(IntegrationError, match=expected):
        await cli(script(tmp_path, output), environ).find_cve_trackers(
            group="openshift-4.19", assembly="4.19.3", build_system=BuildSystem.BREW
        )


async def test_elliott_not_installed_is_said_plainly(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    with pytest.raises(IntegrationUnavailableError, match="not installed or not on PATH"):
        await cli(tmp_path / "no-such-elliott", environ).find_cve_trackers(
            group="openshift-4.19", assembly="4.19.3", build_system=BuildSystem.BREW
        )


async def test_a_hung_elliott_is_killed_at_the_deadline(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    hung = script(tmp_path, "time.sleep(60)")
    with pytest.raises(IntegrationTimeoutError, match=r"no answer in 0\.5s"):
        await cli(hung, environ, timeout=0.5).find_cve_trackers(
            group="openshift-4.19", assembly="4.19.3", build_system=BuildSystem.BREW
        )


def test_without_jira_username_the_adapter_refuses_to_start() -> None:
    settings = load_settings(environ={}, env_file=None)
    with pytest.raises(ConfigurationError, match="JIRA_USERNAME"):
        ElliottCli.from_settings(settings, environ={})
    ready = ElliottCli.from_settings(
        load_settings(
            environ={"JIRA_USERNAME": USER, "OAR_ELLIOTT_PATH": "/opt/elliott"}, env_file=None
        ),
        environ={},
    )
    assert ready.executable == "/opt/elliott"
