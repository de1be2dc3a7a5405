"""Scoring a Raw: per-epoch probabilities and annotations."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.utils import _validate_type, logger, verbose

from ._device import _resolve_device
from ._docs import fill_doc
from .adapt import _apply_gain, _check_adapt
from .emg import _apply_atonia, _check_emg, _find_emg, emg_power
from .hypnogram import proba_to_stages, to_annotations
from .models import load_model
from .models._registry import MODELS
from .preprocessing import _get_card, _preprocess
from .quality import NO_CONTEXT
from .smoothing import _apply_hmm, _check_smooth
from .trust import judge


def _resolve_emg(raw, emg):
    """Return ``(channel or None, note)`` for the ``emg`` argument."""
    if emg is None:
        return None, "emg=None"
    if isinstance(emg, str) and emg == "auto":
        name, note = _find_emg(raw)
        if name is not None:
            logger.info(f"EMG step: using {name} (emg='auto'; emg=None turns it off)")
        else:
            logger.info(f"EMG step: off, {note}")
        return name, note
    _check_emg(raw, emg)
    return emg, "given"


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


def _per_window_proba(model, data, batch_size, exits=None, device=None):
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
    network = model._network_on(device)
    for start in range(0, windows.shape[1], batch_size):
        batch = np.ascontiguousarray(
            windows[:, start : start + batch_size].transpose(1, 0, 2)
        )
        proba[n_ctx + start : n_ctx + start + len(batch)] = model._predict_windows(
            batch, exits, network=network
        )
    return proba


@verbose
@fill_doc
def predict_proba(
    raw,
    picks=None,
    *,
    model=None,
    adapt="gain",
    emg="auto",
    smooth="hmm",
    batch_size=32,
    reject_by_annotation=True,
    check_units=True,
    device="auto",
    verbose=None,
):
    """Compute the probability of each stage for every 10-s epoch.

    Parameters
    ----------
    raw : instance of Raw
        The recording, in volts (MNE's unit). It is not modified; with
        ``preload=False`` only the picked channels are read.
    %(picks_score)s
    %(model)s
    %(adapt)s
    %(emg)s
    %(smooth)s
    %(batch_size)s
    %(reject_by_annotation)s
    %(check_units)s
    %(device)s
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
        ``"adapt"`` (the gain step: ``"gain"`` applied per channel),
        ``"emg_atonia"`` (the EMG step: channel, fit, ``"n_changed"`` per
        stage, ``"rem_on_awake_emg"``), ``"hmm"`` (with ``smooth``: the
        transition matrix, ``"n_changed"`` and the Viterbi ``"path"``),
        ``"trust"`` (the verdict ``"ok"``, ``"review"`` or ``"unreliable"``
        with its ``"reasons"``, ``"notes"`` and ``"indicators"``; see the docs
        page "Scoring recordings from another lab"); for a multi-exit network,
        ``"exit_fractions"`` (the share of epochs leaving at each exit).
        ``"quality"`` is the input-quality record, a dict of plain values
        (JSON-ready): ``"amplitude_mv"`` (robust standard deviation per
        channel after the low-pass, mV, against ``"typical_mv"`` of the
        training data; their ratio in ``"amplitude_ratio"``),
        ``"likely_unit_error"``, ``"sfreq"`` and
        ``"model_sfreq"`` (Hz), ``"bad_segments"`` (``onset`` and
        ``duration`` in s from the first sample, ``reason``, ``channel``),
        ``"bad_seconds"`` per reason, ``"warnings"`` (also emitted as
        warnings, but kept here whatever the log level),
        ``"reader_warnings"`` (filled by the command line and the batch),
        ``"n_epochs"``, ``"n_unscored"``, ``"unscored_reasons"`` (epochs per
        reason) and ``"unscored_epochs"`` (``[onset, reason]`` of every
        unscored epoch).

    Raises
    ------
    TypeError
        If ``raw`` is not a Raw.
    ValueError
        If channels cannot be picked (names or indices not in the Raw) or
        their number does not fit the model, if the sampling rate is below
        64 Hz, if the recording is shorter than three epochs, if the
        amplitude looks like a unit error (see ``check_units``), or if no
        epoch can be scored (every window touches bad data, e.g. a flat
        channel; the message says which and where).

    Warns
    -----
    RuntimeWarning
        If the amplitude is far from the training data (see
        :func:`preprocess`), or if a channel of ``info["bads"]`` is picked.

    Notes
    -----
    %(edges)s

    ``adapt=None, emg=None, smooth=None`` is the published method of Grieger
    et al. (2021) [1]_ exactly. The defaults add three steps for recordings
    from other labs (their effect is measured in
    ``benchmarks/bench_cross_lab.py``): the gain step before the network, then
    the EMG rules and the hidden Markov model on its probabilities.

    Bad stretches of the picked channels do not stop the scoring. NaN or
    infinite samples (:func:`mne.preprocessing.annotate_nan`), extreme values
    (further than 10,000 robust standard deviations from the median, or
    beyond 1e6), flat or clipped signal (consecutive samples within 1/1000 of
    a robust standard deviation for at least 1 s,
    :func:`mne.preprocessing.annotate_amplitude`) and, with
    ``reject_by_annotation``, ``BAD_*`` annotations are found chunk by chunk.
    Every epoch whose 30-s window comes within the reach of the low-pass
    filter (a fraction of a second) of such a stretch is left unscored (NaN,
    ``"Sleep stage ?"``), with its reason in the quality record; the other
    epochs get the probabilities they would have in a clean recording.

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
    _check_adapt(adapt)
    device = _resolve_device(device)
    # The EMG channel and the transition matrix are checked before the
    # scoring, which takes time.
    emg, emg_note = _resolve_emg(raw, emg)
    if not (model is None or (isinstance(model, str) and model in MODELS)):
        model = load_model(model)  # local file or model object: no download
    card = _get_card(model)
    trans = _check_smooth(smooth, card.classes, card.epoch_length)
    # Registry weights are downloaded only once the input has been checked.
    data, ch_names, quality = _preprocess(
        raw,
        picks,
        card,
        dtype=np.float32,
        reject_by_annotation=reject_by_annotation,
        check_units=check_units,
    )
    reasons = quality.pop("unscorable")
    n_epoch_samples = round(card.epoch_length * card.sfreq)
    keep = np.ones(data.shape[1] // n_epoch_samples, bool)
    keep[sorted(reasons)] = False
    if adapt == "gain":
        adapt_record = _apply_gain(data, card, keep)
    else:
        adapt_record = dict(applied=False, reason="adapt=None")
    model = load_model(model)
    exits = []
    if device.type == "cpu":
        proba = _window_proba(model, data, batch_size, exits)
    else:  # each window on the device (the fast path is for CPUs)
        proba = _per_window_proba(model, data, batch_size, exits, device=device)
    proba[sorted(reasons)] = np.nan
    for k in (*range(card.n_context), *range(len(proba) - card.n_context, len(proba))):
        reasons.setdefault(k, set()).add(NO_CONTEXT)
    onsets = np.arange(len(proba)) * card.epoch_length
    df = pd.DataFrame(
        proba, columns=list(card.classes), index=pd.Index(onsets, name="onset")
    )
    unscored = [
        [float(onsets[k]), "; ".join(sorted(reasons[k]))] for k in sorted(reasons)
    ]
    counts = {}
    for k in sorted(reasons):
        for reason in sorted(reasons[k]):
            counts[reason] = counts.get(reason, 0) + 1
    quality.update(
        n_epochs=len(df),
        n_unscored=len(unscored),
        unscored_reasons=counts,
        unscored_epochs=unscored,
    )
    df.attrs = dict(
        model=card.name,
        meas_date=raw.info["meas_date"],
        first_time=raw.first_samp / raw.info["sfreq"],
        epoch_length=card.epoch_length,
        ch_names=ch_names,
        sfreq=raw.info["sfreq"],
        quality=quality,
        adapt=adapt_record,
    )
    logger.info(
        f"Scored {len(df) - len(unscored)} of {len(df)} epochs with {card.name}"
    )
    bad = {r: n for r, n in counts.items() if r != NO_CONTEXT}
    if bad:
        logger.warning(
            "Unscored epochs (bad data): "
            + "; ".join(f"{r}: {n}" for r, n in bad.items())
        )
    if exits:  # a multi-exit network: the share of epochs leaving at each exit
        counts = np.bincount(np.concatenate(exits), minlength=3)
        df.attrs["exit_fractions"] = [float(c) for c in counts / counts.sum()]
        shares = ", ".join(f"{f:.1%}" for f in df.attrs["exit_fractions"])
        logger.info(f"Exits 1, 2, 3 (threshold {model.exit_threshold:g}): {shares}")
    # The network's own calls, before the EMG rules and the HMM (for the verdict).
    network_labels = np.asarray(proba_to_stages(df).astype(str))
    if emg is not None:
        log_power = emg_power(raw, emg, epoch_length=card.epoch_length)
        info = _apply_atonia(df, log_power)
        emg_record = dict(channel=emg, **info)
        if info["informative"]:
            moved = ", ".join(f"{n} {s}" for s, n in info["n_changed"].items() if n)
            logger.info(
                f"EMG step ({emg}): {moved or 'no'} epochs on awake-level EMG "
                f"moved to Wake ({info['n_high']} awake-level epochs)"
            )
        else:
            logger.info(f"EMG step ({emg}): no change, {info['reason']}")
    else:
        emg_record = dict(channel=None, informative=False, reason=emg_note)
    df.attrs["emg_atonia"] = emg_record
    if trans is not None:
        hmm = _apply_hmm(df, trans)
        df.attrs["hmm"] = dict(
            n_changed=hmm["n_changed"],
            transition=np.asarray(trans).round(8).tolist(),
            onsets=[float(o) for o in onsets],
            path=hmm["path"],
        )
    df.attrs["trust"] = judge(
        network_labels, df, quality, adapt_record, emg_record, trans is not None
    )
    _log_trust(df.attrs["trust"])
    return df


def _log_trust(trust):
    text = f"Trust: {trust['verdict']}"
    if trust["reasons"]:
        text += " (" + "; ".join(trust["reasons"]) + ")"
    (logger.warning if trust["verdict"] != "ok" else logger.info)(text)
    for note in trust["notes"]:
        logger.info(f"Trust note: {note}")


@verbose
@fill_doc
def score(
    raw,
    picks=None,
    *,
    model=None,
    adapt="gain",
    emg="auto",
    smooth="hmm",
    merge_bouts=False,
    batch_size=32,
    reject_by_annotation=True,
    check_units=True,
    device="auto",
    verbose=None,
):
    """Score the sleep stages of a recording in 10-s epochs.

    Parameters
    ----------
    raw : instance of Raw
        The recording, in volts (MNE's unit). It is not modified.
    %(picks_score)s
    %(model)s
    %(adapt)s
    %(emg)s
    %(smooth)s
    %(merge_bouts)s
    %(batch_size)s
    %(reject_by_annotation)s
    %(check_units)s
    %(device)s
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
    proba = predict_proba(
        raw,
        picks,
        model=model,
        adapt=adapt,
        emg=emg,
        smooth=smooth,
        batch_size=batch_size,
        reject_by_annotation=reject_by_annotation,
        check_units=check_units,
        device=device,
    )
    return to_annotations(proba, merge_bouts=merge_bouts)
