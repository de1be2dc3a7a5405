"""Automated sleep scoring of mouse EEG for MNE-Python and YASA."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from . import datasets
from .hypnogram import (
    ANNOTATION_DESCRIPTIONS,
    STAGES,
    YASA_STAGES,
    proba_to_stages,
    to_annotations,
    to_hypnogram,
)
from .models import ModelCard, MouseSleepModel, get_model_card, list_models, load_model
from .preprocessing import preprocess
from .scoring import predict_proba, score

__version__ = "0.1.0.dev0"

__all__ = [
    "ANNOTATION_DESCRIPTIONS",
    "STAGES",
    "YASA_STAGES",
    "ModelCard",
    "MouseSleepModel",
    "datasets",
    "get_model_card",
    "list_models",
    "load_model",
    "predict_proba",
    "preprocess",
    "proba_to_stages",
    "score",
    "to_annotations",
    "to_hypnogram",
]
