"""The agents' pure rules: ART's z-stream files and version order, the detector's decision,
the active-release discovery rule, which result files announce a rejected build, and which
pushes concern which agent."""

from __future__ import annotations

from datetime import date

import pytest

from oar.agents import rejections, zstream
from oar.agents.detector import Decision, decide
from oar.agents.discovery import Candidate, discover, is_active, judge, parse_release_date
from oar.agents.rejections import Verdict
from oar.errors import AgentDataError, InvalidVersionError
from oar.github.agents import push_targets

ART_FILE = """\
releases:
  4.18.9:
    advisories: {rhcos: 1, rpm: 2}
  4.18.10:
    release_jira: ART-2
  4.18.47:
    advisories: {rhcos: 169360, rpm: 169359}
    release_jira: ART-21494
"""


# --- ART's z-stream files and version order -------------------------------------------------


def test_the_latest_release_of_arts_file_is_by_semantic_version_not_text() -> None:
    releases = zstream.releases_in(ART_FILE, path="x")
    assert releases == ["4.18.9", "4.18.10", "4.18.47"]
    assert zstream.latest(releases) == "4.18.47"
    assert zstream.latest(["4.18.9", "4.18.10"]) == "4.18.10"


def test_a_candidate_sorts_before_its_release_where_the_original_raised() -> None:
    assert zstream.latest(["4.19.0-rc.1", "4.19.0-rc.2"]) == "4.19.0-rc.2"
    assert zstream.latest(["4.19.0-rc.2", "4.19.0"]) == "4.19.0"
    assert zstream.compare("4.19.0-rc.2", "4.19.0") == -1


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [("4.18.10", "4.18.9", 1), ("4.18.9", "4.18.10", -1), ("4.18.47", "4.18.47", 0)],
)
def test_versions_compare_numerically(a: str, b: str, order: int) -> None:
    assert zstream.compare(a, b) == order


def test_an_empty_file_has_no_latest_release() -> None:
    assert zstream.releases_in("releases: {}\n", path="x") == []
    assert zstream.latest([]) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("releases: [4.18.1]\n", "'releases' mapping"),
        ("- a\n", "'releases' mapping"),
        ("releases:\n  4.18.x: {}\n", "'4.18.x' is not a release version"),
        ("releases: {a: [\n", "not YAML"),
    ],
)
def test_a_malformed_file_names_itself_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(AgentDataError) as caught:
        zstream.releases_in(text, path="_releases/4.18/4.18.z.yaml")
    assert caught.value.path == "_releases/4.18/4.18.z.yaml"
    assert problem in caught.value.message


def test_z_stream_paths_and_y_streams() -> None:
    assert zstream.zstream_path("4.19") == "_releases/4.19/4.19.z.yaml"
    assert zstream.y_stream_of_path("_releases/4.19/4.19.z.yaml") == "4.19"
    assert zstream.y_stream_of_path("_releases/4.19/4.18.z.yaml") is None
    assert zstream.y_stream_of_path("_releases/4.19/statebox/4.19.3.yaml") is None
    assert zstream.sort_y_streams(["5.0", "4.10", "4.9", "x", "4.9"]) == ["4.9", "4.10", "5.0"]
    with pytest.raises(InvalidVersionError):
        zstream.zstream_path("4")


# --- the detector's decision ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("art", "stable", "decision"),
    [
        ("4.19.3", "4.19.2", Decision.NEW),
        ("4.19.10", "4.19.9", Decision.NEW),
        ("4.19.2", "4.19.2", Decision.NONE),
        ("4.19.1", "4.19.2", Decision.BEHIND),
        (None, "4.19.2", Decision.UNKNOWN),
        ("4.19.3", None, Decision.UNKNOWN),
    ],
)
def test_the_detector_decides_from_the_two_latest_versions(
    art: str | None, stable: str | None, decision: Decision
) -> None:
    assert decide(art, stable) is decision


# --- the discovery rule ---------------------------------------------------------------------


def test_a_release_is_active_until_a_day_after_its_release_date() -> None:
    released = date(2026, 5, 7)
    assert is_active(released, today=date(2026, 5, 1))
    assert is_active(released, today=date(2026, 5, 7))
    assert is_active(released, today=date(2026, 5, 8))
    assert not is_active(released, today=date(2026, 5, 9))
    assert is_active(released, today=date(2026, 5, 10), keep_days=3)


def test_release_dates_are_read_as_build_data_writes_them() -> None:
    assert parse_release_date("2026-May-07") == date(2026, 5, 7)
    assert parse_release_date("2026-05-07") == date(2026, 5, 7)
    assert parse_release_date("May 7") is None


def test_discovery_judges_each_y_streams_latest_release_and_says_why() -> None:
    today = date(2026, 11, 30)
    verdicts = discover(
        [
            Candidate(y_stream="4.19", release="4.19.3", release_date="2026-Dec-03"),
            Candidate(y_stream="4.10", release="4.10.9", release_date="2026-Nov-20"),
            Candidate(y_stream="4.9", release="4.9.1", release_date=None),
            Candidate(y_stream="4.18", release="4.18.40", release_date="soon"),
        ],
        today=today,
    )
    assert [v.y_stream for v in verdicts] == ["4.9", "4.10", "4.18", "4.19"]
    assert [v.active for v in verdicts] == [False, False, False, True]
    assert "no release date recorded" in verdicts[0].reason
    assert "inactive since 2026-11-22" in verdicts[1].reason
    assert "is not YYYY-Mon-DD" in verdicts[2].reason
    assert verdicts[3].to_dict()["release_date"] == "2026-12-03"
    yesterday = Candidate(y_stream="4.19", release="4.19.3", release_date="2026-Nov-29")
    assert judge(yesterday, today=today).active


