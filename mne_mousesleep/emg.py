"""EMG power per epoch and the muscle-atonia constraint on REM."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.io import BaseRaw
from mne.time_frequency import psd_array_welch
from mne.utils import _validate_type, verbose

from ._docs import fill_doc

#: EMG band (Hz) for the muscle tone, cut at 0.45 x the sampling rate.
EMG_BAND = (30.0, 100.0)
#: Minimal separation (Ashman's D) of the two EMG components for the
#: constraint to act; below it, EMG is taken as uninformative.
MIN_SEPARATION = 2.0


def _check_emg(raw, name, param="emg"):
    """Raise if ``name`` (the argument ``param``) is not one channel of ``raw``."""
    _validate_type(name, str, param)
    if name not in raw.ch_names:
        raise ValueError(f"EMG channel {name!r} not found among {raw.ch_names}.")


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
        rate (below 90 Hz sampling, 0.25–0.45 x the rate). ``-inf`` for a flat
        epoch.

    Raises
    ------
    ValueError
        If ``picks`` does not name one channel of ``raw``.
    """
    _validate_type(raw, BaseRaw, "raw")
    _check_emg(raw, picks, "picks")
    sfreq = raw.info["sfreq"]
    n_epoch = int(round(epoch_length * sfreq))
    n_epochs = raw.n_times // n_epoch
    fmin, fmax = _emg_band(sfreq)
    per_chunk = max(1, int(3600 / epoch_length))
    out = []
    for e0 in range(0, n_epochs, per_chunk):
        e1 = min(e0 + per_chunk, n_epochs)
        x = raw.get_data(picks=[picks], start=e0 * n_epoch, stop=e1 * n_epoch)
        x = x[0].reshape(e1 - e0, n_epoch)
        psd, _ = psd_array_welch(
            x,
            sfreq,
            fmin=fmin,
            fmax=fmax,
            n_fft=min(n_epoch, int(2 * sfreq)),
        )
        with np.errstate(divide="ignore"):
            out.append(np.log10(psd.mean(axis=-1)))
    return np.concatenate(out) if out else np.empty(0)


def _high_emg(log_power, seed=0):
    """Epochs of high EMG from a two-component mixture on log power.

    Returns a boolean mask (all False when EMG looks uninformative) and a
    description of the fit.
    """
    from sklearn.mixture import GaussianMixture

    finite = np.isfinite(log_power)
    x = log_power[finite]
    none = np.zeros(len(log_power), bool)
    if len(x) < 10 or np.ptp(x) == 0:
        return none, dict(informative=False, reason="flat EMG")
    gmm = GaussianMixture(2, random_state=seed, n_init=3).fit(x[:, None])
    mu = gmm.means_[:, 0]
    sd = np.sqrt(gmm.covariances_.reshape(2))
    lo, hi = np.argsort(mu)
    separation = np.sqrt(2) * (mu[hi] - mu[lo]) / np.sqrt(sd[lo] ** 2 + sd[hi] ** 2)
    info = dict(
        separation=float(separation),
        low_mean=float(mu[lo]),
        high_mean=float(mu[hi]),
        high_weight=float(gmm.weights_[hi]),
    )
    if separation < MIN_SEPARATION or gmm.weights_[hi] < 0.02:
        info.update(informative=False, reason="EMG power is not bimodal")
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


def _apply_atonia(proba, log_power):
    """Move REM and pre-REM epochs with high EMG to Wake (in place).

    ``proba`` is the DataFrame of :func:`predict_proba`. For epochs whose most
    probable class is REM or pre-REM and whose EMG is high, the REM and
    pre-REM probabilities are added to Wake (which becomes the most probable
    class). Returns the number of epochs changed and the fit description.
    """
    n = min(len(proba), len(log_power))
    high, info = _high_emg(log_power[:n])
    rem_like = [c for c in ("REM", "pre-REM") if c in proba.columns]
    values = proba.to_numpy(copy=True)
    scored = ~np.isnan(values[:n]).any(axis=1)
    best = np.full(n, -1)
    best[scored] = values[:n][scored].argmax(axis=1)
    cols = [proba.columns.get_loc(c) for c in rem_like]
    change = high & np.isin(best, cols)
    wake = proba.columns.get_loc("Wake")
    idx = np.flatnonzero(change)
    values[idx, wake] += values[np.ix_(idx, cols)].sum(axis=1)
    values[np.ix_(idx, cols)] = 0.0
    proba.iloc[:, :] = values
    info["n_changed"] = int(change.sum())
    info["n_high"] = int(high.sum())
    return info
