"""Step 1, the input checks: channels, rate, length, units, then bad stretches.

Before a recording is read, :func:`_check_input` picks the channels of the
network (and finds the EMG channel), refuses a recording too slow or too
short for the card's windows, and refuses (or records) amplitudes off by
orders of magnitude, from a sample of the recording. While step 2 reads it,
the :class:`_ChunkChecker` finds the bad stretches (NaN or infinite samples,
extreme values, flat or clipped signal) chunk by chunk with MNE's own tools
(:func:`mne.preprocessing.annotate_nan`,
:func:`mne.preprocessing.annotate_amplitude`), so memory stays flat; step 2b
(:mod:`.quality`) then turns them, and the ``BAD_*`` annotations, into the
unscorable epochs and the quality record. The rest of the recording is
scored as if it were clean.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import datetime
import hashlib
import re
from typing import NamedTuple

import numpy as np
from mne import create_info
from mne._fiff.pick import _picks_to_idx
from mne.io import BaseRaw, RawArray
from mne.preprocessing import annotate_amplitude, annotate_nan
from mne.utils import _validate_type, logger, use_log_level, warn
from scipy.stats import median_abs_deviation

from .._stages import ANNOTATION_DESCRIPTIONS, ARTIFACT

#: Typical robust standard deviation of the training EEG, in mV.
TYPICAL_MV = 0.1
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
DEAD = "dead or disconnected electrode"

#: Standard deviation (mV, of a 1-s block after the low-pass) below which
#: a channel is at the amplifier's floor: no mouse EEG or EMG is this quiet
#: (simulated and real EEG: 21-26 µV in the quietest second; 0.3-1 µV of
#: amplifier noise gives 0.06-0.7 µV at 128 Hz-1 kHz). Applied with
#: ``check_units=True``, as part of the unit check.
DEAD_FLOOR_MV = 0.0012
#: A 1-s block this many times quieter than the recording's typical second
#: is dead whatever the units (the quietest second of a recording is 2-5
#: times below its median in simulated and real EEG).
DEAD_FACTOR = 20.0
#: Seconds (1-s blocks in a row) a dead stretch lasts at least: a recording
#: of low gain has single quiet seconds; an electrode that came off stays off.
DEAD_MIN_DURATION = 3
#: Standard deviation (mV) of a 1-s block of an EMG channel's own broadband
#: signal (at the recording's rate, less the block's linear trend) below
#: which the electrode is dead or disconnected. An EMG is judged on this
#: alone, never after the EEG's low-pass nor against its typical second:
#: muscle atonia in REM is a few microvolts of broadband signal, 10-50 times
#: below active Wake. Measured (``benchmarks/bench_dead_electrode.py``):
#: simulated atonia of 1-12 µV at 128 Hz-1 kHz stays 2-24 times above it;
#: the quietest second of real recordings is 2.5-3.9 µV (MiSleep's EMG at
#: 305 Hz and its 500-Hz EDF); a disconnected input (zeros, 0.01-0.3 µV of
#: amplifier noise) stays below it.
EMG_DEAD_FLOOR_MV = 0.0005

#: A robust standard deviation this many times :data:`TYPICAL_MV` (or this
#: many times smaller) is a unit error, not a gain: refused by default.
UNIT_FACTOR = 300.0
#: The reason of the epochs without full context with the published networks'
#: 30-s windows (see :func:`_no_context` for other cards).
NO_CONTEXT = "no 30-s context (first or last epoch)"
#: Robust standard deviation (in mV) outside which the input is far from the
#: training data (about 0.1 mV), e.g. because of wrong units.
AMPLITUDE_RANGE_MV = (0.01, 1.0)
#: Sampling rate (Hz) below which a warning says the calls change with the rate.
#:
#: Below it the published networks' calls agree with those of the same
#: recording at 1 kHz on fewer than 95 % of epochs (simulated recordings:
#: 95.8 % at 140 Hz, 91.5 % at 128 Hz, 74 % at 100 Hz;
#: ``benchmarks/bench_cross_lab.py``).
MIN_RELIABLE_SFREQ = 140.0
_STAGE_LABEL = ANNOTATION_DESCRIPTIONS[ARTIFACT]
_UNITS = {1e3: ("millivolts", "1e-3"), 1e6: ("microvolts", "1e-6")}


class _InputCheck(NamedTuple):
    """What step 1 found before the recording is read, and its chunk checker."""

    idx: list  # indices of the picked channels, in the network's input order
    ch_names: list  # their names
    emg: str | None  # the EMG channel of the EMG step, or None
    emg_note: str  # how it was found, or why there is none
    checker: object  # a _ChunkChecker: finds the bad stretches of each chunk read
    annotations: list  # the stretches of the Raw's BAD_* annotations
    notes: list  # warnings of the quality record
    likely_unit_error: str | None
    sfreq: float  # Hz, of the recording
    n_times: int  # its samples
    reject_by_annotation: bool
    check_units: bool  # whether the physiological floor applies to dead stretches
    emg_rows: list  # rows of the picks that carry EMG (judged by EMG_DEAD_FLOOR_MV)
    identity: dict  # the recording's identity (see _identity)


def _check_input(raw, card, *, picks, emg, check_units, reject_by_annotation):
    """Check a recording before it is read (step 1); return an :class:`_InputCheck`.

    The EMG channel, the sampling rate and length against the card's
    windows, the picked channels, picked bad channels and low rates
    (warnings), and the units (from a sample of the recording). Raises
    :class:`ValueError` for what cannot be scored.
    """
    _validate_type(raw, BaseRaw, "raw")
    emg_channel, emg_note = _resolve_emg(raw, emg)
    sfreq = raw.info["sfreq"]
    if sfreq < card.sfreq:
        raise ValueError(
            f"The sampling rate of raw is {sfreq:g} Hz; scoring needs at least "
            f"{card.sfreq:g} Hz."
        )
    idx = _pick_for_model(raw, picks, card)
    ch_names = [raw.ch_names[ii] for ii in idx]
    _check_duration(raw, card)
    notes = _input_notes(raw, ch_names)
    center, scale, digest = _probe_scale(raw, idx, dead_floor=check_units)
    likely_unit_error = _check_units(scale, ch_names, check_units)
    if likely_unit_error:
        warn(likely_unit_error, RuntimeWarning)
    logger.info(f"Using channel(s) {ch_names} at {sfreq:g} Hz")
    types = raw.get_channel_types(picks=idx)
    emg_rows = _emg_rows(card, ch_names, types)
    return _InputCheck(
        idx=idx,
        ch_names=ch_names,
        emg=emg_channel,
        emg_note=emg_note,
        checker=_ChunkChecker(
            ch_names,
            sfreq,
            center,
            scale,
            emg_rows=emg_rows if check_units else (),
            n_times=raw.n_times,
        ),
        annotations=_annotation_segments(raw, ch_names) if reject_by_annotation else [],
        notes=notes,
        likely_unit_error=likely_unit_error,
        sfreq=sfreq,
        n_times=raw.n_times,
        reject_by_annotation=bool(reject_by_annotation),
        check_units=bool(check_units),
        emg_rows=emg_rows,
        identity=_identity(raw, ch_names, digest),
    )


def _emg_rows(card, ch_names, ch_types):
    """Rows of the picked channels that carry EMG.

    A channel is EMG if it says so (:func:`_is_emg`: its type or its name)
    or if the network takes EMG at its place (the card's input description,
    e.g. ``"EMG"`` of ``grieger2021-3stage-eeg3-emg``).
    """
    return [
        ii
        for ii, (name, kind) in enumerate(zip(ch_names, ch_types))
        if _is_emg(name, kind)
        or (ii < len(card.channels) and "emg" in card.channels[ii].lower())
    ]


def _emg_block_spread(x, sfreq):
    """Return the std (V) of each 1-s block of EMG samples ``x`` (volts).

    ``x`` is ``(..., n)``; blocks of ``round(sfreq)`` samples from its first,
    each less its least-squares line (the electrode's drift is not muscle);
    the samples after the last whole block are left out. Returns ``(...,
    n // round(sfreq))``; NaN for a block with a NaN or infinite sample.
    """
    n = max(1, round(sfreq))
    k = x.shape[-1] // n
    blocks = np.asarray(x[..., : k * n], float).reshape(*x.shape[:-1], k, n)
    t = np.arange(n) - (n - 1) / 2
    with np.errstate(invalid="ignore", over="ignore"):
        centred = blocks - blocks.mean(axis=-1, keepdims=True)
        slope = (centred @ t) / max(float(t @ t), 1.0)
        return (centred - slope[..., None] * t).std(axis=-1)


def _emg_dead_blocks(x, sfreq):
    """Mask of the 1-s blocks of EMG ``x`` (volts, ``(..., n)``) of a dead electrode.

    Below :data:`EMG_DEAD_FLOOR_MV` on the channel's own broadband signal
    (:func:`_emg_block_spread`); a block with NaN or infinite samples is not
    counted (its reason is its own).
    """
    with np.errstate(invalid="ignore"):
        return _emg_block_spread(x, sfreq) * 1e3 < EMG_DEAD_FLOOR_MV


def _emg_dead_epochs(x, sfreq):
    """Mask of the epochs ``x`` (volts, ``(n_epochs, n)``) of a dead EMG electrode.

    An epoch is dead if :data:`DEAD_MIN_DURATION` or more of its 1-s blocks
    are (:func:`_emg_dead_blocks`), the rule of the network's input offline
    and live, of the EMG step and of the review window's power strip.
    """
    return _emg_dead_blocks(x, sfreq).sum(axis=-1) >= DEAD_MIN_DURATION


def _check_duration(raw, card):
    """Refuse a recording shorter than one window of the card."""
    min_duration = card.epoch_length * (2 * card.n_context + 1)
    duration = raw.n_times / raw.info["sfreq"]
    if duration < min_duration:
        raise ValueError(
            f"The recording lasts {duration:g} s; scoring needs at "
            f"least {2 * card.n_context + 1} epochs of {card.epoch_length:g} s "
            f"({min_duration:g} s)."
        )


def _input_notes(raw, ch_names):
    """Warn (and note) picked bad channels and sampling rates that change calls."""
    sfreq = raw.info["sfreq"]
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
    return notes


def _no_context(card):
    """Return the reason of the epochs without full context for a model card."""
    window = card.epoch_length * (2 * card.n_context + 1)
    if card.context == "causal":
        n = 2 * card.n_context
        which = "first epoch" if n == 1 else f"first {n} epochs"
        return f"no {window:g}-s context ({which}, causal window)"
    which = (
        "first or last epoch"
        if card.n_context == 1
        else f"first or last {card.n_context} epochs"
    )
    return f"no {window:g}-s context ({which})"


_PARIETAL = re.compile(
    r"(^|[^a-z])(eeg[\s_-]?)?(p|pr|pl|pz|par|parietal)([^a-z]|$)", re.I
)
_NOT_EEG = ("emg", "eog", "ecg", "stim", "resp", "syst")


def _looks_parietal(name):
    """Whether a channel's name says parietal EEG (not EMG_P, not a bare P)."""
    lower = name.lower()
    if any(other in lower for other in _NOT_EEG):
        return False  # e.g. EMG_P, EOG_P: another signal at P
    if len(re.sub(r"[^a-z]", "", lower)) < 2:
        return False  # "P" alone: a letter, not a name
    return bool(_PARIETAL.search(name))


def _find_parietal(raw):
    types = raw.get_channel_types()
    bads = set(raw.info["bads"])
    return [
        ii
        for ii, (name, kind) in enumerate(zip(raw.ch_names, types))
        if kind not in _NOT_EEG and name not in bads and _looks_parietal(name)
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


def _check_emg(raw, name, param="emg"):
    """Raise if ``name`` (the argument ``param``) is not one channel of ``raw``."""
    _validate_type(name, str, param)
    if name not in raw.ch_names:
        raise ValueError(f"EMG channel {name!r} not found among {raw.ch_names}.")


def _is_emg(name, ch_type):
    """Whether a channel is EMG: its type is ``emg`` or its name says EMG."""
    return ch_type == "emg" or "emg" in name.lower()


def _find_emg(raw):
    """Return the one EMG channel of ``raw`` (type ``emg`` or "EMG" in the name).

    Returns ``(name, note)``: ``name`` is None when there is none or several
    (then ``note`` says which).
    """
    types = raw.get_channel_types()
    found = [
        name
        for name, kind in zip(raw.ch_names, types)
        if _is_emg(name, kind) and name not in raw.info["bads"]
    ]
    if len(found) == 1:
        return found[0], f"EMG channel {found[0]} found"
    if not found:
        return None, "no EMG channel (type emg or EMG in the name)"
    return None, f"several EMG channels {found}: pass emg= to choose one"


def _resolve_emg(raw, emg):
    """Return ``(channel or None, note)`` for the ``emg`` argument."""
    if emg is None:
        return None, "emg=None"
    if isinstance(emg, str) and emg == "auto":
        name, note = _find_emg(raw)
        if name is not None:
            logger.info(f"EMG step: using {name} (emg='auto'; emg=None turns it off)")
        else:
            logger.info(f"EMG step: off, {note}")
        return name, note
    _check_emg(raw, emg)
    return emg, "given"


def _probe_scale(raw, idx, n_segments=32, seconds=10.0, *, dead_floor=True):
    """Return the median and robust std (V) of each channel, from a sample.

    ``n_segments`` stretches of ``seconds`` spread evenly over the recording
    are read (only the picked channels), so this is cheap for any length.
    Non-finite samples and those beyond :data:`EXTREME_MAX` are left out, and
    so are the stretches of a dead electrode (see :func:`_live`; below
    :data:`DEAD_FLOOR_MV` only with ``dead_floor``): the unit check looks at
    the scorable part. A channel without other samples gives NaN. Also
    returns the sha256 (hex) of the samples read, the fingerprint of the
    recording's picked channels (see :func:`_identity`).
    """
    sfreq, n_times = raw.info["sfreq"], raw.n_times
    n_seg = max(1, round(seconds * sfreq))
    starts = np.unique(
        np.linspace(0, max(n_times - n_seg, 0), n_segments).astype(np.int64)
    )
    parts = [
        raw.get_data(picks=idx, start=s, stop=min(s + n_seg, n_times)) for s in starts
    ]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(np.ascontiguousarray(part, "<f8").tobytes())
    center, scale = np.full(len(idx), np.nan), np.full(len(idx), np.nan)
    for ii in range(len(idx)):
        rows = [
            p[ii][np.isfinite(p[ii]) & (np.abs(p[ii]) < EXTREME_MAX)] for p in parts
        ]
        rows = [r for r in rows if r.size]
        if not rows:
            continue
        spread = np.array([median_abs_deviation(r, scale="normal") for r in rows])
        live = _live(spread * 1e3, dead_floor)
        row = np.concatenate(
            [r for r, ok in zip(rows, live) if ok] if live.any() else rows
        )
        center[ii] = np.median(row)
        scale[ii] = median_abs_deviation(row, scale="normal")
    return center, scale, digest.hexdigest()


def _identity(raw, ch_names, digest):
    """Return the identity of a recording's scored channels (JSON-ready dict).

    ``id``: 16 hex digits of the sha256 of the channel names, the sampling
    rate, the length and the samples that the unit check reads (32 stretches
    of 10 s spread over the recording), so that two mice of one rig, started
    together and as long, differ; ``start``: the time of the first sample
    (ISO 8601, None without ``meas_date``). A review is tied to the
    recording it reviews by these (:mod:`mne_mousesleep.report`).
    """
    head = f"{list(ch_names)}|{raw.info['sfreq']!r}|{raw.n_times}|{digest}"
    meas_date = raw.info["meas_date"]
    start = None
    if meas_date is not None:
        start = (meas_date + datetime.timedelta(seconds=raw.first_time)).isoformat()
    return dict(
        id=hashlib.sha256(head.encode()).hexdigest()[:16],
        start=start,
        channels=list(ch_names),
    )


def _live(spread_mv, dead_floor=True, *, all_dead=False):
    """Return the mask of the stretches that are not a dead electrode.

    ``spread_mv`` is the spread (mV) of each stretch of one channel. Dead
    are those below :data:`DEAD_FLOOR_MV` (with ``dead_floor``) and those
    :data:`DEAD_FACTOR` times below the recording's typical stretch: the
    median of the stretches that are neither below the floor nor far below
    the loudest 5 % (so that a recording more than half dead keeps the
    typical amplitude of its live part). Without a stretch above the floor,
    all are dead with ``all_dead``; otherwise the floor is not applied (the
    unit check of step 1 speaks of such a sample).
    """
    spread_mv = np.asarray(spread_mv, float)
    floor = DEAD_FLOOR_MV if dead_floor else 0.0
    candidates = spread_mv[spread_mv > floor]
    if not candidates.size:
        if all_dead and dead_floor:
            return np.zeros(spread_mv.shape, bool)
        floor, candidates = 0.0, spread_mv[spread_mv > 0]
        if not candidates.size:
            return np.zeros(spread_mv.shape, bool)
    loud = np.quantile(candidates, 0.95)
    typical = np.median(candidates[candidates >= loud / DEAD_FACTOR])
    return spread_mv >= max(floor, typical / DEAD_FACTOR)


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
                f"({TYPICAL_MV} mV) in every stretch sampled: check the units "
                "(values scaled twice?), or a dead or disconnected electrode"
            )
    if notes and check_units:
        raise ValueError(
            "; ".join(notes)
            + ". Pass check_units=False (--no-unit-check) to score anyway."
        )
    return "; ".join(notes) or None


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

    def __init__(self, ch_names, sfreq, center, scale, *, emg_rows=(), n_times=0):
        self.ch_names = list(ch_names)
        self.sfreq = sfreq
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, TYPICAL_MV * 1e-3)
        self.center = np.where(np.isfinite(center), center, 0.0)[:, None]
        self.extreme = np.minimum(EXTREME_FACTOR * scale, EXTREME_MAX)[:, None]
        self.flat = FLAT_FRACTION * scale
        self.n_min = int(np.ceil(FLAT_MIN_DURATION * sfreq))  # flat run, samples
        self.info = create_info(self.ch_names, sfreq, "eeg")
        self.found = []  # (start, stop, reason, channel), appended by chunk
        # The EMG rows' dead 1-s blocks (of round(sfreq) samples from the
        # first), from the broadband signal (see EMG_DEAD_FLOOR_MV).
        self.block = max(1, round(sfreq))
        self.emg_dead = {ii: np.zeros(n_times // self.block, bool) for ii in emg_rows}

    def _check_emg(self, data, lo, s0, s1):
        """Mark the dead 1-s blocks of the EMG rows that start in ``[s0, s1)``."""
        if not self.emg_dead:
            return
        block = self.block
        b0, b1 = -(-s0 // block), -(-s1 // block)
        b1 = min(b1, (lo + data.shape[1]) // block)  # whole blocks only
        if b1 <= b0:
            return
        rows = list(self.emg_dead)
        x = data[rows, b0 * block - lo : b1 * block - lo]
        dead = _emg_dead_blocks(x, self.sfreq)
        for row, mask in zip(rows, dead):
            self.emg_dead[row][b0 : b0 + len(mask)] = mask

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
        self._check_emg(data, lo, s0, s1)
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
