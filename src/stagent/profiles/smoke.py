"""Smoke tests: judging an answer, and keeping the last results per profile.

A test passes when the run completed and its answer contains every expected keyword (any
case). Results live in ``$STAGENT_HOME/profile-tests/<id>.json``, newest first, the last 10 runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from stagent.profiles.models import SmokeTest

KEEP_RUNS = 10
EXCERPT_CHARS = 600


@dataclass(frozen=True, slots=True)
class SmokeResult:
    """One smoke test's outcome."""

    task: str
    expected: list[str]
    task_id: str
    status: str
    passed: bool
    missing: list[str] = field(default_factory=lambda: [])
    answer: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SmokeRun:
    """All smoke tests of one profile on one runtime."""

    profile_id: str
    runtime: str
    simulated: bool
    finished_at: str
    results: list[SmokeResult]

    @property
    def passed(self) -> bool:
        """True if every test passed."""
        return all(r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the ``--json`` and stored shape)."""
        return {**asdict(self), "passed": self.passed}


def judge(
    test: SmokeTest, task_id: str, status: str, answer: str | None, error: str | None
) -> SmokeResult:
    """Did the run answer ``test``?"""
    text = (answer or "").lower()
    missing = [k for k in test.expected_keywords if k.lower() not in text]
    passed = status == "completed" and not missing
    return SmokeResult(
        task=test.task,
        expected=list(test.expected_keywords),
        task_id=task_id,
        status=status,
        passed=passed,
        missing=missing,
        answer=(answer or "")[:EXCERPT_CHARS],
        error=error,
    )


def now_text() -> str:
    """The current UTC time as ISO text."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class ResultStore:
    """Smoke-test runs per profile, as JSON files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, run: SmokeRun) -> None:
        """Record a run (keeping the newest `KEEP_RUNS`)."""
        self._write(run.profile_id, [run.to_dict(), *self._raw(run.profile_id)][:KEEP_RUNS])

    def save_pending(self, profile_id: str, runtime: str, results: list[SmokeResult]) -> None:
        """Record a run whose tasks were queued and have not ended yet."""
        run = SmokeRun(profile_id, runtime, False, "", results).to_dict()
        self._write(profile_id, [{**run, "pending": True}, *self._raw(profile_id)][:KEEP_RUNS])

    def replace(self, profile_id: str, runs: list[dict[str, Any]]) -> None:
        """Write the runs back (after pending ones were judged)."""
        self._write(profile_id, runs[:KEEP_RUNS])

    def _write(self, profile_id: str, runs: list[dict[str, Any]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{profile_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(runs, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    def runs(self, profile_id: str) -> list[dict[str, Any]]:
        """Recorded runs, newest first (plain data)."""
        return self._raw(profile_id)

    def _raw(self, profile_id: str) -> list[dict[str, Any]]:
        path = self.directory / f"{profile_id}.json"
        try:
            data: object = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return cast(list[dict[str, Any]], data) if isinstance(data, list) else []
