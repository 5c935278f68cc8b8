"""Hooks governance places around every run: budget pre-flight and usage metering (a run is
settled by the transaction that ends it, `stagent.store.lifecycle`).

The engine calls a `RunGuard` without knowing what it checks. `OpenGuard` (no budgets, no ledger)
is what a workspace uses until governance wires in its own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from stagent.domain.events import UsageEvent
from stagent.domain.runs import Run
from stagent.domain.tasks import Task


class RunGuard(Protocol):
    """What the engine asks before, during and after a run."""

    async def before_run(self, task: Task, run: Run) -> Decimal | None:
        """Allow the run to make provider calls (returning its spending cap in USD, or None for
        no cap), or raise a `StagentError` saying why not.

        May wait (a person deciding whether to raise a cap); the run is suspended meanwhile.
        """
        ...

    def on_usage(self, task: Task, run: Run, usage: UsageEvent) -> str | None:
        """Record usage the runtime reported (one provider call or one result). Returns why the
        run must make no further provider call (its spend reached its cap), else None."""
        ...

    def after_run(self, task: Task, run: Run, status: str) -> None:
        """This execution of the run is over (``status``): forget what was kept in memory for it.
        Nothing to settle: the transaction that ended the run released its reservation."""
        ...


class OpenGuard:
    """No budgets and no ledger: every run may start, nothing is metered."""

    async def before_run(self, task: Task, run: Run) -> Decimal | None:
        """Always allow, with the run's own cap."""
        del task
        return run.options.limits.max_budget_usd

    def on_usage(self, task: Task, run: Run, usage: UsageEvent) -> str | None:
        """Record nothing, stop nothing."""
        del task, run, usage
        return None

    def after_run(self, task: Task, run: Run, status: str) -> None:
        """Nothing to forget."""
        del task, run, status
