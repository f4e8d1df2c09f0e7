"""The CI gate's pure rules: file names, build order, retries, acceptance, registry checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from oar.agents.jobregistry import parse_registry
from oar.agents.testresults import (
    BuildState,
    JobResult,
    build_state,
    is_newer,
    metrics,
    normalise_retries,
    parse_result_name,
    promote,
    replace_retried_run,
    successes_needed,
)
from oar.errors import InvalidArgumentError, JobRegistryError
from tests.unit.release_world import running_follow

JOB = "periodic-ci-openshift-openshift-tests-private-release-4.19-automated-release-aws-ipi-f999"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 2),
        (0, 2),
        (1, 2),
        (2, 2),
        (3, 2),
        (4, 4),
        (5, 4),
        ("6", 6),
        ("7", 6),
        ("x", 2),
        (True, 2),
        (-4, 2),
    ],
)
def test_retries_default_to_two_and_round_down_to_even(value: object, expected: int) -> None:
    assert normalise_retries(value) == expected


@pytest.mark.parametrize(("retries", "needed"), [(2, 2), (4, 3), (6, 4), (8, 5)])
def test_a_failed_first_run_needs_a_majority_of_all_runs_from_its_retries(
    retries: int, needed: int
) -> None:
    assert successes_needed(retries) == needed


def run(state: str | None, *, done: bool = True) -> dict[str, object]:
    data: dict[str, object] = {"jobID": f"id-{state}", "jobState": state}
    if done and state in ("success", "failure", "aborted", "error"):
        data["jobCompletionTime"] = "2026-11-30T01:00:00Z"
    return data


def job(first: str, *retries: str, optional: bool = False) -> JobResult:
    entry = {"jobName": JOB, "firstJob": run(first), "retriedJobs": [run(r) for r in retries]}
    return JobResult.of(entry, optional=optional)


def test_a_passing_first_run_is_success_and_needs_no_retry() -> None:
    result = job("success")
    assert result.success
    assert result.completed
    assert not result.needs_retry
    assert result.summary() == "S 1/1"


def test_a_failed_required_job_is_retried_once_and_optional_or_error_never() -> None:
    assert job("failure").needs_retry
    assert job("aborted").needs_retry
    assert not job("failure", optional=True).needs_retry
    assert not job("error").needs_retry
    assert not job("failure", "success", "success").needs_retry


def test_retries_redeem_a_failed_run_only_when_enough_pass() -> None:
    assert job("failure", "success", "success").success
    redeemed_not = job("failure", "success", "failure")
    assert not redeemed_not.success
    assert redeemed_not.failed
    assert redeemed_not.summary() == "F 1/3"
    pending = job("failure", "success", "pending")
    assert not pending.completed
    assert not pending.failed
    assert pending.summary() == "P 1/3"


def test_acceptance_needs_every_required_job_to_pass() -> None:
    assert metrics([job("success"), job("failure", "success", "success")]).qe_accepted
    assert not metrics([job("success"), job("failure", "failure", "success")]).qe_accepted
    # An optional failure does not block; an all-optional build is never accepted.
    assert metrics([job("success"), job("failure", optional=True)]).qe_accepted
    assert not metrics([job("success", optional=True)]).qe_accepted
    assert not metrics([]).qe_accepted


def test_metrics_read_like_the_original() -> None:
    summary = metrics([job("success"), job("failure", "success", "failure"), job("pending")])
    assert str(summary) == (
        "total:3, success:1, pending:1, failed:1, required:3, completed:2,"
        " successful_required:1, qe_accepted:false"
    )
    assert not summary.all_completed


@pytest.mark.parametrize(
    ("name", "arch", "build", "y_stream", "nightly"),
    [
        ("ocp-test-result-4.18.47-amd64.json", "amd64", "4.18.47", "4.18", False),
        (
            "_releases/ocp-test-result-4.12.0-0.nightly-2026-06-22-043624-amd64.json",
            "amd64",
            "4.12.0-0.nightly-2026-06-22-043624",
            "4.12",
            True,
        ),
        (
            "ocp-test-result-4.19.0-0.nightly-multi-2026-06-22-043624-multi.json",
            "multi",
            "4.19.0-0.nightly-multi-2026-06-22-043624",
            "4.19",
            True,
        ),
        ("ocp-test-result-10.1.2-arm64.json", "arm64", "10.1.2", "10.1", False),
    ],
)
def test_result_file_names_give_build_y_stream_and_kind(
    name: str, arch: str, build: str, y_stream: str, nightly: bool
) -> None:
    parsed = parse_result_name(name, arch)
    assert parsed is not None
    assert (parsed.build, parsed.y_stream, parsed.nightly) == (build, y_stream, nightly)


@pytest.mark.parametrize(
    "name",
    [
        "ocp-test-result-4.18.47-arm64.json",
        "ocp-latest-4.18-nightly-amd64.json",
        "ocp-4.18-test-jobs-amd64.json",
        "ocp-test-result-x-amd64.json",
    ],
)
def test_other_files_are_not_result_files(name: str) -> None:
    assert parse_result_name(name, "amd64") is None


@pytest.mark.parametrize(
    ("newer", "older"),
    [
        ("4.19.10", "4.19.9"),
        ("4.19.0", "4.19.0-rc.2"),
        ("4.19.0-rc.3", "4.19.0-rc.2"),
        ("4.19.0-0.nightly-2026-11-18-101010", "4.19.0-0.nightly-2026-11-17-235959"),
    ],
)
def test_builds_compare_by_version_not_text(newer: str, older: str) -> None:
    assert is_newer(newer, older)
    assert not is_newer(older, newer)
    assert not is_newer(newer, newer)
    assert is_newer(older, None)


def test_build_state_for_the_dashboard() -> None:
    assert build_state({"aggregated": True, "accepted": True}) is BuildState.ACCEPTED
    assert build_state({"aggregated": True, "accepted": False}) is BuildState.REJECTED
    assert build_state({"aggregated": True, "accepted": False, "manual_promotion": True}) is (
        BuildState.PROMOTED
    )
    assert build_state({"result": []}) is BuildState.PENDING


def test_promotion_and_retry_replacement_reopen_the_file() -> None:
    document = {
        "result": [
            {
                "jobName": JOB,
                "firstJob": run("failure"),
                "retriedJobs": [{"jobID": "a"}, {"jobID": "b"}],
            }
        ],
        "aggregated": True,
        "accepted": False,
    }
    promoted = promote(document)
    assert promoted["aggregated"] is False
    assert promoted["manual_promotion"] is True
    replaced = replace_retried_run(document, job_name=JOB, current_job_id="b", new_job_id="c")
    assert replaced["result"][0]["retriedJobs"] == [{"jobID": "a"}, {"jobID": "c"}]
    assert "aggregated" not in replaced
    assert "accepted" not in replaced
    assert document["result"][0]["retriedJobs"][1] == {"jobID": "b"}  # not edited in place
    with pytest.raises(InvalidArgumentError, match="no retried run zz"):
        replace_retried_run(document, job_name=JOB, current_job_id="zz", new_job_id="c")
    with pytest.raises(InvalidArgumentError, match="no job other"):
        replace_retried_run(document, job_name="other", current_job_id="a", new_job_id="c")


def test_a_registry_parses_with_defaults() -> None:
    text = json.dumps(
        {
            "nightly": [
                {"prowJob": JOB},
                {"prowJob": JOB + "-upgrade", "upgrade": True, "retries": "5", "optional": True},
            ],
            "stable": [{"prowJob": JOB + "-stable", "upgrade": True, "disabled": True}],
        }
    )
    registry = parse_registry(text, y_stream="4.19", arch="amd64")
    first, upgrade = registry.nightly
    assert (first.upgrade, first.optional, first.retries) == (False, False, 2)
    assert (upgrade.upgrade, upgrade.optional, upgrade.retries) == (True, True, 4)
    assert registry.stable[0].disabled
    assert registry.job(JOB, nightly=True) == first
    assert registry.job(JOB, nightly=False) is None


def test_a_bad_registry_names_every_bad_entry() -> None:
    text = json.dumps(
        {
            "nightly": [
                {"prowJob": JOB},
                {"upgrade": True},
                "x",
                {"prowJob": JOB},
                {"prowJob": "bad name!", "upgrade": "yes", "color": 1},
            ],
            "stable": {"prowJob": JOB},
            "extra": [],
        }
    )
    with pytest.raises(JobRegistryError) as caught:
        parse_registry(text, y_stream="4.19", arch="amd64")
    problems = caught.value.problems
    assert caught.value.path == "_releases/ocp-4.19-test-jobs-amd64.json"
    assert "unknown key 'extra' (known: nightly, stable)" in problems
    assert "nightly[1].prowJob: missing (the periodic job's name)" in problems
    assert "nightly[2]: an entry is an object with prowJob, not str" in problems
    assert f"nightly[3].prowJob: {JOB} is listed twice" in problems
    assert "nightly[4].prowJob: 'bad name!' is not a Prow job name" in problems
    assert "nightly[4].upgrade: 'yes' is not true or false" in problems
    assert any(p.startswith("nightly[4]: unknown key 'color'") for p in problems)
    assert "stable: a list of jobs, not dict" in problems


def test_a_registry_that_is_not_json_says_so() -> None:
    with pytest.raises(JobRegistryError, match="not JSON"):
        parse_registry("{", y_stream="4.19", arch="amd64")


async def test_a_followed_prow_run_ends_when_it_completes() -> None:
    from oar.agents.jobfollow import ProwJobKind
    from oar.integrations.fakes.prow import FakeProwJobs
    from oar.integrations.prow import ProwJobState
    from oar.release.follows import FollowStatus

    prow = FakeProwJobs()
    job_id = await prow.trigger(
        JOB, payload="quay.io/openshift-release-dev/ocp-release:4.19.2-x86_64"
    )
    kind = ProwJobKind(prow)
    follow = running_follow(
        kind="prow-job",
        key=f"prow-job:{job_id}",
        subject=job_id,
        release=None,
        task=None,
        channel=None,
        started_at=datetime(2026, 11, 30, tzinfo=UTC),
        deadline=timedelta(hours=1),
        interval=60.0,
        data={},
    )
    pending = await kind.check(follow, 1)
    assert not pending.done
    assert pending.data["jobState"] == "triggered"
    prow.set_state(job_id, ProwJobState.FAILURE)
    done = await kind.check(follow, 2)
    assert done.done
    assert done.data["jobURL"]
    finished = await kind.finish(follow, done)
    assert not finished.ok
    assert finished.error == "the run ended failure"
    assert "failed: the run ended failure" in kind.final_line(
        follow, FollowStatus.FAILED, finished.error
    )
