"""Channel picking and the published preprocessing (low-pass, 64 Hz)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from mne._fiff.pick import _picks_to_idx
from mne.io import BaseRaw
from mne.utils import ProgressBar, _validate_type, logger, verbose, warn
from scipy.signal import butter, lfilter, sos2tf, sos2zpk, sosfiltfilt
from scipy.stats import median_abs_deviation

from ._docs import fill_doc
from .models import DEFAULT_MODEL, MouseSleepModel, get_model_card, load_model
from .models._registry import MODELS
from .quality import (
    EXTREME,
    FLAT,
    FLAT_MIN_DURATION,
    MIN_RELIABLE_SFREQ,
    NONFINITE,
    TYPICAL_MV,
    _annotation_segments,
    _bad_seconds,
    _check_units,
    _ChunkChecker,
    _merge,
    _probe_scale,
    _segments_record,
    _unscorable,
)

#: Cut-off (Hz) and order of the published low-pass Butterworth filter.
LOWPASS_FREQ, LOWPASS_ORDER = 25.6, 2
#: Robust standard deviation (in mV) outside which the input is far from the
#: training data (about 0.1 mV), e.g. because of wrong units.
AMPLITUDE_RANGE_MV = (0.01, 1.0)
#: Recordings at least this long (s) show progress bars while scored.
PROGRESS_SECONDS = 3600.0

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
                bads = raw.info["bads"]
                left_out = f" ({bads} in info['bads'] left out)" if bads else ""
                raise ValueError(
                    f"picks=None looks for exactly one parietal EEG channel by name, "
                    f"found {found} among {raw.ch_names}{left_out}. Pass picks, e.g. "
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
    except (ValueError, IndexError) as err:
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


def _lowpass_sos(sfreq):
    """Return the published low-pass filter at ``sfreq`` as second-order sections."""
    return butter(LOWPASS_ORDER, LOWPASS_FREQ, btype="lowpass", fs=sfreq, output="sos")


def _lowpass_resample(data, sfreq, sfreq_new):
    """Low-pass forward-backward and resample by linear interpolation.

    ``data`` is ``(n_channels, n_times)``; the result has
    ``round(n_times / sfreq * sfreq_new)`` samples. This is the published
    computation on a whole array, the reference for :func:`_read_lowpass_resample`.
    """
    filtered = sosfiltfilt(_lowpass_sos(sfreq), data, axis=-1, padtype="constant")
    n_times = data.shape[-1]
    n_new = round(n_times / sfreq * sfreq_new)
    t_old = np.linspace(0, n_times / sfreq, n_times)
    t_new = np.linspace(0, n_new / sfreq_new, n_new)
    return np.stack([np.interp(t_new, t_old, x) for x in filtered])


def _linspace_at(stop, num, idx):
    """``np.linspace(0, stop, num)[idx]``, computed at the integer array ``idx``."""
    out = idx * (stop / (num - 1))
    out[idx == num - 1] = stop
    return out


def _n_settle(sos):
    """Return the samples after which the filter's transient decays by 1e-12."""
    radius = np.abs(sos2zpk(sos)[1]).max()
    return int(np.ceil(np.log(1e-12) / np.log(radius)))


def _searchsorted_grid(stop, num, t, side):
    """``np.searchsorted(np.linspace(0, stop, num), t, side)``, without the grid.

    ``t`` is an array. The index is found by division and moved by one where
    the division rounds the other way.
    """
    before = np.less if side == "left" else np.less_equal
    j = np.clip(np.ceil(t / (stop / (num - 1))), 0, num).astype(np.int64)
    j -= (j > 0) & ~before(_linspace_at(stop, num, np.maximum(j - 1, 0)), t)
    j += (j < num) & before(_linspace_at(stop, num, np.minimum(j, num - 1)), t)
    return j


