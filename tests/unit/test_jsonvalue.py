"""What counts as a JSON value, and where a value stops being one."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from oar.jsonvalue import json_problem, nests_deeper_than


@pytest.mark.parametrize("value", [None, True, 0, -3, 1.5, "x", [], {}, {"a": [1, {"b": None}]}])
def test_json_values_pass(value: Any) -> None:
    assert json_problem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [1, {2, 3}]}, "payload['a'][1] is a set"),
        ({1: "x"}, "payload has a non-string key 1"),
        ([float("inf")], "payload[0] is inf, which JSON cannot represent"),
        ((1, 2), "payload is a tuple"),
        ({"when": datetime.date(2026, 1, 1)}, "payload['when'] is a date"),
    ],
)
def test_the_problem_names_where_the_value_stops_being_json(value: Any, problem: str) -> None:
    assert json_problem(value, "payload") == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"run": "a\x00b"}, "payload['run'] contains a NUL character"),
        ({"a\x00": 1}, "a key of payload contains a NUL character"),
        (["\ud800"], "payload[0] contains a lone surrogate"),
        ([float("nan")], "payload[0] is nan, which JSON cannot represent"),
    ],
)
def test_values_no_database_stores_are_refused_naming_where(value: Any, problem: str) -> None:
    """Issue 13 item 10: a NUL in a context reached PostgreSQL and gave a 500."""
    found = json_problem(value, "payload")
    assert found is not None
    assert found.startswith(problem)


def test_deep_nesting_is_reported_not_a_recursion_error() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert (
        json_problem(deep, "payload") == "payload" + "[0]" * 100 + " nests deeper than 100 levels"
    )
    assert nests_deeper_than(deep)
    assert not nests_deeper_than([[[]]])
