"""The CI gate's pure rules: result-file names, build order, retries, acceptance (§5.7, §5.8).

Values in, values out: no I/O, no logging, no clock. A test result file is the JSON
document the original tool keeps on the ``record`` branch (``ocp-test-result-<build>-<arch>
.json``): ``result`` (one entry per job: ``jobName``, ``firstJob``, ``retriedJobs``),
``build``, and once aggregated ``aggregated`` / ``accepted`` (``manual_promotion`` when a
person promoted it).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oar.errors import InvalidArgumentError

RECORD_DIR = "_releases"
DEFAULT_RETRIES = 2
_RESULT_PREFIX = "ocp-test-result-"
_Y_STREAM = re.compile(r"^(\d+)\.(\d+)")
_NIGHTLY_STAMP = re.compile(r"nightly(?:-[a-z0-9]+)?-(\d{4}-\d{2}-\d{2}-\d{6})$")
_STATES_FAILED = frozenset({"failure", "aborted"})
_STATES_DONE = frozenset({"success", "failure", "aborted", "error"})


# --- file names ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ResultFile:
    """What a result file's name says: the build, its y-stream, nightly or not, the arch."""

    build: str
    y_stream: str
    nightly: bool
    arch: str

    @property
    def path(self) -> str:
        return result_path(self.build, self.arch)


def result_path(build: str, arch: str) -> str:
    return f"{RECORD_DIR}/{_RESULT_PREFIX}{build}-{arch}.json"


def tracking_path(y_stream: str, *, nightly: bool, arch: str) -> str:
    kind = "nightly" if nightly else "stable"
    return f"{RECORD_DIR}/ocp-latest-{y_stream}-{kind}-{arch}.json"


def registry_path(y_stream: str, arch: str) -> str:
    return f"{RECORD_DIR}/ocp-{y_stream}-test-jobs-{arch}.json"


def y_stream_of(build: str) -> str:
    """``4.19.0-0.nightly-…`` and ``4.19.3`` → ``4.19``."""
    match = _Y_STREAM.match(build)
    if not match:
        raise InvalidArgumentError("build", f"{build!r} does not start with a y-stream (4.19)")
    return f"{match.group(1)}.{match.group(2)}"


def parse_result_name(name: str, arch: str) -> ResultFile | None:
    """A result file's name (or path) for ``arch``, or None when it is not one.

    The original took the y-stream with a one-digit major (``\\d\\.\\d+``) and the build as
    the text between the first and last digit before the arch; here the build is exactly
    what sits between the prefix and ``-<arch>.json``, so a ``multi`` nightly
    (``…nightly-multi-…``) is not cut at its own arch.
    """
    base = name.rsplit("/", 1)[-1]
    suffix = f"-{arch}.json"
    if not base.startswith(_RESULT_PREFIX) or not base.endswith(suffix):
        return None
    build = base[len(_RESULT_PREFIX) : -len(suffix)]
    if not _Y_STREAM.match(build):
        return None
    return ResultFile(
        build=build, y_stream=y_stream_of(build), nightly="nightly" in build, arch=arch
    )


def build_key(build: str) -> tuple[int, ...]:
    """An order on builds of one y-stream: z-streams by number, nightlies by their stamp.

    ``4.19.10`` > ``4.19.9`` (not a string order); a nightly sorts by its date-time;
    ``4.19.0-rc.2`` < ``4.19.0``. Builds of different kinds are not compared by callers.
    """
    stamp = _NIGHTLY_STAMP.search(build)
    if stamp:
        return tuple(int(part) for part in stamp.group(1).split("-"))
    version, _, pre = build.partition("-")
    numbers = [int(part) if part.isdigit() else 0 for part in version.split(".")]
    if pre:  # a pre-release (rc, ec) sorts before its release
        digits = re.findall(r"\d+", pre)
        return (*numbers, 0, *(int(d) for d in digits))
    return (*numbers, 1)


def is_newer(candidate: str, than: str | None) -> bool:
    """Whether ``candidate`` is a newer build than the tracked ``than`` (None: nothing yet)."""
    return than is None or build_key(candidate) > build_key(than)


# --- retries -------------------------------------------------------------------------------


