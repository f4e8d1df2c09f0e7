"""JSON values: the only shapes OAR stores, sends between processes and returns.

Task payloads and results, approval contexts and workflow inputs are all JSON, never
pickles, so any process (or tool) can read them and a code change cannot make stored
work unreadable.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None


def json_problem(value: Any, path: str = "value") -> str | None:
    """Why ``value`` is not a JSON value (naming where), or ``None`` when it is."""
    if value is None or isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value!r}, which JSON cannot represent"
    if isinstance(value, list):
        for index, item in enumerate(value):
            if problem := json_problem(item, f"{path}[{index}]"):
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has a non-string key {key!r}"
            if problem := json_problem(item, f"{path}[{key!r}]"):
                return problem
        return None
    return f"{path} is a {type(value).__name__}"
