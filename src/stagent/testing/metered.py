"""A scripted runtime whose usage is booked as real spend, for testing budgets and the ledger.

The shipped ``scripted`` runtime is *simulated*: its usage is recorded but never counts against
budgets or real spend. Tests of budget caps need usage that does count without calling a model;
they register `MeteredRuntime` (name ``metered``), which plays the same scenario files and is not
labelled simulated. It is never registered in a real workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from stagent.runtimes.base import RuntimeCapabilities
from stagent.runtimes.registry import RuntimeRegistry, default_registry
from stagent.runtimes.scripted import ScriptedRuntime

NAME = "metered"


class MeteredRuntime(ScriptedRuntime):
    """`ScriptedRuntime` whose usage rows count as spend (tests only)."""

    name: ClassVar[str] = NAME
    label: ClassVar[str] = "Metered (test: scripted scenarios booked as real spend)"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(
        resume=False,
        cancel=True,
        approvals=True,
        tools=True,
        mcp=False,
        simulated=False,
        scenarios=True,
    )


def registry_with_metered(
    base: Callable[..., RuntimeRegistry] = default_registry,
) -> Callable[..., RuntimeRegistry]:
    """A `default_registry` replacement that also registers `MeteredRuntime` (its other
    arguments pass through to ``base``)."""

    def build(home: Path, *args: Any, **kwargs: Any) -> RuntimeRegistry:
        registry = base(home, *args, **kwargs)
        registry.register(MeteredRuntime())
        return registry

    return build
