"""``oarctl demo`` (``make run``): the stand-ins, the service pointed at them, and a few
seeded releases to watch and drive (:mod:`oar.sandbox.demo`)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import click

from oar.cli.console import fail, out, run, settings_or_exit
from oar.errors import ConfigurationError
from oar.sandbox.demo import DEFAULT_PORT, Demo, SeedResult
from oar.sandbox.registry import DEFAULT_BASE_PORT
from oar.sandbox.seed import SLACK_CHANNELS, Y_STREAM


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The service's port (API, dashboard; 0: any free port).",
)
@click.option(
    "--base-port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="First port of the stand-ins, which take the next ones (0: any free port each).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps its SQLite database, logs and env file"
    " [default: $OAR_DATA_DIR/demo].",
)
def demo(port: int, base_port: int, data_dir: Path | None) -> None:
    """Run the live demo: every stand-in, the service (API, dashboard, workers, Slack bot)
    pointed at them on SQLite, and three releases seeded through `oar`. Ctrl-C stops it."""
    settings = settings_or_exit(quiet=True)
    try:
        directory = data_dir or settings.ensure_data_dir() / "demo"
    except ConfigurationError as exc:
        fail(exc.message, code=2)
    running = Demo(
        data_dir=directory,
        bin_dir=Path(sys.executable).parent,
        base_environ=os.environ,  # PATH, HOME…; the demo sets every OAR_* variable itself
        port=port,
        base_port=base_port,
    )
    run(_demo(running))


async def _demo(running: Demo) -> None:
    """Run the demo until SIGINT or SIGTERM, which stop it cleanly at any point (also
    while it starts or seeds); a service that exits on its own stops it with an error."""
    main = asyncio.current_task()
    assert main is not None
    stopping = asyncio.Event()

    def stop() -> None:
        if not stopping.is_set():
            stopping.set()
            main.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await _run_demo(running)
    except asyncio.CancelledError:
        if not stopping.is_set():
            raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    out.print("demo stopped", highlight=False)


async def _run_demo(running: Demo) -> None:
    out.print("starting the stand-ins and the OAR service …", highlight=False)
    async with running:
        slack_page = f"{running.slack_url}/channels/{SLACK_CHANNELS['team-qe-release']}"
        out.print(f"dashboard    {running.dashboard_url}", highlight=False)
        out.print(f"Slack page   {slack_page}", highlight=False)
        out.print(
            f"CI gate      nightly {running.nightly} tested, retried and accepted within"
            f" a minute or two on {running.dashboard_url}/tests/{Y_STREAM}",
            highlight=False,
        )
        out.print(f"service log  {running.service_log}", highlight=False)
        out.print("seeding the releases (skipped when already recorded) …", highlight=False)
        await running.seed(on_result=lambda result: out.print(_seeded(result), highlight=False))
        out.print(
            f"drive it: in another shell `source {running.env_file}` then"
            " `.venv/bin/oar -r 4.19.3 status` (any oar/oarctl command), or post"
            f" `oar -r 4.18.40 status` in #team-qe-release on {slack_page}",
            highlight=False,
        )
        out.print("ready; Ctrl-C stops the demo", highlight=False)
        await running.service_exited()
    fail(f"the service stopped unexpectedly; its log: {running.service_log}")


def _seeded(result: SeedResult) -> str:
    if not result.ran:
        return f"  = {result.step}: already recorded"
    mark = "+" if result.as_expected else "!"
    said = f": {result.last_line}" if result.last_line else ""
    return f"  {mark} {result.step}{said}"