def normalise_retries(value: object) -> int:
    """The registry's ``retries``: missing → 2; an int (or digit string) over 2 → rounded
    down to even; anything else → 2. Even retries make the total runs (1 + n) odd."""
    if isinstance(value, bool):
        return DEFAULT_RETRIES
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isdigit():
        number = int(value)
    else:
        return DEFAULT_RETRIES
    if number <= DEFAULT_RETRIES:
        return DEFAULT_RETRIES
    return number if number % 2 == 0 else number - 1


def successes_needed(retries: int) -> int:
    """Passing retries that redeem a failed first run: a majority of all 1 + n runs, all
    from the retries (``round((n + 1.1) / 2)``: 2→2, 4→3, 6→4, 8→5)."""
    if retries <= 0:
        return 1
    return retries // 2 + 1


# --- job results ---------------------------------------------------------------------------


class BuildState(enum.StrEnum):
    """A build's state on the dashboard, as the original's Streamlit page named them."""

    ACCEPTED = "Accepted"
    PROMOTED = "Accepted (manually promoted)"
    REJECTED = "Rejected"
    PENDING = "Pending"


@dataclass(frozen=True, kw_only=True)
class RunView:
    """One run of a job (first or retry) as the result file records it."""

    job_id: str
    state: str | None
    url: str | None
    completion_time: str | None

    @property
    def completed(self) -> bool:
        return self.completion_time is not None or self.state in _STATES_DONE

    @property
    def success(self) -> bool:
        return self.state == "success"

    @property
    def failed(self) -> bool:
        return self.state in _STATES_FAILED

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> RunView:
        return cls(
            job_id=str(data.get("jobID", "")),
            state=data.get("jobState"),
            url=data.get("jobURL"),
            completion_time=data.get("jobCompletionTime"),
        )


@dataclass(frozen=True, kw_only=True)
class JobResult:
    """A job's runs on one build and the original's predicates on them (§5.8)."""

    name: str
    first: RunView
    retries: tuple[RunView, ...]
    optional: bool = False
    retries_allowed: int = DEFAULT_RETRIES

    @classmethod
    def of(
        cls, entry: Mapping[str, Any], *, optional: bool = False, retries: int = DEFAULT_RETRIES
    ) -> JobResult:
        return cls(
            name=str(entry.get("jobName", "")),
            first=RunView.of(entry.get("firstJob") or {}),
            retries=tuple(RunView.of(r) for r in entry.get("retriedJobs") or []),
            optional=optional,
            retries_allowed=retries,
        )

    @property
    def completed(self) -> bool:
        return self.first.completed and all(r.completed for r in self.retries)

    @property
    def retry_success(self) -> bool:
        if not self.retries or not all(r.completed for r in self.retries):
            return False
        passed = sum(1 for r in self.retries if r.success)
        return passed >= successes_needed(len(self.retries))

    @property
    def success(self) -> bool:
        return self.first.success or self.retry_success

    @property
    def failed(self) -> bool:
        return self.completed and self.first.failed and not self.retry_success

    @property
    def needs_retry(self) -> bool:
        """A required job whose first run failed (or was aborted) and was not retried yet;
        ``error`` is neither success nor failure and is never retried (as the original)."""
        return not self.optional and self.first.failed and not self.retries

    @property
    def runs(self) -> tuple[RunView, ...]:
        return (self.first, *self.retries)

    def summary(self) -> str:
        """``S 1/1``, ``S 2/3``, ``F 1/3``, ``P 0/1``: state and passing runs of all runs."""
        letter = "S" if self.success else "F" if self.failed else "P"
        passed = sum(1 for run in self.runs if run.success)
        return f"{letter} {passed}/{len(self.runs)}"


@dataclass(frozen=True, kw_only=True)
class Metrics:
    total: int
    completed: int
    success: int
    failed: int
    required: int
    successful_required: int

    @property
    def pending(self) -> int:
        return self.total - self.completed

    @property
    def qe_accepted(self) -> bool:
        """All required jobs pass (first run or after retries); no required job, no
        acceptance: an all-optional build is never accepted automatically."""
        return (
            self.required > 0
            and self.successful_required > 0
            and self.successful_required == self.required
        )

    @property
    def all_completed(self) -> bool:
        return self.total > 0 and self.completed > 0 and self.total == self.completed

    def __str__(self) -> str:
        return (
            f"total:{self.total}, success:{self.success}, pending:{self.pending},"
            f" failed:{self.failed}, required:{self.required}, completed:{self.completed},"
            f" successful_required:{self.successful_required},"
            f" qe_accepted:{str(self.qe_accepted).lower()}"
        )


