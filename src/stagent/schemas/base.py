"""The base of every schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, WithJsonSchema

from stagent.domain.limits import CLEAN_TEXT, NOT_TEXT


class Schema(BaseModel):
    """A response shape shared by every face."""

    def data(self) -> dict[str, Any]:
        """JSON-ready data (what ``--json`` prints and the API sends)."""
        return self.model_dump(mode="json")


__all__ = ["CLEAN_FILLED", "CLEAN_TEXT", "Schema", "text_schema"]

CLEAN_FILLED = rf"^[^{NOT_TEXT}]*[^{NOT_TEXT}\s][^{NOT_TEXT}]*$"
"""`CLEAN_TEXT` that is not blank (the services strip text, then refuse it empty)."""


def text_schema(
    max_length: int | None = None, min_length: int = 0, pattern: str = CLEAN_TEXT
) -> WithJsonSchema:
    """The schema of text a person types: its length, and no NUL byte or bidi control."""
    schema: dict[str, object] = {"type": "string", "pattern": pattern}
    if max_length is not None:
        schema["maxLength"] = max_length
    if min_length:
        schema["minLength"] = min_length
    return WithJsonSchema(schema)
