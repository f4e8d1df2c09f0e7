"""A release command's world for unit tests: the seed release's configuration, a
:class:`~oar.release.tracking.ReleaseContext` on a :class:`Ports` of seeded fakes, no
database and no network (the context's release state is a FakeReleaseStore), and a
follow as its kind first sees it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from oar.integrations.fakes import FakeBuildData, FakeNotifier, FakePayloadInspector
from oar.release.assemblies import Assembly
from oar.release.configstore import ConfigStore
from oar.release.follows import FollowInfo, FollowStatus
from oar.release.ports import Ports
from oar.release.tracking import LogCapture, ReleaseContext
from oar.release.versions import ReleaseVersion
from oar.sandbox import releaseconfig, seed
from oar.sandbox.brew import seed_brew
from oar.sandbox.errata import seed_errata
from oar.sandbox.gitlab import seed_gitlab
from oar.sandbox.jira import seed_jira
from oar.settings import Settings, load_settings
from oar.testing.release import FakeReleaseStore, FakeWatches, fake_ports

METADATA_URL = "https://payloads.example/4.19/metadata.json"


def seeded_ports(**overrides: Any) -> Ports:
    """Every port a fake holding the sandbox's seed data; the 4.19 payload metadata URL
    known but not answering yet."""
    ports: dict[str, Any] = {
        "errata": seed_errata(),
        "jira": seed_jira(),
        "gitlab": seed_gitlab(),
        "brew": seed_brew(),
        "payloads": FakePayloadInspector({seed.Y_STREAM: METADATA_URL}),
        "notifier": FakeNotifier(groups={"4.19-qe-leads": "S0419QELDS"}),
        "watches": FakeWatches(),
    }
    ports.update(overrides)
    return fake_ports(**ports)


async def release_context(
    tmp_path: Path, release: str, ports: Ports, *, task: str, **environ: str
) -> ReleaseContext:
    """The context a tracked run of ``task`` gives its body, for ``release``: the
    configuration written under ``tmp_path`` and loaded as the CLI loads it."""
    env = releaseconfig.write_config(tmp_path / "config")
    settings = load_settings(environ={**env, "OAR_DATA_DIR": str(tmp_path), **environ})
    version = ReleaseVersion.parse(release)
    config = await ConfigStore.load(
        settings, version, build_data=FakeBuildData(seed.build_data_files())
    )
    return _context(config, task, settings, FakeReleaseStore(), ports)


def seed_context(
    release: str,
    ports: Ports,
    *,
    task: str,
    state: FakeReleaseStore | None = None,
    **environ: str,
) -> ReleaseContext:
    """The same context built in memory, with no file: the seed configuration and
    assembly, settings from ``environ`` alone, ``state`` (default: an empty store)."""
    version = ReleaseVersion.parse(release)
    assembly = Assembly.of(version, seed.build_data(version.y_stream), url="releases.yml")
    config = ConfigStore(version=version, config=releaseconfig.config(), assembly=assembly)
    settings = load_settings(environ=environ, env_file=None)
    return _context(config, task, settings, FakeReleaseStore() if state is None else state, ports)


def _context(
    config: ConfigStore, task: str, settings: Settings, state: FakeReleaseStore, ports: Ports
) -> ReleaseContext:
    return ReleaseContext(
        version=config.version,
        task=task,
        run_id=1,
        settings=settings,
        state=state,
        config=config,
        capture=LogCapture(),
        actor="tester",
        interface="cli",
        ports=ports,
    )


def running_follow(
    *,
    kind: str,
    key: str,
    subject: str,
    release: str | None,
    task: str | None,
    channel: str | None,
    started_at: datetime,
    deadline: timedelta,
    interval: float,
    data: dict[str, Any],
    started_by: str = "tester",
    interface: str = "cli",
    slack_channel: str | None = None,
    slack_thread: str | None = None,
    log: list[str] | None = None,
) -> FollowInfo:
    """A follow as its kind's first check sees it: running since ``started_at`` until
    ``deadline`` later, never checked (its ID is its key: the first of the key)."""
    return FollowInfo(
        id=key,
        kind=kind,
        key=key,
        subject=subject,
        release=release,
        task=task,
        channel=channel,
        status=FollowStatus.RUNNING,
        started_at=started_at,
        deadline_at=started_at + deadline,
        interval_seconds=interval,
        started_by=started_by,
        interface=interface,
        slack_channel=slack_channel,
        slack_thread=slack_thread,
        checks=0,
        last_check_at=None,
        next_check_at=None,
        error=None,
        log=log or [],
        finished_at=None,
        data=data,
    )
