"""GitHub in memory: repository files with GitHub's locking rules, pull request labels
(the ports are in :mod:`oar.integrations.github`)."""

from __future__ import annotations

from oar.errors import IntegrationConflictError, IntegrationNotFoundError
from oar.integrations.github import SYSTEM, RepoEntry, RepoFile, blob_sha


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


class FakePullRequestLabels:
    """In memory: ``{("owner/name", number): ["label", ...]}``; unknown PRs are 404."""

    def __init__(self, labels: dict[tuple[str, int], list[str]] | None = None) -> None:
        self.pulls: dict[tuple[str, int], list[str]] = {
            key: list(value) for key, value in (labels or {}).items()
        }

    async def labels(self, repo: str, number: int) -> list[str]:
        found = self.pulls.get((repo, number))
        if found is None:
            raise IntegrationNotFoundError(
                SYSTEM, f"no pull request {repo}#{number}", status_code=404
            )
        return list(found)
