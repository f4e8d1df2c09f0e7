"""``jobctl``: trigger and follow Prow jobs for release payloads."""

from __future__ import annotations

import click

from oar import __version__
from oar.cli.console import fail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="jobctl")
def cli() -> None:
    """Trigger Prow jobs for release payloads and aggregate their results."""


def main() -> None:
    try:
        cli(prog_name="jobctl")
    except KeyboardInterrupt:
        fail("interrupted", code=130)


if __name__ == "__main__":
    main()
