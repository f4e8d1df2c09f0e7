"""Throwaway tracked commands for the acceptance tests: ``oar`` plus test-only tasks.

Run as ``python -m tests.acceptance.release_commands -r 4.19.3 sleepy``; never shipped.
"""

from __future__ import annotations

import asyncio

import click

from oar.cli.oar import cli, main
from oar.cli.release import release_command
from oar.logs import get_logger
from oar.release.tracking import ReleaseContext

log = get_logger("tests.acceptance.release_commands")


@release_command("stage-testing", name="sleepy")
@click.option("--seconds", type=float, default=120.0)
async def sleepy(ctx: ReleaseContext, seconds: float) -> None:
    """Log, then wait (to be interrupted)."""
    log.info("sleepy.waiting", release=ctx.release, seconds=seconds)
    await asyncio.sleep(seconds)


@release_command("image-signed-check", name="boom", requires=("GITHUB_TOKEN",))
async def boom(ctx: ReleaseContext) -> None:
    """Raise after logging."""
    log.warning("boom.about_to_fail", owner=ctx.config.owner())
    raise RuntimeError("the signature server answered 500")


@release_command("image-signed-check", name="leak", requires=("GITHUB_TOKEN",))
async def leak(ctx: ReleaseContext) -> None:
    """Fail with the token in the error, as a careless client library might."""
    assert ctx.settings.github_token is not None
    token = ctx.settings.github_token.get_secret_value()
    log.warning("leak.calling", url=f"https://api.example/files?access_token={token}")
    raise RuntimeError(f"401 Unauthorized for token {token}")


cli.add_command(sleepy)
cli.add_command(boom)
cli.add_command(leak)

if __name__ == "__main__":
    main()
