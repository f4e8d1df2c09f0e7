"""The tracked releases as a list people curate: add one, hide one, show it again.

The dashboard's forms and ``/api/releases`` both come here, so a release added or hidden
in one place is the same everywhere. A name is validated as the ``oar -r`` option
validates it (:meth:`ReleaseVersion.parse`).
"""

from __future__ import annotations

from oar.errors import BuildDataNotReadyError
from oar.logs import get_logger
from oar.release.records import ReleaseInfo
from oar.release.state import ReleaseState
from oar.release.versions import ReleaseVersion
from oar.settings import Settings

log = get_logger(__name__)


async def add_release(
    state: ReleaseState, settings: Settings, release: str, *, actor: str
) -> tuple[ReleaseInfo, bool]:
    """Track ``release`` (and show it, if it was hidden); True when it is new.

    With ``OAR_CONFIG_FILE`` its metadata (advisories, candidate builds, Jira ticket,
    shipment MR) is read the way the release commands read it; without one, or before
    ocp-build-data knows the release, it is tracked bare and its first command records it.
    """
    version = ReleaseVersion.parse(release.strip())
    if await state.exists(version):
        if version.text in await state.hidden():
            await state.set_hidden(version, False, actor=actor)
        return await state.get(version), False
    metadata = None
    if settings.config_file is not None:
        from oar.release.configstore import ConfigStore  # build data, the JWE: only here

        try:
            metadata = (await ConfigStore.load(settings, version)).metadata()
        except BuildDataNotReadyError as exc:
            log.info("release.added_without_metadata", release=version.text, reason=exc.message)
    await state.ensure_release(version, metadata)
    log.info("release.added", release=version.text, actor=actor)
    return await state.get(version), True


async def hide_release(state: ReleaseState, release: str, *, hidden: bool, actor: str) -> None:
    """Hide ``release`` from the overview (it stays tracked and listed collapsed), or show it."""
    await state.set_hidden(ReleaseVersion.parse(release), hidden, actor=actor)
