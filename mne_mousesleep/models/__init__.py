"""Scoring networks, their registry and model cards."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._card import ModelCard
from ._loader import MouseSleepModel, get_model_card, list_models, load_model
from ._registry import DEFAULT_MODEL

__all__ = [
    "DEFAULT_MODEL",
    "ModelCard",
    "MouseSleepModel",
    "get_model_card",
    "list_models",
    "load_model",
]
