"""Automated sleep scoring of mouse EEG for MNE-Python and YASA."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from . import datasets
from .batch import score_files, stage_summary
from .emg import emg_power
from .evaluation import Evaluation, evaluate
from .hypnogram import (
    ANNOTATION_DESCRIPTIONS,
    STAGE_CODES,
    STAGES,
    YASA_STAGES,
    proba_to_stages,
    to_annotations,
    to_codes,
    to_hypnogram,
    to_stages,
)
from .io import read_scoring
from .models import ModelCard, MouseSleepModel, get_model_card, list_models, load_model
from .preprocessing import preprocess
from .review import confidence, review_list
from .scoring import predict_proba, score
from .spindles import detect_spindles, stages_per_sample
from .stats import (
    hourly_statistics,
    phase_statistics,
    sleep_statistics,
    smooth_min_bout,
    transition_matrix,
)
from .training import cross_validate, train
from .viz import (
    plot_confusion_matrix,
    plot_hourly,
    plot_hypnogram,
    plot_transition_matrix,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ANNOTATION_DESCRIPTIONS",
    "STAGE_CODES",
    "STAGES",
    "YASA_STAGES",
    "confidence",
    "cross_validate",
    "datasets",
    "detect_spindles",
    "emg_power",
    "evaluate",
    "Evaluation",
    "get_model_card",
    "hourly_statistics",
    "list_models",
    "load_model",
    "ModelCard",
    "MouseSleepModel",
    "phase_statistics",
    "plot_confusion_matrix",
    "plot_hourly",
    "plot_hypnogram",
    "plot_transition_matrix",
    "predict_proba",
    "preprocess",
    "proba_to_stages",
    "read_scoring",
    "review_list",
    "score",
    "score_files",
    "sleep_statistics",
    "smooth_min_bout",
    "stage_summary",
    "stages_per_sample",
    "to_annotations",
    "to_codes",
    "to_hypnogram",
    "to_stages",
    "train",
    "transition_matrix",
]
