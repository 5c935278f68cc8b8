"""Example scenario files for the scripted runtime, shipped with the package."""

from __future__ import annotations

from pathlib import Path

SCENARIO_DIR = Path(__file__).parent / "scenario_files"


def scenario_path(name: str) -> Path:
    """The path of a shipped example scenario, e.g. ``scenario_path("hello")``."""
    path = SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"no example scenario {name!r}; examples: {known}")
    return path
