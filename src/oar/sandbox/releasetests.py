"""The sandbox's ``openshift/release-tests`` repository and the Prow runs it refers to.

Branches as on GitHub (reference §5.1): the job registry on ``main``, build tracking and
test results on ``record``, ART's ``<y>.z.yaml`` on ``z-stream``. The Prow and GCS
stand-ins serve the job runs named here, so a test result file, its prowjob and its
artifacts agree with each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from oar.sandbox import seed

REPO = "openshift/release-tests"
BRANCHES = ("main", "record", "z-stream")
BUCKET = "qe-private-deck"
DECK_URL = "https://qe-private-deck-ci.apps.ci.l2s4.p1.openshiftapps.com/view/gs/qe-private-deck"

_PREFIX = "periodic-ci-openshift-openshift-tests-private-release-4.19-automated-release"
NIGHTLY_JOBS = (
    f"{_PREFIX}-aws-ipi-f999",
    f"{_PREFIX}-azure-ipi-f999",
    f"{_PREFIX}-gcp-ipi-f999",
    f"{_PREFIX}-vsphere-ipi-f999",
)
NIGHTLY_UPGRADE_JOBS = (
    f"{_PREFIX}-nightly-4.19-upgrade-from-stable-4.19-aws-ipi-f999",
    f"{_PREFIX}-stable-4.19-upgrade-from-stable-4.18-gcp-ipi-f999",
)
STABLE_JOBS = (
    f"{_PREFIX}-stable-4.19-upgrade-from-stable-4.18-aws-ipi-f999",
    f"{_PREFIX}-stable-4.19-upgrade-from-stable-4.18-azure-ipi-f999",
    f"{_PREFIX}-stable-4.19-upgrade-from-stable-4.19-gcp-ipi-f999",
)
LATEST_STABLE = seed.SHIPPED_RELEASES[-1]  # 4.19.2: 4.19.3 is not in 4-stable yet


@dataclass(frozen=True, kw_only=True)
class ProwRun:
    """One prowjob the sandbox knows from the start."""

    job_id: str
    job_name: str
    build_id: str  # the run ID in the artifact path
    state: str
    start_time: str
    completion_time: str | None
    payload: str

    @property
    def url(self) -> str:
        return f"{DECK_URL}/logs/{self.job_name}/{self.build_id}"


_NIGHTLY_PULLSPEC = seed.CANDIDATE_BUILDS["x86_64"]
_STABLE_PULLSPEC = f"quay.io/openshift-release-dev/ocp-release:{LATEST_STABLE}-x86_64"
_STATES = ("success", "success", "failure", "pending", "success", "triggered")
PROW_RUNS: tuple[ProwRun, ...] = (
    *(
        ProwRun(
            job_id=f"5a1d0000-0000-4000-8000-00000000000{i}",
            job_name=name,
            build_id=f"199000000000000000{i}",
            state=_STATES[i],
            start_time="2026-11-18T11:00:00Z",
            completion_time=f"2026-11-18T13:0{i}:00Z"
            if _STATES[i] in ("success", "failure")
            else None,
            payload=_NIGHTLY_PULLSPEC,
        )
        for i, name in enumerate(NIGHTLY_JOBS + NIGHTLY_UPGRADE_JOBS)
    ),
    *(
        ProwRun(
            job_id=f"5a1d0000-0000-4000-8000-00000000010{i}",
            job_name=name,
            build_id=f"198900000000000000{i}",
            state="success",
            start_time="2026-11-12T08:00:00Z",
            completion_time=f"2026-11-12T10:1{i}:00Z",
            payload=_STABLE_PULLSPEC,
        )
        for i, name in enumerate(STABLE_JOBS)
    ),
)
# The run whose artifacts the GCS stand-in holds: completed, not yet summarised.
ARTIFACT_RUN = PROW_RUNS[0]


def release_stream_body(name: str, pull_spec: str, phase: str = "Accepted") -> dict[str, str]:
    """The release controller's ``latest`` answer, as stored in the tracking files (§5.3)."""
    return {
        "name": name,
        "phase": phase,
        "pullSpec": pull_spec,
        "downloadURL": f"https://openshift-release-artifacts.apps.ci.l2s4.p1.openshiftapps.com/{name}",
    }


def test_results_summary() -> dict[str, dict[str, int]]:
    return {
        "openshift-extended-test": {"total": 54, "failures": 0, "errors": 0, "skipped": 6},
        "cucushift-e2e": {"total": 18, "failures": 0, "errors": 0, "skipped": 0},
    }


def _job_entry(run: ProwRun, *, summary: bool) -> dict[str, Any]:
    first: dict[str, Any] = {"jobID": run.job_id}
    if run.state != "triggered":
        first.update(jobStartTime=run.start_time, jobURL=run.url, jobState=run.state)
    if run.completion_time:
        first["jobCompletionTime"] = run.completion_time
    if summary:
        first["testResultSummary"] = test_results_summary()
    return {"jobName": run.job_name, "firstJob": first, "retriedJobs": []}


