"""Active releases: ART's z-stream files and OAR's release records, judged by the
discovery rule (:mod:`oar.agents.discovery`). Used by ``oarctl releases active`` and
``GET /api/releases?active=true``."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from oar.agents import zstream
from oar.agents.discovery import KEEP_DAYS, Candidate, Verdict, discover
from oar.db import Database
from oar.db.models import ReleaseRecord
from oar.errors import AgentError
from oar.integrations.github import GitHubRepositoryFiles, RepositoryFiles
from oar.logs import get_logger
from oar.settings import Settings

log = get_logger(__name__)


async def candidates(files: RepositoryFiles, db: Database) -> list[Candidate]:
    """The latest release of every y-stream ART has a z-stream file for, with the release
    date its report recorded (None without a report)."""
    entries = await files.list_dir(zstream.DIRECTORY, ref=zstream.BRANCH)
    y_streams = zstream.sort_y_streams(e.name for e in entries if e.type == "dir")
    latest: dict[str, str] = {}
    for y_stream in y_streams:
        path = zstream.zstream_path(y_stream)
        found = await files.get_file(path, ref=zstream.BRANCH)
        if found is None:
            continue
        newest = zstream.latest(zstream.releases_in(found.content, path=path))
        if newest is not None:  # `releases: {}` (a y-stream before its first release)
            latest[y_stream] = newest
    async with db.session() as session:
        rows = (
            await session.execute(
                select(ReleaseRecord.release, ReleaseRecord.meta).where(
                    ReleaseRecord.release.in_(list(latest.values()))
                )
            )
        ).all()
    dates = {
        release: (meta or {}).get("release_date") if isinstance(meta, dict) else None
        for release, meta in rows
    }
    return [Candidate(y_stream=y, release=r, release_date=dates.get(r)) for y, r in latest.items()]


async def active_releases(
    files: RepositoryFiles,
    db: Database,
    *,
    today: date,
    keep_days: int = KEEP_DAYS,
    include_inactive: bool = False,
) -> list[Verdict]:
    """The active releases (with ``include_inactive``, every candidate and its verdict)."""
    verdicts = discover(await candidates(files, db), today=today, keep_days=keep_days)
    return verdicts if include_inactive else [v for v in verdicts if v.active]


def art_files(settings: Settings) -> GitHubRepositoryFiles:
    """ART's files through the GitHub API; refused without ``GITHUB_TOKEN`` (anonymous
    reads get 60 requests an hour, fewer than one discovery of every y-stream needs)."""
    if settings.github_token is None:
        raise AgentError(
            "active releases are read from ART's z-stream files on GitHub: set GITHUB_TOKEN"
        )
    return GitHubRepositoryFiles.from_settings(settings)
