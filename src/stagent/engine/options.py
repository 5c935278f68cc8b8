"""The one place a run's options are resolved: the task's options, the project's working
directory and the budget's spending cap, in that order. (Profiles plug in here: a profile's
instructions, tool policy, runtime and model become defaults the task's own options override.)"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pydantic

from stagent.domain.events import JsonDict
from stagent.domain.run_options import RunOptions, from_flat, parse_run_options
from stagent.domain.runs import Run
from stagent.domain.tasks import Project, Task
from stagent.runtimes.base import RunRequest


def resolve(
    task: Task,
    project: Project | None,
    profile_options: dict[str, Any] | None = None,
    *,
    project_directory: str | None = None,
) -> RunOptions:
    """The options a new run of ``task`` starts with (stored on the run record): the task's own
    options over its profile's (``profile_options``, flat as `from_flat` reads them) over the
    project's working directory (``project_directory``: that directory, for a caller that read
    it instead of the project)."""
    options = task.options
    if profile_options:
        defaults = from_flat(task.runtime, profile_options).stored()
        options = parse_run_options(
            {**_deep_merge(defaults, options.stored()), "runtime": task.runtime}
        )
    if options.runtime != task.runtime:
        options = options.with_changes(runtime=task.runtime)
    if project is not None:
        project_directory = project.working_directory
    if options.working_directory is None and project_directory:
        options = options.with_changes(working_directory=project_directory)
    return options


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, mapping by mapping (``over`` wins on every leaf)."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = _deep_merge(cast(dict[str, Any], below), cast(dict[str, Any], value))
        else:
            merged[key] = value
    return merged


def with_cap(options: RunOptions, cap_usd: Decimal | None) -> RunOptions:
    """The options with the spending cap the budget granted."""
    if cap_usd is None or options.limits.max_budget_usd == cap_usd:
        return options
    # only the limits validated again (not the whole options: `with_changes`); a cap they
    # refuse is named as `with_changes` names it
    data = {**options.limits.model_dump(), "max_budget_usd": cap_usd}
    try:
        limits = type(options.limits).model_validate(data)
    except pydantic.ValidationError:
        return options.with_changes(limits=data)
    return options.model_copy(update={"limits": limits})


def run_request(
    task: Task, run: Run, options: RunOptions, *, home: Path | None, env: JsonDict | None = None
) -> RunRequest:
    """The runtime's request for one execution of ``run``."""
    cap = options.limits.max_budget_usd
    return RunRequest(
        task_id=task.id,
        prompt=prompt(task),
        working_directory=options.working_directory,
        config=options.runtime_config(),
        session_id=task.session_id,
        attempt=run.attempt,
        model=options.model,
        instructions=options.instructions,
        allowed_tools=options.allowed_tools,
        max_turns=options.limits.max_turns,
        max_budget_usd=float(cap) if cap is not None else None,
        env={str(k): str(v) for k, v in (env or {}).items()},
        run_id=run.id,
        stagent_home=str(home) if home is not None else None,
    )


def prompt(task: Task) -> str:
    """What the agent is asked: the title, then the description."""
    return f"{task.title}\n\n{task.description}".strip()
