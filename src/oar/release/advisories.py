"""The release's advisory set (reference: oar-commands.md §0.1.2).

Every ``impetus -> advisory id`` of the assembly's ``group/advisories`` but microshift's,
and, once Errata Tool has been asked, not the advisories in DROPPED_NO_SHIP. Shared by
every command that walks the release's advisories.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from oar.logs import get_logger

if TYPE_CHECKING:
    from oar.integrations.errata import Errata

log = get_logger(__name__)

# Impetuses whose advisories are never part of the release's advisory set.
EXCLUDED_IMPETUS = frozenset({"microshift"})


def advisory_impetuses(advisories: Mapping[str, int]) -> dict[str, int]:
    """The configured advisories that can be in the set: every impetus but microshift."""
    return {k: v for k, v in advisories.items() if k not in EXCLUDED_IMPETUS}


async def advisory_set(errata: Errata, advisories: Mapping[str, int]) -> dict[str, int]:
    """The release's advisory set: microshift and DROPPED_NO_SHIP advisories left out,
    in impetus order."""
    from oar.integrations.errata import AdvisoryState  # with the port: already loaded

    result: dict[str, int] = {}
    for impetus, advisory_id in sorted(advisory_impetuses(advisories).items()):
        advisory = await errata.get_advisory(advisory_id)
        if advisory.state is AdvisoryState.DROPPED_NO_SHIP:
            log.info("advisories.dropped", advisory=advisory_id, impetus=impetus)
            continue
        result[impetus] = advisory_id
    return result
