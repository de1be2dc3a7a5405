"""The API reference lists every public object."""

import re
from pathlib import Path

import mne_mousesleep
from mne_mousesleep import datasets

API = Path(__file__).parents[1] / "doc" / "api.rst"


def _documented():
    text = API.read_text()
    names, module = set(), "mne_mousesleep"
    for line in text.splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = m.group(1)
        elif m := re.match(r"\s{3}(\w+)$", line):
            names.add(f"{module}.{m.group(1)}")
        elif m := re.match(r"\.\. autodata:: (\w+)", line):
            names.add(f"{module}.{m.group(1)}")
    return names


def test_every_public_object_in_api_reference():
    public = {f"mne_mousesleep.{n}" for n in mne_mousesleep.__all__ if n != "datasets"}
    public |= {f"mne_mousesleep.datasets.{n}" for n in datasets.__all__}
    documented = _documented()
    assert public - documented == set(), "missing from doc/api.rst"
    assert documented - public == set(), "doc/api.rst lists non-public names"
