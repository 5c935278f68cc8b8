"""Budget tests book usage as real spend: they add the test-only ``metered`` runtime (scripted
scenarios that are not simulated) to every workspace they build, in-process CLIs included."""

from __future__ import annotations

from captools import metered_runtime_fixture  # noqa: F401
