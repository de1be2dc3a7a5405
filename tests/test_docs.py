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
    public = {
        f"mne_mousesleep.{n}"
        for n in mne_mousesleep.__all__
        if n not in ("datasets", "live")
    }
    public |= {f"mne_mousesleep.datasets.{n}" for n in datasets.__all__}
    # The live module's own functions, listed as live.<name>.
    text = API.read_text()
    for name in set(mne_mousesleep.live.__all__) - set(mne_mousesleep.__all__):
        assert f"   live.{name}\n" in text, f"live.{name} missing from doc/api.rst"
    documented = _documented()
    assert public - documented == set(), "missing from doc/api.rst"
    assert documented - public == set(), "doc/api.rst lists non-public names"


def test_gallery_examples_run_with_warnings_as_errors():
    """The docs build runs each example with the tests' warning filters."""
    import sys
    import warnings

    import pytest

    sys.path.insert(0, str(API.parent / "sphinxext"))
    try:
        from gallery_warnings import warnings_as_errors
    finally:
        sys.path.pop(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings_as_errors({}, "00_example.py", "before")
        with pytest.raises(RuntimeWarning, match="an example warns"):
            warnings.warn("an example warns", RuntimeWarning, stacklevel=1)
        # The ignore list of pyproject.toml holds too.
        warnings.warn("The sampling rate is 128 Hz: low", RuntimeWarning, stacklevel=1)
        warnings_as_errors({}, "00_example.py", "after")
        warnings.warn("after the example: ignored again", RuntimeWarning, stacklevel=1)
