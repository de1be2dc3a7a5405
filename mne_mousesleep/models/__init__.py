"""Scoring networks, their registry and model cards."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._card import ModelCard
from ._registry import DEFAULT_MODEL, get_model_card, list_models

__all__ = [
    "DEFAULT_MODEL",
    "ModelCard",
    "MouseSleepModel",
    "get_model_card",
    "list_models",
    "load_model",
]


def __getattr__(name):
    """Import the loader (and torch) only when a network is asked for.

    Listing the models and reading their cards stays fast (``mne-mousesleep
    models``).
    """
    if name in ("MouseSleepModel", "load_model"):
        from . import _loader

        return getattr(_loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
