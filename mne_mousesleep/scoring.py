"""Scoring a Raw: per-epoch probabilities and annotations."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.utils import _validate_type, logger, verbose

from ._docs import fill_doc
from .emg import _apply_atonia, _check_emg, emg_power
from .hypnogram import to_annotations
from .models import load_model
from .models._registry import MODELS
from .preprocessing import _get_card, _preprocess


def _epochs_and_signal(model, data):
    card = model.card
    n_epoch = round(card.epoch_length * card.sfreq)
    n_epochs = data.shape[1] // n_epoch
    x = data[:, : n_epochs * n_epoch].astype(np.float32, copy=False)
    return n_epoch, n_epochs, np.ascontiguousarray(x)


def _window_proba(model, data, batch_size, exits=None):
    """Probabilities of every epoch of a preprocessed signal.

    ``data`` is ``(n_channels, n_times)`` at the model's rate. Returns
    ``(n_epochs, n_classes)``, NaN for epochs without full context. The
    convolutions run once over the recording, in chunks of at most
    ``batch_size`` epochs (see
    :func:`~mne_mousesleep.models._grieger2021.recording_log_proba`).
    """
    if not model._convolves_once:
        return _per_window_proba(model, data, batch_size, exits)
    _, n_epochs, x = _epochs_and_signal(model, data)
    n_ctx = model.card.n_context
    proba = np.full((n_epochs, model.card.n_classes), np.nan)
    proba[n_ctx : n_epochs - n_ctx] = model._predict_recording(x, batch_size)
    return proba


def _per_window_proba(model, data, batch_size, exits=None):
    """Like :func:`_window_proba`, classifying each 30-s window separately.

    This is how the published code computes it (each window convolved on its
    own; its evaluation script uses batches of 512 windows, 32 are about twice
    as fast on a 2-core CPU); kept as the reference for tests and benchmarks.
    For a multi-exit network, the exit of each window is appended to the list
    ``exits``.
    """
    n_epoch, n_epochs, x = _epochs_and_signal(model, data)
    n_ctx = model.card.n_context
    n_window = (2 * n_ctx + 1) * n_epoch
    # (n_channels, n_epochs - 2 * n_ctx, n_window): window of epoch k starts
    # at epoch k - n_ctx.
    windows = np.lib.stride_tricks.sliding_window_view(x, n_window, axis=-1)[
        :, ::n_epoch
    ]
    proba = np.full((n_epochs, model.card.n_classes), np.nan)
    for start in range(0, windows.shape[1], batch_size):
        batch = np.ascontiguousarray(
            windows[:, start : start + batch_size].transpose(1, 0, 2)
        )
        proba[n_ctx + start : n_ctx + start + len(batch)] = model._predict_windows(
            batch, exits
        )
    return proba


@verbose
@fill_doc
def predict_proba(
    raw, picks=None, *, model=None, emg=None, batch_size=32, verbose=None
):
    """Compute the probability of each stage for every 10-s epoch.

    Parameters
    ----------
    raw : instance of Raw
        The recording, in volts (MNE's unit). It is not modified; with
        ``preload=False`` only the picked channels are read.
    %(picks_score)s
    %(model)s
    %(emg)s
    %(batch_size)s
    %(verbose)s

    Returns
    -------
    proba : pandas.DataFrame, shape (n_epochs, n_classes)
        One row per full epoch, one column per class in the model's output
        order (e.g. ``Wake, REM, NREM, pre-REM, artifact``). The index
        (``"onset"``) is the epoch onset in seconds from the first sample
        (the time axis of ``raw.times``). Rows of unscored epochs are NaN.
        ``proba.attrs`` holds ``"model"``, ``"meas_date"``, ``"first_time"``
        (s), ``"epoch_length"`` (s), ``"ch_names"`` and ``"sfreq"`` (Hz, of
        ``raw``), used by :func:`to_annotations` and :func:`to_hypnogram`;
        with ``emg``, ``"emg_atonia"``; for a multi-exit network,
        ``"exit_fractions"`` (the share of epochs leaving at each exit).

    Raises
    ------
    TypeError
        If ``raw`` is not a Raw.
    ValueError
        If channels cannot be picked or their number does not fit the model,
        if the sampling rate is below 64 Hz, if the recording is shorter than
        three epochs, or if the picked data contain NaN or infinite values.

    Warns
    -----
    RuntimeWarning
        If the amplitude is far from the training data (see
        :func:`preprocess`).

    Notes
    -----
    %(edges)s

    The signal is preprocessed with :func:`preprocess` and each 30-s window
    is classified by the network of Grieger et al. (2021) [1]_.

    References
    ----------
    %(ref_grieger2021)s
    """
    _validate_type(raw, BaseRaw, "raw")
    _validate_type(batch_size, "int", "batch_size")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    if emg is not None:
        _check_emg(raw, emg)  # before the scoring, which takes time
    if not (model is None or (isinstance(model, str) and model in MODELS)):
        model = load_model(model)  # local file or model object: no download
    # Registry weights are downloaded only once the input has been checked.
    data, ch_names = _preprocess(raw, picks, _get_card(model), dtype=np.float32)
    model = load_model(model)
    card = model.card
    exits = []
    proba = _window_proba(model, data, batch_size, exits)
    onsets = np.arange(len(proba)) * card.epoch_length
    df = pd.DataFrame(
        proba, columns=list(card.classes), index=pd.Index(onsets, name="onset")
    )
    df.attrs = dict(
        model=card.name,
        meas_date=raw.info["meas_date"],
        first_time=raw.first_samp / raw.info["sfreq"],
        epoch_length=card.epoch_length,
        ch_names=ch_names,
        sfreq=raw.info["sfreq"],
    )
    logger.info(
        f"Scored {len(df) - 2 * card.n_context} of {len(df)} epochs with {card.name}"
    )
    if exits:  # a multi-exit network: the share of epochs leaving at each exit
        counts = np.bincount(np.concatenate(exits), minlength=3)
        df.attrs["exit_fractions"] = [float(c) for c in counts / counts.sum()]
        shares = ", ".join(f"{f:.1%}" for f in df.attrs["exit_fractions"])
        logger.info(f"Exits 1, 2, 3 (threshold {model.exit_threshold:g}): {shares}")
    if emg is not None:
        log_power = emg_power(raw, emg, epoch_length=card.epoch_length)
        info = _apply_atonia(df, log_power)
        df.attrs["emg_atonia"] = dict(channel=emg, **info)
        if info["informative"]:
            logger.info(
                f"EMG atonia ({emg}): {info['n_changed']} REM/pre-REM epochs with "
                f"high EMG moved to Wake ({info['n_high']} high-EMG epochs)"
            )
        else:
            logger.info(f"EMG atonia ({emg}): no change, {info['reason']}")
    return df


@verbose
@fill_doc
def score(
    raw,
    picks=None,
    *,
    model=None,
    emg=None,
    merge_bouts=False,
    batch_size=32,
    verbose=None,
):
    """Score the sleep stages of a recording in 10-s epochs.

    Parameters
    ----------
    raw : instance of Raw
        The recording, in volts (MNE's unit). It is not modified.
    %(picks_score)s
    %(model)s
    %(emg)s
    %(merge_bouts)s
    %(batch_size)s
    %(verbose)s

    Returns
    -------
    annotations : mne.Annotations
        One annotation per epoch (or bout) described ``"Sleep stage W"``,
        ``"Sleep stage NREM"``, ``"Sleep stage pre-REM"``, ``"Sleep stage R"``,
        ``"BAD_artifact"`` (rejected by MNE's epoching by default) or
        ``"Sleep stage ?"`` (unscored). ``orig_time`` is the Raw's
        ``meas_date``, so ``raw.set_annotations(raw.annotations + annotations)``
        places them correctly.

    Raises
    ------
    TypeError
        If ``raw`` is not a Raw.
    ValueError
        See :func:`predict_proba`.

    See Also
    --------
    predict_proba : The probabilities behind the scores.
    to_hypnogram : The scores as a :class:`yasa.Hypnogram`.

    Notes
    -----
    %(edges)s

    References
    ----------
    %(ref_grieger2021)s

    Examples
    --------
    >>> annot = score(raw, picks="EEG_P")  # doctest: +SKIP
    >>> raw.set_annotations(raw.annotations + annot)  # doctest: +SKIP
    """
    proba = predict_proba(raw, picks, model=model, emg=emg, batch_size=batch_size)
    return to_annotations(proba, merge_bouts=merge_bouts)
