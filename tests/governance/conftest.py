"""Budget tests book usage as real spend: they add the test-only ``metered`` runtime (scripted
scenarios that are not simulated) to every workspace they build, in-process CLIs included."""

from __future__ import annotations

import pytest

from stagent import workspace as workspace_module
from stagent.testing.metered import registry_with_metered


@pytest.fixture(autouse=True)
def _metered_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        workspace_module,
        "default_registry",
        registry_with_metered(workspace_module.default_registry),
    )
