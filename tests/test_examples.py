"""The scripts in ``examples/`` run to the end (they are documentation that must not rot)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import sklearn

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # anything an example writes (an Optuna study) goes here
    with sklearn.config_context():  # restores any global config an example sets
        runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{script.name} printed nothing"
