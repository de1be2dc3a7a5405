"""Automated sleep scoring of mouse EEG for MNE-Python and YASA."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import lazy_loader as _lazy

# Submodules load on first use, so that `import mne_mousesleep` and the
# command line's --help are quick (torch is imported only when needed).
__getattr__, __dir__, _ = _lazy.attach(
    __name__,
    submodules=["datasets", "live"],
    submod_attrs={
        "batch": [
            "score_files",
            "stage_summary",
        ],
        "evaluation": [
            "Evaluation",
            "evaluate",
        ],
        "hypnogram": [
            "ANNOTATION_DESCRIPTIONS",
            "STAGE_CODES",
            "STAGES",
            "YASA_STAGES",
            "proba_to_stages",
            "to_annotations",
            "to_codes",
            "to_epoch_length",
            "to_hypnogram",
            "to_stages",
        ],
        "live": [
            "Decision",
            "OnlineScorer",
        ],
        "io": [
            "read_layout",
            "read_scoring",
            "scoring_formats",
            "write_scoring",
        ],
        "models": [
            "ModelCard",
            "MouseSleepModel",
            "get_model_card",
            "list_models",
            "load_model",
        ],
        "gui": [
            "review",
        ],
        "report": [
            "report",
            "study_report",
        ],
        "triage": [
            "confidence",
            "review_list",
        ],
        "scoring": [
            "ScoringOptions",
            "ScoringResult",
            "predict_proba",
            "score",
        ],
        "scoring.animals": [
            "find_animals",
            "read_layout",
            "score_animals",
        ],
        "scoring.emg": [
            "emg_power",
        ],
        "scoring.gain": [
            "estimate_gain",
        ],
        "scoring.hmm": [
            "mouse_transition_prior",
        ],
        "_architecture": [
            "architecture_prior",
        ],
        "scoring.preprocessing": [
            "preprocess",
        ],
        "scoring.quality": [
            "describe_quality",
        ],
        "spindles": [
            "detect_spindles",
            "stages_per_sample",
        ],
        "stats": [
            "hourly_statistics",
            "phase_statistics",
            "sleep_statistics",
            "smooth_min_bout",
            "transition_matrix",
        ],
        "training": [
            "cross_validate",
            "fine_tune",
            "train",
        ],
        "viz": [
            "plot_confusion_matrix",
            "plot_hourly",
            "plot_hypnogram",
            "plot_transition_matrix",
        ],
    },
)

from ._version import __version__  # noqa: E402, F401

__all__ = [
    "ANNOTATION_DESCRIPTIONS",
    "architecture_prior",
    "describe_quality",
    "STAGE_CODES",
    "STAGES",
    "YASA_STAGES",
    "confidence",
    "cross_validate",
    "datasets",
    "Decision",
    "detect_spindles",
    "emg_power",
    "estimate_gain",
    "evaluate",
    "Evaluation",
    "find_animals",
    "fine_tune",
    "get_model_card",
    "hourly_statistics",
    "list_models",
    "live",
    "load_model",
    "ModelCard",
    "MouseSleepModel",
    "mouse_transition_prior",
    "OnlineScorer",
    "phase_statistics",
    "plot_confusion_matrix",
    "plot_hourly",
    "plot_hypnogram",
    "plot_transition_matrix",
    "predict_proba",
    "preprocess",
    "proba_to_stages",
    "read_layout",
    "read_scoring",
    "report",
    "review",
    "review_list",
    "score",
    "score_animals",
    "ScoringOptions",
    "ScoringResult",
    "scoring_formats",
    "score_files",
    "sleep_statistics",
    "smooth_min_bout",
    "stage_summary",
    "stages_per_sample",
    "study_report",
    "to_annotations",
    "to_codes",
    "to_epoch_length",
    "to_hypnogram",
    "to_stages",
    "train",
    "transition_matrix",
    "write_scoring",
]
