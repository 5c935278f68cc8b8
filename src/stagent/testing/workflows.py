"""Workflow steps for tests and demos that run on the scripted runtime (no model)."""

from __future__ import annotations

from typing import Any


def scripted(
    result: str, *, delay: float = 0, fail: str | None = None, final: bool = False
) -> dict[str, Any]:
    """Run options for a scripted step that answers ``result`` (or fails; ``final``: with an
    error the runtime marks not retryable)."""
    steps: list[dict[str, Any]] = [{"text": f"working on {result}. "}]
    if delay:
        steps.append({"delay": delay})
    if fail:
        steps.append({"fail": fail, "retryable": False} if final else {"fail": fail})
    return {"scripted": {"scenario": {"name": result, "steps": steps, "result": result}}}


def step(key: str, result: str, **extra: Any) -> dict[str, Any]:
    """A scripted step whose task answers ``result``."""
    fail = extra.pop("fail", None)
    delay = extra.pop("delay", 0)
    final = extra.pop("final", False)
    return {
        "id": key,
        "name": key.title(),
        "prompt": f"do {key}",
        "options": scripted(result, delay=delay, fail=fail, final=final),
        **extra,
    }
