"""What counts as a JSON value, and where a value stops being one."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from oar.jsonvalue import json_problem


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