def _interp_uniform(t, fp, lo, stop, num):
    """``np.interp(t, np.linspace(0, stop, num)[lo:lo + n], fp)``, without the grid.

    ``fp`` is ``(n_channels, n)``, the values at samples ``lo`` to ``lo + n``
    of the grid; every ``t`` lies within them (or beyond the last sample of
    the grid, which gives its value, as in :func:`numpy.interp`). The sample
    left of each ``t`` is found by :func:`_searchsorted_grid` instead of a
    search, and the interpolation uses the same arithmetic as
    :func:`numpy.interp`.
    """
    i = np.clip(_searchsorted_grid(stop, num, t, "right") - 1, 0, num - 1)
    i1 = np.minimum(i + 1, num - 1)
    x0, x1 = _linspace_at(stop, num, i), _linspace_at(stop, num, i1)
    last = i1 == i
    x1[last] += 1.0  # no division by zero where the last value is taken
    y0, y1 = fp[:, i - lo], fp[:, i1 - lo]
    return np.where(last, y0, (y1 - y0) / (x1 - x0) * (t - x0) + y0)


def _read_lowpass_resample(
    raw, idx, sfreq_new, chunk_duration=600.0, n_jobs=2, dtype=np.float64, check=None
):
    """:func:`_lowpass_resample` of picked channels, read in chunks.

    Only ``idx`` is read, ``chunk_duration`` seconds at a time (plus overlaps
    of a few hundred samples on each side, long enough for the filter's
    transient to decay by 1e-12), so memory stays flat whatever the length of
    the recording. Each chunk is filtered forward and backward: at the
    recording ends with :func:`scipy.signal.sosfiltfilt` and the same constant
    padding as the whole-array computation, inside the recording with two
    passes of :func:`scipy.signal.lfilter` from rest (their start transients
    decay within the overlaps; for the single second-order section of the
    filter it computes the same recursion as :func:`~scipy.signal.sosfilt`,
    about 10 % faster). It is then interpolated at the 64-Hz time points it
    holds and converted to mV. Chunks are filtered in ``n_jobs`` threads (in
    float64); the result is stored as ``dtype``.

    ``check`` (a :class:`~mne_mousesleep.quality._ChunkChecker`), if given,
    is called on each chunk before it is filtered: it records the bad
    stretches and sets NaN, infinite and extreme samples to 0; chunks then
    overlap by at least its :data:`~mne_mousesleep.quality.FLAT_MIN_DURATION`.

    Returns the 64-Hz data in mV and the count of non-finite samples per
    channel that no ``check`` handled (their chunks are left unfiltered).
    """
    sfreq, n_times = raw.info["sfreq"], raw.n_times
    n_new = round(n_times / sfreq * sfreq_new)
    stop_old, stop_new = n_times / sfreq, n_new / sfreq_new
    sos = _lowpass_sos(sfreq)
    b, a = sos2tf(sos)  # for a single section, its own coefficients
    overlap = _n_settle(sos) + 64
    if check is not None:  # stretches that cross a chunk edge are seen whole
        overlap = max(overlap, int(np.ceil(FLAT_MIN_DURATION * sfreq)) + 2)
    step = max(int(chunk_duration * sfreq), overlap)
    out = np.empty((len(idx), n_new), dtype)
    n_bad = np.zeros(len(idx), int)

    def process(s0, s1, lo, data):
        # A sum is a cheap test that every sample is finite (or overflows).
        if check is None and not np.isfinite(data.sum()):
            bad = (~np.isfinite(data)).sum(axis=1)
            if bad.any():
                return bad
        if lo == 0 or lo + data.shape[1] == n_times:
            data = sosfiltfilt(sos, data, axis=-1, padtype="constant")
        else:
            data = lfilter(b, a, lfilter(b, a, data)[:, ::-1])[:, ::-1]
        # The 64-Hz samples at or after sample s0 and before sample s1.
        t_s = _linspace_at(stop_old, n_times, np.array([s0, s1]))
        j0, j1 = _searchsorted_grid(stop_new, n_new, t_s, "left")
        j1 = n_new if s1 == n_times else j1
        t_new = _linspace_at(stop_new, n_new, np.arange(j0, j1))
        resampled = _interp_uniform(t_new, data, lo, stop_old, n_times)
        np.multiply(resampled, 1e3, out=out[:, j0:j1])  # V -> mV
        return np.zeros(len(idx), int)

    chunks = []
    for s0 in range(0, n_times, step):
        s1 = min(s0 + step, n_times)
        if n_times - s1 < overlap:  # no short last chunk
            s1 = n_times
        chunks.append((s0, s1))
        if s1 == n_times:
            break
    if check is not None and n_times / sfreq >= PROGRESS_SECONDS:
        chunks = ProgressBar(chunks, mesg="Reading and filtering")
    with ThreadPoolExecutor(max(n_jobs, 1)) as pool:
        pending = []
        for s0, s1 in chunks:
            lo, hi = max(s0 - overlap, 0), min(s1 + overlap, n_times)
            data = raw.get_data(picks=idx, start=lo, stop=hi, reject_by_annotation=None)
            if check is not None:  # here, not in a thread: MNE's log level is global
                check(data, lo, s0, s1)
            pending.append(pool.submit(process, s0, s1, lo, data))
            if len(pending) > max(n_jobs, 1):
                n_bad += pending.pop(0).result()
        for future in pending:
            n_bad += future.result()
    return out, n_bad


