"""ART's z-stream files and the order of release versions (reference §4). Pure.

ART commits ``_releases/<y>/<y>.z.yaml`` on the ``z-stream`` branch of
openshift/release-tests ("Add release 4.18.47")::

    releases:
      4.18.47:
        advisories: {rhcos: 169360, rpm: 169359}
        release_jira: ART-21494

Versions compare by semantic versioning, so ``4.18.9 < 4.18.10`` and a candidate such as
``4.19.0-rc.1`` sorts before ``4.19.0`` (the original sorted ``tuple(map(int, …))`` and
raised on a candidate key).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import yaml

from oar.errors import AgentDataError, InvalidVersionError
from oar.release.versions import ReleaseVersion, parse_y_stream

BRANCH = "z-stream"
DIRECTORY = "_releases"
_PATH = re.compile(r"^_releases/(?P<y>[0-9]+\.[0-9]+)/(?P=y)\.z\.yaml$")


def zstream_path(y_stream: str) -> str:
    """``_releases/4.19/4.19.z.yaml`` for ``4.19``."""
    y = parse_y_stream(y_stream)
    return f"{DIRECTORY}/{y}/{y}.z.yaml"


def y_stream_of_path(path: str) -> str | None:
    """The y-stream whose z-stream file ``path`` is, or None for any other path."""
    found = _PATH.match(path)
    return found.group("y") if found else None


def releases_in(text: str, *, path: str) -> list[str]:
    """The release versions ART lists in a z-stream file (``releases: {}`` gives none).

    A file that is not YAML, has no ``releases`` mapping, or names a key that is not a
    release version is an :class:`AgentDataError` naming the file and the problem.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AgentDataError(path, f"not YAML ({exc.__class__.__name__})") from None
    if not isinstance(document, dict) or not isinstance(document.get("releases", {}), dict):
        raise AgentDataError(path, "expected a mapping with a 'releases' mapping")
    found = []
    for key in document.get("releases") or {}:
        try:
            found.append(ReleaseVersion.parse(str(key)).text)
        except InvalidVersionError:
            raise AgentDataError(path, f"{key!r} is not a release version") from None
    return found


def latest(versions: Iterable[str]) -> str | None:
    """The highest release version (semantic versioning), or None for none."""
    parsed = [ReleaseVersion.parse(v) for v in versions]
    return max(parsed).text if parsed else None


def compare(a: str, b: str) -> int:
    """``1`` when release ``a`` is newer than ``b``, ``-1`` when older, ``0`` when equal."""
    left, right = ReleaseVersion.parse(a), ReleaseVersion.parse(b)
    return (left > right) - (left < right)


def sort_y_streams(names: Iterable[str]) -> list[str]:
    """Y-streams in numeric order (``4.9 < 4.10 < 5.0``); names that are not one are dropped."""
    valid = []
    for name in names:
        try:
            valid.append(parse_y_stream(name))
        except InvalidVersionError:
            continue
    return sorted(set(valid), key=lambda y: tuple(int(p) for p in y.split(".")))
