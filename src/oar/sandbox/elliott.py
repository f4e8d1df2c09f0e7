"""An elliott stand-in: an executable that answers ``find-bugs --cve-only`` for the seed
releases as elliott does (reference: oar-commands.md §7.4: one JSON object, indented 4,
advisory kind -> sorted Jira keys, the trackers already attached left out).

The sandbox writes a launcher for :func:`main` into a temporary directory while it runs
(:class:`ElliottStandIn`) and points ``OAR_ELLIOTT_PATH`` at it, so OAR's real adapter
runs a real program with a real argv, environment and exit status. Like elliott, it
refuses an unknown group or assembly (exit 1, a message on stderr) and wants Jira's user
in its environment: ``JIRA_EMAIL`` (which OAR sets from ``JIRA_USERNAME`` when unset).

What it reports (:data:`TRACKERS`): per seed release, the CVE tracker attached to nothing
of the release (``seed.MISSING_CVE_TRACKERS``). In the errata release it is under the
``image`` kind, which the original ignored (it read only ``rpm`` and ``rhcos``); in the
Konflux release both the advisory side (Brew) and the shipment side (Konflux) report it,
which OAR reports once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from oar.sandbox import seed

# The trackers a real elliott would print, per (group, assembly, build system).
KONFLUX_MISSING = seed.MISSING_CVE_TRACKERS[seed.RELEASE]
ERRATA_MISSING = seed.MISSING_CVE_TRACKERS[seed.ERRATA_RELEASE]
TRACKERS: dict[tuple[str, str, str], dict[str, list[str]]] = {
    (f"openshift-{seed.Y_STREAM}", seed.RELEASE, "brew"): {
        "rhcos": [],
        "rpm": [KONFLUX_MISSING],
    },
    (f"openshift-{seed.Y_STREAM}", seed.RELEASE, "konflux"): {
        "extras": [],
        "image": [KONFLUX_MISSING],
        "metadata": [],
    },
    (f"openshift-{seed.ERRATA_Y_STREAM}", seed.ERRATA_RELEASE, "brew"): {
        "extras": [],
        "image": [ERRATA_MISSING],
        "metadata": [],
        "microshift": [],
        "rhcos": [],
        "rpm": [],
    },
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="elliott", description="the OAR sandbox's elliott")
    parser.add_argument("--data-path", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--assembly", required=True)
    parser.add_argument("--build-system", choices=("brew", "konflux"), default="brew")
    commands = parser.add_subparsers(dest="command", required=True)
    find_bugs = commands.add_parser("find-bugs")
    find_bugs.add_argument("--cve-only", action="store_true")
    find_bugs.add_argument("-o", "--output", choices=("json", "text"), default="text")
    find_bugs.add_argument("--permissive", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run as elliott: print the trackers as JSON, or fail as elliott fails."""
    args = _parser().parse_args(argv)
    if not os.environ.get("JIRA_EMAIL"):  # the sandbox's elliott is a separate program
        print("elliott: JIRA_EMAIL is not set (Jira login)", file=sys.stderr)
        return 1
    if not args.cve_only or args.output != "json":
        print("elliott (sandbox): only find-bugs --cve-only -o json", file=sys.stderr)
        return 2
    found = TRACKERS.get((args.group, args.assembly, args.build_system))
    if found is None:
        print(
            f"elliott: assembly {args.assembly!r} is not defined for {args.group}"
            f" ({args.build_system})",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(found, indent=4, sort_keys=True))
    return 0


def write_launcher(directory: Path) -> Path:
    """An executable ``elliott`` in ``directory`` that runs :func:`main` with this
    Python."""
    launcher = directory / "elliott"
    launcher.write_text(
        f"#!{sys.executable}\nimport sys\nfrom oar.sandbox.elliott import main\nsys.exit(main())\n"
    )
    launcher.chmod(0o755)
    return launcher


class ElliottStandIn:
    """The sandbox's elliott: a launcher on disk while the sandbox runs (its "URL" is the
    launcher's ``file://`` URL); stateless, so reset does nothing."""

    name = "elliott"

    @contextlib.asynccontextmanager
    async def serving(self, port: int = 0) -> AsyncIterator[str]:
        with tempfile.TemporaryDirectory(prefix="oar-elliott-") as directory:
            yield write_launcher(Path(directory)).as_uri()

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_ELLIOTT_PATH": base_url.removeprefix("file://")}

    def reset(self) -> None:
        """Nothing to reset: the answers come from the seed."""
