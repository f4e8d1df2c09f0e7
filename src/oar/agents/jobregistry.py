"""The test-job registry: which Prow jobs test a y-stream's builds (reference §5.2).

``_releases/ocp-<y>-test-jobs-<arch>.json`` on the repository's ``main`` branch::

    {"nightly": [{"prowJob": "periodic-ci-…-aws-ipi-f999"}, {"prowJob": "…", "upgrade": true}],
     "stable":  [{"prowJob": "…", "upgrade": true, "optional": false, "retries": 4}]}

:func:`parse_registry` is pure and reports every bad entry at once, each by its place
(``nightly[2].prowJob``), instead of failing on the first or skipping it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from oar.agents.testresults import normalise_retries, registry_path
from oar.errors import InvalidArgumentError, JobRegistryError
from oar.integrations.github import RepositoryFiles
from oar.integrations.prow import check_job_name

KINDS = ("nightly", "stable")
_KEYS = frozenset({"prowJob", "upgrade", "optional", "disabled", "retries"})
_FLAGS = ("upgrade", "optional", "disabled")


@dataclass(frozen=True, kw_only=True)
class TestJob:
    """A registry entry: a periodic job and how the gate treats it."""

    __test__ = False  # not a pytest class

    name: str
    upgrade: bool = False
    optional: bool = False
    disabled: bool = False
    retries: int = 2


@dataclass(frozen=True, kw_only=True)
class TestJobRegistry:
    y_stream: str
    arch: str
    nightly: tuple[TestJob, ...]
    stable: tuple[TestJob, ...]

    def jobs(self, *, nightly: bool) -> tuple[TestJob, ...]:
        return self.nightly if nightly else self.stable

    def job(self, name: str, *, nightly: bool) -> TestJob | None:
        return next((job for job in self.jobs(nightly=nightly) if job.name == name), None)


def _entry(kind: str, index: int, raw: Any, problems: list[str]) -> TestJob | None:
    where = f"{kind}[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{where}: an entry is an object with prowJob, not {type(raw).__name__}")
        return None
    name = raw.get("prowJob")
    ok = True
    if not isinstance(name, str) or not name:
        problems.append(f"{where}.prowJob: missing (the periodic job's name)")
        ok = False
    else:
        try:
            check_job_name(name)
        except InvalidArgumentError:
            problems.append(f"{where}.prowJob: {name!r} is not a Prow job name")
            ok = False
    for key in sorted(set(raw) - _KEYS):
        problems.append(f"{where}: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
        ok = False
    for flag in _FLAGS:
        if flag in raw and not isinstance(raw[flag], bool):
            problems.append(f"{where}.{flag}: {raw[flag]!r} is not true or false")
            ok = False
    if not ok:
        return None
    return TestJob(
        name=str(name),
        upgrade=bool(raw.get("upgrade", False)),
        optional=bool(raw.get("optional", False)),
        disabled=bool(raw.get("disabled", False)),
        retries=normalise_retries(raw.get("retries")),
    )


def parse_registry(text: str, *, y_stream: str, arch: str) -> TestJobRegistry:
    """The registry file's text, validated; :class:`JobRegistryError` lists every problem."""
    path = registry_path(y_stream, arch)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise JobRegistryError(path, [f"not JSON ({exc})"]) from None
    if not isinstance(data, dict):
        raise JobRegistryError(path, ["the file is an object with nightly and stable lists"])
    problems: list[str] = [
        f"unknown key {key!r} (known: nightly, stable)" for key in sorted(set(data) - set(KINDS))
    ]
    parsed: dict[str, list[TestJob]] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            problems.append(f"{kind}: a list of jobs, not {type(entries).__name__}")
            continue
        seen: set[str] = set()
        for index, raw in enumerate(entries):
            job = _entry(kind, index, raw, problems)
            if job is None:
                continue
            if job.name in seen:
                problems.append(f"{kind}[{index}].prowJob: {job.name} is listed twice")
                continue
            seen.add(job.name)
            parsed[kind].append(job)
    if problems:
        raise JobRegistryError(path, problems)
    return TestJobRegistry(
        y_stream=y_stream,
        arch=arch,
        nightly=tuple(parsed["nightly"]),
        stable=tuple(parsed["stable"]),
    )


async def load_registry(
    files: RepositoryFiles, y_stream: str, arch: str, *, ref: str = "main"
) -> TestJobRegistry:
    """The registry of ``y_stream`` / ``arch`` from the repository's ``ref`` branch."""
    path = registry_path(y_stream, arch)
    found = await files.get_file(path, ref=ref)
    if found is None:
        raise JobRegistryError(path, [f"no such file on {ref}: no jobs are registered"])
    return parse_registry(found.content, y_stream=y_stream, arch=arch)
