"""Step 2b: what could not be scored, and the quality record of a recording.

After step 2 has read the recording, the bad stretches that step 1's
chunk checker found (and the ``BAD_*`` annotations) become the epochs whose
window touches one, left unscored with their reason; the amplitude of the
scorable epochs is measured; everything goes into the quality record (a
dict of plain Python values, JSON-ready: the ``quality`` record of
:class:`~mne_mousesleep.ScoringResult`, ``proba.attrs["quality"]``).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from typing import NamedTuple

import numpy as np
from mne.utils import warn
from scipy.stats import median_abs_deviation

from .check import (
    AMPLITUDE_RANGE_MV,
    DEAD,
    DEAD_FACTOR,
    DEAD_FLOOR_MV,
    DEAD_MIN_DURATION,
    EMG_DEAD_FLOOR_MV,
    FLAT,
    TYPICAL_MV,
    _live,
)


class _Signal(NamedTuple):
    """A recording after steps 1 to 2b: checked, preprocessed, its bad epochs."""

    #: The picked channels in mV at the card's rate, ``(n_channels, n_times)``.
    data: np.ndarray
    #: Names of the picked channels, in the network's input order.
    ch_names: list
    #: The quality record (JSON-ready; see :func:`.quality._finish`).
    quality: dict
    #: ``{epoch: set of reasons}`` of the epochs whose window touches bad data.
    unscorable: dict

    def keep(self, card):
        """Return the mask of the epochs without bad data, ``(n_epochs,)``."""
        n_epoch_samples = round(card.epoch_length * card.sfreq)
        keep = np.ones(self.data.shape[1] // n_epoch_samples, bool)
        keep[sorted(self.unscorable)] = False
        return keep


def _finish(checked, data, card, reach):
    """Turn what step 1 found into unscorable epochs and the quality record.

    ``checked`` is what step 1 returned (:func:`.check._check_input`),
    ``data`` the preprocessed signal (mV, at the card's rate), ``reach`` the
    samples (at the recording's rate) that one bad sample affects after the
    filter and the resampling. Returns the quality record (JSON-ready) and
    ``{epoch: set of reasons}`` of the epochs whose window touches bad data.
    Raises :class:`ValueError` if no epoch can be scored.
    """
    sfreq, ch_names = checked.sfreq, checked.ch_names
    n_epoch_samples = round(card.epoch_length * card.sfreq)
    n_epochs = data.shape[1] // n_epoch_samples
    found = _merge(checked.checker.found + checked.annotations)
    segments = _merge(found + _dead_segments(data, card, checked, found, reach))
    unscorable = _unscorable(segments, n_epochs, card, sfreq, reach)
    interior = range(2 * card.n_context - card.lookahead, n_epochs - card.lookahead)
    if all(k in unscorable for k in interior):
        duration = checked.n_times / sfreq
        emg = [ch_names[ii] for ii in checked.emg_rows]
        raise ValueError(
            _nothing_to_score(segments, sfreq, duration, ch_names, card, emg)
        )
    amplitude = _amplitude(data, n_epoch_samples, n_epochs, unscorable)
    notes = list(checked.notes) + _amplitude_notes(checked, amplitude)
    quality = dict(
        sfreq=float(sfreq),
        model_sfreq=float(card.sfreq),
        ch_names=list(ch_names),
        amplitude_mv={n: float(v) for n, v in zip(ch_names, amplitude)},
        typical_mv=TYPICAL_MV,
        amplitude_ratio={n: float(v / TYPICAL_MV) for n, v in zip(ch_names, amplitude)},
        likely_unit_error=checked.likely_unit_error,
        recording=dict(checked.identity),
        reject_by_annotation=bool(checked.reject_by_annotation),
        bad_segments=_segments_record(segments, sfreq),
        bad_seconds=_bad_seconds(segments, sfreq),
        warnings=notes,
        reader_warnings=[],
    )
    return _Signal(data, list(ch_names), quality, unscorable)


def _dead_segments(data, card, checked, found, reach):
    """Return the stretches of a dead or disconnected electrode.

    An EEG channel: the standard deviation of each 1-s block of the
    preprocessed signal (``data``, mV at the card's rate) is compared with
    the amplifier floor and the recording's typical second
    (:func:`.check._live`). An EMG channel (``checked.emg_rows``): the dead
    1-s blocks of its own broadband signal that the chunk checker found
    (:data:`.check.EMG_DEAD_FLOOR_MV`; muscle atonia is no dead electrode).
    Blocks within ``reach`` (samples at the recording's rate) of a stretch
    already ``found`` bad are left out (their samples were zeroed). Each run
    of at least :data:`.check.DEAD_MIN_DURATION` dead blocks, widened by a
    block on either side (a stretch rarely starts on a block's edge), is
    returned as ``(start, stop, reason, channel)`` in samples of the
    recording.
    """
    block = max(1, round(card.sfreq))
    n_blocks = data.shape[1] // block
    blocks = data[:, : n_blocks * block].reshape(len(data), n_blocks, block)
    spread = blocks.std(axis=2, dtype=np.float64)
    emg_dead = checked.checker.emg_dead
    out = []
    for ii, name in enumerate(checked.ch_names):
        if ii in checked.emg_rows:
            if ii not in emg_dead:  # check_units=False: no absolute floor
                continue
            per = checked.checker.block  # samples of the recording per block
            dead = emg_dead[ii] & ~_covered(found, name, len(emg_dead[ii]), per, 0)
        else:
            per = block * checked.sfreq / card.sfreq
            usable = ~_covered(found, name, n_blocks, per, reach)
            if not usable.any():
                continue
            dead = np.zeros(n_blocks, bool)
            dead[usable] = ~_live(
                spread[ii, usable], checked.check_units, all_dead=True
            )
        dead = _long_runs(dead, DEAD_MIN_DURATION)
        # The blocks on either side hold the rest of the stretch (and its edge).
        dead[1:] |= dead[:-1].copy()
        dead[:-1] |= dead[1:].copy()
        edges = np.flatnonzero(
            np.diff(np.concatenate([[0], dead.astype(np.int8), [0]]))
        )
        for first, last in zip(edges[::2], edges[1::2]):
            start = int(np.floor(first * per))
            stop = min(int(np.ceil(last * per)), checked.n_times)
            out.append((start, stop, DEAD, name))
    return out


def _covered(found, name, n_blocks, per, reach):
    """Mask of the blocks (``per`` samples each) within ``reach`` of a stretch found."""
    covered = np.zeros(n_blocks, bool)
    for start, stop, _, ch in found:
        if ch and name not in ch.split(","):
            continue
        first = max(int(np.floor((start - reach) / per)), 0)
        covered[first : int(np.ceil((stop + reach) / per))] = True
    return covered


def _long_runs(mask, n_min):
    """Keep the runs of True of ``mask`` that are at least ``n_min`` long."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    out = np.zeros_like(mask)
    for first, last in zip(edges[::2], edges[1::2]):
        if last - first >= n_min:
            out[first:last] = True
    return out


def _amplitude_notes(checked, amplitude):
    """Warn of amplitudes far from the training data (not unit errors)."""
    notes = []
    lo, hi = AMPLITUDE_RANGE_MV
    for name, value in zip(checked.ch_names, amplitude):
        if not lo <= value <= hi and not checked.likely_unit_error:  # said already
            note = (
                f"channel {name} has a robust standard deviation of {value:.3g} "
                f"mV (after the low-pass), far from the training data of the "
                f"model (about 0.1 mV; expected {lo}–{hi} mV)"
            )
            notes.append(note)
            warn(
                f"C{note[1:]}. Check the units: the Raw must hold volts.",
                RuntimeWarning,
            )
    return notes


def _amplitude(data, n_epoch_samples, n_epochs, unscorable):
    """Robust standard deviation (mV) of each channel over the scorable epochs.

    From at most about a million evenly spaced samples (a week at 64 Hz holds
    39 million).
    """
    keep = np.ones(n_epochs, bool)
    keep[list(unscorable)] = False
    usable = data[:, : n_epochs * n_epoch_samples].reshape(
        len(data), n_epochs, n_epoch_samples
    )[:, keep]
    stride = max(1, usable.shape[1] * n_epoch_samples // 2**20)
    return median_abs_deviation(
        usable.reshape(len(data), -1)[:, ::stride], axis=-1, scale="normal"
    )


def _merge(segments):
    """Merge touching stretches of the same reason and channel, sorted."""
    merged = []
    for seg in sorted(segments, key=lambda s: (s[2], s[3], s[0])):
        if merged and merged[-1][2:] == seg[2:] and seg[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], seg[1]), *seg[2:])
        else:
            merged.append(seg)
    return sorted(merged)


def _unscorable(segments, n_epochs, card, sfreq, margin):
    """Return the reasons of the epochs whose window touches a bad stretch.

    ``margin`` (samples) widens each stretch by the reach of the low-pass
    filter and the resampling. Returns a dict ``{epoch: set of reasons}``.
    """
    per = card.epoch_length * sfreq
    # The window of epoch k holds epochs k - before to k + card.lookahead.
    after, before = card.lookahead, 2 * card.n_context - card.lookahead
    reasons = {}
    for start, stop, reason, ch in segments:
        first = int(np.floor((start - margin) / per)) - after
        last = int(np.floor((stop - 1 + margin) / per)) + before
        text = f"{reason} ({ch})" if ch else reason
        for k in range(max(first, 0), min(last, n_epochs - 1) + 1):
            reasons.setdefault(k, set()).add(text)
    return reasons


def _segments_record(segments, sfreq):
    """Return the bad stretches as dicts, times in s from the first sample."""
    return [
        dict(
            onset=round(start / sfreq, 6),
            duration=round((stop - start) / sfreq, 6),
            reason=reason,
            channel=ch,
        )
        for start, stop, reason, ch in segments
    ]


def _bad_seconds(segments, sfreq):
    """Return the seconds of each reason (overlaps counted once)."""
    out = {}
    for reason in dict.fromkeys(s[2] for s in segments):
        spans = sorted((s[0], s[1]) for s in segments if s[2] == reason)
        total, end = 0, -1
        for start, stop in spans:
            start = max(start, end)
            if stop > start:
                total += stop - start
            end = max(end, stop)
        out[reason] = round(total / sfreq, 6)
    return out


def _nothing_to_score(segments, sfreq, duration, ch_names, card, emg=()):
    """Return the message for a recording without a scorable epoch.

    ``sfreq`` (Hz) and ``duration`` (s) are the recording's; ``emg`` the
    picked channels judged as EMG.
    """
    parts = []
    for name in ch_names:
        floor = (
            f"below {EMG_DEAD_FLOOR_MV * 1e3:g} µV per second of its broadband signal,"
            if name in emg
            else f"below {DEAD_FLOOR_MV * 1e3:g} µV per second after the low-pass "
            f"or {DEAD_FACTOR:g} times quieter than its typical second,"
        )
        for reason, word, what in (
            (FLAT, "flat", "constant"),
            (DEAD, "dead", f"at the amplifier's floor, {floor}"),
        ):
            mine = [s for s in segments if s[2] == reason and s[3] == name]
            if sum(s[1] - s[0] for s in mine) / sfreq < 0.9 * duration:
                continue
            first, last = min(s[0] for s in mine), max(s[1] for s in mine)
            also = (
                ", or values scaled twice (check_units=False, --no-unit-check, "
                "applies only the relative test)"
                if reason == DEAD
                else ""
            )
            parts.append(
                f"{word} channel {name} ({what} from {first / sfreq:g} s to "
                f"{last / sfreq:g} s of {duration:g} s): a disconnected electrode, "
                f"or the wrong channel{also}"
            )
    seconds = _bad_seconds(segments, sfreq)
    if not parts:
        parts = [f"{reason}: {sec:g} s" for reason, sec in seconds.items()]
    where = ", ".join(
        f"{seg['reason']} ({seg['channel']}) at {seg['onset']:g} s for "
        f"{seg['duration']:g} s"
        for seg in _segments_record(segments[:3], sfreq)
    )
    window = card.epoch_length * (2 * card.n_context + 1)
    return (
        f"Nothing to score: every epoch's {window:g}-s window touches bad data "
        f"({'; '.join(parts)}). First stretches: {where}."
    )


def describe_quality(quality):
    """Summarise the input-quality record of a scoring in one line.

    Parameters
    ----------
    quality : dict
        ``proba.attrs["quality"]`` as set by
        :func:`mne_mousesleep.predict_proba` (``result.quality`` of a
        :class:`~mne_mousesleep.ScoringResult`, also in the JSON sidecar of a
        batch).

    Returns
    -------
    text : str
        The unscored epochs by reason, the amplitude of each channel and the
        warnings, e.g. ``"5 of 180 epochs unscored (no 30-s context (first or
        last epoch): 2; NaN or infinite values (EEG_PR): 3); amplitude EEG_PR
        0.094 mV"``.

    Examples
    --------
    >>> proba = predict_proba(raw)  # doctest: +SKIP
    >>> print(describe_quality(proba.attrs["quality"]))  # doctest: +SKIP
    """
    parts = []
    n_unscored = quality.get("n_unscored", 0)
    if n_unscored:
        counts = quality.get("unscored_reasons", {})
        reasons = "; ".join(f"{r}: {n}" for r, n in counts.items())
        parts.append(
            f"{n_unscored} of {quality.get('n_epochs')} epochs unscored ({reasons})"
        )
    bad = quality.get("bad_seconds") or {}
    if bad:
        parts.append(
            "bad data " + ", ".join(f"{r} {sec:.3g} s" for r, sec in bad.items())
        )
    amp = quality.get("amplitude_mv") or {}
    if amp:
        parts.append(
            "amplitude " + ", ".join(f"{ch} {v:.3g} mV" for ch, v in amp.items())
        )
    parts += quality.get("warnings", [])
    parts += [f"reader: {w}" for w in quality.get("reader_warnings", [])]
    if quality.get("likely_unit_error"):
        parts.append(quality["likely_unit_error"])
    return "; ".join(parts)
