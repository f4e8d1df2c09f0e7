"""GitHub as a store of files: the ``_releases`` records, job registries, StateBox exports.

The port is the contract the release model and the agents rely on; writes use GitHub's
optimistic locking on the blob ``sha``: updating or deleting a file names the version it
read, and a file changed since then raises :class:`~oar.errors.IntegrationConflictError`
instead of silently overwriting someone else's change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from oar.errors import IntegrationConflictError, IntegrationNotFoundError


@dataclass(frozen=True, kw_only=True)
class RepoFile:
    path: str
    content: str
    sha: str


@dataclass(frozen=True, kw_only=True)
class RepoEntry:
    path: str
    name: str
    type: str  # "file" or "dir"
    sha: str


class RepositoryFiles(Protocol):
    """Files of one repository, read and written with sha-based optimistic locking."""

    async def get_file(self, path: str, *, ref: str | None = None) -> RepoFile | None:
        """The file, or None when it does not exist."""

    async def put_file(
        self, path: str, content: str, *, message: str, sha: str | None, branch: str | None = None
    ) -> str:
        """Create (``sha=None``) or update (the sha read) a file; return the new sha."""

    async def delete_file(
        self, path: str, *, message: str, sha: str, branch: str | None = None
    ) -> None:
        """Delete the version ``sha`` of a file."""

    async def list_dir(self, path: str, *, ref: str | None = None) -> list[RepoEntry]:
        """The entries of a directory (empty when it does not exist)."""


def blob_sha(content: str) -> str:
    """Git's blob sha of ``content``: what GitHub reports as a file's ``sha``."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class FakeRepositoryFiles:
    """In memory, with GitHub's locking rules (one branch per key)."""

    def __init__(self, files: dict[str, str] | None = None, *, branch: str = "main") -> None:
        self.default_branch = branch
        self.files: dict[tuple[str, str], str] = {
            (branch, path.strip("/")): content for path, content in (files or {}).items()
        }
        self.commits: list[str] = []

    def _key(self, path: str, branch: str | None) -> tuple[str, str]:
        return (branch or self.default_branch, path.strip("/"))

    async def get_file(self, path: str, *, ref: str | None = None) -> RepoFile | None:
        content = self.files.get(self._key(path, ref))
        if content is None:
            return None
        return RepoFile(path=path.strip("/"), content=content, sha=blob_sha(content))

    async def put_file(
        self, path: str, content: str, *, message: str, sha: str | None, branch: str | None = None
    ) -> str:
        key = self._key(path, branch)
        current = self.files.get(key)
        if current is None and sha is not None:
            raise IntegrationNotFoundError("GitHub", f"{path} does not exist", status_code=404)
        if current is not None and sha != blob_sha(current):
            raise IntegrationConflictError(
                "GitHub", f"{path} changed since it was read (sha {sha})", status_code=409
            )
        self.files[key] = content
        self.commits.append(message)
        return blob_sha(content)

    async def delete_file(
        self, path: str, *, message: str, sha: str, branch: str | None = None
    ) -> None:
        key = self._key(path, branch)
        current = self.files.get(key)
        if current is None:
            raise IntegrationNotFoundError("GitHub", f"{path} does not exist", status_code=404)
        if sha != blob_sha(current):
            raise IntegrationConflictError(
                "GitHub", f"{path} changed since it was read (sha {sha})", status_code=409
            )
        del self.files[key]
        self.commits.append(message)

    async def list_dir(self, path: str, *, ref: str | None = None) -> list[RepoEntry]:
        branch, prefix = self._key(path, ref)
        prefix = f"{prefix}/" if prefix else ""
        entries: dict[str, RepoEntry] = {}
        for (file_branch, file_path), content in sorted(self.files.items()):
            if file_branch != branch or not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :]
            name, _, deeper = rest.partition("/")
            kind = "dir" if deeper else "file"
            sha = blob_sha(content) if kind == "file" else ""
            entries.setdefault(name, RepoEntry(path=prefix + name, name=name, type=kind, sha=sha))
        return list(entries.values())
