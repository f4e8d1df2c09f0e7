"""The Jira notificator's pre-merge-verified rule (reference §3.4 step 1): a bug whose
pull requests QE already verified before they merged is not chased. Pure: values in, a
:class:`Verdict` out.

A bug's pull requests are its Jira remote links to ``https://github.com/openshift/<repo>/pull/<n>``
(the original's ``re.match``: anchored at the start only). The bug is pre-merge verified when
it has at least one, none carries ``verified-later`` and every one carries ``verified``.

The original counted any error as "not verified" and said nothing. Here a pull request whose
labels could not be read only matters when the others would make the bug verified: then the
verdict is "not verified" *and* :attr:`Verdict.problem` says why, for the run's summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# https://github.com/openshift/<repo>/pull/<number>, as the original matched it.
PULL_REQUEST_URL = re.compile(r"https://github\.com/(openshift)/([^/]+)/pull/(\d+)")
VERIFIED = "verified"
VERIFIED_LATER = "verified-later"


@dataclass(frozen=True, kw_only=True, order=True)
class PullRequest:
    repo: str  # owner/name
    number: int

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """Whether a bug is pre-merge verified, and why (or why not)."""

    verified: bool
    reason: str
    pull_requests: tuple[PullRequest, ...] = ()
    problem: str | None = None  # the check could not finish: report it with the bug


def pull_requests(urls: Iterable[str]) -> tuple[PullRequest, ...]:
    """The openshift pull requests among a bug's remote link URLs, once each, in order."""
    found: dict[PullRequest, None] = {}
    for url in urls:
        match = PULL_REQUEST_URL.match(url)
        if match is not None:
            owner, name, number = match.groups()
            found.setdefault(PullRequest(repo=f"{owner}/{name}", number=int(number)))
    return tuple(found)


def passes(labels: Sequence[str]) -> bool:
    """Whether one pull request's labels let the bug count as verified."""
    return VERIFIED in labels and VERIFIED_LATER not in labels


def verdict(
    urls: Sequence[str],
    labels: Mapping[PullRequest, Sequence[str]],
    *,
    unreadable: Mapping[PullRequest, str] | None = None,
) -> Verdict:
    """The verdict from a bug's remote link URLs and its pull requests' labels.

    ``labels`` holds the pull requests whose labels were read, ``unreadable`` those whose
    labels could not be (with the error). One that fails settles the verdict, so the caller
    may stop reading there; otherwise every pull request must be in one of the two
    (ValueError: a caller's mistake).
    """
    errors = dict(unreadable or {})
    prs = pull_requests(urls)
    if not prs:
        return Verdict(verified=False, reason="not pre-merge verified: no openshift pull request")
    for pr in prs:  # a pull request that settles it outweighs one that could not be read
        found = labels.get(pr)
        if found is None or passes(found):
            continue
        why = (
            f"labelled {VERIFIED_LATER}" if VERIFIED_LATER in found else f"not labelled {VERIFIED}"
        )
        return Verdict(
            verified=False, reason=f"not pre-merge verified: {pr} is {why}", pull_requests=prs
        )
    missing = [str(pr) for pr in prs if pr not in labels and pr not in errors]
    if missing:
        raise ValueError(f"the labels of {', '.join(missing)} were neither read nor unreadable")
    failed = [pr for pr in prs if pr in errors]
    if failed:
        return check_failed("; ".join(f"{pr}: {errors[pr]}" for pr in failed), prs)
    return Verdict(
        verified=True,
        reason=f"pre-merge verified ({', '.join(str(pr) for pr in prs)})",
        pull_requests=prs,
    )


def check_failed(detail: str, prs: tuple[PullRequest, ...] = ()) -> Verdict:
    """The verdict when the check could not finish (``detail``: what failed): chased."""
    return Verdict(
        verified=False,
        reason="not pre-merge verified: the check failed",
        pull_requests=prs,
        problem=f"pre-merge check failed ({detail}); chased as not verified",
    )
