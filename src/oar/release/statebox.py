"""The StateBox export: a release's state as the YAML document the original tool kept in
GitHub (``_releases/<y>/statebox/<release>.yaml`` on branch ``z-stream``, schema 1.0).

The database is the source of truth; this document is a compatibility export for the
people and tools that read those files. Writing it uses optimistic locking on the file's
blob sha: when someone else changed the file since it was read, the remote document is
re-read and merged (remote as the base, our tasks and metadata win, a resolved issue stays
resolved) and the write retried, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import copy
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from oar.backoff import Backoff
from oar.errors import ConfigurationError, IntegrationConflictError, ReleaseError
from oar.logs import get_logger
from oar.release.versions import ReleaseVersion

if TYPE_CHECKING:  # githubkit is imported only by a command that writes to GitHub
    from oar.integrations.github import RepositoryFiles
    from oar.release.records import ReleaseInfo

log = get_logger(__name__)

SCHEMA_VERSION = "1.0"
BRANCH = "z-stream"
METADATA_FIELDS = ("jira_ticket", "advisory_ids", "release_date", "candidate_builds", "shipment_mr")
TASK_FIELDS = ("name", "status", "started_at", "completed_at", "result")
ISSUE_FIELDS = (
    "issue",
    "reported_at",
    "resolved",
    "resolution",
    "blocker",
    "related_tasks",
    "resolved_at",
)
WRITE_ATTEMPTS = 5
WRITE_BACKOFF = Backoff(delay=0.5, max_delay=10.0)


def statebox_path(release: str) -> str:
    """``_releases/4.19/statebox/4.19.3.yaml``."""
    version = ReleaseVersion.parse(release)
    return f"_releases/{version.y_stream}/statebox/{version.text}.yaml"


def statebox_document(info: ReleaseInfo) -> dict[str, Any]:
    """The schema-1.0 document of a release (only tasks that have run, like StateBox)."""
    metadata = {key: info.metadata.get(key) for key in METADATA_FIELDS}
    for key in ("advisory_ids", "candidate_builds"):
        metadata[key] = dict(metadata[key] or {})
    tasks = [
        {
            "name": task.name,
            "status": task.status.value,
            "started_at": _iso(task.started_at),
            "completed_at": _iso(task.completed_at),
            "result": task.log,
        }
        for task in info.tasks
        if task.updated_at is not None
    ]
    issues = [
        {
            "issue": issue.text,
            "reported_at": _iso(issue.reported_at),
            "resolved": issue.resolved,
            "resolution": issue.resolution,
            "blocker": issue.blocker,
            "related_tasks": list(issue.related_tasks),
            "resolved_at": _iso(issue.resolved_at),
        }
        for issue in info.issues
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "release": info.release,
        "created_at": _iso(info.created_at),
        "updated_at": _iso(info.updated_at),
        "metadata": metadata,
        "tasks": tasks,
        "issues": issues,
    }


def _iso(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (command logs) as ``|`` blocks, as StateBox wrote them."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump(document: dict[str, Any]) -> str:
    return yaml.dump(
        document, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True
    )


def load(text: str, *, path: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReleaseError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ReleaseError(f"{path} is not a StateBox document")
    return document


def merge(local: dict[str, Any], remote: dict[str, Any]) -> dict[str, Any]:
    """The remote document with ours merged in: the rules of the original StateBox."""
    merged = copy.deepcopy(remote)
    metadata = merged.setdefault("metadata", {}) or {}
    merged["metadata"] = metadata
    for key, value in (local.get("metadata") or {}).items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(metadata.get(key), dict):
            metadata[key] = {**metadata[key], **value}
        else:
            metadata[key] = value
    ours = {t["name"]: t for t in local.get("tasks") or [] if isinstance(t, dict)}
    tasks = []
    for task in merged.get("tasks") or []:
        if isinstance(task, dict) and task.get("name") in ours:
            tasks.append(ours.pop(task["name"]))
        else:
            tasks.append(task)
    tasks.extend(ours.values())
    merged["tasks"] = tasks
    issues = [i for i in merged.get("issues") or [] if isinstance(i, dict)]
    by_text = {str(i.get("issue", "")).strip().lower(): i for i in issues}
    for issue in local.get("issues") or []:
        theirs = by_text.get(str(issue.get("issue", "")).strip().lower())
        if theirs is None:
            issues.append(issue)
        elif issue.get("resolved") and not theirs.get("resolved"):
            theirs.update(
                resolved=True,
                resolution=issue.get("resolution"),
                resolved_at=issue.get("resolved_at"),
            )
    merged["issues"] = issues
    for key in ("schema_version", "release", "updated_at"):
        merged[key] = local[key]
    merged.setdefault("created_at", local.get("created_at"))
    return merged


async def write(
    files: RepositoryFiles,
    document: dict[str, Any],
    *,
    branch: str = BRANCH,
    attempts: int = WRITE_ATTEMPTS,
    backoff: Backoff = WRITE_BACKOFF,
) -> str:
    """Create or update the release's file with sha locking; return the new blob sha."""
    release = str(document["release"])
    path = statebox_path(release)
    for attempt in range(1, attempts + 1):
        current = await files.get_file(path, ref=branch)
        if current is None:
            content, sha, message = dump(document), None, f"Initialize StateBox for {release}"
        else:
            merged = merge(document, load(current.content, path=path))
            content, sha, message = dump(merged), current.sha, f"Update StateBox for {release}"
        try:
            new_sha = await files.put_file(path, content, message=message, sha=sha, branch=branch)
        except IntegrationConflictError:
            if attempt == attempts:
                raise
            delay = backoff.delay_for(attempt, seed=path)
            log.warning("release.statebox.conflict", path=path, attempt=attempt, delay=delay)
            await asyncio.sleep(delay)
            continue
        log.info("release.statebox.written", path=path, branch=branch, sha=new_sha)
        return new_sha
    raise AssertionError("unreachable")  # pragma: no cover


def write_to_directory(directory: Path, document: dict[str, Any], *, variable: str = "") -> Path:
    """Write the release's file under ``directory`` (a checkout of the repository, say) at
    :func:`statebox_path`, merged into the file already there as :func:`write` merges
    into GitHub's; atomically (a reader never sees half a file). Returns the file's path.

    ``directory`` must exist (a mistyped path is an error, not a new tree); the
    ``_releases/<y>/statebox`` directories under it are created. ``variable`` names the
    setting the directory came from, for the error message.
    """
    where = f"{variable}: " if variable else ""
    if not directory.is_dir():
        raise ConfigurationError(
            f"{where}{directory} is not an existing directory",
            variables=[variable] if variable else [],
        )
    path = directory / statebox_path(str(document["release"]))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            document = merge(document, load(path.read_text(encoding="utf-8"), path=str(path)))
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(dump(document))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigurationError(
            f"{where}cannot write {path}: {exc.strerror or type(exc).__name__}",
            variables=[variable] if variable else [],
        ) from None
    log.info("release.statebox.exported", path=str(path))
    return path
