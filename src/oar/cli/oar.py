"""``oar -r <release> <command>``: the z-stream release checklist, one command per task."""

from __future__ import annotations

import click

from oar import __version__
from oar.cli.console import fail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-r", "--release", metavar="X.Y.Z", help="The z-stream release, e.g. 4.19.3.")
@click.option("-v", "--debug", is_flag=True, help="Log debug messages.")
@click.version_option(__version__, "-V", "--version", prog_name="oar")
@click.pass_context
def cli(ctx: click.Context, release: str | None, debug: bool) -> None:
    """Run the OpenShift z-stream release checklist."""
    ctx.ensure_object(dict)
    ctx.obj["release"] = release
    ctx.obj["debug"] = debug


def main() -> None:
    try:
        cli(prog_name="oar")
    except KeyboardInterrupt:
        fail("interrupted", code=130)


if __name__ == "__main__":
    main()
