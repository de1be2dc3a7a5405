"""Gallery examples run from start to end."""

import runpy
from pathlib import Path

import matplotlib
import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(online, path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runpy.run_path(str(path), run_name="__main__")
    assert plt.get_fignums(), "an example should make at least one figure"
    plt.close("all")


def test_examples_exist():
    assert EXAMPLES
