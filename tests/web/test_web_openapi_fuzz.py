"""Schemathesis over the whole JSON API: zero server errors for anything the schema allows, and
no schema-valid request refused (400/422) except for the reasons `SCHEMA_DOES_NOT_SAY` lists:
checks the OpenAPI cannot state (one field depending on another, names that exist only at run
time, files that must exist, text that must parse). Everything else a server checks is in the
schema: ledger dates and sources, non-blank titles, fields a task edit cannot set to null, a
workflow's definition or text (one of the two) and the definition's own fields.

Deterministic (Hypothesis derandomized, no example database) with a fixed example budget per
operation. Each case is sent as the person (Bearer owner token). Two operations are left to their
own tests: exporting rules writes files wherever the path points, and a runtime health probe
starts a real runtime against its configured provider.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from stagent.web.app import create_app
from stagent.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
"""Every API operation x `EXAMPLES` cases in one test: 5 min and more beside a loaded suite
(the page tour's limit too)."""
BASE_URL = "http://127.0.0.1:8765"
"""A loopback host name: the server refuses other Host headers (DNS rebinding)."""
TOKEN = "fuzz-access-token-0123456789abcdef"
SKIPPED = ["/api/v1/rules/export", "/api/v1/runtimes/{name}/health"]
NOT_BUILT = 501
"""The deliberate answer for a feature that is not built yet (e.g. a workflow target)."""
EXAMPLES = 15
"""Examples per API operation: a fixed budget, so the run takes the same time every time."""
SCHEDULE_CHECKS = (
    "exactly one of",
    "prompt",
    "time zone",
    "unknown runtime",
    "scenario",
    "only a blueprint target",
    "name their own profiles",
)
"""A schedule's fields depend on its target and its timing (one of cron, every, at); a profile
goes with a prompt target only (a workflow's or a blueprint's steps name their own)."""
WORKFLOW_CHECKS = (
    "<request>:",
    "not valid YAML or JSON",
    "already has the id",
    "not another step",
    "no step's id",
    "cannot depend on itself",
    "makes a cycle",
    "is set but",
    "settings",
    "needs",
    "has exactly one step",
    "the synthesis step",
    "steps have no depends_on",
    "is more than the",
    ".condition",
    "options.",
    "unknown runtime",
)
"""A workflow's text must parse (its problems name ``<request>:line``); a definition's steps
refer to each other (ids, ``depends_on``, conditions) and each pattern needs its own shape and
settings; step options and runtimes are checked as a task's are."""
RANGE_CHECKS = ("is before", "longer than", "is after today", "out of range")
"""The Costs dashboard's range (``since`` / ``until``): see `stagent.ledger.window`."""
SCHEMA_DOES_NOT_SAY: dict[str, tuple[str, ...]] = {
    # Which tasks, projects and runtimes exist is known only at run time.
    "PUT /api/v1/budgets/{scope}/{ref}": ("unknown runtime", "takes no", "nothing to change"),
    "GET /api/v1/budgets/{scope}/{ref}": ("unknown runtime", "takes no"),
    "DELETE /api/v1/budgets/{scope}/{ref}": ("unknown runtime", "takes no"),
    "PUT /api/v1/budgets/{scope}": ("needs", "takes no", "unknown runtime", "nothing to change"),
    "GET /api/v1/budgets/{scope}": ("needs", "takes no", "unknown runtime"),
    "DELETE /api/v1/budgets/{scope}": ("needs", "takes no", "unknown runtime"),
    "POST /api/v1/tasks": ("unknown runtime", "scenario", "options."),
    "PATCH /api/v1/tasks/{task_id}": ("unknown runtime", "scenario", "options."),
    "POST /api/v1/blueprints/{blueprint_id}/run": ("unknown runtime",),
    # A scope of task or project needs its ref (one field depending on another).
    "GET /api/v1/rules": ("needs the task", "needs the project", "takes no"),
    "GET /api/v1/rules/presets": ("needs the task", "needs the project", "takes no"),
    "POST /api/v1/rules": ("needs the task", "needs the project", "takes no", "is refused"),
    "POST /api/v1/rules/presets/{name}": ("needs the task", "needs the project", "takes no"),
    "DELETE /api/v1/rules/presets/{name}": ("needs the task", "needs the project", "takes no"),
    "POST /api/v1/schedules": SCHEDULE_CHECKS,
    "POST /api/v1/schedules/preview": SCHEDULE_CHECKS,
    # The file or folder must exist.
    "POST /api/v1/rules/import": ("cannot be read", "needs the", "takes no"),
    "POST /api/v1/scans": ("is not a folder",),
    "POST /api/v1/projects": ("does not exist or is not a directory",),
    "POST /api/v1/ledger/import": ("does not exist",),
    # A range's two ends depend on each other and on today (reversed, longer than a year, in
    # the future); a day at the calendar's edge has no instant.
    "GET /api/v1/ledger/metrics": RANGE_CHECKS,
    "GET /api/v1/ledger/summary": ("out of range",),
    "GET /api/v1/ledger": ("out of range",),
    "GET /api/v1/ledger/export.csv": ("out of range",),
    # A workflow's text must parse; its steps refer to each other; each pattern has a shape.
    "POST /api/v1/workflows": WORKFLOW_CHECKS,
}
"""Operations whose schema-valid requests may still be refused, and the words of the refusals
allowed there (anything else refused is a schema that does not say what the server accepts)."""
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
"""Derandomized: Hypothesis seeds each operation from a digest of the inner ``call``'s source, so
editing that function (even its timeout) draws other cases everywhere. One such edit found a
500 (``~name`` of an unknown user as a directory, fixed) and two refusals the schema did not
state (a NUL byte in ``rules/import``'s path, ``per_run_usd``'s text ``"0"``): both in the schema
now (``test_web_api_schema_refusals.py``)."""


def test_no_request_the_schema_allows_is_a_server_error(tmp_path: Path) -> None:
    # With an access token the test transport's client address does not matter; it is also the
    # owner's token, so decisions are reachable too.
    ws = Workspace.temporary(tmp_path / "ws", token=TOKEN).open()
    try:
        # As `stagent serve` does before it announces itself: the runtimes' SDKs take seconds
        # of CPU to import (20 s and more under load), which the first case to list or
        # validate a runtime would otherwise spend inside its per-request timeout.
        ws.runtimes.all()
        app = create_app(ws)
        schema = schemathesis.openapi.from_dict(app.openapi())
        schema.app = app
        headers = {"Authorization": f"Bearer {TOKEN}"}
        failures: list[str] = []
        refused: list[str] = []
        statuses: dict[int, int] = {}
        operations = 0
        for found in schema.exclude(path=SKIPPED).get_all_operations():
            operation = found.ok()
            operations += 1

            @FUZZ_SETTINGS
            @given(case=operation.as_strategy())
            def call(case: schemathesis.Case) -> None:
                label = f"{case.method} {case.formatted_path} {case.query or ''} {case.body!r:.200}"
                try:
                    response = case.call(base_url=BASE_URL, headers=headers, timeout=30)
                except Exception as exc:  # a hang or a dropped connection is a failure too
                    failures.append(f"{label} -> {type(exc).__name__}")
                    return
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500 and response.status_code != NOT_BUILT:
                    failures.append(f"{label} -> {response.status_code}")
                if response.status_code in (400, 422):
                    error = str(response.json().get("error", ""))
                    key = f"{case.method} {case.operation.path}"
                    if not any(words in error for words in SCHEMA_DOES_NOT_SAY.get(key, ())):
                        refused.append(f"{key} -> {response.status_code} {error[:120]!r}")

            call()
        assert operations >= 20  # the whole API was covered
        assert failures == []
        assert refused == [], "\n".join(refused)  # the schema says what the server accepts
        assert ws.projects.list() and ws.tasks.list()  # the cases reached this workspace
        assert sum(n for code, n in statuses.items() if code < 300) >= 50, statuses
    finally:
        ws.close()
