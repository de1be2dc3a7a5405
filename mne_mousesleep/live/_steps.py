"""The pipeline's steps, one epoch at a time, on what has arrived so far.

Offline, each step looks at the whole recording: the low-pass runs forward
and backward over it, the gain and the EMG levels are estimated from all its
epochs, the hidden Markov model is run forward and backward. Live, each
epoch is decided once, from the samples up to the end of the epoch (and the
filter's reach beyond it), and the estimates are running ones:

- :class:`_Samples` keeps the samples still needed, the gaps filled;
- :class:`_EpochFilter` low-passes and resamples one epoch as the offline
  pass does, and checks it;
- :class:`_RunningGain` and :class:`_RunningEmg` are the gain step and the
  EMG levels, estimated from the epochs so far (a bounded history);
- the hidden Markov model is its forward filter
  (:func:`~mne_mousesleep.scoring.hmm._forward_step`).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from collections import deque

import numpy as np
from scipy.signal import lfilter, sos2tf, sosfiltfilt

from .._stages import UNSCORED
from ..scoring.check import (
    DEAD_FLOOR_MV,
    DEAD_MIN_DURATION,
    EXTREME,
    FLAT,
    FLAT_MIN_DURATION,
    NONFINITE,
)
from ..scoring.emg import _above_nrem, _awake_level, _high_by_record, _high_emg
from ..scoring.gain import BANDS, _epoch_features, _residuals
from ..scoring.preprocessing import _lowpass_sos, _n_settle

#: Samples beyond this (volts) are extreme: no EEG or EMG reaches 1 V.
EXTREME_V = 1.0
#: The filter's start transient decays by this within the samples read around
#: an epoch (float32's resolution; offline, 1e-12 in float64): about 0.14 s.
SETTLE = 1e-7
#: EMG values the mixture is fitted on at most (every k-th of the history):
#: the fit then takes a few ms.
EMG_FIT_VALUES = 1440


class _Ring:
    """The last ``size`` values (or rows of ``width``) of a series, in fixed memory."""

    def __init__(self, size, width=None, dtype=float, fill=np.nan):
        shape = (size,) if width is None else (size, width)
        self.data = np.full(shape, fill, dtype=dtype)
        self.n = 0  # values appended so far

    def __len__(self):
        return min(self.n, len(self.data))

    def append(self, value):
        self.data[self.n % len(self.data)] = value
        self.n += 1

    def values(self):
        """Return the values kept, oldest first (a view until the ring is full)."""
        size = len(self.data)
        if self.n <= size:
            return self.data[: self.n]
        k = self.n % size
        return np.concatenate([self.data[k:], self.data[:k]])


class _Samples:
    """The stream's samples of the picked channels still needed.

    Samples are numbered from the first one the stream gave (``start`` is
    the number of column 0); ``filled`` marks samples that stand for missing
    data (a gap, a dropped or unreadable chunk), ``why`` the reason of each
    filled stretch. Memory is bounded: :meth:`drop` forgets what no epoch to
    come needs.
    """

    def __init__(self, n_channels, capacity=4096):
        self.data = np.empty((n_channels, capacity))
        self.times = np.empty(capacity)
        self.filled = np.zeros(capacity, bool)
        self.start = 0  # number of the sample in column 0
        self.n = 0  # columns in use
        self.why = deque()  # (first, stop, reason) of the filled stretches

    @property
    def stop(self):
        """Number of the sample after the last one."""
        return self.start + self.n

    def append(self, data, times, reason=None):
        """Append samples ``(n_channels, m)`` with their ``times`` ``(m,)``."""
        m = data.shape[1]
        if self.n + m > self.data.shape[1]:
            size = max(2 * self.data.shape[1], self.n + m)
            for name in ("data", "times", "filled"):
                old = getattr(self, name)
                new = np.empty((*old.shape[:-1], size), old.dtype)
                new[..., : self.n] = old[..., : self.n]
                setattr(self, name, new)
        self.data[:, self.n : self.n + m] = data
        self.times[self.n : self.n + m] = times
        self.filled[self.n : self.n + m] = reason is not None
        if reason is not None:
            self.why.append((self.stop, self.stop + m, reason))
        self.n += m

    def get(self, first, stop):
        """Return samples ``first`` to ``stop``: data, times, filled (views)."""
        a, b = first - self.start, stop - self.start
        return self.data[:, a:b], self.times[a:b], self.filled[a:b]

    def reasons(self, first, stop):
        """Return the reasons of the gaps among samples ``first`` to ``stop``."""
        return {r for a, b, r in self.why if a < stop and b > first}

    def drop(self, first):
        """Forget the samples before number ``first``."""
        k = min(max(first - self.start, 0), self.n)
        if k:
            for name in ("data", "times", "filled"):
                arr = getattr(self, name)
                arr[..., : self.n - k] = arr[..., k : self.n]
            self.start += k
            self.n -= k
        while self.why and self.why[0][1] <= self.start:
            self.why.popleft()


class _EpochFilter:
    """The published low-pass and resampling of one epoch, with its checks.

    Epoch ``k`` covers the card's samples ``k * n`` to ``(k + 1) * n`` (``n``
    at the card's rate, 640 at 64 Hz), at times ``j / card.sfreq`` s from the
    stream's first sample. It is computed from the stream's samples around it
    (the filter's reach on each side) as the offline pass computes the inside
    of a chunk: forward and backward from rest (:func:`scipy.signal.lfilter`),
    or at the start of the stream with :func:`scipy.signal.sosfiltfilt` and
    its constant padding; the transients decay by :data:`SETTLE` within the
    reach (offline by 1e-12: the same float32 input to the network). The
    reach after the epoch is what the decision waits for. It is then interpolated
    linearly at the card's times. At 64 Hz this is the offline computation
    to float rounding; at other rates the offline resampling stretches its
    grid by ``n_times / (n_times - 1)`` of the recording (a 64-Hz sample
    over the recording), which a stream, whose end is not known, cannot.
    """

    def __init__(self, sfreq, card):
        self.sfreq, self.card = float(sfreq), card
        self.sos = _lowpass_sos(self.sfreq)
        self.b, self.a = sos2tf(self.sos)
        # The samples after the epoch the backward pass needs: its transient
        # decays below float32's resolution (the network's input) within them.
        self.reach = _n_settle(self.sos, SETTLE) + 2
        self.n_new = round(card.epoch_length * card.sfreq)
        self.n_emg = round(card.epoch_length * self.sfreq)  # as emg_power

    def span(self, k):
        """Stream samples (numbers) epoch ``k`` is computed from: ``(first, stop)``."""
        t0 = k * self.n_new / self.card.sfreq
        t1 = ((k + 1) * self.n_new - 1) / self.card.sfreq
        first = max(int(np.floor(t0 * self.sfreq)) - self.reach, 0)
        stop = int(np.floor(t1 * self.sfreq)) + 2 + self.reach
        return first, stop

    def core(self, k):
        """Stream samples (numbers) of epoch ``k`` itself: ``(first, stop)``."""
        first = int(np.ceil(k * self.n_new / self.card.sfreq * self.sfreq))
        stop = int(np.floor(((k + 1) * self.n_new - 1) / self.card.sfreq * self.sfreq))
        return first, stop + 1

    def epoch(self, x, first, k, at_end=False):
        """Epoch ``k`` in mV at the card's rate from samples ``x`` from ``first``.

        ``x`` ``(n_channels, n)`` in volts, bad samples already zeroed;
        ``at_end``: ``x`` ends with the stream.
        """
        if first == 0 or at_end:
            y = sosfiltfilt(self.sos, x, axis=-1, padtype="constant")
        else:
            y = lfilter(self.b, self.a, lfilter(self.b, self.a, x)[:, ::-1])[:, ::-1]
        t_new = (k * self.n_new + np.arange(self.n_new)) / self.card.sfreq
        t_old = (first + np.arange(x.shape[1])) / self.sfreq
        return 1e3 * np.stack([np.interp(t_new, t_old, ch) for ch in y])


def _bad_samples(x, filled, sfreq):
    """Reasons of the bad samples of ``x`` ``(n_channels, n)`` (volts), and the mask.

    NaN or infinite, beyond :data:`EXTREME_V`, or flat (the same value for
    :data:`~mne_mousesleep.scoring.check.FLAT_MIN_DURATION` s or more, as a
    railed amplifier or a stopped acquisition gives). ``filled`` samples
    stand for missing data: their reason is the gap's.
    """
    reasons = set()
    with np.errstate(invalid="ignore"):
        nonfinite = ~np.isfinite(x) & ~filled
        extreme = (np.abs(x) > EXTREME_V) & ~nonfinite & ~filled
    if nonfinite.any():
        reasons.add(NONFINITE)
    if extreme.any():
        reasons.add(EXTREME)
    bad = nonfinite.any(axis=0) | extreme.any(axis=0) | filled
    n_flat = int(np.ceil(FLAT_MIN_DURATION * sfreq))
    if x.shape[1] > n_flat:
        same = np.diff(x, axis=1) == 0
        same[:, bad[1:] | bad[:-1]] = False
        # Runs of n_flat - 1 equal steps: a sliding sum over the steps.
        run = np.cumsum(np.pad(same, ((0, 0), (1, 0))), axis=1)
        if ((run[:, n_flat - 1 :] - run[:, : -n_flat + 1]) >= n_flat - 1).any():
            reasons.add(FLAT)
    return reasons, bad


def _dead(epoch_mv, sfreq):
    """Whether the low-passed epoch ``(n_channels, n)`` (mV) holds a dead electrode.

    :data:`~mne_mousesleep.scoring.check.DEAD_MIN_DURATION` or more of its 1-s
    blocks (anywhere in the epoch) have a standard deviation below the
    amplifier's floor (:data:`~mne_mousesleep.scoring.check.DEAD_FLOOR_MV`).
    Offline also counts blocks 20 times quieter than the recording's typical
    second, which a stream does not know yet.
    """
    n = int(sfreq)
    blocks = epoch_mv[:, : epoch_mv.shape[1] // n * n].reshape(len(epoch_mv), -1, n)
    return bool(
        ((blocks.std(axis=-1) < DEAD_FLOOR_MV).sum(axis=1) >= DEAD_MIN_DURATION).any()
    )


class _RunningGain:
    """The gain step from the epochs so far (see :mod:`~mne_mousesleep.scoring.gain`).

    Each clean epoch adds its residual ``P - c - f(S)`` per channel; the log
    gain is ``-median / 2`` of the last ``history`` residuals. The estimate
    is used once ``warmup`` epochs gave one.
    """

    def __init__(self, card, warmup, history):
        model = card.details.get("gain_model") or {}
        self.channels = model.get("channels") or [None] * card.n_channels
        self.bands = model.get("bands", BANDS)
        self.card, self.warmup = card, warmup
        self.applied = bool(model)
        self.residuals = [_Ring(history) for _ in range(card.n_channels)]
        self.reference = model.get("reference", "")

    def add(self, epoch_mv):
        """Add the residuals of a clean epoch ``(n_channels, n)`` (mV, no gain)."""
        for ch, params in enumerate(self.channels):
            if params is None:
                continue
            power, shape = _epoch_features(
                epoch_mv[ch], self.card.sfreq, self.card.epoch_length, self.bands
            )
            if np.isfinite(power[0]):
                self.residuals[ch].append(float(_residuals(power, shape, params)[0]))

    @property
    def ready(self):
        """Whether the warm-up is over (every channel with a gain model has it)."""
        return all(
            len(r) >= self.warmup
            for r, p in zip(self.residuals, self.channels)
            if p is not None
        )

    def gains(self):
        """Return the factor of each channel, ``(n_channels,)`` (1: no gain model)."""
        out = np.ones(len(self.channels))
        for ch, (r, p) in enumerate(zip(self.residuals, self.channels)):
            if p is not None and len(r):
                out[ch] = np.exp(-0.5 * np.median(r.values()))
        return out

    def record(self):
        """Return the gain record, as offline (``"gain"``, ``"n_epochs"``)."""
        gains = self.gains()
        return dict(
            applied=self.applied,
            gain={
                name: float(g)
                for name, g, p in zip(self.card.channels, gains, self.channels)
                if p is not None
            },
            n_epochs=[len(r) for r in self.residuals],
            reference=self.reference,
            running=True,
        )


class _Debounce:
    """Announce a stage once it has held for ``n`` consecutive scored epochs.

    Called with each epoch's stage; an unscored epoch breaks the count.
    Returns ``(announced, before)``: whether this epoch announces a new
    stage, and the stage announced before it (None at the first).
    """

    def __init__(self, n):
        self.n, self.current, self.run, self.announced = n, None, 0, None

    def __call__(self, stage):
        if stage == UNSCORED:
            self.current, self.run = None, 0
            return False, None
        self.run = self.run + 1 if stage == self.current else 1
        self.current = stage
        if self.run < self.n or stage == self.announced:
            return False, None
        before, self.announced = self.announced, stage
        return True, before


def _due(n, every):
    """Whether a running estimate is computed again after ``n`` epochs.

    Every 10 epochs for the first ``6 * every`` (the first hour at 60), then
    every ``every`` epochs.
    """
    return n % every == 0 if n >= 6 * every else n % 10 == 0


class _RunningEmg:
    """The EMG levels fitted on the epochs so far, refitted as :func:`_due` says.

    Keeps the last ``history`` epochs' log EMG power and network calls; the
    levels are those of the offline step (:func:`~.emg._awake_level`, or
    :func:`~.emg._above_nrem` when the mixture is undecided), fitted on
    them (the mixture on at most :data:`EMG_FIT_VALUES`, every k-th), and a
    new epoch is awake-level by :func:`~.emg._high_by_record`.
    """

    def __init__(self, classes, refit, history):
        # The mixture's first fit costs 20 ms more than the next ones (imports
        # and caches): paid here, not by the first decision that refits.
        _high_emg(np.linspace(0.0, 1.0, 20))
        self.classes = list(classes)
        self.refit = refit
        self.power = _Ring(history)
        self.best = _Ring(history, dtype=int, fill=-1)
        self.info = dict(informative=False, reason="no fit yet", above_nrem={})
        self.n_added = 0

    def add(self, log_power, best):
        """Add an epoch's log EMG power and call (class index, -1 unscored)."""
        self.power.append(log_power)
        self.best.append(best)
        self.n_added += 1
        if _due(self.n_added, self.refit):
            self.fit()

    def fit(self):
        """Fit the levels on the history."""
        power, best = self.power.values(), self.best.values()
        step = max(1, -(-len(power) // EMG_FIT_VALUES))
        _, info = _awake_level(power[::step], best[::step], self.classes)
        if not info["informative"]:
            info["above_nrem"] = _above_nrem(power, best, self.classes)[1]
        self.info = info

    def high(self, log_power):
        """Whether an epoch's tone is awake-level by the last fit."""
        return bool(_high_by_record(np.array([log_power]), self.info)[0])

    @property
    def nrem_rule(self):
        """Whether NREM calls on awake-level tone go to Wake.

        Only with an informative mixture and the NREM calls' own level (10 or
        more of them in the history): early in a stream that is mostly NREM
        and REM, the mixture's upper component is NREM itself.
        """
        return bool(self.info.get("informative")) and (
            self.info.get("nrem_level") is not None
        )
