"""A release command's world for unit tests: the seed release's configuration, a
:class:`~oar.release.tracking.ReleaseContext` on a :class:`Ports` of seeded fakes, no
database and no network (the context's release state is a FakeReleaseStore)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oar.integrations.fakes import FakeBuildData, FakeNotifier, FakePayloadInspector
from oar.release.configstore import ConfigStore
from oar.release.ports import Ports
from oar.release.tracking import LogCapture, ReleaseContext
from oar.release.versions import ReleaseVersion
from oar.sandbox import releaseconfig, seed
from oar.sandbox.brew import seed_brew
from oar.sandbox.errata import seed_errata
from oar.sandbox.gitlab import seed_gitlab
from oar.sandbox.jira import seed_jira
from oar.settings import load_settings
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
    """The context a tracked run of ``task`` gives its body, for ``release``."""
    env = releaseconfig.write_config(tmp_path / "config")
    settings = load_settings(environ={**env, "OAR_DATA_DIR": str(tmp_path), **environ})
    version = ReleaseVersion.parse(release)
    config = await ConfigStore.load(
        settings, version, build_data=FakeBuildData(seed.build_data_files())
    )
    return ReleaseContext(
        version=version,
        task=task,
        run_id=1,
        settings=settings,
        state=FakeReleaseStore(),
        config=config,
        capture=LogCapture(),
        actor="tester",
        interface="cli",
        ports=ports,
    )
