"""Step 3, the gain step: each recording's EEG scale brought to the network's.

Labs record with other amplifiers, electrodes and placements, so the same
mouse state gives EEG of another amplitude; the published networks respond to
the amplitude (see the docs page "Scoring recordings from another lab"). A
plain normalisation (dividing by the recording's standard deviation, as for
every recording in U-Sleep) is not enough for mice: NREM has two to four
times the amplitude of Wake, so a night that is mostly Wake would be pushed up
toward NREM, and a day that is mostly NREM down toward Wake.

The step here normalises by the amplitude *expected for each epoch's spectral
shape*. Per 10-s epoch it computes the log total power ``P`` (0.5–25 Hz) and
the shape ``S``, the log share of the power in seven bands, which does not
depend on the gain. A quadratic regression ``P ~ c + f(S)`` fitted on data at
the network's scale (the *gain model*, in the model card) says what power an
epoch of that shape has at that scale. The gain of a recording is
``exp(-median(P - c - f(S)) / 2)``: Wake epochs are compared with Wake-shaped
epochs and NREM with NREM-shaped ones, whatever the mix of stages, and no
label nor network call is needed. Scaling the input by any factor scales the
estimate by its inverse exactly.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.utils import _check_option, logger, verbose

from .._docs import fill_doc
from ..models._loader import _card_without_weights
from ..models._registry import GAIN_BANDS
from ._spectra import _welch_epochs
from .preprocessing import _read_checked

#: Frequency bands (Hz) of the spectral shape of an epoch.
#:
#: Those of the gain models of the published cards; a card's gain model names
#: its own.
BANDS = GAIN_BANDS
#: Gains outside this range are applied but make the verdict ``review``.
GAIN_RANGE = (0.25, 4.0)
#: Values of ``adapt``.
ADAPT_OPTIONS = ("gain", None)
_HUBER = 1.5


def _check_adapt(adapt):
    _check_option("adapt", adapt, ADAPT_OPTIONS)
    return adapt


def _epoch_features(x, sfreq, epoch_length, bands=BANDS):
    """Log total power and log band shares of each epoch of one channel.

    ``x`` is ``(n_times,)`` at ``sfreq``; ``bands`` the frequency bands (Hz)
    of the gain model. Returns ``P`` ``(n_epochs,)`` and ``S`` ``(n_epochs,
    len(bands))``; epochs without power are NaN.
    """
    n_epoch = round(epoch_length * sfreq)
    n_epochs = len(x) // n_epoch
    epochs = np.asarray(x[: n_epochs * n_epoch], float).reshape(n_epochs, n_epoch)
    # scipy.signal.welch's defaults: Hann windows, half overlapping, less
    # their mean.
    n_fft = min(n_epoch, int(2 * sfreq))
    freqs = np.arange(n_fft // 2 + 1) * (sfreq / n_fft)
    psd = _welch_epochs(
        epochs,
        sfreq,
        n_fft,
        window="hann",
        overlap=n_fft // 2,
        detrend=True,
        bins=np.arange(len(freqs)),
    )
    bands = np.stack(
        [psd[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in bands], axis=1
    )
    total = bands.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        power = np.log(total)
        shape = np.log(bands / total[:, None])
    bad = ~np.isfinite(power) | ~np.isfinite(shape).all(axis=1)
    power[bad] = np.nan
    shape[bad] = np.nan
    return power, shape


def _design(shape):
    """Return the regressors of the gain model: the shares and their squares."""
    return np.concatenate([shape, shape**2], axis=1)


def _robust_fit(X, y):
    """Huber regression by iteratively reweighted least squares."""
    w = np.ones(len(y))
    coef = np.zeros(X.shape[1])
    for _ in range(20):
        sw = np.sqrt(w)
        new = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        resid = y - X @ new
        scale = 1.4826 * np.median(np.abs(resid)) + 1e-12
        w = np.minimum(1.0, _HUBER * scale / np.maximum(np.abs(resid), 1e-12))
        done = np.allclose(new, coef, atol=1e-8)
        coef = new
        if done:
            break
    return coef


def fit_gain_model(features):
    """Fit the gain model of one channel on recordings at a common scale.

    ``features`` is a list of ``(P, S)`` per recording (see
    :func:`_epoch_features`). Each recording gets its own intercept (its own
    gain); the shape terms are shared. Returns a dict with ``"coef"`` (the
    shape coefficients), ``"intercept"`` (the median of the recordings'
    intercepts: the reference scale) and ``"offsets"`` (each recording's
    intercept minus the reference, i.e. twice its log gain away from it).
    """
    powers, designs, rec = [], [], []
    for ii, (power, shape) in enumerate(features):
        ok = np.isfinite(power)
        powers.append(power[ok])
        designs.append(_design(shape[ok]))
        rec.append(np.full(ok.sum(), ii))
    y = np.concatenate(powers)
    rec = np.concatenate(rec)
    dummies = (rec[:, None] == np.arange(len(features))[None]).astype(float)
    coef = _robust_fit(np.concatenate([dummies, np.concatenate(designs)], axis=1), y)
    intercepts = coef[: len(features)]
    reference = float(np.median(intercepts))
    return dict(
        coef=[float(c) for c in coef[len(features) :]],
        intercept=reference,
        offsets=[float(c - reference) for c in intercepts],
    )


def _residuals(power, shape, params):
    """Log power minus the gain model's prediction from the shape (twice the log gain).

    ``power`` ``(n_epochs,)`` and ``shape`` ``(n_epochs, n_bands)`` as from
    :func:`_epoch_features`; ``params`` one channel's gain model.
    """
    return power - (params["intercept"] + _design(shape) @ np.asarray(params["coef"]))


def _log_gains(data, sfreq, epoch_length, gain_model, keep=None):
    """Log gain of each channel (NaN where the card has no gain model)."""
    out = np.full(len(data), np.nan)
    used = np.zeros(len(data), int)
    for ch, (x, params) in enumerate(zip(data, gain_model["channels"])):
        if params is None:
            continue
        power, shape = _epoch_features(
            x, sfreq, epoch_length, gain_model.get("bands", BANDS)
        )
        ok = np.isfinite(power)
        if keep is not None:
            ok[: len(keep)] &= keep[: len(ok)]
        if not ok.any():
            continue
        out[ch] = -0.5 * np.median(_residuals(power[ok], shape[ok], params))
        used[ch] = ok.sum()
    return out, used


def _apply_gain(data, card, keep=None):
    """Scale ``data`` (mV, at the card's rate) to the network's scale.

    ``keep`` masks the epochs used for the estimate (the scorable ones).
    Returns the scaled signal (a new array; ``data`` is not changed) and the
    record (JSON-ready): ``"gain"`` per channel (the factor applied),
    ``"n_epochs"`` used and ``"outside_range"`` (channels whose gain is
    outside :data:`GAIN_RANGE`).
    """
    gain_model = card.details.get("gain_model")
    if not gain_model:
        logger.info(f"Gain step: model {card.name} has no gain model; not applied")
        return data, dict(applied=False, reason=f"model {card.name} has no gain model")
    log_gain, used = _log_gains(data, card.sfreq, card.epoch_length, gain_model, keep)
    scaled = data.copy()
    gains = {}
    for ch, name in enumerate(card.channels):
        if np.isfinite(log_gain[ch]):
            g = float(np.exp(log_gain[ch]))
            scaled[ch] *= g
            gains[name] = g
    lo, hi = GAIN_RANGE
    outside = [name for name, g in gains.items() if not lo <= g <= hi]
    shown = ", ".join(f"{name} x{g:.3g}" for name, g in gains.items())
    logger.info(f"Gain step: {shown or 'no channel with a gain model'}")
    return scaled, dict(
        applied=bool(gains),
        gain=gains,
        n_epochs=[int(n) for n in used],
        outside_range=outside,
        reference=gain_model.get("reference", ""),
    )


def _gain_step(signal, card, adapt):
    """Step 3 of the pipeline: the gain step if ``adapt == "gain"``, else none."""
    if adapt != "gain":
        return signal.data, dict(applied=False, reason="adapt=None")
    return _apply_gain(signal.data, card, signal.keep(card))


@verbose
@fill_doc
def estimate_gain(raw, picks=None, *, model=None, verbose=None):
    """Estimate the gain that brings a recording to a network's EEG scale.

    This is the gain step of :func:`~mne_mousesleep.predict_proba` (``adapt=
    "gain"``) on its own: no network runs.

    Parameters
    ----------
    raw : instance of Raw
        The recording, in volts. It is not modified.
    %(picks_score)s
    %(model)s
        Its card holds the gain model.
    %(verbose)s

    Returns
    -------
    gains : dict
        The factor (unitless) by which each input channel (named as in the
        model card) is multiplied before the network; channels without a gain
        model (e.g. an EMG input) are left out. Empty when the model has no
        gain model.

    Raises
    ------
    ValueError
        As :func:`~mne_mousesleep.preprocess`, if the channels cannot be
        picked or the recording is shorter than three epochs.

    Notes
    -----
    Per 10-s epoch of the preprocessed signal (64 Hz, mV), ``P`` is the log
    of the power between 0.5 and 25 Hz (Welch, 2-s windows) and ``S`` the log
    share of that power in each band of
    :data:`~mne_mousesleep.scoring.gain.BANDS`. The gain model
    predicts ``P`` from ``S`` and ``S**2`` at the network's scale; the log gain
    is ``-median(P - predicted) / 2`` over the epochs without bad data. The
    model of the published networks was fitted on the package's simulated
    reference lab (``benchmarks/calibrate_gain_model.py``), at whose scale the
    published networks score best; :func:`~mne_mousesleep.train` fits one on
    its training recordings. Per-recording normalisation is standard in human
    sleep staging (e.g. U-Sleep); conditioning it on the spectral shape makes
    it independent of the mix of stages, which in mice changes the amplitude
    by a factor of two or more between a day and a night.
    """
    card = _card_without_weights(model)
    signal = _read_checked(raw, picks, card)
    _, record = _apply_gain(signal.data, card, signal.keep(card))
    return dict(record.get("gain") or {})
