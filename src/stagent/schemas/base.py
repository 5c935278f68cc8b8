"""The base of every schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Schema(BaseModel):
    """A response shape shared by every face."""

    def data(self) -> dict[str, Any]:
        """JSON-ready data (what ``--json`` prints and the API sends)."""
        return self.model_dump(mode="json")
