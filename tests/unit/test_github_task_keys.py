"""Task keys of webhook handlers: distinct deliveries and handlers never share a task."""

from __future__ import annotations

import re
from typing import Any

from oar.github.app import task_key

_KEY = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")  # the task key rule of oar.engine.tasks


def test_delivery_ids_that_differ_only_in_unsafe_characters_get_distinct_keys() -> None:
    """``coll ision-1`` and ``coll/ision-1`` used to map to one task: the second was lost."""
    first = task_key("coll ision-1", "github.hooks.on_push", label="on_push")
    second = task_key("coll/ision-1", "github.hooks.on_push", label="on_push")
    assert first != second
    assert first.startswith("gh-delivery:coll-ision-1:on_push:")  # still readable
    assert _KEY.match(first)
    assert _KEY.match(second)


def test_two_handlers_named_alike_in_two_modules_get_distinct_keys() -> None:
    a = task_key("d-1", "github.team_a.hooks.handle", label="handle")
    b = task_key("d-1", "github.team_b.hooks.handle", label="handle")
    assert a != b


def test_keys_stay_within_the_task_key_rule_for_the_longest_inputs() -> None:
    samples: list[tuple[Any, ...]] = [
        ("x" * 100, "github." + "m" * 190, "h" * 150),
        ("é" * 100, "github.mod.f", "f"),
        ("a:b", "c", ""),
    ]
    keys = {task_key(delivery, name, label=label) for delivery, name, label in samples}
    assert len(keys) == len(samples)
    assert all(_KEY.match(key) for key in keys), keys
    # Truncation of the readable part cannot merge two long IDs that share a prefix.
    long_a = task_key("p" * 80 + "a", "github.m.f", label="f")
    long_b = task_key("p" * 80 + "b", "github.m.f", label="f")
    assert long_a != long_b


def test_the_key_of_a_delivery_and_handler_is_stable() -> None:
    """A redelivery (or a second receiving process) computes the same key."""
    assert task_key("d-2", "github.m.f", label="f") == task_key("d-2", "github.m.f", label="f")
