"""Input checks: bad stretches, units and the quality record of a scoring.

A recording is checked before and while it is preprocessed. Stretches that
cannot be scored (NaN or infinite samples, extreme values, flat or clipped
signal, ``BAD_*`` annotations) are found chunk by chunk with MNE's own tools
(:func:`mne.preprocessing.annotate_nan`,
:func:`mne.preprocessing.annotate_amplitude`), so memory stays flat; the
epochs whose 30-s window touches one are left unscored with the reason, and
the rest is scored as if the recording were clean. Everything found goes into
a record (a dict of plain Python values, JSON-ready) stored in
``proba.attrs["quality"]``.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne import create_info
from mne.io import RawArray
from mne.preprocessing import annotate_amplitude, annotate_nan
from mne.utils import use_log_level
from scipy.stats import median_abs_deviation

from .hypnogram import ANNOTATION_DESCRIPTIONS, ARTIFACT

#: Typical robust standard deviation of the training EEG, in mV.
TYPICAL_MV = 0.1
#: A robust standard deviation this many times :data:`TYPICAL_MV` (or this
#: many times smaller) is a unit error, not a gain: refused by default.
UNIT_FACTOR = 300.0
#: Samples further than this many robust standard deviations from the median
#: are extreme (0.1 mV EEG: 1 V), marked bad like NaN.
EXTREME_FACTOR = 1e4
#: Samples larger than this (in "volts") are extreme whatever the scale: no
#: unit mistake gives them (microvolts stored as volts are about 1e2).
EXTREME_MAX = 1e6
#: A stretch whose consecutive samples differ by at most this fraction of the
#: robust standard deviation for at least :data:`FLAT_MIN_DURATION` seconds is
#: flat (a disconnected electrode) or clipped (an amplifier at its rail).
FLAT_FRACTION = 1e-3
FLAT_MIN_DURATION = 1.0

NONFINITE = "NaN or infinite values"
EXTREME = "extreme values"
FLAT = "flat or clipped signal"
NO_CONTEXT = "no 30-s context (first or last epoch)"

_STAGE_LABEL = ANNOTATION_DESCRIPTIONS[ARTIFACT]
_UNITS = {1e3: ("millivolts", "1e-3"), 1e6: ("microvolts", "1e-6")}
#: Sampling rate (Hz) below which a warning says the calls change with the rate.
#:
#: Below it the published networks' calls agree with those of the same
#: recording at 1 kHz on fewer than 95 % of epochs (simulated recordings:
#: 95.8 % at 140 Hz, 91.5 % at 128 Hz, 74 % at 100 Hz;
#: ``benchmarks/bench_cross_lab.py``).
MIN_RELIABLE_SFREQ = 140.0


def _probe_scale(raw, idx, n_segments=32, seconds=10.0):
    """Return the median and robust std (V) of each channel, from a sample.

    ``n_segments`` stretches of ``seconds`` spread evenly over the recording
    are read (only the picked channels), so this is cheap for any length.
    Non-finite samples and those beyond :data:`EXTREME_MAX` are left out; a
    channel without other samples gives NaN.
    """
    sfreq, n_times = raw.info["sfreq"], raw.n_times
    n_seg = max(1, round(seconds * sfreq))
    starts = np.unique(
        np.linspace(0, max(n_times - n_seg, 0), n_segments).astype(np.int64)
    )
    parts = [
        raw.get_data(picks=idx, start=s, stop=min(s + n_seg, n_times)) for s in starts
    ]
    data = np.concatenate(parts, axis=1)
    center, scale = np.full(len(idx), np.nan), np.full(len(idx), np.nan)
    for ii, row in enumerate(data):
        row = row[np.isfinite(row) & (np.abs(row) < EXTREME_MAX)]
        if row.size:
            center[ii] = np.median(row)
            scale[ii] = median_abs_deviation(row, scale="normal")
    return center, scale


def _check_units(scale_v, ch_names, check_units):
    """Refuse (or record) amplitudes off by orders of magnitude.

    Returns the likely unit error (a string) or None.
    """
    notes = []
    for name, value in zip(ch_names, np.asarray(scale_v) * 1e3):
        if not np.isfinite(value) or value == 0:
            continue
        ratio = value / TYPICAL_MV
        if ratio >= UNIT_FACTOR:
            factor = min(_UNITS, key=lambda f: abs(np.log10(ratio / f)))
            unit, fix = _UNITS[factor]
            notes.append(
                f"channel {name} has a robust standard deviation of {value:.3g} mV, "
                f"{ratio:.0f} times that of mouse EEG in volts ({TYPICAL_MV} mV): "
                f"the values look like {unit} stored as volts. Convert them, e.g. "
                f"raw.load_data().apply_function(lambda x: x * {fix}, "
                f"picks={[name]!r})"
            )
        elif ratio <= 1 / UNIT_FACTOR:
            notes.append(
                f"channel {name} has a robust standard deviation of {value:.3g} mV, "
                f"{1 / ratio:.0f} times smaller than mouse EEG in volts "
                f"({TYPICAL_MV} mV): check the units (values scaled twice?)"
            )
    if notes and check_units:
        raise ValueError(
            "; ".join(notes)
            + ". Pass check_units=False (--no-unit-check) to score anyway."
        )
    return "; ".join(notes) or None


class _ChunkChecker:
    """Find bad stretches in chunks of the picked channels, and neutralise them.

    Called on each chunk ``data`` (volts, ``(n_channels, n_samples)``, from
    sample ``lo`` of the recording) before it is filtered: NaN or infinite
    and extreme samples are set to 0 in place (so that the filter stays
    finite; the epochs near them are unscored anyway) and every bad stretch
    within samples ``[s0, s1)`` is appended to :attr:`found` as ``(start,
    stop, reason, channel)``. Stretches that cross chunk edges are found
    whole, since chunks overlap by more than :data:`FLAT_MIN_DURATION`.
    """

    def __init__(self, ch_names, sfreq, center, scale):
        self.ch_names = list(ch_names)
        self.sfreq = sfreq
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, TYPICAL_MV * 1e-3)
        self.center = np.where(np.isfinite(center), center, 0.0)[:, None]
        self.extreme = np.minimum(EXTREME_FACTOR * scale, EXTREME_MAX)[:, None]
        self.flat = FLAT_FRACTION * scale
        self.n_min = int(np.ceil(FLAT_MIN_DURATION * sfreq))  # flat run, samples
        self.info = create_info(self.ch_names, sfreq, "eeg")
        self.found = []  # (start, stop, reason, channel), appended by chunk

    def _segments(self, annotations, lo, s0, s1, reason, ch=None):
        out = []
        for onset, duration, chs in zip(
            annotations.onset, annotations.duration, annotations.ch_names
        ):
            start = lo + int(round(onset * self.sfreq))
            stop = start + max(int(round(duration * self.sfreq)), 1)
            start, stop = max(start, s0), min(stop, s1)
            if start < stop:
                out.append((start, stop, reason, ch or ",".join(chs)))
        return out

    def _clean(self, data):
        """Return True if the chunk surely has no bad stretch (a quick test).

        Two passes over the data: the maximum and minimum of blocks of half
        the flat duration. No NaN, no infinite or extreme sample, and no block
        nearly still (a flat run of the full duration holds at least one whole
        block) means nothing to look for.
        """
        n_ch, n = data.shape
        size = max(self.n_min // 2, 1)
        k = n // size
        if k == 0:
            return False
        blocks = data[:, : k * size].reshape(n_ch, k, size)
        hi, lo = blocks.max(axis=2), blocks.min(axis=2)  # NaN propagates
        tail = data[:, k * size :]
        top = np.maximum(hi.max(axis=1), tail.max(axis=1, initial=-np.inf))
        bottom = np.minimum(lo.min(axis=1), tail.min(axis=1, initial=np.inf))
        center, extreme = self.center[:, 0], self.extreme[:, 0]
        if not (np.all(top - center <= extreme) and np.all(center - bottom <= extreme)):
            return False  # NaN, infinite or extreme samples
        return not (hi - lo <= size * self.flat[:, None]).any()

    def __call__(self, data, lo, s0, s1):
        if self._clean(data):
            return
        nonfinite = ~np.isfinite(data)
        with np.errstate(invalid="ignore"):
            extreme = ~nonfinite & (np.abs(data - self.center) > self.extreme)
        segments = []
        with use_log_level("error"):
            if nonfinite.any():
                marked = RawArray(np.where(nonfinite, np.nan, 0.0), self.info)
                segments += self._segments(annotate_nan(marked), lo, s0, s1, NONFINITE)
            if extreme.any():
                marked = RawArray(np.where(extreme, np.nan, 0.0), self.info)
                segments += self._segments(annotate_nan(marked), lo, s0, s1, EXTREME)
            bad = nonfinite | extreme
            checked = RawArray(np.where(bad, np.nan, data), self.info)
            if data.shape[1] > self.n_min:
                for ii, name in enumerate(self.ch_names):
                    annot, bads = annotate_amplitude(
                        checked,
                        flat=float(self.flat[ii]),
                        bad_percent=100.0,
                        min_duration=FLAT_MIN_DURATION,
                        picks=[ii],
                    )
                    if bads:  # flat throughout the chunk
                        segments.append(
                            (max(lo, s0), min(lo + data.shape[1], s1), FLAT, name)
                        )
                    segments += self._segments(annot, lo, s0, s1, FLAT, name)
        data[bad] = 0.0
        self.found.extend(segments)


def _merge(segments):
    """Merge touching stretches of the same reason and channel, sorted."""
    merged = []
    for seg in sorted(segments, key=lambda s: (s[2], s[3], s[0])):
        if merged and merged[-1][2:] == seg[2:] and seg[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], seg[1]), *seg[2:])
        else:
            merged.append(seg)
    return sorted(merged)


def _annotation_segments(raw, ch_names):
    """Return the stretches of the Raw's ``BAD_*`` annotations of the picks.

    The package's own stage label of artifact epochs (``"BAD_artifact"``) is
    a scoring (of an expert, or of an earlier run), not a mark of bad data:
    it is not rejected.
    """
    annot = raw.annotations
    sfreq, first = raw.info["sfreq"], raw.first_time
    out = []
    for onset, duration, desc, chs in zip(
        annot.onset, annot.duration, annot.description, annot.ch_names
    ):
        if not desc.upper().startswith("BAD") or desc == _STAGE_LABEL:
            continue
        if len(chs) and not set(chs) & set(ch_names):
            continue  # a channel-specific annotation of another channel
        start = int(np.floor((onset - first) * sfreq))
        stop = int(np.ceil((onset - first + duration) * sfreq))
        start, stop = max(start, 0), min(max(stop, start + 1), raw.n_times)
        if start < stop:
            out.append((start, stop, f"{desc} annotation", ",".join(chs)))
    return out


def _unscorable(segments, n_epochs, card, sfreq, margin):
    """Return the reasons of the epochs whose window touches a bad stretch.

    ``margin`` (samples) widens each stretch by the reach of the low-pass
    filter and the resampling. Returns a dict ``{epoch: set of reasons}``.
    """
    per = card.epoch_length * sfreq
    n_ctx = card.n_context
    reasons = {}
    for start, stop, reason, ch in segments:
        first = int(np.floor((start - margin) / per)) - n_ctx
        last = int(np.floor((stop - 1 + margin) / per)) + n_ctx
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


def describe_quality(quality):
    """Summarise the input-quality record of a scoring in one line.

    Parameters
    ----------
    quality : dict
        ``proba.attrs["quality"]`` as set by
        :func:`mne_mousesleep.predict_proba` (also in the JSON sidecar of a
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
