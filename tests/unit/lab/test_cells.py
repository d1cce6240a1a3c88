"""An interrupted `make compare` resumes from the cells it finished, and only under the plan
they were measured with."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from lab.experiments.cells import Cells, PlanChangedError
from lab.experiments.plan import PLANS


def test_a_second_run_of_the_same_plan_resumes_from_its_cells(tmp_path):
    plan = asdict(PLANS["quick"])  # tuples, which the kept plan reads back as lists
    first = Cells(tmp_path, plan)
    assert first.get("capacity-1-monolith", lambda: {"capacity_rps": 600}) == {"capacity_rps": 600}
    again = Cells(tmp_path, asdict(PLANS["quick"]))
    assert len(again) == 1
    assert again.get("capacity-1-monolith", pytest.fail) == {"capacity_rps": 600}


def test_cells_of_another_plan_are_refused_and_a_finished_run_moves_them_aside(tmp_path):
    cells = Cells(tmp_path / "quick", asdict(PLANS["quick"]))
    cells.get("cost-micro", dict)
    with pytest.raises(PlanChangedError):
        Cells(tmp_path / "quick", asdict(PLANS["full"]))
    kept = cells.finish("2026-12-07T09:00")
    assert kept.name == "quick-2026-12-07T09:00"
    assert len(Cells(tmp_path / "quick", asdict(PLANS["full"]))) == 0
