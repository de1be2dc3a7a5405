"""Sphinx configuration of the mne-mousesleep documentation."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import os
import socket
import sys
from pathlib import Path

import mne_mousesleep

sys.path.insert(0, str(Path(__file__).parent / "sphinxext"))
from model_cards import write_model_pages  # noqa: E402

project = "mne-mousesleep"
author = "The mne-mousesleep developers"
copyright = "2026, The mne-mousesleep developers"
release = version = mne_mousesleep.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
default_role = "py:obj"
html_theme = "pydata_sphinx_theme"
html_title = "mne-mousesleep"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 1,
}
html_static_path = []

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "Raw": "mne.io.Raw",
    "RawArray": "mne.io.RawArray",
    "RawEDF": "mne.io.edf.edf.RawEDF",
    "Annotations": "mne.Annotations",
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "Hypnogram": "yasa.Hypnogram",
    "Module": "torch.nn.Module",
    "MouseSleepModel": "mne_mousesleep.MouseSleepModel",
    "ModelCard": "mne_mousesleep.ModelCard",
    "path-like": ":term:`path-like <python:path-like object>`",
    "Client": "distributed.Client",
    "ReviewSession": "mne_mousesleep.gui.ReviewSession",
    "FineTuning": "mne_mousesleep.training.FineTuning",
    "ScoringResult": "mne_mousesleep.ScoringResult",
}
numpydoc_xref_ignore = {
    "of",
    "shape",
    "n_epochs",
    "n_classes",
    "n_formats",
    "n_channels",
    "n_times",
    "n_states",
    "instance",
    "window",
    "array",
    "int",
    "float",
    "str",
    "bool",
    "dict",
    "list",
    "tuple",
    "callable",
    "None",
    "optional",
    "default",
    "like",
}
numpydoc_validation_checks = {
    "all",
    "GL01",  # summary may start on the first line
    "GL02",
    "ES01",  # extended summary optional
    "EX01",  # examples optional
    "SA01",  # see also optional
    "SS05",  # infinitive verbs are fine
    "RT02",  # return names are given, as in MNE
    "PR02",  # properties documented with the class
}
numpydoc_validation_exclude = {
    r"\.__\w+__$",
    r"\.to_dict$",
    r"\.(STAGES|ANNOTATION_DESCRIPTIONS|YASA_STAGES|STAGE_CODES)$",  # data
}

# -- Cross-links: intersphinx, with an offline fallback ----------------------
_INTERSPHINX = {
    "python": ("https://docs.python.org/3", None),
    "mne": ("https://mne.tools/stable", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "yasa": ("https://yasa-sleep.org", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
    "pooch": ("https://www.fatiando.org/pooch/latest", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "distributed": ("https://distributed.dask.org/en/stable", None),
    "mne_bids": ("https://mne.tools/mne-bids/stable", None),
    "mne_lsl": ("https://mne.tools/mne-lsl/stable", None),
}


def _online(host="mne.tools", port=443, timeout=3.0):
    """Whether the inventories can be fetched (no internet on the build machine)."""
    if os.environ.get("MNE_MOUSESLEEP_DOC_OFFLINE", "") == "1":
        return False
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


# Every reference must resolve; offline, those to other projects (which need
# their inventories) are left as plain text instead.
nitpicky = True
if _online():
    intersphinx_mapping = _INTERSPHINX
else:
    print("mne-mousesleep docs: offline, intersphinx cross-links disabled")
    intersphinx_mapping = {}
    extensions.remove("sphinx.ext.intersphinx")
    nitpick_ignore_regex = [
        (
            r"py:.*",
            r"(python:)?(mne|numpy|pandas|pathlib|scipy|yasa|torch|pooch|datetime|matplotlib|sklearn|dask|distributed|mne_bids|mne_lsl|time)\..*",
        ),
        (r"py:.*", r"python:.*"),
        (r"py:.*", r"(int|float|str|bool|dict|list|tuple|None|callable|os.PathLike)"),
        (r"ref", r"(python:.*|tut-logging)"),
        (r"term", r"(python|numpy):.*"),
    ]

# -- Gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/\d\d_",
    "reference_url": {"mne_mousesleep": None},
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("mne_mousesleep",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "matplotlib_animations": False,
    # The examples run here only (not in the tests), with the tests' warning
    # filters: warnings are errors (doc/sphinxext/gallery_warnings.py).
    "reset_modules": ("matplotlib", "gallery_warnings.warnings_as_errors"),
    "reset_modules_order": "both",
}
os.environ.setdefault("MPLBACKEND", "Agg")

# -- Model cards, generated from the registry ---------------------------------
write_model_pages(Path(__file__).parent / "models")
