"""Sleep spindles in NREM with YASA, on a scored recording."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.io import BaseRaw
from mne.utils import _validate_type, verbose, warn

from ._stages import _time_base
from .hypnogram import (
    NREM,
    STAGE_CODES,
    STAGES,
    UNSCORED,
    _seconds_from_first_sample,
    to_stages,
)

#: Spindle band for mouse cortical EEG, in Hz (sigma band, Uygun et al. 2019).
MOUSE_SPINDLE_FREQ = (10.0, 15.0)
#: Spindle duration limits, in seconds (see :func:`detect_spindles`).
MOUSE_SPINDLE_DURATION = (0.5, 3.0)


def stages_per_sample(raw, scoring):
    """Stage code of every sample of a Raw (for YASA's ``hypno`` arguments).

    Parameters
    ----------
    raw : instance of Raw
        The recording that was scored.
    scoring : pandas.Series | pandas.DataFrame | mne.Annotations
        Anything :func:`mne_mousesleep.to_stages` accepts: the probabilities
        or scores of ``raw``, or its annotations.

    Returns
    -------
    codes : array of int, shape (n_times,)
        :data:`mne_mousesleep.STAGE_CODES` of each sample; samples outside
        the scored epochs are unscored (-2).
    """
    stages = to_stages(scoring)
    sfreq = raw.info["sfreq"]
    length = _time_base(stages).epoch_length
    codes = np.full(raw.n_times, STAGE_CODES[UNSCORED], dtype=int)
    onsets = _seconds_from_first_sample(stages, raw)
    starts = np.round(onsets * sfreq).astype(int)
    stops = np.round((onsets + length) * sfreq).astype(int)
    for start, stop, stage in zip(starts, stops, stages.to_numpy(object)):
        codes[max(start, 0) : max(min(stop, raw.n_times), 0)] = STAGE_CODES[stage]
    return codes


@verbose
def detect_spindles(
    raw,
    scoring,
    picks="eeg",
    *,
    stages=(NREM,),
    freq_sp=MOUSE_SPINDLE_FREQ,
    duration=MOUSE_SPINDLE_DURATION,
    verbose=None,
    **kwargs,
):
    """Detect sleep spindles with YASA in the NREM epochs of a scored recording.

    Runs :func:`yasa.spindles_detect` on the picked EEG, restricted to the
    epochs of ``stages``, with parameters for mouse EEG.

    Parameters
    ----------
    raw : instance of Raw
        The recording, in volts. It is not modified.
    scoring : pandas.Series | pandas.DataFrame | mne.Annotations
        The scoring of ``raw`` (e.g. :func:`mne_mousesleep.predict_proba`'s
        output, a stage sequence, or ``raw.annotations`` from
        :func:`mne_mousesleep.score`).
    picks : str | list of str | None
        EEG channel(s) to search (default: all EEG channels).
    stages : tuple of str
        Stages in which to detect spindles (default NREM; add ``"pre-REM"``,
        which is rich in spindles in mice).
    freq_sp : tuple of float
        Spindle band in Hz. Default 10–15 Hz, the sigma band that Uygun et al.
        (2019) validated for mouse cortical EEG.
    duration : tuple of float
        Minimum and maximum spindle duration in seconds. Default 0.5–3 s: the
        conventional 0.5-s minimum of a spindle, and a maximum above YASA's
        human default (2 s) for the longer spindles seen in rodents; our
        choice, adjust to your lab's definition.
    %(verbose)s
    **kwargs
        Other arguments of :func:`yasa.spindles_detect` (e.g. ``thresh``,
        ``min_distance``).

    Returns
    -------
    spindles : yasa.SpindlesResults | None
        YASA's results (``spindles.summary()`` gives one row per spindle, with
        ``Stage`` the :data:`mne_mousesleep.STAGE_CODES` code), or None when no
        spindle is found or the scoring has no epoch of ``stages`` (then with
        a warning), so that a loop over animals goes on.

    Raises
    ------
    ValueError
        If ``stages`` holds unknown stages.

    Warns
    -----
    RuntimeWarning
        If the scoring has no epoch of ``stages``.

    References
    ----------
    .. [1] Uygun DS, Katsuki F, Bolortuya Y, et al. (2019). Validation of an
           automated sleep spindle detection method for mouse
           electroencephalography. Sleep 42(2), zsy218.
    .. [2] Vallat R, Walker MP (2021). An open-source, high-performance tool
           for automated sleep staging. eLife 10, e70092.
    """
    import yasa

    _validate_type(raw, BaseRaw, "raw")
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"stages must be among {STAGES}, got {unknown}.")
    hypno = stages_per_sample(raw, scoring)
    include = tuple(STAGE_CODES[s] for s in stages)
    if not np.isin(hypno, include).any():
        warn(
            f"The scoring has no epoch of {list(stages)}: no spindle to detect.",
            RuntimeWarning,
        )
        return None
    eeg = raw.copy().pick(picks).load_data()
    return yasa.spindles_detect(
        eeg,
        hypno=hypno,
        include=include,
        freq_sp=tuple(freq_sp),
        duration=tuple(duration),
        verbose=False,
        **kwargs,
    )
