"""Flat option mappings (the shape schedules store) become typed run options."""

from __future__ import annotations

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.run_options import from_flat


def test_flat_keys_land_in_limits_and_the_runtimes_own_options() -> None:
    options = from_flat("codex", {"model": "m", "max_turns": 3, "sandbox": "read-only"})
    assert options.model == "m" and options.limits.max_turns == 3
    assert options.codex is not None and options.codex.sandbox == "read-only"
    scripted = from_flat("scripted", {"scenario": {"steps": []}, "_attempt": 2})
    assert scripted.scripted is not None and scripted.scripted.scenario == {"steps": []}


def test_a_bad_flat_option_names_its_field() -> None:
    with pytest.raises(ValidationError, match=r"^options\.limits\.max_turns: "):
        from_flat("claude", {"max_turns": 0})
