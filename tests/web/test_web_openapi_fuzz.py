"""Schemathesis over the whole JSON API: zero server errors for anything the schema allows.

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

pytestmark = pytest.mark.slow
BASE_URL = "http://127.0.0.1:8765"
"""A loopback host name: the server refuses other Host headers (DNS rebinding)."""
TOKEN = "fuzz-access-token-0123456789abcdef"
SKIPPED = ["/api/v1/rules/export", "/api/v1/runtimes/{name}/health"]
NOT_BUILT = 501
"""The deliberate answer for a feature that is not built yet (e.g. a workflow target)."""
EXAMPLES = 15
"""Examples per API operation: a fixed budget, so the run takes the same time every time."""
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def test_no_request_the_schema_allows_is_a_server_error(tmp_path: Path) -> None:
    # With an access token the test transport's client address does not matter; it is also the
    # owner's token, so decisions are reachable too.
    ws = Workspace.temporary(tmp_path / "ws", token=TOKEN).open()
    try:
        app = create_app(ws)
        schema = schemathesis.openapi.from_dict(app.openapi())
        schema.app = app
        headers = {"Authorization": f"Bearer {TOKEN}"}
        failures: list[str] = []
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

            call()
        assert operations >= 20  # the whole API was covered
        assert failures == []
        assert ws.projects.list() and ws.tasks.list()  # the cases reached this workspace
        assert sum(n for code, n in statuses.items() if code < 300) >= 50, statuses
    finally:
        ws.close()
