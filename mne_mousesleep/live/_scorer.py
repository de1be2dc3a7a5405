"""Scoring a stream epoch by epoch: :class:`~mne_mousesleep.OnlineScorer`."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import time
import traceback
from collections import deque
from dataclasses import asdict, dataclass, field

import mne
import numpy as np
from mne.utils import _validate_type, logger, verbose

from .._docs import fill_doc
from .._stages import UNSCORED
from ..models import load_model
from ..scoring._result import _most_probable
from ..scoring._roles import _Fold
from ..scoring.check import (
    DEAD,
    _emg_dead_epochs,
    _emg_rows,
    _no_context,
    _pick_for_model,
    _resolve_emg,
)
from ..scoring.emg import _epochs_log_power, _relabel
from ..scoring.gain import _check_adapt
from ..scoring.hmm import _check_smooth, _emissions, _forward_step
from ..scoring.trust import judge
from ._steps import (
    _bad_samples,
    _dead,
    _Debounce,
    _due,
    _EpochFilter,
    _Ring,
    _RunningEmg,
    _RunningGain,
    _Samples,
)

#: Epochs before the gain step's running estimate is used (5 min of 10-s epochs).
WARMUP_EPOCHS = 30
#: Epochs the running estimates look back over (24 h of 10-s epochs).
HISTORY_EPOCHS = 8640
#: The EMG levels and the trust verdict are computed again every this many
#: epochs (every 10 in the first hour).
REFIT_EPOCHS = 60
#: A jump of the timestamps beyond this (s, and 1.5 sample periods) is a gap.
GAP_TOLERANCE = 0.05
#: Gaps longer than this (s) start the epochs again from the next sample.
MAX_GAP = 3600.0
#: Epochs whose timestamps advance more than this fraction off the declared
#: rate are unscored.
RATE_TOLERANCE = 0.05


@dataclass(frozen=True)
class Decision:
    """The decision on one epoch of a stream.

    Made by :class:`~mne_mousesleep.OnlineScorer`; each field is an attribute.

    Parameters
    ----------
    epoch : int
        The epoch's number, from 0 at the stream's first sample.
    onset : float
        The epoch's onset in seconds from the stream's first sample
        (``epoch * epoch_length``).
    timestamp : float
        The stream's timestamp of the epoch's first sample (s, the stream's
        clock: LSL's :func:`~mne_lsl.lsl.local_clock` for an LSL stream).
    stage : str
        The most probable class after the steps, or ``"unscored"``.
    proba : dict
        The probability of each class after the steps (empty if unscored).
    network_stage : str
        The network's most probable class before the EMG rules and the
        hidden Markov model (``"unscored"`` if unscored).
    reason : str | None
        Why the epoch is unscored (None if scored).
    latency : float
        Seconds from the epoch's last sample (its timestamp) to the
        decision (the scorer's ``clock``); NaN without timestamps.
    compute : float
        Seconds of computation for this decision (in
        :meth:`~mne_mousesleep.OnlineScorer.push`).
    delay_epochs : int
        Epochs after this one that the model looked at (0: causal model; 1:
        the published networks, whose window is centred).
    gain : float | None
        The gain step's factor of the first EEG channel (None: no gain step).
    emg_high : bool | None
        Whether the EMG was awake-level (None: no EMG step).
    trust : str
        The running trust verdict (``"ok"``, ``"review"``, ``"unreliable"``;
        ``"pending"`` before the first).
    n_errors : int
        Problems met so far (bad chunks, failing callbacks), each logged.
    at_end : bool
        Decided by :meth:`~mne_mousesleep.OnlineScorer.flush` at the end of
        the stream (its latency is the wait for the end).
    """

    epoch: int
    onset: float
    timestamp: float
    stage: str
    proba: dict = field(default_factory=dict)
    network_stage: str = UNSCORED
    reason: str | None = None
    latency: float = float("nan")
    compute: float = 0.0
    delay_epochs: int = 0
    gain: float | None = None
    emg_high: bool | None = None
    trust: str = "pending"
    n_errors: int = 0
    at_end: bool = False

    @property
    def scored(self):
        """Whether the epoch got a stage."""
        return self.reason is None

    def to_dict(self):
        """Return the decision as a dict of plain values."""
        return asdict(self)


@fill_doc
class OnlineScorer:
    """Score a stream of samples epoch by epoch, as it arrives.

    Give it the chunks of a stream (an LSL inlet, an acquisition card's
    callback, a file read piece by piece) with :meth:`push`; each epoch is
    decided as soon as the model can see it, and returned, passed to
    ``on_epoch`` and, when the stage changes, to ``on_stage_change``.

    Parameters
    ----------
    %(model)s
        A causal model (``train(..., context="causal")``, card
        ``context="causal"``) decides each epoch when it ends; a published
        network looks one epoch ahead and decides it one epoch later
        (``delay_epochs``).
    info : mne.Info
        The stream's channels and sampling rate (``sfreq``, Hz): e.g.
        ``StreamLSL.info``, or ``raw.info`` of the recording replayed.
    %(picks_live)s
    %(emg_live)s
    %(adapt)s
        Live, the gain is the running estimate of the last
        24 h of clean epochs (``HISTORY_EPOCHS``), used after ``warmup`` epochs;
        the epochs before are unscored (reason ``"warm-up"``).
    %(smooth)s
        Live, the hidden Markov model is its forward filter: each epoch's
        probabilities given the epochs so far.
    warmup : int
        Clean epochs the gain step's estimate needs before epochs are scored.
    on_epoch : callable | None
        Called with each :class:`~mne_mousesleep.Decision`.
    on_stage_change : callable | None
        Called with a :class:`~mne_mousesleep.Decision` and the stage before it when the
        stage changes, once the new stage has held for ``debounce``
        consecutive scored epochs (the first stage too, with None before).
        Unscored epochs break the count.
    debounce : int
        Consecutive scored epochs a new stage must hold (>= 1).
    clock : callable | None
        Returns the current time in the clock of the timestamps, for
        ``latency`` (None: :func:`time.monotonic`, the clock of LSL's
        ``local_clock`` on Linux).
    %(verbose)s

    Attributes
    ----------
    decisions : int
        Epochs decided so far.
    n_errors : int
        Problems met so far (bad chunks, failing callbacks); each is logged
        at the error level.
    trust : dict
        The last trust record (see :func:`~mne_mousesleep.predict_proba`),
        updated every 10 epochs in the first hour, then every 60, over
        the last 24 h.

    Raises
    ------
    ValueError
        If the channels cannot be picked from ``info``, if its rate is below
        the model's, or if an option is invalid.

    Notes
    -----
    Each step of the offline pipeline has its live form: the published
    low-pass and resampling per epoch, from the samples up to the filter's
    reach (a fraction of a second) past it; the checks of each epoch (NaN,
    values beyond 1 V, a flat stretch of 1 s, a dead electrode, gaps in the
    timestamps, chunks of the wrong shape, timestamps that advance at another
    rate than ``info["sfreq"]``), which leave the epochs whose window they
    touch unscored with their reason; the gain step and the EMG levels from
    the epochs so far; the hidden Markov model's forward filter; the trust
    verdict over the last day. The network is run on each window as
    published.

    :meth:`push` never raises for what the stream gives: a chunk it cannot
    use is taken as missing data, its epochs unscored with the reason, the
    problem logged and counted. Decisions do not depend on how the stream
    is cut into chunks.
    """

    @verbose
    def __init__(
        self,
        model=None,
        info=None,
        picks=None,
        emg="auto",
        *,
        adapt="gain",
        smooth="hmm",
        warmup=WARMUP_EPOCHS,
        on_epoch=None,
        on_stage_change=None,
        debounce=1,
        clock=None,
        verbose=None,
    ):
        _validate_type(info, mne.Info, "info")
        _check_adapt(adapt)
        _validate_type(warmup, "int", "warmup")
        _validate_type(debounce, "int", "debounce")
        if debounce < 1 or warmup < 1:
            raise ValueError(
                f"debounce and warmup must be >= 1, got {debounce} and {warmup}."
            )
        for name, func in (
            ("on_epoch", on_epoch),
            ("on_stage_change", on_stage_change),
        ):
            if func is not None and not callable(func):
                raise TypeError(f"{name} must be callable or None, got {func!r}.")
        self.model = load_model(model)
        card = self.card = self.model.card
        sfreq = info["sfreq"]
        if not sfreq >= card.sfreq:
            raise ValueError(
                f"The stream's sampling rate ({sfreq:g} Hz) is below the model's "
                f"({card.sfreq:g} Hz)."
            )
        probe = mne.io.RawArray(
            np.zeros((len(info.ch_names), 1)), info, verbose=False
        )  # the channels, to pick by the package's rules
        self.idx = list(_pick_for_model(probe, picks, card))
        self.ch_names = [info.ch_names[ii] for ii in self.idx]
        # Picked EMG channels are judged on their broadband signal (atonia).
        self._emg_rows = _emg_rows(
            card, self.ch_names, probe.get_channel_types(picks=self.idx)
        )
        self.emg, emg_note = _resolve_emg(probe, emg)
        self.info, self.sfreq = info, float(sfreq)
        self.adapt, self.warmup = adapt, warmup
        self.fold = _Fold(card.classes, card.roles)
        self.transition = _check_smooth(smooth, self.fold.stages, card.epoch_length)
        self.on_epoch, self.on_stage_change = on_epoch, on_stage_change
        self.debounce = debounce
        self.clock = time.monotonic if clock is None else clock
        self.decisions = 0
        self.n_errors = 0
        self._last_error = [None, 0]  # the last problem logged, and its repeats
        self._timed = False
        self.trust = dict(verdict="pending", reasons=[], notes=[], indicators={})
        self._emg_note = emg_note
        self._expected = {_no_context(card), self._warmup_reason()}
        self._filter = _EpochFilter(self.sfreq, card)
        self._gain = _RunningGain(card, warmup, HISTORY_EPOCHS)
        self._emg = (
            None
            if self.emg is None
            else _RunningEmg(self.fold.stages, REFIT_EPOCHS, HISTORY_EPOCHS)
        )
        self._network = self.model._network_on(None)
        n_window = 2 * card.n_context + 1
        self._window = deque(maxlen=n_window)  # (epoch mV, reasons) of the last epochs
        self._epochs = deque(maxlen=n_window)  # (timestamps, EMG power) per epoch
        # The last day, for the trust verdict: the network's calls, the final
        # probabilities of the stages, the epochs lost to bad data.
        self._labels = _Ring(HISTORY_EPOCHS, dtype=object, fill=UNSCORED)
        self._final = _Ring(HISTORY_EPOCHS, len(self.fold.stages))
        self._lost = _Ring(HISTORY_EPOCHS, dtype=bool, fill=False)
        self._alpha = None
        self._debounce = _Debounce(debounce)
        self._offset = self._next = 0
        self._reset_stream()

    def __repr__(self):
        return (
            f"<OnlineScorer | {self.card.name} ({self.card.context}), "
            f"{', '.join(self.ch_names)}"
            + (f" + EMG {self.emg}" if self.emg else "")
            + f", {self.sfreq:g} Hz, {self.decisions} epochs decided>"
        )

    def _warmup_reason(self):
        return f"warm-up (the gain step needs {self.warmup} clean epochs)"

    @property
    def delay_epochs(self):
        """Epochs after the scored one that the model waits for."""
        return self.card.lookahead

    def _reset_stream(self):
        """Start the epochs again at the next sample (a new stream's clock).

        The epochs of the segment that ends keep their numbers: the new
        segment's epoch 0 is number ``_offset``.
        """
        self._samples = _Samples(len(self.idx) + (self.emg is not None))
        self._offset += self._next
        self._next = 0  # next epoch of the segment to preprocess
        self._at_end = False
        self._last_time = None
        self._window.clear()
        self._epochs.clear()

    def push(self, data, timestamps=None):
        """Give the scorer the next chunk of the stream.

        Parameters
        ----------
        data : array of float, shape (n_channels, n_times)
            The chunk, every channel of ``info`` in its order, in volts.
        timestamps : array of float, shape (n_times,) | None
            Each sample's time in seconds (the stream's clock). None: the
            samples follow the last ones without a gap.

        Returns
        -------
        decisions : list of mne_mousesleep.Decision
            The epochs this chunk completed, in order (often none; several
            after a gap).
        """
        self._timed = timestamps is not None
        try:
            x, t, problem = self._check_chunk(data, timestamps)
        except Exception as err:  # never let the acquisition loop die
            self._error(f"unusable chunk ({type(err).__name__}: {err})")
            return []
        out = []
        try:
            if problem is not None:
                self._error(problem)
            if len(t):
                self._fill_gap(t[0], out)
                self._samples.append(x, t, None if problem is None else problem)
                self._last_time = t[-1]
                self._process(out)
        except Exception:
            self._error("scoring failed:\n" + traceback.format_exc())
        return out

    def flush(self):
        """Decide the epochs left when the stream has ended.

        The last epochs wait for samples beyond them (the filter's reach, the
        next epoch for a published network); at the end of a stream (a
        replayed file), they are decided from what arrived, the end filtered
        as offline (constant padding). Pushing after it starts the epochs
        again from the next sample.

        Returns
        -------
        decisions : list of mne_mousesleep.Decision
            The epochs decided, in order.
        """
        out = []
        try:
            filt, samples = self._filter, self._samples
            card = self.card
            self._at_end = True
            # The epochs the offline resampling would hold whole.
            n_new = round(samples.stop / self.sfreq * card.sfreq)
            while (self._next + 1) * filt.n_new <= n_new:
                self._decide(self._next, out)
            self._end_segment(out, _no_context(card))
        except Exception:
            self._error("flush failed:\n" + traceback.format_exc())
        return out

    def _check_chunk(self, data, timestamps):
        n_ch = len(self.info.ch_names)
        try:
            data = np.asarray(data, float)
        except (TypeError, ValueError) as err:  # strings, ragged lists
            n = (
                np.shape(timestamps)[0]
                if timestamps is not None
                else np.shape(data)[-1]
            )
            problem = f"chunk of non-numbers ({err}): taken as missing"
            t = self._synthetic_times(n) if timestamps is None else timestamps
            return self._nan(n), np.asarray(t, float), problem
        if data.ndim == 1 and n_ch == 1:
            data = data[None]
        n = data.shape[-1] if data.ndim == 2 else 0
        if timestamps is None:
            t = self._synthetic_times(n)
        else:
            t = np.asarray(timestamps, float).reshape(-1)
        if data.ndim != 2 or data.shape[0] != n_ch:
            rows = f"{data.shape[0]} channel(s)" if data.ndim == 2 else f"{data.ndim}-D"
            problem = (
                f"chunk of {rows}, not ({n_ch} channels, n_times) as the stream's "
                "info: taken as missing"
            )
            return self._nan(len(t)), t, problem
        if len(t) != n or not np.isfinite(t).all():
            problem = (
                f"{len(t)} timestamps (finite: {bool(np.isfinite(t).all())}) for "
                f"{n} samples: the chunk is taken as missing"
            )
            t = self._synthetic_times(n)
            return self._nan(n), t, problem
        picks = self.idx + ([self.info.ch_names.index(self.emg)] if self.emg else [])
        return data[picks], t, None

    def _nan(self, n):
        return np.full((self._samples.data.shape[0], n), np.nan)

    def _synthetic_times(self, n):
        t0 = 0.0 if self._last_time is None else self._last_time + 1.0 / self.sfreq
        return t0 + np.arange(n) / self.sfreq

    def _fill_gap(self, t0, out):
        """Fill the samples missing before time ``t0`` (a gap in the timestamps)."""
        if self._last_time is None:
            return
        step = 1.0 / self.sfreq
        jump = t0 - self._last_time
        tolerance = max(GAP_TOLERANCE, 1.5 * step)
        if jump < -tolerance or jump > MAX_GAP:
            why = "went back" if jump < 0 else f"jumped {jump:.0f} s"
            self._error(f"the stream's timestamps {why}: epochs start again")
            self._restart(out, f"stream restarted (timestamps {why})")
            return
        if jump <= tolerance + step:
            return
        reason = f"gap in the stream ({jump - step:.2f} s)"
        self._error(f"{reason} after {self._last_time:.3f} s")
        self._missing(round(jump * self.sfreq) - 1, reason, out)

    def _missing(self, n, reason, out, last_time=None):
        """Take ``n`` samples as missing (NaN, ``reason``); decide what they complete.

        They follow ``last_time`` (default: the last sample's), in blocks of
        an epoch, so memory stays bounded over a long gap.
        """
        step = 1.0 / self.sfreq
        if last_time is not None:
            self._last_time = last_time
        block = max(self._filter.n_emg, 1)
        for a in range(0, n, block):
            m = min(block, n - a)
            times = self._last_time + step * np.arange(1, m + 1)
            self._samples.append(self._nan(m), times, reason)
            self._last_time = times[-1]
            self._process(out)

    def _restart(self, out, reason):
        """End the current epochs unscored and start the grid again."""
        # The epoch begun is decided (unscored) with the samples it has.
        self._missing(
            self._filter.span(self._next)[1] - self._samples.stop, reason, out
        )
        self._end_segment(out, reason)

    def _end_segment(self, out, reason):
        """Decide the epochs that wait for the future, unscored; start again.

        A model that looks ahead decides its last ``lookahead`` epochs only
        with the epochs after them: at the end of a stream, or of its clock,
        they are decided unscored with ``reason``.
        """
        for e in range(max(self._next - self.card.lookahead, 0), self._next):
            timing = self._epochs[len(self._epochs) - (self._next - e)]
            out.append(self._finish(dict(k=e, reason=reason), 0.0, timing))
        self._reset_stream()

    def _error(self, message):
        """Count a problem and log it (a run of the same one once, then its count)."""
        self.n_errors += 1
        if message == self._last_error[0]:
            self._last_error[1] += 1
            return
        if self._last_error[1]:
            logger.error(f"Live scoring: the last problem came {self._last_error[1]} "
                         "more time(s)")  # fmt: skip
        self._last_error = [message, 0]
        logger.error(f"Live scoring: {message}")

    def _process(self, out):
        """Decide every epoch whose samples have all arrived."""
        filt, samples = self._filter, self._samples
        while filt.span(self._next)[1] <= samples.stop:
            self._decide(self._next, out)

    def _decide(self, k, out):
        """Preprocess epoch ``k`` and decide the epoch it completes, if any."""
        filt = self._filter
        started = time.perf_counter()
        decision = self._epoch(k)
        self._next += 1
        self._samples.drop(min(filt.span(self._next)[0], self._next * filt.n_emg))
        if decision is not None:
            timing = self._epochs[len(self._epochs) - 1 - self.card.lookahead]
            decision = self._finish(decision, time.perf_counter() - started, timing)
            out.append(decision)

    def _epoch(self, k):
        """Preprocess epoch ``k``; return the decision it completes (a dict) or None."""
        filt, samples = self._filter, self._samples
        first, stop = filt.span(k)
        stop = min(stop, samples.stop)  # short of the reach only at the end
        x, times, filled = samples.get(first, stop)
        n_eeg = len(self.idx)
        reasons, bad = _bad_samples(x[:n_eeg], filled, self.sfreq)
        reasons |= samples.reasons(first, stop)
        core0, core1 = filt.core(k)
        x_core, t_core = samples.get(core0, core1)[:2]
        rate = (len(t_core) - 1) / (t_core[-1] - t_core[0]) if len(t_core) > 1 else 0
        if not abs(rate / self.sfreq - 1) <= RATE_TOLERANCE and not samples.reasons(
            core0, core1
        ):
            reasons.add(
                f"timestamps advance at {rate:.4g} Hz, not the stream's "
                f"{self.sfreq:g} Hz"
            )
        eeg = x[:n_eeg]
        if bad.any():
            eeg = np.where(bad, 0.0, eeg)
        epoch_mv = filt.epoch(eeg, first, k, at_end=self._at_end)
        if not reasons and self._dead(epoch_mv, x_core):
            reasons.add(DEAD)
        log_power = np.nan
        if self.emg is not None:
            e0 = k * filt.n_emg
            emg_x = samples.get(e0, e0 + filt.n_emg)[0][-1]
            log_power = _epochs_log_power(emg_x[None], self.sfreq)[0]
        if not reasons and self.adapt == "gain":
            self._gain.add(epoch_mv)
        self._window.append((epoch_mv, reasons))
        self._epochs.append((t_core[0], t_core[-1], log_power))
        e = k - self.card.lookahead  # the epoch this one completes
        if e < 0:
            return None
        if len(self._window) < self._window.maxlen:
            return dict(k=e, reason=_no_context(self.card))
        return self._score_window(e)

    def _dead(self, epoch_mv, x_core):
        """Whether epoch's picks hold a dead electrode.

        The EEG rows on the low-passed epoch ``epoch_mv`` (mV, the card's
        rate; :func:`._steps._dead`), the EMG rows on their own broadband
        samples ``x_core`` (volts, the stream's rate) as offline
        (:func:`~mne_mousesleep.scoring.check._emg_dead_epochs`).
        """
        eeg = [ii for ii in range(len(self.idx)) if ii not in self._emg_rows]
        if eeg and _dead(epoch_mv[eeg], self.card.sfreq):
            return True
        if not self._emg_rows:
            return False
        return bool(_emg_dead_epochs(x_core[self._emg_rows], self.sfreq).any())

    def _score_window(self, e):
        """Run the network and the steps on the window that scores epoch ``e``."""
        bad = sorted({r for _, reasons in self._window for r in reasons})
        if bad:
            return dict(k=e, reason="; ".join(bad))
        if self.adapt == "gain" and self._gain.applied and not self._gain.ready:
            return dict(k=e, reason=self._warmup_reason())
        window = np.concatenate([w for w, _ in self._window], axis=1)
        gains = self._gain.gains() if self.adapt == "gain" else np.ones(len(window))
        window = (window * gains[:, None]).astype(np.float32)
        proba = self.model._predict_windows(window[None], network=self._network)
        return dict(k=e, proba=proba.astype(float), gain=float(gains[0]))

    def _finish(self, d, compute, timing):
        """Apply the EMG rules, the forward filter, the trust; make the Decision.

        ``timing`` is the epoch's (first timestamp, last timestamp, EMG power).
        """
        started = time.perf_counter()
        card, fold = self.card, self.fold
        e = d["k"]
        t_first, t_last, log_power = timing
        by_class = d.get("proba")
        stages = fold.stages
        emg_high = None
        if by_class is None:
            values = np.full((1, len(stages)), np.nan)
            network_label = UNSCORED
        else:
            values = fold.fold(by_class) if not fold.plain else by_class.copy()
            best = values.argmax(axis=1)
            network_label = fold.labels(_most_probable(by_class, card.classes))[0]
            if self._emg is not None:
                emg_high = self._emg.high(log_power)
                _relabel(
                    values, stages, best, np.array([emg_high]), not self._emg.nrem_rule
                )
        if self._emg is not None:
            self._emg.add(log_power, -1 if by_class is None else int(best[0]))
        if self.transition is not None:
            chain = self.transition
            like = chain.expand(_emissions(values)[0])
            self._alpha = _forward_step(self._alpha, like, chain.trans, chain.start)
            if by_class is not None:
                values = chain.collapse(self._alpha)[None]
        scored = by_class is not None
        self._labels.append(network_label)
        self._final.append(values[0])  # the stages' (NaN if unscored)
        # The verdict weighs the epochs lost to bad data, not the start's.
        self._lost.append(not scored and d["reason"] not in self._expected)
        if by_class is not None and not fold.plain:
            values = fold.unfold(by_class, values)
        stage = (
            str(np.asarray(card.classes, object)[values[0].argmax()])
            if scored
            else UNSCORED
        )
        self.decisions += 1
        if _due(self.decisions - 5, REFIT_EPOCHS):  # between the EMG refits
            self._judge()
        now = self.clock()
        decision = Decision(
            epoch=self._offset + e,
            onset=float((self._offset + e) * card.epoch_length),
            timestamp=float(t_first),
            stage=stage,
            proba=dict(zip(card.classes, map(float, values[0]))) if scored else {},
            network_stage=str(network_label),
            reason=d.get("reason"),
            latency=float(now - t_last) if self._timed else float("nan"),
            compute=compute + time.perf_counter() - started,
            delay_epochs=card.lookahead,
            gain=d.get("gain") if self.adapt == "gain" and self._gain.applied else None,
            emg_high=emg_high,
            trust=self.trust["verdict"],
            n_errors=self.n_errors,
            at_end=self._at_end,
        )
        self._callbacks(decision)
        return decision

    def _judge(self):
        """Update the trust record over the history."""
        labels, values = self._labels.values(), self._final.values()
        quality = dict(n_unscored=int(self._lost.values().sum()), sfreq=self.sfreq)
        emg_record = (
            dict(channel=None, informative=False, reason=self._emg_note)
            if self._emg is None
            else dict(channel=self.emg, **self._emg.info)
        )
        gain_record = (
            self._gain.record() if self.adapt == "gain" else dict(applied=False)
        )
        self.trust = judge(
            labels, values, self.fold.stages, quality, gain_record, emg_record,
            self.transition is not None, epoch_length=self.card.epoch_length,
        )  # fmt: skip

    def _callbacks(self, decision):
        self._call("on_epoch", self.on_epoch, (decision,))
        changed, before = self._debounce(decision.stage)
        if changed:
            self._call("on_stage_change", self.on_stage_change, (decision, before))

    def _call(self, name, func, args):
        if func is None:
            return
        try:
            func(*args)
        except Exception:
            self._error(f"{name} failed:\n" + traceback.format_exc())
