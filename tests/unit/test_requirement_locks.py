"""`make run` installs requirements/runtime.txt only, `make test` adds requirements/lock.txt:
the runtime lock must hold everything the service imports, at the full lock's versions, and
no development tool. A runtime dependency added to pyproject.toml without `make lock` fails
here rather than in a newcomer's `make run`."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    found = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", text, re.M)
    return {canonicalize_name(n): v for n, v in found}


def closure(requirements: list[str]) -> set[str]:
    """The installed distributions these requirements pull in (extras and markers as pip
    evaluates them on this interpreter)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        extras = set(req.extras)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:  # not installed: its name is all we know
            requires = []
        for dep in requires:
            sub = Requirement(dep)
            wanted = sub.marker is None or any(
                sub.marker.evaluate({"extra": e}) for e in ({""} | extras)
            )
            if wanted:
                sub.marker = None
                todo.append(sub)
    return {k.split("[")[0] for k in seen}


def test_runtime_lock_covers_what_the_service_needs_at_the_full_locks_versions() -> None:
    runtime, full = pins("runtime.txt"), pins("lock.txt")
    needed = closure(PYPROJECT["dependencies"])
    assert needed - runtime.keys() == set(), "run `make lock`: runtime.txt misses these"
    assert {n: v for n, v in runtime.items() if full.get(n) != v} == {}


def test_runtime_lock_has_no_development_tool() -> None:
    runtime = pins("runtime.txt")
    dev = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["optional-dependencies"]["dev"]
    }
    assert dev & runtime.keys() == set()
    assert dev <= pins("lock.txt").keys()
