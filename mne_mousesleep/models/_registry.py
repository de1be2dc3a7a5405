"""Registry of the published networks: one row per name, its card and weight file."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from typing import NamedTuple

from .._fetch import REGISTRY as _FILES
from .._stages import ARTIFACT, NREM, PRE_REM, REM, WAKE
from ._card import ModelCard


class Entry(NamedTuple):
    """One registered model: the key of its weight file and its model card."""

    #: Key of the weight file in the download registry (:data:`_fetch.REGISTRY`).
    weights: str
    #: The model card (the architecture the loader builds, its inputs, classes).
    card: ModelCard


CITATION_GRIEGER2021 = (
    "Grieger N, Schwabedal JTC, Wendel S, Ritze Y, Bialonski S (2021). Automated "
    "scoring of pre-REM sleep in mice with deep learning. Scientific Reports 11, "
    "12245. doi:10.1038/s41598-021-91286-0"
)
CITATION_AKADA2021 = (
    "Akada K, Yagi T, Miura Y, Beuckmann CT, Koyama N, Aoshima K (2021). A deep "
    "learning algorithm for sleep stage scoring in mice based on a multimodal "
    "network with fine-tuning technique. Neuroscience Research 173, 99-105. "
    "doi:10.1016/j.neures.2021.07.003"
)
CITATION_JHA2024 = (
    "Jha PK, Valekunja UK, Reddy AB (2024). SlumberNet: deep learning "
    "classification of sleep stages using residual neural networks. Scientific "
    "Reports 14, 4797. doi:10.1038/s41598-024-54727-0"
)
CITATION_WANG2023 = (
    "Wang W, Xiao Q, Xue J, Hu Z (2023). DynamicSleepNet: a multi-exit "
    "neural network with adaptive inference time for sleep stage classification. "
    "Frontiers in Physiology 14, 1171467. doi:10.3389/fphys.2023.1171467"
)
#: The publication behind each architecture name.
CITATIONS = {
    "3conv_pool": CITATION_GRIEGER2021,
    "8conv_2fc": CITATION_GRIEGER2021,
    "akada-rule": CITATION_AKADA2021,
    "akada-stacking": CITATION_AKADA2021,
    "akada-multimodal": CITATION_AKADA2021,
    "resnet": CITATION_JHA2024,
    "multiexit": CITATION_WANG2023,
}
_TRAINING = (
    "18 male C57BL/6J mice (Tübingen), 14 train / 2 validation / 2 test animals, "
    "expert-scored 10-s epochs; EEG sampled at 992.06 Hz, low-passed and resampled "
    "to 64 Hz"
)
_CLASSES_5 = (WAKE, REM, NREM, PRE_REM, ARTIFACT)
_CLASSES_3 = (WAKE, REM, NREM)
_THREE_CLASS_NOTE = "; pre-REM relabelled as NREM and artifact epochs dropped"

#: Name of the model used when ``model=None``.
DEFAULT_MODEL = "grieger2021-5stage"


#: Frequency bands (Hz) of the spectral shape of an epoch in the gain models
#: of the cards (see :mod:`mne_mousesleep.scoring.gain`).
GAIN_BANDS = ((0.5, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 9.0), (9.0, 12.0),
              (12.0, 16.0), (16.0, 25.0))  # fmt: skip

#: Gain model of one EEG channel at the published networks' scale (see
#: :mod:`mne_mousesleep.scoring.gain`), fitted by ``benchmarks/calibrate_gain_model.py``
#: on the simulated reference lab, whose gain 1 the published networks score
#: best.
_GAIN_EEG = dict(
    coef=[
        -1.15119,
        -1.09327,
        -0.73525,
        -1.34868,
        -0.31165,
        -0.67827,
        -2.20168,
        -0.19768,
        -0.17657,
        -0.09589,
        -0.14178,
        -0.01685,
        -0.08341,
        -0.21242,
    ],
    intercept=-17.05547,
)


def _gain_model(channels):
    return dict(
        bands=[list(b) for b in GAIN_BANDS],
        channels=[None if c == "EMG" else _GAIN_EEG for c in channels],
        reference=(
            "simulated reference lab at the published networks' scale "
            "(benchmarks/calibrate_gain_model.py)"
        ),
    )


def _grieger_card(name, key, classes, channels, ch_names, training, metrics):
    entry = _FILES[key]
    return ModelCard(
        name=name,
        classes=classes,
        channels=channels,
        default_ch_names=ch_names,
        source=entry["url"],
        license="Apache-2.0",
        citation=CITATION_GRIEGER2021,
        training=f"{_TRAINING}; {training}",
        metrics=metrics,
        sha256=entry["sha256"],
        details={"gain_model": _gain_model(channels)},
    )


_PARIETAL = ("parietal EEG",)
_EEG_PR = ("EEG_PR",)

# name -> Entry(weight file key, model card)
MODELS = {
    "grieger2021-5stage": Entry(
        "grieger2021_exp005e",
        _grieger_card(
            "grieger2021-5stage",
            "grieger2021_exp005e",
            _CLASSES_5,
            _PARIETAL,
            _EEG_PR,
            "exp005e, no class rebalancing",
            {
                "test mean F1": 0.779,
                "test F1 Wake": 0.969,
                "test F1 REM": 0.913,
                "test F1 NREM": 0.952,
                "test F1 pre-REM": 0.552,
                "test F1 artifact": 0.508,
                "validation mean F1": 0.807,
            },
        ),
    ),
    "grieger2021-5stage-balanced": Entry(
        "grieger2021_exp001b",
        _grieger_card(
            "grieger2021-5stage-balanced",
            "grieger2021_exp001b",
            _CLASSES_5,
            _PARIETAL,
            _EEG_PR,
            "exp001b, classes rebalanced during training",
            {
                "test mean F1": 0.760,
                "test F1 pre-REM": 0.463,
                "test F1 artifact": 0.542,
                "validation mean F1": 0.778,
            },
        ),
    ),
    "grieger2021-3stage": Entry(
        "grieger2021_exp005f",
        _grieger_card(
            "grieger2021-3stage",
            "grieger2021_exp005f",
            _CLASSES_3,
            _PARIETAL,
            _EEG_PR,
            "exp005f, no class rebalancing" + _THREE_CLASS_NOTE,
            {
                "test mean F1": 0.948,
                "test F1 Wake": 0.969,
                "test F1 REM": 0.917,
                "test F1 NREM": 0.957,
                "validation mean F1": 0.949,
            },
        ),
    ),
    "grieger2021-3stage-balanced": Entry(
        "grieger2021_exp002b",
        _grieger_card(
            "grieger2021-3stage-balanced",
            "grieger2021_exp002b",
            _CLASSES_3,
            _PARIETAL,
            _EEG_PR,
            "exp002b, classes rebalanced during training" + _THREE_CLASS_NOTE,
            {"test mean F1": 0.938, "validation mean F1": 0.948},
        ),
    ),
    "grieger2021-3stage-eeg3-emg": Entry(
        "grieger2021_exp004b",
        _grieger_card(
            "grieger2021-3stage-eeg3-emg",
            "grieger2021_exp004b",
            _CLASSES_3,
            ("frontal EEG", "parietal-right EEG", "parietal-left EEG", "EMG"),
            ("EEG_FR", "EEG_PR", "EEG_PL", "EMG"),
            "exp004b, classes rebalanced during training" + _THREE_CLASS_NOTE,
            {"validation mean F1 (no test figure published)": 0.914},
        ),
    ),
}


def list_models():
    """List the names of the registered (published) models.

    Returns
    -------
    names : list of str
        Registry names, the default (``"grieger2021-5stage"``) first.

    See Also
    --------
    get_model_card : The model card of a registered model.
    """
    return [DEFAULT_MODEL] + [name for name in MODELS if name != DEFAULT_MODEL]


def get_model_card(name):
    """Return the model card of a registered model, without downloading it.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.

    Returns
    -------
    card : ModelCard
        Classes in output order, input channels, sampling rate (Hz), epoch
        length (s), context, input unit, source, license, citation and
        published metrics. ``print(card)`` shows it as a table.

    Raises
    ------
    ValueError
        If ``name`` is not a registered model.
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {list_models()}, got {name!r}.")
    return MODELS[name].card