REJECTED_NIGHTLY = "4.19.0-0.nightly-2026-11-17-090909"
PROMOTED_NIGHTLY = "4.19.0-0.nightly-2026-11-16-080808"


def _rejected(build: str, *, promoted: bool) -> dict[str, Any]:
    """An aggregated result file whose build was rejected (one required job failed)."""
    pull_spec = f"registry.ci.openshift.org/ocp/release:{build}"
    first = {
        "jobID": f"5a1d0000-0000-4000-8000-0000000{'2' if promoted else '3'}0000",
        "jobStartTime": "2026-11-17T10:00:00Z",
        "jobURL": f"{DECK_URL}/logs/{NIGHTLY_JOBS[0]}/1989999999999999990",
        "jobState": "failure",
        "jobCompletionTime": "2026-11-17T11:30:00Z",
    }
    data: dict[str, Any] = {
        "result": [{"jobName": NIGHTLY_JOBS[0], "firstJob": first, "retriedJobs": []}],
        "build": release_stream_body(build, pull_spec, phase="Rejected"),
        "aggregated": True,
        "accepted": False,
    }
    if promoted:
        data["manual_promotion"] = True
    return data


def _registry() -> dict[str, Any]:
    return {
        "nightly": [{"prowJob": name} for name in NIGHTLY_JOBS]
        + [{"prowJob": name, "upgrade": True} for name in NIGHTLY_UPGRADE_JOBS],
        "stable": [{"prowJob": name, "upgrade": True} for name in STABLE_JOBS],
    }


def _z_stream(releases: dict[str, dict[str, Any]]) -> str:
    return yaml.safe_dump({"releases": releases}, sort_keys=False)


def files() -> dict[str, dict[str, str]]:
    """branch → path → content of the seeded repository."""

    def dump(value: Any) -> str:
        return json.dumps(value, indent=2) + "\n"

    nightly_runs = [r for r in PROW_RUNS if r.payload == _NIGHTLY_PULLSPEC]
    stable_runs = [r for r in PROW_RUNS if r.payload == _STABLE_PULLSPEC]
    nightly_build = release_stream_body(seed.NIGHTLY_BUILD, _NIGHTLY_PULLSPEC)
    stable_build = release_stream_body(LATEST_STABLE, _STABLE_PULLSPEC)
    y = seed.Y_STREAM
    return {
        "main": {
            f"_releases/ocp-{y}-test-jobs-amd64.json": dump(_registry()),
            "README.md": "# release-tests (OAR sandbox)\n",
        },
        "record": {
            f"_releases/ocp-latest-{y}-nightly-amd64.json": dump(nightly_build),
            f"_releases/ocp-latest-{y}-stable-amd64.json": dump(stable_build),
            f"_releases/ocp-test-result-{seed.NIGHTLY_BUILD}-amd64.json": dump(
                {
                    "result": [_job_entry(r, summary=False) for r in nightly_runs],
                    "build": nightly_build,
                }
            ),
            f"_releases/ocp-test-result-{LATEST_STABLE}-amd64.json": dump(
                {
                    "result": [_job_entry(r, summary=True) for r in stable_runs],
                    "build": stable_build,
                    "aggregated": True,
                    "accepted": True,
                }
            ),
            # Older nightlies the aggregator rejected: one announced by the test-result
            # checker, one a person promoted by hand (never announced).
            f"_releases/ocp-test-result-{REJECTED_NIGHTLY}-amd64.json": dump(
                _rejected(REJECTED_NIGHTLY, promoted=False)
            ),
            f"_releases/ocp-test-result-{PROMOTED_NIGHTLY}-amd64.json": dump(
                _rejected(PROMOTED_NIGHTLY, promoted=True)
            ),
        },
        "z-stream": {
            f"_releases/{y}/{y}.z.yaml": _z_stream(
                {
                    "4.19.1": {
                        "advisories": {"rhcos": 149902, "rpm": 149901},
                        "release_jira": "ART-19880",
                    },
                    "4.19.2": {
                        "advisories": {"rhcos": 150002, "rpm": 150001},
                        "release_jira": "ART-19950",
                    },
                    seed.RELEASE: {
                        "advisories": dict(sorted(seed.ADVISORIES[seed.RELEASE].items())),
                        "release_jira": seed.JIRA_TICKETS[seed.RELEASE],
                    },
                },
            ),
            f"_releases/{seed.ERRATA_Y_STREAM}/{seed.ERRATA_Y_STREAM}.z.yaml": _z_stream(
                {
                    seed.ERRATA_RELEASE: {
                        "advisories": dict(sorted(seed.ADVISORIES[seed.ERRATA_RELEASE].items())),
                        "release_jira": seed.JIRA_TICKETS[seed.ERRATA_RELEASE],
                    },
                },
            ),
        },
    }


# Pull requests with labels, for the pre-merge check (reference §3.4).
PULL_REQUEST_LABELS: dict[tuple[str, int], list[str]] = {
    ("openshift/origin", 29001): ["lgtm", "approved", "verified"],
    ("openshift/origin", 29002): ["lgtm", "verified-later"],
    ("openshift/installer", 9100): ["approved"],
    (REPO, 1): [],
}
