"""The pre-merge-verified rule (reference §3.4 step 1): which remote links are a bug's pull
requests, and when their labels make the bug skip the escalation ladder."""

from __future__ import annotations

import pytest

from oar.agents.premerge import PullRequest, check_failed, passes, pull_requests, verdict

ORIGIN = "https://github.com/openshift/origin/pull/29001"
INSTALLER = "https://github.com/openshift/installer/pull/9100"
PR_ORIGIN = PullRequest(repo="openshift/origin", number=29001)
PR_INSTALLER = PullRequest(repo="openshift/installer", number=9100)


def test_only_openshift_pull_request_links_are_the_bugs_pull_requests() -> None:
    urls = [
        "https://github.com/kubernetes/kubernetes/pull/120001",  # not openshift
        "https://github.com/openshift/origin/issues/29001",  # an issue, not a pull request
        "https://errata.example.com/advisory/150001",
        ORIGIN + "/files",  # matched as the original did: from the start only
        ORIGIN,  # the same pull request twice counts once
        INSTALLER,
        "see " + ORIGIN,  # not at the start: the original's re.match misses it too
    ]
    assert pull_requests(urls) == (PR_ORIGIN, PR_INSTALLER)
    assert str(PR_ORIGIN) == "openshift/origin#29001"


def test_a_bug_without_links_is_not_verified() -> None:
    result = verdict([], {})
    assert not result.verified
    assert result.reason == "not pre-merge verified: no openshift pull request"
    assert result.problem is None


def test_a_link_to_a_non_openshift_pull_request_does_not_count() -> None:
    result = verdict(["https://github.com/kubernetes/kubernetes/pull/120001"], {})
    assert not result.verified
    assert result.pull_requests == ()


def test_a_bug_whose_pull_requests_all_carry_verified_is_skipped() -> None:
    result = verdict(
        [ORIGIN, INSTALLER],
        {PR_ORIGIN: ["lgtm", "verified"], PR_INSTALLER: ["verified", "approved"]},
    )
    assert result.verified
    assert result.reason == "pre-merge verified (openshift/origin#29001, openshift/installer#9100)"
    assert result.problem is None


def test_verified_later_wins_over_verified() -> None:
    result = verdict([ORIGIN], {PR_ORIGIN: ["verified", "verified-later"]})
    assert not result.verified
    assert (
        result.reason == "not pre-merge verified: openshift/origin#29001 is labelled verified-later"
    )


def test_one_of_two_pull_requests_without_verified_makes_the_bug_not_verified() -> None:
    result = verdict([ORIGIN, INSTALLER], {PR_ORIGIN: ["verified"], PR_INSTALLER: ["approved"]})
    assert not result.verified
    assert (
        result.reason == "not pre-merge verified: openshift/installer#9100 is not labelled verified"
    )
    assert result.pull_requests == (PR_ORIGIN, PR_INSTALLER)


def test_an_unreadable_pull_request_matters_only_when_the_others_pass() -> None:
    settled = verdict(
        [ORIGIN, INSTALLER],
        {PR_INSTALLER: ["approved"]},
        unreadable={PR_ORIGIN: "GitHub: HTTP 502: Bad Gateway"},
    )
    assert not settled.verified
    assert settled.problem is None, "the error could not change the verdict"

    unknown = verdict(
        [ORIGIN, INSTALLER],
        {PR_INSTALLER: ["verified"]},
        unreadable={PR_ORIGIN: "GitHub: HTTP 502: Bad Gateway"},
    )
    assert not unknown.verified
    assert unknown.problem == (
        "pre-merge check failed (openshift/origin#29001: GitHub: HTTP 502: Bad Gateway);"
        " chased as not verified"
    )


def test_reading_may_stop_at_the_first_pull_request_that_fails() -> None:
    result = verdict([ORIGIN, INSTALLER], {PR_ORIGIN: ["lgtm"]})
    assert (
        result.reason == "not pre-merge verified: openshift/origin#29001 is not labelled verified"
    )
    with pytest.raises(ValueError, match="openshift/installer#9100"):
        verdict([ORIGIN, INSTALLER], {PR_ORIGIN: ["verified"]})


def test_a_failed_check_is_not_verified_and_says_what_failed() -> None:
    result = check_failed("remote links: Jira: HTTP 503: down")
    assert not result.verified
    assert result.problem == (
        "pre-merge check failed (remote links: Jira: HTTP 503: down); chased as not verified"
    )


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(["verified"], True), (["verified", "verified-later"], False), (["lgtm"], False), ([], False)],
)
def test_one_pull_requests_labels(labels: list[str], expected: bool) -> None:
    assert passes(labels) is expected
