"""``oar -r <release> <command>``: the z-stream release checklist, one command per task.

The checklist commands are generated from the registry (:mod:`oar.release.commands`):
their click options from each command's :class:`~oar.release.commands.Option`, their run
through :func:`oar.cli.release.run_registered`. Besides them the group reads and edits the
release state (``status``, ``bugs``, ``task``, ``issue``, ``statebox``, ``release``, in
:mod:`oar.cli.releasestate`).

Everything is loaded lazily (click's documented ``LazyGroup`` pattern): ``oar --help``
lists the commands from the registry's metadata and imports no command body, no engine,
no database driver and no client library.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from oar.errors import InvalidArgumentError, InvalidVersionError
from oar.release import commands as registry
from oar.release.commands import Option, OptionType, ReleaseCommand, check_email
from oar.release.versions import ReleaseVersion

# The release-state commands: where each lives, and its one-line help for listings.
STATE_COMMANDS: dict[str, tuple[str, str]] = {
    "status": (
        "oar.cli.releasestate:status",
        "Show the release's checklist, overall status and blockers.",
    ),
    "bugs": (
        "oar.cli.releasestate:bugs",
        "Show the release's bugs as update-bug-list recorded them (--json too).",
    ),
    "task": (
        "oar.cli.releasestate:task_command",
        "Show a task (its log and runs), or set its status by hand with --status.",
    ),
    "issue": (
        "oar.cli.releasestate:issue",
        "Report and resolve issues and blockers of the release.",
    ),
    "drive": (
        "oar.cli.drive:drive",
        "Drive the checklist: one durable workflow runs the tasks in order (--dry-run: plan).",
    ),
    "statebox": (
        "oar.cli.releasestate:statebox_group",
        "The StateBox YAML document (the original tool's state file).",
    ),
    "release": (
        "oar.cli.releasestate:release_group",
        "The release record itself: delete one created by mistake.",
    ),
}


class EmailType(click.ParamType[str]):
    """An e-mail address, refused as a usage error (exit 2, nothing recorded) when it is not
    one (:func:`oar.release.commands.check_email`)."""

    name = "email"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return check_email(str(value))
        except InvalidArgumentError:
            self.fail(f"{value} is not a valid email", param, ctx)


_TYPES: dict[OptionType, click.ParamType[Any]] = {
    OptionType.TEXT: click.STRING,
    OptionType.EMAIL: EmailType(),
    OptionType.INTEGER: click.INT,
    OptionType.NUMBER: click.FLOAT,
}


def click_option(option: Option) -> click.Option:
    """The click option for a registry :class:`Option`."""
    if option.flag:
        return click.Option(
            [*option.flags, option.name],
            is_flag=True,
            default=bool(option.default),
            help=option.help,
        )
    kind = (
        click.Choice(option.choices, case_sensitive=False)
        if option.type is OptionType.CHOICE
        else _TYPES[option.type]
    )
    return click.Option(
        [*option.flags, option.name],
        type=kind,
        required=option.required,
        multiple=option.multiple,
        default=option.default,
        show_default=option.default is not None,
        metavar=option.metavar,
        help=option.help,
    )


def registry_command(spec: ReleaseCommand) -> click.Command:
    """The click command of a registered release command; the body loads when it runs."""

    @click.pass_context
    def callback(ctx: click.Context, /, **options: Any) -> None:
        from oar.cli.release import run_registered

        run_registered(spec, ctx, options)

    flows = ", ".join(flow.value for flow in spec.flows)
    params: list[click.Parameter] = [click_option(o) for o in spec.options]
    params.append(
        click.Option(
            ["--json", "as_json"], is_flag=True, help="Print the outcome as JSON for scripts."
        )
    )
    return click.Command(
        spec.name,
        callback=callback,
        params=params,
        help=f"{spec.help}\n\nFlows: {flows}.",
        short_help=spec.summary,
    )


class OarGroup(click.Group):
    """The ``oar`` group: registry commands, then the release-state ones, loaded lazily."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, click.Command] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        extra = [name for name in self.commands if name not in self._lazy_names()]
        return [*registry.names(), *STATE_COMMANDS, *sorted(extra)]

    def _lazy_names(self) -> set[str]:
        return {*registry.names(), *STATE_COMMANDS}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in self._loaded:
            return self._loaded[cmd_name]
        found: click.Command | None = None
        if cmd_name in registry.names():
            found = registry_command(registry.command(cmd_name))
        elif cmd_name in STATE_COMMANDS:
            module_name, _, attribute = STATE_COMMANDS[cmd_name][0].partition(":")
            loaded = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(loaded, click.Command), f"{module_name}:{attribute}"
            found = loaded
        if found is not None:
            self._loaded[cmd_name] = found
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing, from the registry's summaries: nothing is imported for it."""
        limit = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
        checklist = [(c.name, c.summary) for c in registry.COMMANDS]
        state = [(name, summary) for name, (_, summary) in STATE_COMMANDS.items()]
        others = []
        for name in self.list_commands(ctx):
            if name in self._lazy_names():
                continue
            command = self.commands[name]
            if not command.hidden:
                others.append((name, command.get_short_help_str(limit)))
        if checklist:
            with formatter.section("Release checklist commands"):
                formatter.write_dl(checklist)
        with formatter.section("Release state"):
            formatter.write_dl(state)
        if others:
            with formatter.section("Other commands"):
                formatter.write_dl(others)


@click.group(cls=OarGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-r", "--release", metavar="X.Y.Z", help="The z-stream release, e.g. 4.19.3.")
@click.option("-v", "--debug", is_flag=True, help="Log debug messages.")
@click.version_option(None, "-V", "--version", package_name="oar", prog_name="oar")
@click.pass_context
def cli(ctx: click.Context, release: str | None, debug: bool) -> None:
    """Run the OpenShift z-stream release checklist."""
    ctx.ensure_object(dict)
    ctx.obj["release"] = release
    ctx.obj["debug"] = debug
    ctx.obj["version"] = None
    if release is not None:
        try:
            ctx.obj["version"] = ReleaseVersion.parse(release)
        except InvalidVersionError as exc:
            raise click.BadParameter(exc.message, ctx=ctx, param_hint="-r/--release") from None


def main() -> None:
    try:
        cli(prog_name="oar")
    except KeyboardInterrupt:
        from oar.cli.console import fail

        fail("interrupted", code=130)


if __name__ == "__main__":
    main()
