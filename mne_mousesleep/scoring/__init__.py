"""Scoring a Raw: the pipeline, step by step.

A recording goes through these steps, in this order, each in its module:

1. :mod:`.check`: the input checks (channels, rate, length, units; bad
   stretches found chunk by chunk as the recording is read);
2. :mod:`.preprocessing`: the published preprocessing (low-pass, resampling
   to the card's rate), in the same pass; then :mod:`.quality`: the epochs
   whose window touches bad data, and the quality record;
3. :mod:`.gain`: the gain step (``adapt="gain"``);
4. :mod:`.network`: the network's probabilities of each epoch;
5. :mod:`.emg`: the EMG rules (REM needs atonia);
6. :mod:`.hmm`: the hidden Markov model over the epochs;
7. :mod:`.trust`: the trust verdict.

Each post-processing step takes probabilities and returns new ones and its
record; none changes its input. :func:`_score` runs them on one
:class:`ScoringOptions` and returns one :class:`ScoringResult`.
:func:`predict_proba` and :func:`score` are its public faces.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.utils import _validate_type, verbose

from .._device import _resolve_device, _scoring_precision
from .._docs import fill_doc
from .._stages import UNSCORED
from ..hypnogram import to_annotations
from ..models import load_model
from ..models._loader import _card_without_weights
from ..models._registry import MODELS
from ._options import ScoringOptions, _takes_options
from ._result import ScoringResult, _most_probable
from ._roles import _Fold
from .check import _check_input
from .emg import _emg_step, _EmgPass
from .gain import _gain_step
from .hmm import _apply_hmm, _check_smooth
from .hsmm import _earn_rem
from .network import (  # noqa: F401 (the reference computations, for tests)
    _network_step,
    _per_window_proba,
    _window_proba,
)
from .preprocessing import _preprocess_checked
from .quality import _finish
from .trust import _log_trust, judge

__all__ = ["ScoringOptions", "ScoringResult", "predict_proba", "score"]


def _path_labels(hmm_record):
    """Return the decoder's path as stages, or None without one.

    Without it, the verdict takes each epoch's most probable stage.
    """
    if hmm_record is None or not hmm_record.get("path"):
        return None
    return np.array(
        [UNSCORED if p is None else p for p in hmm_record["path"]], dtype=object
    )


def _score(raw, options):
    """Run the pipeline on ``raw`` with ``options``; return a :class:`ScoringResult`."""
    _validate_type(options, ScoringOptions, "options")
    model = options.model
    if not (model is None or (isinstance(model, str) and model in MODELS)):
        model = load_model(model)  # local file or model object: no download
    card = _card_without_weights(model)
    # What can be refused is checked before the recording is read.
    device = _resolve_device(options.device)
    # A lab's own classes go through the steps as the stages of their roles.
    fold = _Fold(card.classes, card.roles)
    transition = _check_smooth(options.smooth, fold.stages, card.epoch_length)
    # 1. The input checks: channels, rate, length, units.
    checked = _check_input(
        raw,
        card,
        picks=options.picks,
        emg=options.emg,
        check_units=options.check_units,
        reject_by_annotation=options.reject_by_annotation,
    )
    # 2. The published preprocessing; bad stretches are found as it reads,
    # and the EMG power of step 5 is computed from the same chunks.
    emg = None if checked.emg is None else _EmgPass(raw, checked.emg, card.epoch_length)
    data, reach = _preprocess_checked(raw, checked, card, np.float32, emg)
    # 2b. The epochs that touch bad data, and the quality record.
    signal = _finish(checked, data, card, reach)
    # 3. The gain step.
    data, gain_record = _gain_step(signal, card, options.adapt)
    # 4. The network (registry weights are downloaded only now).
    model = load_model(model)
    precision = _scoring_precision(
        options.precision, device, device.type == "cpu" and model._convolves_once
    )
    proba, quality, network_record, exits = _network_step(
        model, data, signal, options.batch_size, device, precision
    )
    network_labels = fold.labels(_most_probable(proba, card.classes))
    by_class = proba
    if not fold.plain:
        proba = fold.fold(proba)
    # 5. The EMG rules.
    proba, emg_record = _emg_step(proba, fold.stages, emg, checked.emg_note)
    # 6. The hidden (semi-)Markov model; with the semi-Markov model, REM
    # without EMG evidence must be earned first.
    hmm_record = None
    if transition is not None:
        earned = None
        if transition.name == "hsmm" and not emg_record.get("informative"):
            proba, earned = _earn_rem(proba, fold.stages, card.epoch_length)
        proba, hmm_record = _apply_hmm(proba, fold.stages, transition)
        if earned is not None:
            hmm_record["rem_refused"] = earned
    # 7. The trust verdict.
    trust = judge(
        network_labels,
        proba,
        fold.stages,
        quality,
        gain_record,
        emg_record,
        transition is not None,
        final_labels=_path_labels(hmm_record),
        epoch_length=card.epoch_length,
    )
    _log_trust(trust)
    if not fold.plain:  # back to the classes, in the network's proportions
        proba = fold.unfold(by_class, proba)
        if hmm_record is not None:
            hmm_record["path"] = fold.path(hmm_record["path"], proba)
    return ScoringResult(
        proba=proba,
        classes=card.classes,
        epoch_length=card.epoch_length,
        meas_date=raw.info["meas_date"],
        first_time=raw.first_samp / raw.info["sfreq"],
        sfreq=raw.info["sfreq"],
        ch_names=signal.ch_names,
        model=card.name,
        card=card,
        quality=quality,
        network=network_record,
        gain=gain_record,
        emg=emg_record,
        hmm=hmm_record,
        trust=trust,
        exit_fractions=exits,
        options=options.to_dict(),
        roles=dict(card.roles),
    )


@_takes_options
@verbose
@fill_doc
def predict_proba(
    raw,
    picks=None,
    *,
    model=None,
    adapt="gain",
    emg="auto",
    smooth="hsmm",
    batch_size=32,
    reject_by_annotation=True,
    check_units=True,
    device="auto",
    precision="auto",
    options=None,
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
    %(precision_score)s
    %(options)s
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
        ``"network"`` (the network's arithmetic: ``"precision"`` and, in
        bfloat16, ``"rechecked"``, the close calls computed again in
        float32); ``"adapt"`` (the gain step: ``"gain"`` applied per channel),
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
        reason), ``"unscored_epochs"`` (``[onset, reason]`` of every
        unscored epoch) and ``"recording"``, the identity of the scored
        channels that ties a review to its recording (``"id"``, 16 hex
        digits of a sha256 of their names, rate, length and a sample of
        their values; ``"start"``, ISO 8601 time of the first sample or
        None; ``"channels"``).

    Raises
    ------
    TypeError
        If ``raw`` is not a Raw.
    ValueError
        If an option is invalid, if channels cannot be picked (names or
        indices not in the Raw) or their number does not fit the model, if
        the sampling rate is below the model's (64 Hz), if the recording is
        shorter than three epochs, if the amplitude looks like a unit error
        (see ``check_units``), or if no
        epoch can be scored (every window touches bad data, e.g. a flat or
        dead channel; the message says which and where).

    Warns
    -----
    RuntimeWarning
        If the amplitude is far from the training data (see
        :func:`preprocess`), or if a channel of ``info["bads"]`` is picked.

    Notes
    -----
    %(edges)s

    ``adapt=None, emg=None, smooth=None, precision="float32"``
    (:meth:`ScoringOptions.published`) is the published method of Grieger et
    al. (2021) [1]_ exactly. The defaults add three steps for recordings
    from other labs (their effect is measured in
    ``benchmarks/bench_cross_lab.py``): the gain step before the network, then
    the EMG rules and the hidden Markov model on its probabilities.

    Bad stretches of the picked channels do not stop the scoring. NaN or
    infinite samples (:func:`mne.preprocessing.annotate_nan`), extreme values
    (further than 10,000 robust standard deviations from the median, or
    beyond 1e6), flat or clipped signal (consecutive samples within 1/1000 of
    a robust standard deviation for at least 1 s,
    :func:`mne.preprocessing.annotate_amplitude`) and, with
    ``reject_by_annotation``, ``BAD_*`` annotations are found chunk by chunk;
    a dead or disconnected electrode (3 or more 1-s blocks of the low-passed
    signal below the amplifier's floor of 1.2 µV, or 20 times quieter than
    the recording's typical second; an EMG input: of its own broadband
    signal below 0.5 µV, which muscle atonia does not reach; see
    ``check_units``) wherever it is and however long. The unit check and
    the gain step look only at the rest.
    Every epoch whose 30-s window comes within the reach of the low-pass
    filter (a fraction of a second) of such a stretch is left unscored (NaN,
    ``"Sleep stage ?"``), with its reason in the quality record; the other
    epochs get the probabilities they would have in a clean recording.

    The signal is preprocessed with :func:`preprocess` and each 30-s window
    is classified by the network of Grieger et al. (2021) [1]_.
    :meth:`ScoringResult.from_frame` gives the same as a typed object, with
    an exact JSON round trip.

    References
    ----------
    %(ref_grieger2021)s
    """
    return _score(raw, options).to_frame()


@_takes_options
@verbose
@fill_doc
def score(
    raw,
    picks=None,
    *,
    model=None,
    adapt="gain",
    emg="auto",
    smooth="hsmm",
    merge_bouts=False,
    batch_size=32,
    reject_by_annotation=True,
    check_units=True,
    device="auto",
    precision="auto",
    options=None,
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
    %(precision_score)s
    %(options)s
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
    proba = _score(raw, options).to_frame()
    return to_annotations(proba, merge_bouts=options.merge_bouts)
