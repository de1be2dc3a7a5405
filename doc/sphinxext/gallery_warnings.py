"""Run each gallery example with the warning filters of the tests.

The examples run once, in the documentation build; like the tests
(``filterwarnings`` in ``pyproject.toml``), they run with warnings as
errors, so an example that warns fails the build.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import builtins
import importlib
import warnings
from pathlib import Path

import tomllib

_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
_SAVED = []


def _category(name):
    if not name:
        return Warning
    if "." not in name:
        return getattr(builtins, name)
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _filters():
    """Return the ``filterwarnings`` entries of pytest's configuration."""
    config = tomllib.loads(_PYPROJECT.read_text())
    return config["tool"]["pytest"]["ini_options"]["filterwarnings"]


def warnings_as_errors(gallery_conf, fname, when):
    """Set the tests' warning filters before an example; restore them after.

    A ``reset_modules`` callable of sphinx-gallery. Entries are
    ``action:message:category:module:lineno`` as in pytest, later ones
    taking precedence.
    """
    if when == "before":
        _SAVED[:] = [list(warnings.filters)]
        for entry in _filters():
            action, message, category, module, lineno = (
                entry.split(":", 4) + [""] * 5
            )[:5]
            warnings.filterwarnings(
                action, message, _category(category), module, int(lineno or 0)
            )
    elif _SAVED:
        warnings.filters[:] = _SAVED.pop()
        warnings._filters_mutated()
