"""Running a profile's smoke tests as real tasks (composition level: profiles + the engine).

Each smoke test becomes a task with the profile on the chosen runtime, so it runs exactly as a
person's task would: the profile's instructions, tools, tool policy and model, the budget
check, the permission gate and the usage ledger. The answer is judged by its keywords and the
run is recorded with the profile (`stagent.profiles.smoke.ResultStore`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stagent.domain.errors import StagentError, ValidationError
from stagent.domain.tasks import Task
from stagent.engine.services import TaskDraft
from stagent.profiles.models import SmokeTest
from stagent.profiles.options import SIMULATED_RUNTIMES, check_runtime
from stagent.profiles.smoke import SmokeResult, SmokeRun, judge, now_text
from stagent.workspace import Workspace

RunTask = Callable[[str], Task]
"""Runs a task to its end and returns it (the CLI runs it here or hands it to a worker)."""


def smoke_runtime(ws: Workspace, profile_id: str, runtime: str | None) -> str:
    """The runtime a smoke test runs on: the one asked for, else the profile's first."""
    profile = ws.profiles.get(profile_id)
    chosen = runtime or profile.runtimes[0]
    if chosen in SIMULATED_RUNTIMES:
        raise ValidationError(
            f"runtime: a smoke test needs a model; {chosen} is simulated",
            hint=f"use one of {', '.join(profile.runtimes)}",
        )
    ws.runtimes.require(chosen)
    check_runtime(profile, chosen)
    return chosen


def create_smoke_tasks(ws: Workspace, profile_id: str, runtime: str) -> list[Task]:
    """One planned task per smoke test of the profile on ``runtime``."""
    profile = ws.profiles.get(profile_id)
    tests = profile.options(runtime).tests  # pyright: ignore[reportArgumentType]
    if not tests:
        raise ValidationError(
            f"profile {profile_id} has no smoke test for {runtime}",
            hint="add tests (a task and expectedKeywords) to its profile.yaml",
        )
    return [
        ws.tasks.create(
            TaskDraft(
                title=f"Smoke test {index} of {profile_id}",
                description=test.task,
                runtime=runtime,
                profile=profile_id,
            )
        )
        for index, test in enumerate(tests, start=1)
    ]


def run_smoke_tests(ws: Workspace, profile_id: str, runtime: str | None, run: RunTask) -> SmokeRun:
    """Run every smoke test of the profile on the runtime, judge and record the results."""
    chosen = smoke_runtime(ws, profile_id, runtime)
    profile = ws.profiles.get(profile_id)
    tests = profile.options(chosen).tests  # pyright: ignore[reportArgumentType]
    tasks = create_smoke_tasks(ws, profile_id, chosen)
    results: list[SmokeResult] = []
    for test, task in zip(tests, tasks, strict=True):
        done = run(task.id)
        results.append(judge(test, done.id, done.status.value, done.result, done.error))
    outcome = SmokeRun(
        profile_id=profile_id,
        runtime=chosen,
        simulated=ws.runtimes.is_simulated(chosen),
        finished_at=now_text(),
        results=results,
    )
    ws.profiles.results.save(outcome)
    return outcome


def start_smoke_tests(ws: Workspace, profile_id: str, runtime: str | None) -> list[Task]:
    """Queue the smoke tests for a worker (the web page's button); `refresh_smoke_results`
    judges them once their tasks have ended."""
    chosen = smoke_runtime(ws, profile_id, runtime)
    profile = ws.profiles.get(profile_id)
    tests = profile.options(chosen).tests  # pyright: ignore[reportArgumentType]
    tasks = create_smoke_tasks(ws, profile_id, chosen)
    queued = [ws.tasks.run(task.id) for task in tasks]
    pending = [
        SmokeResult(test.task, list(test.expected_keywords), task.id, "queued", False)
        for test, task in zip(tests, queued, strict=True)
    ]
    ws.profiles.results.save_pending(profile_id, chosen, pending)
    return queued


def refresh_smoke_results(ws: Workspace, profile_id: str) -> list[dict[str, Any]]:
    """The recorded runs, with pending ones judged if all their tasks have ended."""
    runs = ws.profiles.results.runs(profile_id)
    changed = False
    for index, run in enumerate(runs):
        if run.get("pending"):
            judged = _judge_pending(ws, run)
            if judged is not None:
                runs[index] = judged
                changed = True
    if changed:
        ws.profiles.results.replace(profile_id, runs)
    return runs


def _judge_pending(ws: Workspace, run: dict[str, Any]) -> dict[str, Any] | None:
    results: list[SmokeResult] = []
    for item in run.get("results", []):
        try:
            task = ws.tasks.get(str(item["task_id"]))
        except StagentError:
            task = None
        if task is not None and not task.status.is_terminal:
            return None
        test = SmokeTest(task=str(item["task"]), expected_keywords=tuple(item["expected"]))
        if task is None:
            results.append(
                judge(test, str(item["task_id"]), "deleted", None, "the task was deleted")
            )
        else:
            results.append(judge(test, task.id, task.status.value, task.result, task.error))
    runtime = str(run["runtime"])
    done = SmokeRun(
        str(run["profile_id"]), runtime, ws.runtimes.is_simulated(runtime), now_text(), results
    )
    return done.to_dict()
