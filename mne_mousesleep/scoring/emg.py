"""Step 5: EMG power per epoch and the muscle-atonia constraint on REM."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.io import BaseRaw
from mne.utils import _validate_type, logger, verbose

from .._docs import fill_doc
from ._spectra import _welch_epochs
from .check import _check_emg, _emg_dead_epochs

#: EMG band (Hz) for the muscle tone, cut at 0.45 x the sampling rate.
EMG_BAND = (30.0, 100.0)
#: Minimal separation (Ashman's D) of the two EMG components for the
#: constraint to act; below it, EMG is taken as uninformative.
MIN_SEPARATION = 2.0
#: Bytes of EMG (float64) transformed at once by :func:`emg_power`.
EMG_BLOCK_BYTES = 8_000_000


def _emg_band(sfreq):
    lo, hi = EMG_BAND
    hi = min(hi, 0.45 * sfreq)
    if hi - lo < 10.0:  # low sampling rate: the upper part of what remains
        lo, hi = 0.25 * sfreq, 0.45 * sfreq
    return lo, hi


@verbose
@fill_doc
def emg_power(raw, picks, *, epoch_length=10.0, verbose=None):
    """Log EMG power in each epoch, in a high-frequency band.

    Parameters
    ----------
    raw : instance of Raw
        The recording (volts). It is not modified; with ``preload=False`` the
        EMG channel is read one hour at a time.
    picks : str
        The EMG channel.
    epoch_length : float
        Epoch length in seconds (epochs start at the first sample).
    %(verbose)s

    Returns
    -------
    log_power : array of float, shape (n_epochs,)
        ``log10`` of the mean power spectral density (V²/Hz, Welch, 2-s
        windows) over 30–100 Hz, the upper limit cut at 0.45 x the sampling
        rate (below 90 Hz sampling, 0.25–0.45 x the rate). NaN, a muscle tone
        unknown (no rule acts on it), for an epoch with NaN, infinite or
        extreme samples (beyond 1 V) and for one of a dead or disconnected
        electrode: 3 or more 1-s blocks whose broadband signal (less its
        linear trend) has a standard deviation below 0.5 µV (a flat epoch is
        one). Muscle atonia is not: it stays microvolts.

    Raises
    ------
    ValueError
        If ``picks`` does not name one channel of ``raw``.
    """
    _validate_type(raw, BaseRaw, "raw")
    _check_emg(raw, picks, "picks")
    return _emg_power(raw, picks, epoch_length)


def _epochs_log_power(x, sfreq):
    """Log EMG power of epochs ``x``, ``(n_epochs, n_epoch)`` in volts.

    See :func:`emg_power`. Welch's method as
    :func:`mne.time_frequency.psd_array_welch` computes it, with ``n_fft =
    min(n_epoch, 2 s)``: segments of ``n_fft`` samples without overlap (the
    samples after the last whole one are not used), each less its mean and
    times a Hamming window, their one-sided power spectral densities
    (V²/Hz) averaged (:func:`._spectra._welch_epochs`).
    """
    n_fft = min(x.shape[1], int(2 * sfreq))
    fmin, fmax = _emg_band(sfreq)
    freqs = np.arange(n_fft // 2 + 1) * (sfreq / n_fft)
    band = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    # Epochs with NaN, infinite or extreme samples carry no EMG level, and
    # neither do those of a dead electrode.
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(x) <= 1.0).all(axis=1)
    bad |= _emg_dead_epochs(np.where(bad[:, None], 1.0, x), sfreq)
    if bad.any():
        x = np.where(bad[:, None], 0.0, x)
    psd = _welch_epochs(
        x, sfreq, n_fft, window="hamming", overlap=0, detrend=True, bins=band
    )
    with np.errstate(divide="ignore"):
        power = np.log10(psd.mean(axis=-1))
    power[bad] = np.nan
    return power


def _emg_power(raw, channel, epoch_length):
    """:func:`emg_power` of a channel already checked, read in blocks."""
    sfreq = raw.info["sfreq"]
    n_epoch = int(round(epoch_length * sfreq))
    n_epochs = raw.n_times // n_epoch
    per_block = max(1, min(int(3600 / epoch_length), EMG_BLOCK_BYTES // (8 * n_epoch)))
    out = []
    for e0 in range(0, n_epochs, per_block):
        e1 = min(e0 + per_block, n_epochs)
        x = raw.get_data(picks=[channel], start=e0 * n_epoch, stop=e1 * n_epoch)
        out.append(_epochs_log_power(x[0].reshape(e1 - e0, n_epoch), sfreq))
    return np.concatenate(out) if out else np.empty(0)


class _EmgPass:
    """The EMG power per epoch, computed from the chunks of the reading pass.

    Given to :func:`~mne_mousesleep.scoring.preprocessing._preprocess_checked`
    (step 2), which reads the channel with the EEG, in chunks of whole
    epochs, and calls it on each chunk from its threads: the recording is
    read once, and the power is the one :func:`emg_power` gives.

    Parameters
    ----------
    raw : instance of Raw
        The recording.
    channel : str
        The EMG channel (checked).
    epoch_length : float
        Epoch length in seconds.
    """

    def __init__(self, raw, channel, epoch_length):
        self.name = channel
        self.channel = raw.ch_names.index(channel)
        self.sfreq = raw.info["sfreq"]
        self.n_epoch = int(round(epoch_length * self.sfreq))
        self.log_power = np.full(raw.n_times // self.n_epoch, np.nan)

    def __call__(self, x, first):
        """Compute the epochs of ``x`` ``(n_times,)``, from sample ``first``.

        ``first`` is a multiple of the epoch's samples; a part of an epoch at
        the end of ``x`` is left to the next chunk (or, at the end of the
        recording, out, as by :func:`emg_power`).
        """
        k0 = first // self.n_epoch
        n = min(len(x) // self.n_epoch, len(self.log_power) - k0)
        if n > 0:
            epochs = x[: n * self.n_epoch].reshape(n, self.n_epoch)
            self.log_power[k0 : k0 + n] = _epochs_log_power(epochs, self.sfreq)


def _high_emg(log_power, seed=0):
    """Awake-level EMG: the upper of two components, if the EMG has two.

    A one-component and a two-component Gaussian mixture are fitted on the log
    power; the EMG is informative only if the two-component one has the lower
    BIC, its components are separated (Ashman's D >= :data:`MIN_SEPARATION`)
    and the upper one holds at least 2 % of the epochs. Returns a boolean mask
    (all False when the EMG is not informative) and a description of the fit.
    """
    from sklearn.mixture import GaussianMixture

    finite = np.isfinite(log_power)
    x = log_power[finite]
    none = np.zeros(len(log_power), bool)
    if len(x) < 10 or np.ptp(x) < 1e-6 * max(1.0, np.abs(x).max()):
        return none, dict(informative=False, reason="flat EMG")
    one = GaussianMixture(1, random_state=seed).fit(x[:, None])
    gmm = GaussianMixture(2, random_state=seed, n_init=3).fit(x[:, None])
    bic1, bic2 = one.bic(x[:, None]), gmm.bic(x[:, None])
    mu = gmm.means_[:, 0]
    sd = np.sqrt(gmm.covariances_.reshape(2))
    lo, hi = np.argsort(mu)
    separation = np.sqrt(2) * (mu[hi] - mu[lo]) / np.sqrt(sd[lo] ** 2 + sd[hi] ** 2)
    info = dict(
        bic_one=float(bic1),
        bic_two=float(bic2),
        separation=float(separation),
        low_mean=float(mu[lo]),
        high_mean=float(mu[hi]),
        high_weight=float(gmm.weights_[hi]),
    )
    if bic2 >= bic1:
        info.update(informative=False, reason="EMG power has one level (BIC)")
        return none, info
    if separation < MIN_SEPARATION or gmm.weights_[hi] < 0.02:
        info.update(
            informative=False,
            reason=f"EMG levels overlap (Ashman's D {separation:.2f} < "
            f"{MIN_SEPARATION:g}) or the upper one is rare",
        )
        return none, info
    # Threshold: where the high component becomes the more probable one,
    # between the two means.
    grid = np.linspace(mu[lo], mu[hi], 1000)
    post = gmm.predict_proba(grid[:, None])[:, hi]
    threshold = float(grid[np.argmax(post >= 0.5)])
    high = none.copy()
    high[finite] = x > threshold
    info.update(informative=True, threshold=threshold)
    return high, info


#: Robust standard deviations above the NREM EMG level from which the tone is
#: awake-level (when it is also in the upper mixture component).
NREM_MARGIN = 3.0


def _awake_level(log_power, best, classes):
    """Epochs with awake-level EMG, judged against the recording's NREM tone.

    ``best`` is the index of each epoch's most probable class (-1: unscored).
    Awake-level: in the upper component of the EMG mixture and more than
    :data:`NREM_MARGIN` robust standard deviations above the median EMG of
    the epochs the network calls NREM (at least 10 of them). A recording that
    is mostly sleep has a mixture of REM and NREM tone, whose upper component
    is NREM itself: the NREM level keeps it from being taken for Wake. With
    fewer than 10 NREM epochs the mixture alone decides.
    """
    high, info = _high_emg(log_power)
    if not info["informative"]:
        return high, info
    nrem = classes.index("NREM") if "NREM" in classes else -2
    called = (best == nrem) & np.isfinite(log_power)
    if called.sum() >= 10:
        level = np.median(log_power[called])
        spread = 1.4826 * np.median(np.abs(log_power[called] - level))
        floor = level + NREM_MARGIN * spread
        high &= log_power > floor
        info.update(nrem_level=float(level), nrem_spread=float(spread))
    else:
        info.update(nrem_level=None, note="fewer than 10 NREM epochs")
    return high, info


def _high_by_record(log_power, info):
    """Awake-level EMG of new epochs, by the levels of a fit's record.

    ``info`` is the record of :func:`_awake_level` (with ``"above_nrem"``,
    the record of :func:`_above_nrem`, when the mixture is undecided),
    fitted on earlier epochs; the same thresholds are applied to
    ``log_power`` ``(n_epochs,)``. Used by live scoring, which fits the
    levels on the epochs so far and judges each new epoch by them.
    """
    log_power = np.asarray(log_power, float)
    with np.errstate(invalid="ignore"):
        if info.get("informative"):
            high = log_power > info["threshold"]
            if info.get("nrem_level") is not None:
                high &= (
                    log_power > info["nrem_level"] + NREM_MARGIN * info["nrem_spread"]
                )
            return high
        above = info.get("above_nrem") or {}
        if not above.get("applied"):
            return np.zeros(len(log_power), bool)
        return log_power > above["nrem_level"] + np.log10(above["margin"])


#: When the mixture is undecided: a REM or pre-REM call whose EMG power is
#: more than this many times the median of the recording's NREM calls is not
#: REM. Simulated recordings (30 x 20 min at 128 Hz, cut into 4-min pieces;
#: NREM median of each piece): true REM at most 0.23 times it, true pre-REM
#: at most 1.1 times, NREM itself at most 2.1 times, Wake called REM at
#: least 8.7 times; on real mice REM was called at 2.6-6.5 times it.
ATONIA_MARGIN = 2.0
#: NREM calls needed to compare with when the mixture is undecided.
MIN_NREM_CALLS = 5


def _above_nrem(log_power, best, classes):
    """Epochs whose EMG is well above the NREM calls' (mixture undecided).

    Above :data:`ATONIA_MARGIN` times the median EMG power of the epochs the
    network calls NREM (at least :data:`MIN_NREM_CALLS` of them), and beyond
    :data:`NREM_MARGIN` robust standard deviations of their log power (an EMG
    whose level does not follow the stages spreads NREM's as wide). Returns
    the mask (all False without enough NREM calls) and its record.
    """
    nrem = classes.index("NREM") if "NREM" in classes else -2
    called = (best == nrem) & np.isfinite(log_power)
    none = np.zeros(len(log_power), bool)
    if called.sum() < MIN_NREM_CALLS:
        return none, dict(applied=False, n_nrem=int(called.sum()))
    level = float(np.median(log_power[called]))
    spread = 1.4826 * float(np.median(np.abs(log_power[called] - level)))
    margin = max(ATONIA_MARGIN, 10 ** (NREM_MARGIN * spread))
    with np.errstate(invalid="ignore"):
        high = log_power > level + np.log10(margin)
    return high, dict(
        applied=True,
        n_nrem=int(called.sum()),
        nrem_level=level,
        nrem_spread=spread,
        margin=float(margin),
    )


def _rem_tone_over_nrem(log_power, best, classes):
    """Median EMG power of the REM calls over that of the NREM calls, or None."""
    if "REM" not in classes or "NREM" not in classes:
        return None
    finite = np.isfinite(log_power)
    rem = finite & (best == classes.index("REM"))
    nrem = finite & (best == classes.index("NREM"))
    if not rem.any() or nrem.sum() < MIN_NREM_CALLS:
        return None
    return float(10 ** (np.median(log_power[rem]) - np.median(log_power[nrem])))


#: The relabelling rules of the EMG step: stage -> (new stage, reason).
RULES = {
    "REM": (
        "Wake",
        "REM has muscle atonia: its EMG is the lowest of all states, below "
        "NREM's; awake-level tone with REM-like theta EEG is active "
        "(exploring) Wake, whose hippocampal theta the EEG alone confuses "
        "with REM",
    ),
    "pre-REM": (
        "Wake",
        "pre-REM is sleep on the way from NREM to REM, with muscle tone at or "
        "below NREM's; awake-level tone with its spindle/theta EEG is Wake",
    ),
    "NREM": (
        "Wake",
        "a sleeping mouse does not hold awake-level muscle tone for a whole "
        "epoch; slow EEG during such tone is quiet or grooming Wake (or "
        "movement), which expert scorers call Wake",
    ),
}


def _apply_atonia(values, classes, log_power):
    """Apply the EMG rules: stages that need low tone, on awake tone.

    ``values`` are the probabilities ``(n_epochs, n_classes)`` of the network,
    columns ``classes``. For epochs whose most probable class is REM, pre-REM
    or NREM and whose EMG is awake-level (:func:`_awake_level`), that class's
    probability is moved to Wake (which becomes the most probable class).
    When the mixture is undecided (e.g. a few minutes of recording), REM and
    pre-REM calls whose EMG is well above the NREM calls' (:func:`_above_nrem`)
    are moved to Wake instead. Returns the new probabilities (``values`` is not
    changed) and the record: the fit, the number of epochs changed per rule
    and which (``changed_epochs``, epoch indices),
    the share of REM calls on awake-level EMG before the change and the
    median EMG power of the REM calls over the NREM calls'.
    """
    n = min(len(values), len(log_power))
    classes = list(classes)
    values = np.array(values, copy=True)
    scored = ~np.isnan(values[:n]).any(axis=1)
    best = np.full(n, -1)
    best[scored] = values[:n][scored].argmax(axis=1)
    high, info = _awake_level(log_power[:n], best, classes)
    undecided = not info["informative"]
    if undecided:  # REM still needs atonia: the NREM calls' tone decides
        high, info["above_nrem"] = _above_nrem(log_power[:n], best, classes)
    changed, epochs = _relabel(values, classes, best, high, undecided)
    rem = best == classes.index("REM") if "REM" in classes else np.zeros(n, bool)
    info["n_changed"] = changed
    info["changed_epochs"] = sorted(epochs)
    info["n_high"] = int(high.sum())
    info["rem_tone_over_nrem"] = _rem_tone_over_nrem(log_power[:n], best, classes)
    info["rem_on_awake_emg"] = (
        float((rem & high).sum() / rem.sum())
        if rem.any() and info["informative"]
        else None
    )
    return values, info


def _relabel(values, classes, best, high, undecided):
    """Move the calls that need low tone on awake-level tone to Wake, in place.

    ``values`` ``(n_epochs, n_classes)`` of ``classes``, ``best`` the index of
    each epoch's most probable class, ``high`` the awake-level mask; when the
    mixture is ``undecided`` the rule for NREM does not act. Returns the
    epochs changed per stage (counts) and their indices.
    """
    changed, epochs = {}, []
    for stage, (target, _) in RULES.items():
        if stage not in classes:
            continue
        col = classes.index(stage)
        idx = np.flatnonzero(high & (best == col) & (not undecided or stage != "NREM"))
        values[idx, classes.index(target)] += values[idx, col]
        values[idx, col] = 0.0
        changed[stage] = int(len(idx))
        epochs.extend(int(k) for k in idx)
    return changed, epochs


def _emg_step(values, classes, emg, note):
    """Step 5 of the pipeline: the EMG rules if there is an EMG channel.

    ``emg`` is the :class:`_EmgPass` that the reading pass filled (None
    without an EMG channel; ``note`` says why). Returns the new probabilities
    and the EMG record (the channel, the fit, the epochs changed per rule; or
    why the step did not run).
    """
    if emg is None:
        return values, dict(channel=None, informative=False, reason=note)
    channel = emg.name
    values, info = _apply_atonia(values, classes, emg.log_power)
    moved = ", ".join(f"{n} {s}" for s, n in info["n_changed"].items() if n)
    if info["informative"]:
        logger.info(
            f"EMG step ({channel}): {moved or 'no'} epochs on awake-level EMG "
            f"moved to Wake ({info['n_high']} awake-level epochs)"
        )
    elif info["above_nrem"]["applied"]:
        logger.info(
            f"EMG step ({channel}): {info['reason']}; {moved or 'no'} REM/pre-REM "
            f"epochs with more than {ATONIA_MARGIN:g} times the NREM calls' EMG "
            "moved to Wake"
        )
    else:
        logger.info(f"EMG step ({channel}): no change, {info['reason']}")
    return values, dict(channel=channel, **info)