# --- rejected builds --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "build", "arch"),
    [
        ("ocp-test-result-4.12.92-amd64.json", "4.12.92", "amd64"),
        (
            "ocp-test-result-4.12.0-0.nightly-2026-06-22-043624-amd64.json",
            "4.12.0-0.nightly-2026-06-22-043624",
            "amd64",
        ),
        (
            "ocp-test-result-4.18.0-0.nightly-arm64-2026-06-22-043624-arm64.json",
            "4.18.0-0.nightly-arm64-2026-06-22-043624",
            "arm64",
        ),
    ],
)
def test_result_file_names_give_build_and_architecture(name: str, build: str, arch: str) -> None:
    parsed = rejections.parse_name(name)
    assert parsed is not None
    assert (parsed.build, parsed.arch) == (build, arch)


@pytest.mark.parametrize(
    "name",
    [
        "ocp-latest-4.19-nightly-amd64.json",
        "ocp-4.19-test-jobs-amd64.json",
        "ocp-test-result-4.19.2-sparc.json",
        "ocp-test-result-4.19.2-amd64.yaml",
    ],
)
def test_other_files_are_not_result_files(name: str) -> None:
    assert rejections.parse_name(name) is None


@pytest.mark.parametrize(
    ("data", "verdict"),
    [
        ({"result": []}, Verdict.PENDING),
        ({"aggregated": True, "accepted": True}, Verdict.ACCEPTED),
        ({"accepted": True, "manual_promotion": True}, Verdict.ACCEPTED),
        ({"accepted": False}, Verdict.REJECTED),
        ({"accepted": False, "manual_promotion": True}, Verdict.PROMOTED),
        ({"accepted": False, "manual_promotion": False}, Verdict.PROMOTED),  # presence counts
    ],
)
def test_a_build_is_rejected_when_not_accepted_and_not_promoted_by_hand(
    data: dict[str, object], verdict: Verdict
) -> None:
    assert rejections.verdict_of(data) is verdict


def test_a_file_that_is_not_a_json_object_is_invalid() -> None:
    assert rejections.verdict_of_text("{") is Verdict.INVALID
    assert rejections.verdict_of_text("[]") is Verdict.INVALID
    assert rejections.verdict_of_text('{"accepted": false}') is Verdict.REJECTED


def test_the_first_run_announces_the_newest_up_to_the_limit_and_skips_the_rest() -> None:
    names = [
        f"_releases/ocp-test-result-4.19.0-0.nightly-2026-11-1{i}-000000-amd64.json"
        for i in range(5)
    ]
    first = rejections.select(names, first_run=True, limit=2)
    assert first.announce == [names[4], names[3]]
    assert first.skip == [names[2], names[1], names[0]]
    later = rejections.select(names, first_run=False, limit=2)
    assert later.announce == sorted(names, reverse=True)
    assert later.skip == []
    assert rejections.select(names, first_run=True, limit=0).announce == []


def test_the_announcement_is_the_originals() -> None:
    text = rejections.announcement(
        "openshift/release-tests", "record", "_releases/ocp-test-result-4.19.2-amd64.json"
    )
    assert text == (
        "Rejected build detected in test result file: <https://github.com/openshift/"
        "release-tests/blob/record/_releases/ocp-test-result-4.19.2-amd64.json|"
        "ocp-test-result-4.19.2-amd64.json>. Please check!"
    )


# --- which pushes concern which agent -----------------------------------------------------------


def _push(branch: str, *paths: str, repo: str = "openshift/release-tests") -> dict[str, object]:
    return {
        "ref": f"refs/heads/{branch}",
        "repository": {"full_name": repo},
        "commits": [{"added": [], "modified": list(paths), "removed": []}],
    }


def test_a_push_to_arts_file_runs_the_detector_for_watched_y_streams_only() -> None:
    payload = _push("z-stream", "_releases/4.19/4.19.z.yaml", "_releases/4.17/4.17.z.yaml")
    targets = push_targets(
        payload, repo="openshift/release-tests", y_streams=["4.19", "4.18"], checker=True
    )
    assert targets.y_streams == ["4.19"]
    assert not targets.results


def test_a_push_of_result_files_runs_the_checker_when_it_is_configured() -> None:
    payload = _push("record", "_releases/ocp-test-result-4.19.3-amd64.json")
    on = push_targets(payload, repo="openshift/release-tests", y_streams=[], checker=True)
    off = push_targets(payload, repo="openshift/release-tests", y_streams=[], checker=False)
    assert on.results
    assert not off.results


@pytest.mark.parametrize(
    "payload",
    [
        _push("main", "_releases/4.19/4.19.z.yaml"),
        _push("z-stream", "_releases/4.19/4.19.z.yaml", repo="someone/fork"),
        _push("record", "_releases/ocp-latest-4.19-nightly-amd64.json"),
        _push("z-stream", "_releases/4.19/statebox/4.19.3.yaml"),
    ],
)
def test_other_pushes_concern_no_agent(payload: dict[str, object]) -> None:
    targets = push_targets(
        payload, repo="openshift/release-tests", y_streams=["4.19"], checker=True
    )
    assert targets.y_streams == []
    assert not targets.results
