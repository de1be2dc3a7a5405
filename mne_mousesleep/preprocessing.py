"""Channel picking and the published preprocessing (low-pass, 64 Hz)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import re

import numpy as np
from mne._fiff.pick import _picks_to_idx
from mne.io import BaseRaw
from mne.utils import _validate_type, logger, verbose, warn
from scipy.signal import butter, sosfiltfilt
from scipy.stats import median_abs_deviation

from ._docs import fill_doc
from .models import DEFAULT_MODEL, MouseSleepModel, get_model_card, load_model
from .models._registry import MODELS

#: Cut-off (Hz) and order of the published low-pass Butterworth filter.
LOWPASS_FREQ, LOWPASS_ORDER = 25.6, 2
#: Robust standard deviation (in mV) outside which the input is far from the
#: training data (about 0.1 mV), e.g. because of wrong units.
AMPLITUDE_RANGE_MV = (0.01, 1.0)

_PARIETAL = re.compile(
    r"(^|[^a-z])(eeg[\s_-]?)?(p|pr|pl|pz|par|parietal)([^a-z]|$)", re.I
)
_NOT_EEG = ("emg", "eog", "ecg", "stim", "resp", "syst")


def _get_card(model):
    """Return the model card without downloading weights when possible."""
    if model is None:
        return get_model_card(DEFAULT_MODEL)
    if isinstance(model, str) and model in MODELS:
        return get_model_card(model)
    if isinstance(model, MouseSleepModel):
        return model.card
    return load_model(model).card


def _find_parietal(raw):
    types = raw.get_channel_types()
    bads = set(raw.info["bads"])
    return [
        ii
        for ii, (name, kind) in enumerate(zip(raw.ch_names, types))
        if kind not in _NOT_EEG and name not in bads and _PARIETAL.search(name)
    ]


def _pick_for_model(raw, picks, card):
    """Return the indices of the channels to give the network, in input order."""
    n_needed = card.n_channels
    if picks is None:
        if n_needed == 1:
            idx = _find_parietal(raw)
            if len(idx) != 1:
                found = [raw.ch_names[ii] for ii in idx] or "none"
                raise ValueError(
                    f"picks=None looks for exactly one parietal EEG channel by name, "
                    f"found {found} among {raw.ch_names}. Pass picks, e.g. "
                    f"picks={raw.ch_names[idx[0] if idx else 0]!r}."
                )
            return idx
        lower = [name.lower() for name in raw.ch_names]
        missing = [n for n in card.default_ch_names if n.lower() not in lower]
        if missing or not card.default_ch_names:
            raise ValueError(
                f"Model {card.name} needs {n_needed} channels "
                f"({', '.join(card.channels)}), in this order; picks=None looks "
                f"for channels named {list(card.default_ch_names)} and did not find "
                f"{missing or 'names'} among {raw.ch_names}. Pass picks."
            )
        return [lower.index(n.lower()) for n in card.default_ch_names]
    try:
        idx = _picks_to_idx(raw.info, picks, none="all", exclude=(), allow_empty=False)
    except ValueError as err:
        raise ValueError(
            f"picks={picks!r} does not match the channels of the recording "
            f"{raw.ch_names}: {err}"
        ) from None
    idx = list(idx)
    if len(idx) != n_needed:
        names = [raw.ch_names[ii] for ii in idx]
        raise ValueError(
            f"Model {card.name} needs {n_needed} input channel"
            f"{'s' if n_needed > 1 else ''} ({', '.join(card.channels)}), but "
            f"picks={picks!r} selected {len(idx)}: {names}."
        )
    return idx


def _lowpass_resample(data, sfreq, sfreq_new):
    """Low-pass forward-backward and resample by linear interpolation.

    ``data`` is ``(n_channels, n_times)``; the result has
    ``round(n_times / sfreq * sfreq_new)`` samples.
    """
    sos = butter(LOWPASS_ORDER, LOWPASS_FREQ, btype="lowpass", fs=sfreq, output="sos")
    filtered = sosfiltfilt(sos, data, axis=-1, padtype="constant")
    n_times = data.shape[-1]
    n_new = round(n_times / sfreq * sfreq_new)
    t_old = np.linspace(0, n_times / sfreq, n_times)
    t_new = np.linspace(0, n_new / sfreq_new, n_new)
    return np.stack([np.interp(t_new, t_old, x) for x in filtered])


@verbose
@fill_doc
def preprocess(raw, picks=None, *, model=None, verbose=None):
    """Apply the published preprocessing to the channels a model needs.

    The picked channels are converted from volts to millivolts, low-passed
    with a Butterworth filter of order 2 at 25.6 Hz applied forward and
    backward (:func:`scipy.signal.sosfiltfilt`, constant padding), and
    resampled to 64 Hz by linear interpolation from
    ``linspace(0, n / sfreq, n)`` onto ``linspace(0, m / 64, m)`` with
    ``m = round(n / sfreq * 64)`` (Grieger et al. 2021).

    Parameters
    ----------
    raw : instance of Raw
        The recording, in volts. It is not modified.
    %(picks_score)s
    %(model)s
        Only its card (channels, sampling rate) is used here.
    %(verbose)s

    Returns
    -------
    data : array of float, shape (n_channels, n_times)
        The signal in millivolts at the model's sampling rate (64 Hz).

    Raises
    ------
    TypeError
        If ``raw`` is not a Raw.
    ValueError
        If the channels cannot be picked or their number does not fit the
        model, if the sampling rate is below 64 Hz, if the recording is
        shorter than three epochs (30 s), or if the picked data contain NaN or
        infinite values.

    Warns
    -----
    RuntimeWarning
        If the robust standard deviation of a channel is outside 0.01–1 mV,
        far from the training data (about 0.1 mV); often a sign of wrong units
        (e.g. microvolts stored as volts).

    References
    ----------
    %(ref_grieger2021)s
    """
    data, _ = _preprocess(raw, picks, _get_card(model))
    return data


def _preprocess(raw, picks, card):
    """Return the 64-Hz signal in mV and the picked channel names."""
    _validate_type(raw, BaseRaw, "raw")
    sfreq = raw.info["sfreq"]
    if sfreq < card.sfreq:
        raise ValueError(
            f"The sampling rate of raw is {sfreq:g} Hz; scoring needs at least "
            f"{card.sfreq:g} Hz."
        )
    idx = _pick_for_model(raw, picks, card)
    ch_names = [raw.ch_names[ii] for ii in idx]
    min_duration = card.epoch_length * (2 * card.n_context + 1)
    if raw.n_times / sfreq < min_duration:
        raise ValueError(
            f"The recording lasts {raw.n_times / sfreq:g} s; scoring needs at "
            f"least {2 * card.n_context + 1} epochs of {card.epoch_length:g} s "
            f"({min_duration:g} s)."
        )
    logger.info(f"Scoring from channel(s) {ch_names} at {sfreq:g} Hz")
    data = raw.get_data(picks=idx, reject_by_annotation=None)
    data *= 1e3  # V -> mV (get_data returns a copy)
    finite = np.isfinite(data)
    if not finite.all():
        bad = {ch_names[ii]: int((~finite[ii]).sum()) for ii in range(len(idx))}
        raise ValueError(
            "The picked data contain NaN or infinite values (samples per "
            f"channel: {bad}); interpolate or crop them before scoring."
        )
    data = _lowpass_resample(data, sfreq, card.sfreq)
    n_epoch_samples = round(card.epoch_length * card.sfreq)
    if data.shape[1] // n_epoch_samples < 2 * card.n_context + 1:
        raise ValueError(
            f"The recording holds fewer than {2 * card.n_context + 1} full epochs "
            f"of {card.epoch_length:g} s after resampling to {card.sfreq:g} Hz."
        )
    scale = median_abs_deviation(data, axis=-1, scale="normal")
    lo, hi = AMPLITUDE_RANGE_MV
    for name, value in zip(ch_names, scale):
        if not lo <= value <= hi:
            warn(
                f"Channel {name} has a robust standard deviation of {value:.3g} mV "
                f"(after the low-pass), far from the training data of the model "
                f"(about 0.1 mV; expected {lo}–{hi} mV). Check the units: the Raw "
                "must hold volts.",
                RuntimeWarning,
            )
    return data, ch_names
