"""Gangway's environment mapping (reference §5.6) and prowjob parsing: pure functions."""

from __future__ import annotations

import pytest

from oar.errors import IntegrationError, InvalidArgumentError
from oar.integrations.prow import (
    ProwJobState,
    execution_request,
    gangway_envs,
    parse_prowjob,
    payload_architecture,
)

NIGHTLY = {
    "amd64": "registry.ci.openshift.org/ocp/release:4.19.0-0.nightly-2026-11-18-101010",
    **{
        arch: f"registry.ci.openshift.org/ocp-{arch}/release-{arch}:"
        f"4.19.0-0.nightly-{arch}-2026-11-18-101010"
        for arch in ("arm64", "multi", "ppc64le")
    },
}
STABLE = "quay.io/openshift-release-dev/ocp-release:4.19.2-{}"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (NIGHTLY["amd64"], {"RELEASE_IMAGE_LATEST": NIGHTLY["amd64"]}),
        (NIGHTLY["arm64"], {"RELEASE_IMAGE_ARM64_LATEST": NIGHTLY["arm64"]}),
        (NIGHTLY["multi"], {"RELEASE_IMAGE_MULTI_LATEST": NIGHTLY["multi"]}),
        (NIGHTLY["ppc64le"], {"RELEASE_IMAGE_PPC64LE_LATEST": NIGHTLY["ppc64le"]}),
        (STABLE.format("x86_64"), {"RELEASE_IMAGE_LATEST": STABLE.format("x86_64")}),
        (
            STABLE.format("aarch64"),
            {
                "RELEASE_IMAGE_ARM64_LATEST": STABLE.format("aarch64"),
                "RELEASE_IMAGE_LATEST": STABLE.format("x86_64"),
            },
        ),
        (STABLE.format("multi"), {"RELEASE_IMAGE_MULTI_LATEST": STABLE.format("multi")}),
    ],
)
def test_a_payload_to_test(payload: str, expected: dict[str, str]) -> None:
    assert gangway_envs(payload=payload) == expected


@pytest.mark.parametrize("arch", ["amd64", "arm64", "multi", "ppc64le"])
def test_an_upgrade_from_stable_to_a_nightly(arch: str) -> None:
    prefix = {"amd64": "RELEASE_IMAGE"}.get(arch, f"RELEASE_IMAGE_{arch.upper()}")
    source = STABLE.format("x86_64")
    assert gangway_envs(upgrade_from=source, upgrade_to=NIGHTLY[arch]) == {
        f"{prefix}_LATEST": source,
        f"{prefix}_TARGET": NIGHTLY[arch],
    }


def test_an_upgrade_to_only() -> None:
    assert gangway_envs(upgrade_to=NIGHTLY["amd64"]) == {"RELEASE_IMAGE_TARGET": NIGHTLY["amd64"]}
    assert gangway_envs(upgrade_to=NIGHTLY["multi"]) == {
        "RELEASE_IMAGE_MULTI_TARGET": NIGHTLY["multi"]
    }
    # arm64 stable also names the matching x86_64 release as the installed one
    assert gangway_envs(upgrade_to=STABLE.format("aarch64")) == {
        "RELEASE_IMAGE_ARM64_TARGET": STABLE.format("aarch64"),
        "RELEASE_IMAGE_LATEST": STABLE.format("x86_64"),
    }


def test_nothing_given_means_no_environment_and_a_bare_request() -> None:
    assert gangway_envs() == {}
    assert execution_request({}) == {"job_execution_type": "1"}
    assert execution_request({"A": "b"}) == {
        "job_execution_type": "1",
        "pod_spec_options": {"envs": {"A": "b"}},
    }


def test_contradictions_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="not both"):
        gangway_envs(payload=NIGHTLY["amd64"], upgrade_from="a", upgrade_to="b")
    with pytest.raises(InvalidArgumentError, match="not both"):
        gangway_envs(payload=NIGHTLY["amd64"], upgrade_to="b")
    with pytest.raises(InvalidArgumentError, match="needs upgrade_to"):
        gangway_envs(upgrade_from=NIGHTLY["amd64"])


def test_s390x_uses_the_default_names_like_the_original() -> None:
    s390x = "registry.ci.openshift.org/ocp-s390x/release-s390x:4.19.0-0.nightly-s390x-x"
    assert payload_architecture(s390x) == "amd64"
    assert gangway_envs(payload=s390x) == {"RELEASE_IMAGE_LATEST": s390x}


PROWJOB = """\
apiVersion: prow.k8s.io/v1
kind: ProwJob
metadata: {name: 3c88b48f}
spec:
  job: periodic-ci-job-aws
status:
  state: failure
  startTime: "2026-06-17T19:27:32Z"
  completionTime: "2026-06-17T20:15:36Z"
  url: https://deck/view/gs/qe-private-deck/logs/periodic-ci-job-aws/1990000000000000042
"""


def test_a_prowjob_yaml_becomes_a_status() -> None:
    status = parse_prowjob("3c88b48f", PROWJOB)
    assert status.job_name == "periodic-ci-job-aws"
    assert status.state is ProwJobState.FAILURE
    assert status.completed
    assert status.start_time == "2026-06-17T19:27:32Z"
    assert status.completion_time == "2026-06-17T20:15:36Z"
    assert status.build_id == "1990000000000000042"


def test_a_fresh_prowjob_is_triggered_and_has_no_url() -> None:
    status = parse_prowjob("x", "spec: {job: j}\nstatus: {state: triggered}\n")
    assert status.state is ProwJobState.TRIGGERED
    assert not status.completed
    assert status.url is None
    assert status.build_id is None


@pytest.mark.parametrize("text", ["[unclosed", "just text", "status: {state: exploded}\n"])
def test_unreadable_prowjobs_are_integration_errors(text: str) -> None:
    with pytest.raises(IntegrationError, match="prowjob x"):
        parse_prowjob("x", text)
