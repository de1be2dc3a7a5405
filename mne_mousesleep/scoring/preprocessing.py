"""Step 2: channel picking and the published preprocessing (low-pass, resampling).

The picked channels are read in chunks, checked (step 1, :mod:`.check`) and
filtered in one pass; :func:`_read_checked` is that pass, used by scoring,
:func:`preprocess`, the gain estimate and training.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from mne.utils import verbose
from scipy.signal import butter, lfilter, sos2tf, sos2zpk, sosfiltfilt

from .._docs import fill_doc
from .._progress import _progress
from ..models._loader import _card_without_weights
from .check import EXTREME, FLAT_MIN_DURATION, NONFINITE, _check_input
from .quality import _finish

#: Cut-off (Hz) and order of the published low-pass Butterworth filter.
LOWPASS_FREQ, LOWPASS_ORDER = 25.6, 2
#: Recordings at least this long (s) show progress bars while scored.
PROGRESS_SECONDS = 3600.0


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


def _n_settle(sos, decay=1e-12):
    """Return the samples after which the filter's transient decays by ``decay``."""
    radius = np.abs(sos2zpk(sos)[1]).max()
    return int(np.ceil(np.log(decay) / np.log(radius)))


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
    raw,
    idx,
    sfreq_new,
    chunk_duration=600.0,
    n_jobs=2,
    dtype=np.float64,
    check=None,
    emg=None,
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

    ``check`` (a :class:`~mne_mousesleep.scoring.check._ChunkChecker`), if given,
    is called on each chunk before it is filtered: it records the bad
    stretches and sets NaN, infinite and extreme samples to 0; chunks then
    overlap by at least its :data:`~mne_mousesleep.scoring.check.FLAT_MIN_DURATION`.

    ``emg`` (the EMG step's :class:`~mne_mousesleep.scoring.emg._EmgPass`),
    if given, reads its channel with the same chunks, which then hold whole
    epochs, and computes the EMG power of each chunk's epochs in the same
    threads: the recording is read once.

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
    picks = list(idx)
    if emg is not None:  # chunks of whole epochs, the EMG channel read with them
        step = -(-step // emg.n_epoch) * emg.n_epoch
        if emg.channel not in picks:
            picks.append(emg.channel)
    out = np.empty((len(idx), n_new), dtype)
    n_bad = np.zeros(len(idx), int)

    def process(s0, s1, lo, data, emg_data):
        if emg is not None:
            emg(emg_data[s0 - lo : s1 - lo], s0)
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
        chunks = _progress(chunks, mesg="Reading and filtering")
    with ThreadPoolExecutor(max(n_jobs, 1)) as pool:
        pending = []
        for s0, s1 in chunks:
            lo, hi = max(s0 - overlap, 0), min(s1 + overlap, n_times)
            data = raw.get_data(
                picks=picks, start=lo, stop=hi, reject_by_annotation=None
            )
            emg_data = None
            if emg is not None:  # a copy only if the checker may change it
                emg_data = data[picks.index(emg.channel)]
                if emg.channel in idx:
                    emg_data = emg_data.copy()
            data = data[: len(idx)]
            if check is not None:  # here, not in a thread: MNE's log level is global
                check(data, lo, s0, s1)
            pending.append(pool.submit(process, s0, s1, lo, data, emg_data))
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
    signal = _read_checked(
        raw, picks, _card_without_weights(model), check_units=check_units
    )
    bad = [
        seg
        for seg in signal.quality["bad_segments"]
        if seg["reason"] in (NONFINITE, EXTREME)
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
    return signal.data


def _reach(sfreq, sfreq_new):
    """Return the reach (samples at ``sfreq``) of one bad sample at 64 Hz."""
    return _n_settle(_lowpass_sos(sfreq)) + 2 * int(np.ceil(sfreq / sfreq_new)) + 1


def _preprocess_checked(raw, checked, card, dtype=np.float64, emg=None):
    """Step 2: read, check chunk by chunk and preprocess the picked channels.

    ``checked`` is what step 1 found (:func:`.check._check_input`); its chunk
    checker sees every chunk as it is read, and so does ``emg`` (the EMG
    step's power per epoch, computed in the same pass). Returns the signal in
    mV at the card's rate, ``(n_channels, n_times)``, and the reach (samples
    at the recording's rate) of one bad sample through the filter and
    resampling.
    """
    data, _ = _read_lowpass_resample(
        raw, checked.idx, card.sfreq, dtype=dtype, check=checked.checker, emg=emg
    )
    n_epochs = data.shape[1] // round(card.epoch_length * card.sfreq)
    if n_epochs < 2 * card.n_context + 1:
        raise ValueError(
            f"The recording holds fewer than {2 * card.n_context + 1} full epochs "
            f"of {card.epoch_length:g} s after resampling to {card.sfreq:g} Hz."
        )
    return data, _reach(raw.info["sfreq"], card.sfreq)


def _read_checked(
    raw, picks, card, dtype=np.float64, *, reject_by_annotation=True, check_units=True
):
    """Check the recording and preprocess it, in one pass (steps 1 and 2).

    For what reads recordings without the rest of the pipeline
    (:func:`preprocess`, the gain estimate, training). Returns a
    :class:`_Signal`.
    """
    checked = _check_input(
        raw,
        card,
        picks=picks,
        emg=None,
        check_units=check_units,
        reject_by_annotation=reject_by_annotation,
    )
    data, reach = _preprocess_checked(raw, checked, card, dtype)
    return _finish(checked, data, card, reach)
