"""``oarctl sandbox``: every external system's stand-in on 127.0.0.1, and the environment
that points OAR at them."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import click

from oar.cli.console import fail, run, settings_or_exit, until_signal
from oar.errors import ConfigurationError
from oar.sandbox.registry import (
    DEFAULT_BASE_PORT,
    STATE_FILE,
    Sandbox,
    load_state,
    reset_running,
    save_state,
)


def export_lines(environment: dict[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in sorted(environment.items())]


@click.command()
@click.option(
    "--base-port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="First port; stand-ins take the next ones (0: any free port each).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the export lines to this file (source it in another shell).",
)
@click.option("--reset", is_flag=True, help="Restore the seed data of the running sandbox.")
def sandbox(base_port: int, env_file: Path | None, reset: bool) -> None:
    """Run every stand-in and print the environment that points OAR at them."""
    settings = settings_or_exit(quiet=True)
    try:
        state_path = settings.ensure_data_dir() / STATE_FILE
    except ConfigurationError as exc:
        fail(exc.message, code=2)
    if reset:
        run(_reset(state_path))
    else:
        run(_serve(base_port, env_file, state_path))


async def _reset(state_path: Path) -> None:
    state = await asyncio.to_thread(load_state, state_path)
    outcomes = await reset_running({str(k): str(v) for k, v in state["stand_ins"].items()})
    for name, outcome in outcomes.items():
        click.echo(f"{name}: {outcome}")
    if any(not outcome.startswith(("reset", "skipped")) for outcome in outcomes.values()):
        fail("some stand-ins were not reset (is the sandbox still running?)")


async def _serve(base_port: int, env_file: Path | None, state_path: Path) -> None:
    try:
        running = Sandbox(base_port=base_port)
        await running.__aenter__()
    except OSError as exc:
        fail(
            f"cannot start the sandbox on port {base_port}+: {exc.strerror or exc}"
            " (--base-port 0 takes any free ports)"
        )
    try:
        from oar.sandbox.releaseconfig import write_config

        release_config = await asyncio.to_thread(write_config, state_path.parent / "sandbox")
        lines = export_lines({**running.environment(), **release_config})
        click.echo("# OAR sandbox on 127.0.0.1. These are sandbox credentials, safe to show.")
        for name, url in running.urls.items():
            click.echo(f"# {name:<20} {url}")
        for line in lines:
            click.echo(line)
        if env_file is not None:
            await asyncio.to_thread(env_file.write_text, "\n".join(lines) + "\n")
        await asyncio.to_thread(save_state, state_path, running.urls)
        click.echo(f"# ready; state in {state_path}; Ctrl-C stops the sandbox")
        await until_signal()
    finally:
        await asyncio.to_thread(state_path.unlink, missing_ok=True)
        await running.__aexit__(None, None, None)