@verbose
@fill_doc
def preprocess(raw, picks=None, *, model=None, check_units=True, verbose=None):
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
    %(check_units)s
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
        shorter than three epochs (30 s), if the amplitude looks like a unit
        error (see ``check_units``), or if the picked data contain NaN,
        infinite or extreme values (their positions are given; the filter
        would spread them; :func:`predict_proba` leaves the epochs near
        them unscored instead).

    Warns
    -----
    RuntimeWarning
        If the robust standard deviation of a channel is outside 0.01–1 mV,
        far from the training data (about 0.1 mV).

    References
    ----------
    %(ref_grieger2021)s
    """
    data, _, quality = _preprocess(
        raw, picks, _get_card(model), check_units=check_units
    )
    bad = [
        seg for seg in quality["bad_segments"] if seg["reason"] in (NONFINITE, EXTREME)
    ]
    if bad:
        where = ", ".join(
            f"{seg['channel']} at {seg['onset']:g} s ({seg['reason']})"
            for seg in bad[:5]
        )
        raise ValueError(
            f"The picked data contain NaN, infinite or extreme values: {where}"
            f"{' and more' if len(bad) > 5 else ''}. Interpolate or crop them, or "
            "use predict_proba, which leaves the epochs near them unscored."
        )
    return data


def _reach(sfreq, sfreq_new):
    """Return the reach (samples at ``sfreq``) of one bad sample at 64 Hz."""
    return _n_settle(_lowpass_sos(sfreq)) + 2 * int(np.ceil(sfreq / sfreq_new)) + 1


def _preprocess(
    raw, picks, card, dtype=np.float64, *, reject_by_annotation=True, check_units=True
):
    """Return the 64-Hz signal in mV, the picked channel names and a quality record.

    The record (a JSON-ready dict) holds the amplitude, the bad stretches and
    ``"unscorable"``, a dict ``{epoch: set of reasons}`` of the epochs whose
    window touches one (taken out by the caller before the record is stored).
    """
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
    notes = [
        f"channel {name} is marked bad in info['bads'] but was picked"
        for name in ch_names
        if name in raw.info["bads"]
    ]
    if sfreq < MIN_RELIABLE_SFREQ:
        notes.append(
            f"the sampling rate is {sfreq:g} Hz: below {MIN_RELIABLE_SFREQ:g} Hz the "
            "published networks' calls agree with those of the same recording at "
            "1 kHz on fewer than 95 % of epochs (simulated recordings: 91 % at "
            "128 Hz, 74 % at 100 Hz, 70 % at 64 Hz), mostly Wake called sleep; "
            "an EMG channel (emg='auto') corrects most of it"
        )
    for note in notes:
        warn(note[0].upper() + note[1:] + ".", RuntimeWarning)
    center, scale = _probe_scale(raw, idx)
    likely_unit_error = _check_units(scale, ch_names, check_units)
    if likely_unit_error:
        warn(likely_unit_error, RuntimeWarning)
    logger.info(f"Using channel(s) {ch_names} at {sfreq:g} Hz")
    checker = _ChunkChecker(ch_names, sfreq, center, scale)
    data, _ = _read_lowpass_resample(raw, idx, card.sfreq, dtype=dtype, check=checker)
    n_epoch_samples = round(card.epoch_length * card.sfreq)
    n_epochs = data.shape[1] // n_epoch_samples
    if n_epochs < 2 * card.n_context + 1:
        raise ValueError(
            f"The recording holds fewer than {2 * card.n_context + 1} full epochs "
            f"of {card.epoch_length:g} s after resampling to {card.sfreq:g} Hz."
        )
    found = checker.found
    if reject_by_annotation:
        found = found + _annotation_segments(raw, ch_names)
    segments = _merge(found)
    unscorable = _unscorable(segments, n_epochs, card, sfreq, _reach(sfreq, card.sfreq))
    interior = range(card.n_context, n_epochs - card.n_context)
    if all(k in unscorable for k in interior):
        raise ValueError(_nothing_to_score(segments, raw, ch_names))
    # The amplitude of the scorable epochs: at most about a million evenly
    # spaced samples (a week at 64 Hz holds 39 million).
    keep = np.ones(n_epochs, bool)
    keep[list(unscorable)] = False
    usable = data[:, : n_epochs * n_epoch_samples].reshape(
        len(idx), n_epochs, n_epoch_samples
    )[:, keep]
    stride = max(1, usable.shape[1] * n_epoch_samples // 2**20)
    amplitude = median_abs_deviation(
        usable.reshape(len(idx), -1)[:, ::stride], axis=-1, scale="normal"
    )
    lo, hi = AMPLITUDE_RANGE_MV
    for name, value in zip(ch_names, amplitude):
        if not lo <= value <= hi and not likely_unit_error:  # said already
            note = (
                f"channel {name} has a robust standard deviation of {value:.3g} mV "
                f"(after the low-pass), far from the training data of the model "
                f"(about 0.1 mV; expected {lo}–{hi} mV)"
            )
            notes.append(note)
            warn(
                f"C{note[1:]}. Check the units: the Raw must hold volts.",
                RuntimeWarning,
            )
    quality = dict(
        sfreq=float(sfreq),
        model_sfreq=float(card.sfreq),
        ch_names=ch_names,
        amplitude_mv={n: float(v) for n, v in zip(ch_names, amplitude)},
        typical_mv=TYPICAL_MV,
        amplitude_ratio={n: float(v / TYPICAL_MV) for n, v in zip(ch_names, amplitude)},
        likely_unit_error=likely_unit_error,
        reject_by_annotation=bool(reject_by_annotation),
        bad_segments=_segments_record(segments, sfreq),
        bad_seconds=_bad_seconds(segments, sfreq),
        warnings=notes,
        reader_warnings=[],
        unscorable=unscorable,
    )
    return data, ch_names, quality


def _nothing_to_score(segments, raw, ch_names):
    """Return the message for a recording without a scorable epoch."""
    sfreq, duration = raw.info["sfreq"], raw.n_times / raw.info["sfreq"]
    parts = []
    for name in ch_names:
        flat = sum(s[1] - s[0] for s in segments if s[2] == FLAT and s[3] == name)
        if flat / sfreq >= 0.9 * duration:
            first = min(s[0] for s in segments if s[2] == FLAT and s[3] == name)
            last = max(s[1] for s in segments if s[2] == FLAT and s[3] == name)
            parts.append(
                f"flat channel {name} (constant from {first / sfreq:g} s to "
                f"{last / sfreq:g} s of {duration:g} s): a disconnected electrode, "
                "or the wrong channel"
            )
    seconds = _bad_seconds(segments, sfreq)
    if not parts:
        parts = [f"{reason}: {sec:g} s" for reason, sec in seconds.items()]
    where = ", ".join(
        f"{seg['reason']} ({seg['channel']}) at {seg['onset']:g} s for "
        f"{seg['duration']:g} s"
        for seg in _segments_record(segments[:3], sfreq)
    )
    return (
        f"Nothing to score: every epoch's 30-s window touches bad data "
        f"({'; '.join(parts)}). First stretches: {where}."
    )
