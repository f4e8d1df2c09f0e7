"""Which test result files announce a rejected build (reference §6). Pure.

A result file is ``_releases/ocp-test-result-<build>-<arch>.json`` on the ``record``
branch. Its build is **rejected** when the aggregator decided ``accepted: false`` and
nobody promoted it by hand (no ``manual_promotion`` key, whatever its value) — the
original checker's rule. Unlike the original (whose name pattern wanted a nightly's
timestamp), stable builds' files count too: a rejected stable build matters more.

The first run of the checker (nothing recorded yet) announces at most ``limit`` rejected
builds, the newest names first, and records the others as skipped, so neither the first
run nor the second floods the channel (the original's limit counted the wrong files and
its second run announced everything the first had left).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

BRANCH = "record"
DIRECTORY = "_releases"
ARCHITECTURES = ("amd64", "arm64", "multi", "ppc64le", "s390x")
_NAME = re.compile(
    r"^ocp-test-result-(?P<build>[0-9][A-Za-z0-9._-]*?)-(?P<arch>"
    + "|".join(ARCHITECTURES)
    + r")\.json$"
)


class Verdict(enum.StrEnum):
    """What a result file says about its build (the test-results dashboard's states)."""

    PENDING = "pending"  # not aggregated yet
    ACCEPTED = "accepted"
    PROMOTED = "promoted"  # rejected, then promoted by hand
    REJECTED = "rejected"
    INVALID = "invalid"  # not JSON, or not an object


@dataclass(frozen=True, kw_only=True)
class ResultName:
    build: str
    arch: str


def parse_name(name: str) -> ResultName | None:
    """``ocp-test-result-4.19.3-amd64.json`` → build ``4.19.3``, arch ``amd64``; None for a
    file that is not a test result (tracking files, registries)."""
    found = _NAME.match(name)
    if found is None:
        return None
    return ResultName(build=found.group("build"), arch=found.group("arch"))


def verdict_of(data: Mapping[str, Any]) -> Verdict:
    """The verdict of a parsed result file."""
    if "accepted" not in data:
        return Verdict.PENDING
    if data["accepted"]:
        return Verdict.ACCEPTED
    if "manual_promotion" in data:
        return Verdict.PROMOTED
    return Verdict.REJECTED


def verdict_of_text(text: str) -> Verdict:
    """The verdict of a result file's content; INVALID when it is not a JSON object."""
    try:
        data = json.loads(text)
    except ValueError:
        return Verdict.INVALID
    return verdict_of(data) if isinstance(data, dict) else Verdict.INVALID


def newest_first(names: Iterable[str]) -> list[str]:
    """File names in descending order (the original's: newest nightly timestamps first)."""
    return sorted(names, reverse=True)


@dataclass(frozen=True, kw_only=True)
class Selection:
    announce: list[str]
    skip: list[str]


def select(unannounced: Iterable[str], *, first_run: bool, limit: int) -> Selection:
    """Which of the rejected, not yet announced files to announce now, and which to skip.

    Later runs announce every one; the first run the ``limit`` newest and skips the rest.
    """
    ordered = newest_first(unannounced)
    if not first_run:
        return Selection(announce=ordered, skip=[])
    return Selection(announce=ordered[: max(limit, 0)], skip=ordered[max(limit, 0) :])


def file_link(repo: str, branch: str, path: str) -> str:
    return f"https://github.com/{repo}/blob/{branch}/{path}"


def announcement(repo: str, branch: str, path: str) -> str:
    """The original's message, word for word (Slack mrkdwn link)."""
    name = path.rsplit("/", 1)[-1]
    link = file_link(repo, branch, path)
    return f"Rejected build detected in test result file: <{link}|{name}>. Please check!"