def metrics(jobs: Sequence[JobResult]) -> Metrics:
    required = [job for job in jobs if not job.optional]
    return Metrics(
        total=len(jobs),
        completed=sum(1 for job in jobs if job.completed),
        success=sum(1 for job in jobs if job.success),
        failed=sum(1 for job in jobs if job.failed),
        required=len(required),
        successful_required=sum(1 for job in required if job.success),
    )


def build_state(document: Mapping[str, Any]) -> BuildState:
    """Accepted, Accepted (manually promoted), Rejected or Pending, from a result file."""
    if "manual_promotion" in document:
        return BuildState.PROMOTED
    if document.get("aggregated"):
        return BuildState.ACCEPTED if document.get("accepted") else BuildState.REJECTED
    return BuildState.PENDING


# --- edits of a result document ------------------------------------------------------------


def promote(document: dict[str, Any]) -> dict[str, Any]:
    """Manual promotion (§5.10): re-aggregate, and label whatever the jobs say."""
    updated = dict(document)
    updated["aggregated"] = False
    updated["manual_promotion"] = True
    return updated


def replace_retried_run(
    document: dict[str, Any], *, job_name: str, current_job_id: str, new_job_id: str
) -> dict[str, Any]:
    """Replace a retry by a run started by hand (§5.10); the file is re-aggregated."""
    updated = dict(document)
    entries = [dict(e) for e in document.get("result", [])]
    for entry in entries:
        if entry.get("jobName") != job_name:
            continue
        retried = [dict(r) for r in entry.get("retriedJobs") or []]
        for index, run in enumerate(retried):
            if str(run.get("jobID")) == current_job_id:
                retried[index] = {"jobID": new_job_id}
                entry["retriedJobs"] = retried
                updated["result"] = entries
                updated.pop("aggregated", None)
                updated.pop("accepted", None)
                return updated
        raise InvalidArgumentError(
            "current_job_id", f"{job_name} has no retried run {current_job_id}"
        )
    raise InvalidArgumentError("job_name", f"no job {job_name} in the result file")


# --- the dashboard's view of a build ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunLink:
    label: str  # "first", "retry 1", …
    state: str
    url: str | None


@dataclass(frozen=True, kw_only=True)
class JobLine:
    name: str
    summary: str  # "S 2/3"
    runs: tuple[RunLink, ...]

    @property
    def short_name(self) -> str:
        """The job's distinguishing tail (after ``automated-release-``)."""
        _, found, tail = self.name.partition("automated-release-")
        return tail if found else self.name


@dataclass(frozen=True, kw_only=True)
class BuildLine:
    build: str
    arch: str
    state: BuildState
    jobs: tuple[JobLine, ...]

    @property
    def passed(self) -> int:
        return sum(1 for job in self.jobs if job.summary.startswith("S"))


def build_line(document: Mapping[str, Any], *, build: str, arch: str) -> BuildLine:
    """A result document as one row of the test-results page."""
    jobs = []
    for entry in document.get("result", []):
        result = JobResult.of(entry)
        runs = [
            RunLink(
                label="first" if index == 0 else f"retry {index}",
                state=run.state or "triggered",
                url=run.url,
            )
            for index, run in enumerate(result.runs)
        ]
        jobs.append(JobLine(name=result.name, summary=result.summary(), runs=tuple(runs)))
    return BuildLine(build=build, arch=arch, state=build_state(document), jobs=tuple(jobs))


def file_url(api_url: str, repo: str, branch: str, path: str) -> str | None:
    """The web page of a file: github.com for api.github.com, ``https://host/…`` for a
    GitHub Enterprise ``https://host/api/v3``; None for anything else (a stand-in)."""
    api = api_url.rstrip("/")
    if api == "https://api.github.com":
        host = "https://github.com"
    elif api.endswith("/api/v3"):
        host = api[: -len("/api/v3")]
    else:
        return None
    return f"{host}/{repo}/blob/{branch}/{path}"
