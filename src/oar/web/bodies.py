"""The base of every JSON request body the HTTP API accepts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator

from oar.jsonvalue import json_problem


class RequestBody(BaseModel):
    """A request body: 422 (naming where) for what no database stores — a NUL character,
    a lone surrogate, NaN, nesting deeper than ``oar.jsonvalue.MAX_DEPTH`` — before any
    field is read. Every body model derives from it (a test checks each route's)."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        if problem := json_problem(data, "body"):
            raise ValueError(problem)
        return data
