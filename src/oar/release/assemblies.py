"""ocp-build-data assemblies: a release's entry in ``releases.yml`` and its inheritance.

Pure. A value is looked up on the release's assembly first as ``key!`` (an override),
then as ``key``, for each step of its path; when the assembly does not have it, the same
path is looked up on its basis assembly (``basis.assembly``), and so on up the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from oar.errors import BuildDataNotReadyError
from oar.release.versions import ReleaseVersion

_MISSING: Any = object()


def parse_releases(text: str, *, url: str, release: str) -> Mapping[str, Any]:
    """The ``releases`` mapping of a ``releases.yml`` text; unreadable text names the URL."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BuildDataNotReadyError(release, url, f"not valid YAML: {exc}") from exc
    releases = document.get("releases") if isinstance(document, dict) else None
    if not isinstance(releases, dict):
        raise BuildDataNotReadyError(release, url, "the file has no releases mapping")
    return releases


@dataclass(frozen=True, kw_only=True)
class Assembly:
    """One release's assembly within its y-stream's ``releases.yml``."""

    release: str
    key: str
    releases: Mapping[str, Any]
    url: str

    @classmethod
    def of(cls, version: ReleaseVersion, text: str, *, url: str) -> Assembly:
        """The assembly of ``version``; BuildDataNotReadyError when it is not there yet."""
        releases = parse_releases(text, url=url, release=version.text)
        key = version.release_key
        if not isinstance(_assembly_node(releases, key), dict):
            raise BuildDataNotReadyError(version.text, url, f"no assembly {key!r}")
        return cls(release=version.text, key=key, releases=releases, url=url)

    def get(self, path: str, default: Any = None) -> Any:
        """The value at ``path`` (``"group/advisories"``), following basis assemblies."""
        value = self.lookup(path)
        return default if value is _MISSING else value

    def has(self, path: str) -> bool:
        return self.lookup(path) is not _MISSING

    def lookup(self, path: str) -> Any:
        steps = [step for step in path.split("/") if step]
        seen: set[str] = set()
        key: str | None = self.key
        while key is not None and key not in seen:
            seen.add(key)
            node = _assembly_node(self.releases, key)
            if not isinstance(node, dict):
                return _MISSING
            value = _walk(node, steps)
            if value is not _MISSING:
                return value
            basis = _walk(node, ["basis", "assembly"])
            key = str(basis) if basis is not _MISSING and basis is not None else None
        return _MISSING

    def chain(self) -> list[str]:
        """This assembly and its bases, nearest first (for messages and docs)."""
        keys: list[str] = []
        key: str | None = self.key
        while key is not None and key not in keys:
            node = _assembly_node(self.releases, key)
            if not isinstance(node, dict):
                break
            keys.append(key)
            basis = _walk(node, ["basis", "assembly"])
            key = str(basis) if basis is not _MISSING and basis is not None else None
        return keys


def _assembly_node(releases: Mapping[str, Any], key: str) -> Any:
    entry = releases.get(key)
    if not isinstance(entry, dict):
        # YAML reads an unquoted 4.19 as a float; keys are versions, so compare as text.
        entry = next((v for k, v in releases.items() if str(k) == key), None)
    return entry.get("assembly") if isinstance(entry, dict) else None


def _walk(node: Any, steps: list[str]) -> Any:
    for step in steps:
        if not isinstance(node, dict):
            return _MISSING
        if f"{step}!" in node:
            node = node[f"{step}!"]
        elif step in node:
            node = node[step]
        else:
            return _MISSING
    return node
