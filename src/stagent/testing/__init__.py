"""What tests, demos and users' own tests need: example scenarios (and, later, scripted model
servers that speak the real provider protocols)."""

from stagent.testing.scenarios import SCENARIO_DIR, scenario_path

__all__ = ["SCENARIO_DIR", "scenario_path"]
