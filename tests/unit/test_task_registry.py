"""Which registered tasks HTTP, the CLI and Slack may start: public ones only."""

from __future__ import annotations

from typing import Any

import oar.github.app
import oar.release.follows
import oar.release.watch
from oar.engine import registry
from oar.engine.tasks import TaskRegistry


def test_oars_own_tasks_are_internal() -> None:
    for name in (
        oar.github.app.CALL_TASK,
        oar.release.follows.FOLLOW_TASK,
        oar.release.follows.LEGACY_WATCH_TASK,
    ):
        assert registry.get(name).internal, name
        assert name not in registry.public_names()


def test_a_handler_in_the_oar_package_is_internal_unless_declared_public() -> None:
    """The default is safe for a task OAR adds; plugins keep working as before."""
    tasks = TaskRegistry()

    def plugin(ctx: Any) -> None: ...

    def ours(ctx: Any) -> None: ...

    ours.__module__ = "oar.release.something"
    assert not tasks.register("plugin.hello", plugin).internal
    assert tasks.register("release.something", ours).internal
    assert not tasks.register("release.public", ours, internal=False).internal
    assert tasks.register("plugin.secret", plugin, internal=True).internal
    assert tasks.public_names() == ["plugin.hello", "release.public"]
