"""Running a registered release command from inside the service, as a tracked run (for
the MCP server, the gated calls a person approved, and the release drive).

The same command layer as ``oar -r X <command>`` (:mod:`oar.cli.release`): the registry's
body, its ports opened by the composition's opener, credentials checked first, the run
recorded In Progress then Pass or Fail with its log — but on the service's event loop
(:func:`oar.release.tracking.run_tracked_async`), with no shell and no click. The answer
is JSON: the outcome (status, message, data, irreversible steps done) and the run's log.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from oar.errors import ConfigurationError, OarError
from oar.jsonvalue import JSON
from oar.logs import get_logger, scrub
from oar.release.commands import ReleaseCommand
from oar.release.tracking import (
    Invocation,
    Outcome,
    PortsOpener,
    ReleaseContext,
    run_tracked_async,
)
from oar.release.versions import ReleaseVersion
from oar.settings import Settings

log = get_logger(__name__)


async def run_command(
    spec: ReleaseCommand,
    version: ReleaseVersion,
    options: Mapping[str, Any],
    *,
    settings: Settings,
    open_ports: PortsOpener | None,
    actor: str,
    interface: str,
    slack_channel: str | None = None,
    slack_thread: str | None = None,
) -> dict[str, JSON]:
    """Run ``spec`` for ``version`` with checked ``options``; its outcome and log as JSON
    (``status`` is the task status, or ``error`` when it could not run at all)."""
    if open_ports is None:
        return {
            "status": "error",
            "command": spec.name,
            "release": version.text,
            "message": "this OAR process was composed without the release commands' ports",
            "log": "",
        }
    invocation = Invocation(
        version=version,
        task=spec.name,
        ports={flow: spec.ports_for(flow) for flow in spec.flows},
        records_task=spec.records_run(options),
        actor=actor,
        interface=interface,
        slack_channel=slack_channel,
        slack_thread=slack_thread,
    )
    body = spec.load_body()

    async def run(context: ReleaseContext) -> Outcome | None:
        return await body(context, **options)

    logs: list[str] = []
    base: dict[str, JSON] = {"command": spec.name, "release": version.text}
    log.info("mcp.command.started", command=spec.name, release=version.text, actor=actor)
    try:
        tracked = await run_tracked_async(
            invocation, run, settings=settings, open_ports=open_ports, logs=logs
        )
    except ConfigurationError as exc:
        return {**base, "status": "error", "message": exc.message, "log": ""}
    except OarError as exc:
        return {**base, "status": "Fail", "message": exc.message, "log": _last(logs)}
    except Exception as exc:  # the body's bug: recorded as Fail by the tracked run
        log.error("mcp.command.crashed", command=spec.name, release=version.text, exc_info=True)
        summary = scrub("".join(traceback.format_exception_only(exc)).strip())
        return {**base, "status": "Fail", "message": summary, "log": _last(logs)}
    log.info(
        "mcp.command.finished",
        command=spec.name,
        release=version.text,
        status=tracked.outcome.status.value,
    )
    return {**base, **tracked.outcome.to_dict(), "log": tracked.log}


def _last(logs: list[str]) -> str:
    return logs[-1] if logs else ""
