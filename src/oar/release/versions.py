"""Z-stream release versions: parsing, the y-stream, the build-data release key, ordering.

Pure: values in, values or :class:`~oar.errors.InvalidVersionError` out. Comparison is
semantic versioning's (the ``semver`` package), so ``4.18.9 < 4.18.10 < 4.19.0-rc.1 <
4.19.0``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import semver

from oar.errors import InvalidVersionError

RELEASE_FORM = "X.Y.Z or X.Y.Z-ec.N / X.Y.Z-rc.N (e.g. 4.19.3, 4.19.0-rc.1)"
Y_STREAM_FORM = "X.Y (e.g. 4.19)"

# A z-stream release, or an engineering / release candidate of one. No leading zeros, no
# "v" prefix, no nightly names: those are builds, not releases. At most six digits a
# number: a name from a URL must not become an integer no database (or int()) takes.
_NUMBER = r"(?:0|[1-9][0-9]{0,5})"
_RELEASE = re.compile(rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-(?:ec|rc)\.{_NUMBER})?$")
_Y_STREAM = re.compile(rf"^{_NUMBER}\.{_NUMBER}$")


@functools.total_ordering
@dataclass(frozen=True, kw_only=True)
class ReleaseVersion:
    """A validated z-stream release; ordered by semantic versioning."""

    text: str
    semver: semver.Version = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> ReleaseVersion:
        """``"4.19.3"`` → a ReleaseVersion; anything else → InvalidVersionError."""
        candidate = text.strip() if isinstance(text, str) else text
        if not isinstance(candidate, str) or not _RELEASE.match(candidate):
            raise InvalidVersionError(str(text), expected=RELEASE_FORM)
        return cls(text=candidate, semver=semver.Version.parse(candidate))

    @property
    def major(self) -> int:
        return int(self.semver.major)

    @property
    def minor(self) -> int:
        return int(self.semver.minor)

    @property
    def patch(self) -> int:
        return int(self.semver.patch)

    @property
    def prerelease(self) -> str | None:
        """``"rc.1"`` for a candidate, None for a release."""
        return None if self.semver.prerelease is None else str(self.semver.prerelease)

    @property
    def y_stream(self) -> str:
        """``"4.19"`` for 4.19.3 (and for 4.19.0-rc.1)."""
        return f"{self.major}.{self.minor}"

    @property
    def release_key(self) -> str:
        """The key of this release in ocp-build-data's ``releases.yml``.

        A candidate is keyed by its prerelease part (``4.18.0-rc.8`` → ``rc.8``), a
        release by its version.
        """
        return self.prerelease or self.text

    @property
    def build_data_branch(self) -> str:
        """ocp-build-data's branch for this y-stream: ``openshift-4.19``."""
        return f"openshift-{self.y_stream}"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReleaseVersion):
            return NotImplemented
        return self.semver.compare(other.semver) == 0

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ReleaseVersion):
            return NotImplemented
        return self.semver.compare(other.semver) < 0

    def __hash__(self) -> int:
        return hash(self.text)


def parse_release(text: str) -> ReleaseVersion:
    """Shorthand for :meth:`ReleaseVersion.parse`."""
    return ReleaseVersion.parse(text)


def is_valid_release(text: str) -> bool:
    try:
        ReleaseVersion.parse(text)
    except InvalidVersionError:
        return False
    return True


def y_stream_of(text: str) -> str:
    """The y-stream of a release: ``"4.19.3"`` → ``"4.19"``."""
    return ReleaseVersion.parse(text).y_stream


def release_key(text: str) -> str:
    """The build-data key of a release: ``"4.18.0-rc.8"`` → ``"rc.8"``, else the version."""
    return ReleaseVersion.parse(text).release_key


def parse_y_stream(text: str) -> str:
    """Validate a y-stream such as ``"4.19"``."""
    candidate = text.strip() if isinstance(text, str) else text
    if not isinstance(candidate, str) or not _Y_STREAM.match(candidate):
        raise InvalidVersionError(str(text), expected=Y_STREAM_FORM)
    return candidate


def sort_releases(texts: list[str]) -> list[ReleaseVersion]:
    """The releases in ascending semantic-version order (invalid ones raise)."""
    return sorted(ReleaseVersion.parse(t) for t in texts)
