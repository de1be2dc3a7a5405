"""Training data: scored recordings read, preprocessed and split by animal.

Every recording goes through the scoring's own steps 1-2 (checks and the
published preprocessing, :func:`~mne_mousesleep.scoring.preprocessing._read_checked`)
at the model card's rate; its labels are cut into the card's epochs.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import math
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.utils import _check_option, _validate_type, logger

from .._stages import (
    ARTIFACT,
    NREM,
    PRE_REM,
    REM,
    STAGE_ROLES,
    UNSCORED,
    WAKE,
    _check_roles,
    _map_labels,
    _regular_grid,
    _seconds_from_first_sample,
)
from ..hypnogram import _annotations_to_stages
from ..io import read_recording
from ..models import ModelCard
from ..models._card import CONTEXTS
from ..scoring.preprocessing import _read_checked

#: The classes of the 5- and 3-class networks, in output order.
_CLASSES = {5: (WAKE, REM, NREM, PRE_REM, ARTIFACT), 3: (WAKE, REM, NREM)}


def _model_classes(classes, n_classes):
    """Return the classes a model learns (output order) and their roles.

    ``classes`` None: the published 5 or 3 (``n_classes``). A list: stages of
    the package's vocabulary. A dict ``{name: role}``: the lab's classes, the
    stages with their own role and any other name with the role it plays.
    """
    if classes is None:
        _check_option("n_classes", n_classes, (3, 5))
        return _CLASSES[n_classes], {}
    _validate_type(classes, (list, tuple, dict), "classes")
    names = list(classes)
    given = dict(classes) if isinstance(classes, dict) else {}
    own = [c for c in names if c not in STAGE_ROLES]
    if own and not given:
        example = {c: "wake" for c in own[:1]}
        raise ValueError(
            f"classes names {own}, which are not stages of {tuple(STAGE_ROLES)}: "
            f"give each its role, e.g. classes={{'Wake': 'wake', 'NREM': 'NREM', "
            f"'REM': 'REM', {', '.join(f'{k!r}: {v!r}' for k, v in example.items())}"
            "} (roles: wake, NREM, pre-REM, REM, artifact, other)."
        )
    wrong = {c: r for c, r in given.items() if c in STAGE_ROLES and r != STAGE_ROLES[c]}
    if wrong:
        raise ValueError(
            f"classes gives the stages {list(wrong)} other roles ({wrong}); a stage "
            "has its own role: name a class of the lab otherwise to give it one."
        )
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(
            f"classes names {repeated} more than once ({names}): name each class once."
        )
    if len(names) < 2:
        raise ValueError(f"classes must name 2 or more distinct classes, got {names}.")
    roles = _check_roles({c: given[c] for c in own}, "classes")
    return tuple(names), roles


class _Geometry(NamedTuple):
    """The windows of a model card: samples per epoch, epochs of context."""

    epoch_samples: int
    n_context: int
    sfreq: float  # Hz, the card's
    epoch_length: float  # s, the card's
    context: str = "centred"  # the card's: "centred" or "causal"

    @classmethod
    def of(cls, card):
        """Return the geometry of a model card."""
        return cls(
            round(card.epoch_length * card.sfreq),
            card.n_context,
            card.sfreq,
            card.epoch_length,
            card.context,
        )

    @property
    def shift(self):
        """Epochs from a window's centre to the epoch it scores (causal: n_context)."""
        return self.n_context if self.context == "causal" else 0

    @property
    def window(self):
        """Samples per window: the epoch and its context."""
        return (2 * self.n_context + 1) * self.epoch_samples


class _Recording:
    """A preprocessed recording: signal (mV, at the card's rate) and labels.

    ``labels`` holds the class index of each epoch (-1: not learnt from);
    ``geometry`` the card's windows. ``gain`` (one factor per channel, or
    None) multiplies every window taken from it: the gain step scales
    windows, not copies of the recording.
    """

    def __init__(self, x, labels, mouse, name, geometry, versions=(), gain=None):
        self.x, self.labels, self.mouse, self.name = x, labels, mouse, name
        self.geometry = geometry
        # The same signal preprocessed from lower sampling rates (training
        # windows are drawn from any version; see ``resample_rates``).
        self.versions = tuple(versions)
        self.gain = None if gain is None else np.asarray(gain, np.float32)

    def signals(self):
        """Return the signal of each version, the original first."""
        return (self.x, *(v for _, v in self.versions))

    def windows(self, unlabelled=False):
        """Windows with full context whose epoch has a label (or, ``unlabelled``, none).

        Returns (indices of the windows' centre epochs, labels): the label of
        the epoch each window scores, its centre for the published models,
        its last epoch for a causal one (-1 for the unlabelled).
        """
        n_ctx, shift = self.geometry.n_context, self.geometry.shift
        k = np.arange(n_ctx, len(self.labels) - n_ctx)  # k + shift: in the window
        y = self.labels[k + shift]
        keep = (y < 0) if unlabelled else (y >= 0)
        return k[keep], y[keep]

    def scaled(self, gains):
        """Return the recording with a gain per channel (its signals shared)."""
        return _Recording(
            self.x,
            self.labels,
            self.mouse,
            self.name,
            self.geometry,
            self.versions,
            gains,
        )


def _mouse_of(raw, index):
    subject = raw.info.get("subject_info") or {}
    return str(subject.get("his_id") or subject.get("id") or f"mouse{index}")


def _labels(
    raw, classes, mapping, n_epochs, epoch_length, name="the recording", roles=None
):
    """Class index of each epoch of ``raw`` (-1: not used for training).

    Labels on a coarser regular grid than ``epoch_length`` that it does not
    divide are refused (each epoch would mix two expert epochs). With a lab's
    own class set, a label of a class the model does not have is refused; the
    published 5 and 3 classes keep the paper's reduction (pre-REM as NREM,
    artifact left out for 3).
    """
    try:  # the stage labels, as _annotations_to_stages reads them
        labels = _map_labels(
            raw.annotations.description, mapping, "annotation descriptions", roles
        )
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    grid = _regular_grid(raw.annotations.duration[[x is not None for x in labels]])
    if grid is not None and grid > epoch_length * (1 + 1e-6):
        ratio = grid / epoch_length
        if abs(ratio - round(ratio)) > 1e-3:
            raise ValueError(
                f"{name} is scored in {grid:g}-s epochs, which the model's "
                f"{epoch_length:g}-s epochs do not divide (each would mix two "
                f"expert epochs). Train on labels scored at {epoch_length:g} s (or "
                f"a multiple of it), or pass epoch_length={grid:g} or a length "
                f"that divides {grid:g} s."
            )
    # Annotations at another epoch length (or off the recording's grid) are cut
    # into the recording's epochs by the majority rule (to_epoch_length).
    try:
        stages = _annotations_to_stages(
            raw.annotations,
            mapping,
            epoch_length,
            origin=float(raw.first_time),
            roles=roles,
        )
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    rel = np.round(_seconds_from_first_sample(stages, raw) / epoch_length).astype(int)
    values = stages.to_numpy(object)
    if tuple(classes) == _CLASSES[3]:  # the paper's: pre-REM is NREM, no artifact
        values = np.where(values == PRE_REM, NREM, values)
    index = {c: ii for ii, c in enumerate(classes)}
    if tuple(classes) not in _CLASSES.values():  # the lab's own class set
        missing = pd.Series(values[~np.isin(values, list(classes) + [UNSCORED])])
        if len(missing):
            counts = missing.value_counts()
            what = ", ".join(f"{k!r} ({n} epochs)" for k, n in counts.items())
            raise ValueError(
                f"{name} has expert labels {what} of classes the model does not "
                f"have ({list(classes)}): add them to classes (with their role), "
                "or map their annotation descriptions to 'unscored' (mapping=...) "
                "to leave those epochs out of training."
            )
    labels = np.full(n_epochs, -1)
    ok = (rel >= 0) & (rel < n_epochs)
    labels[rel[ok]] = [index.get(v, -1) for v in values[ok]]
    return labels


def _read_at_rate(raw, idx, rate, chunk_duration=600.0):
    """Channels ``idx`` of ``raw`` resampled to ``rate``, read in chunks.

    :func:`scipy.signal.resample_poly` with the filter of
    :meth:`mne.io.Raw.resample` (``method="polyphase"``: Kaiser window, beta
    5, reflected ends) for the ratio of the two rates, ``chunk_duration``
    seconds at a time with overlaps beyond the filter's reach, so that only
    the output (at the low rate) is held whole: the samples of resampling the
    whole recording, with flat memory on ``preload=False`` files. Returns the
    data (volts) and the exact new rate (``sfreq * up / down``).
    """
    from fractions import Fraction

    from scipy.signal import resample_poly

    sfreq, n_times = raw.info["sfreq"], raw.n_times
    ratio = Fraction(rate).limit_denominator(1000) / Fraction(sfreq).limit_denominator(
        1000
    )
    up, down = ratio.numerator, ratio.denominator
    n_new = round(n_times * up / down)
    # Chunks start at multiples of ``down`` input samples (whole output samples).
    overlap = down * math.ceil(10 * sfreq / down)
    step = down * max(1, math.ceil(chunk_duration * sfreq / down))
    out = np.empty((len(idx), n_new))
    for s0 in range(0, n_times, step):
        s1 = min(s0 + step, n_times)
        lo, hi = max(s0 - overlap, 0), min(s1 + overlap, n_times)
        data = raw.get_data(picks=idx, start=lo, stop=hi, reject_by_annotation=None)
        # MNE's polyphase filter (Kaiser window, beta 5; reflected ends), with
        # the ratio of the rates rather than of this chunk's lengths.
        y = resample_poly(data, up, down, axis=-1, window=("kaiser", 5.0),
                          padtype="reflect")  # fmt: skip
        j0, j1 = s0 * up // down, (n_new if s1 == n_times else s1 * up // down)
        out[:, j0:j1] = y[:, j0 - lo * up // down : j1 - lo * up // down]
    return out, sfreq * up / down


def _lower_rate_versions(raw, ch_names, card, rates, n_samples):
    """Return ``(rate, signal at the card's rate)`` of ``ch_names`` from ``rates``."""
    from mne import create_info
    from mne.io import RawArray

    out = []
    idx = [raw.ch_names.index(name) for name in ch_names]
    for rate in rates:
        if rate >= raw.info["sfreq"]:
            continue
        data, sfreq = _read_at_rate(raw, idx, rate)
        info = create_info(ch_names, sfreq, raw.get_channel_types(picks=idx))
        low = RawArray(data, info, verbose="error")
        del data
        with warnings.catch_warnings():
            # The low rate is made here on purpose: its warning is not the user's.
            warnings.filterwarnings(
                "ignore", "The sampling rate is", category=RuntimeWarning
            )
            x_low = _read_checked(
                low, ch_names, card, np.float32, check_units=False
            ).data
        x = np.zeros((len(ch_names), n_samples), np.float32)
        n = min(n_samples, x_low.shape[1])
        x[:, :n] = x_low[:, :n]
        out.append((float(rate), x))
    return out


def _name(rec, ii):
    """How an error names a recording: its file, else its place in the list."""
    return str(rec) if isinstance(rec, str | Path) else f"recordings[{ii}]"


def _read(rec, ii):
    """Return a recording to train on: a Raw, or a file read as scoring does."""
    if not isinstance(rec, str | Path):
        return rec
    raw, reader_warnings = read_recording(rec)
    for message in reader_warnings:
        logger.info(f"{rec}: {message}")
    return raw


def _load(recordings, picks, mice, classes, mapping, card, rates=()):
    _validate_type(recordings, (list, tuple), "recordings")
    if mice is not None and len(mice) != len(recordings):
        raise ValueError(
            f"mice must name the mouse of each recording ({len(recordings)}), got "
            f"{len(mice)}."
        )
    geometry = _Geometry.of(card)
    out = []
    for ii, rec in enumerate(recordings):
        raw = _read(rec, ii)
        _validate_type(raw, BaseRaw, f"recordings[{ii}]")
        if not len(raw.annotations):
            raise ValueError(f"recordings[{ii}] has no stage annotations.")
        # At the card's rate, float32, the picked channels only, in chunks.
        signal = _read_checked(raw, picks, card, np.float32)
        n_epochs = signal.data.shape[1] // geometry.epoch_samples
        x = np.ascontiguousarray(signal.data[:, : n_epochs * geometry.epoch_samples])
        versions = _lower_rate_versions(raw, signal.ch_names, card, rates, x.shape[1])
        labels = _labels(
            raw,
            classes,
            mapping,
            n_epochs,
            card.epoch_length,
            _name(rec, ii),
            card.roles,
        )
        # Epochs whose window touches bad data (NaN, flat, BAD_*) are not
        # learnt from.
        labels[list(signal.unscorable)] = -1
        mouse = mice[ii] if mice is not None else _mouse_of(raw, ii)
        out.append(_Recording(x, labels, str(mouse), str(rec), geometry, versions))
    return out


#: The window of the published networks (s): models of other epoch lengths
#: get the whole number of epochs of context that comes closest to it.
PUBLISHED_WINDOW = 30.0


def _context_epochs(epoch_length):
    """Epochs of context on each side for ``epoch_length`` (s).

    The window (``2 * n + 1`` epochs) closest to the published 30 s, the
    smaller on a tie, at least one epoch on each side: 10 s gives 1 (30 s),
    8 s 1 (24 s), 5 s 2 (25 s), 4 s 3 (28 s), 2.5 s 5 (27.5 s).
    """
    best = max(1, int(PUBLISHED_WINDOW // epoch_length))
    candidates = range(1, best + 1)
    return min(
        candidates,
        key=lambda n: (abs((2 * n + 1) * epoch_length - PUBLISHED_WINDOW), n),
    )


def _check_epoch_length(epoch_length, sfreq=64.0):
    """Refuse an epoch length that is not a whole number of samples at ``sfreq``."""
    _validate_type(epoch_length, "numeric", "epoch_length")
    if not np.isfinite(epoch_length) or epoch_length <= 0:
        raise ValueError(
            f"epoch_length must be a positive number of seconds, got "
            f"{epoch_length!r} (e.g. 2.5, 4, 5, 8 or 10)."
        )
    samples = float(epoch_length) * sfreq
    if abs(samples - round(samples)) > 1e-6:
        raise ValueError(
            f"epoch_length={epoch_length!r} s is not a whole number of samples at "
            f"the model's {sfreq:g} Hz (1/{sfreq:g} s each); pass a multiple of "
            f"{1 / sfreq:g} s, e.g. 2.5, 4, 5, 8 or 10."
        )
    return float(epoch_length)


def _load_for_training(
    recordings,
    picks,
    n_classes,
    mice,
    mapping,
    rates=(),
    base=None,
    epoch_length=None,
    classes=None,
    context=None,
):
    """Load recordings for ``n_classes`` with the windows of ``base``'s card.

    ``base`` is the model fine-tuned (its card's rate, epoch length and
    context), or None for the card defaults, or ``epoch_length`` (s) with
    its context (:func:`_context_epochs`); ``context`` says where the scored
    epoch lies in the window (``"centred"`` or ``"causal"``; None: ``base``'s,
    else centred).
    """
    classes, roles = _model_classes(classes, n_classes)
    picks_list = [picks] if isinstance(picks, str) else list(picks)
    if context is None:
        context = "centred" if base is None else base.card.context
    _check_option("context", context, CONTEXTS)
    shape = (
        {"context": context}
        if base is None
        else {
            k: getattr(base.card, k)
            for k in ("sfreq", "epoch_length", "n_context", "context")
        }
    )
    if base is not None and context != base.card.context:
        raise ValueError(
            f"context={context!r} but init ({base.card.name}) has a "
            f"{base.card.context} window: a fine-tuned model keeps its window; "
            "leave context out, or train from scratch."
        )
    if epoch_length is not None:
        epoch_length = _check_epoch_length(epoch_length)
        if base is not None and epoch_length != base.card.epoch_length:
            raise ValueError(
                f"epoch_length={epoch_length:g} s but init ({base.card.name}) "
                f"scores {base.card.epoch_length:g}-s epochs: a fine-tuned model "
                "keeps its epoch; leave epoch_length out, or train from scratch."
            )
        if base is None:
            shape.update(
                epoch_length=epoch_length, n_context=_context_epochs(epoch_length)
            )
    card = ModelCard(
        name="loading",
        classes=classes,
        roles=roles,
        channels=tuple(picks_list),
        default_ch_names=tuple(picks_list),
        **shape,
    )
    return _load(recordings, picks, mice, classes, mapping, card, rates)


def _split(recordings, split, seed):
    """Return {"train": [...], "validation": [...], "test": [...]} of recordings."""
    mice = sorted({r.mouse for r in recordings})
    if split is None:
        if len(mice) < 3:
            raise ValueError(
                f"Splitting by animal needs at least 3 mice, got {len(mice)}; pass "
                "split={'train': [...], 'validation': [...], 'test': [...]}."
            )
        order = np.random.default_rng(seed).permutation(mice)
        n_val = n_test = max(1, round(0.15 * len(mice)))
        split = {
            "test": list(order[:n_test]),
            "validation": list(order[n_test : n_test + n_val]),
            "train": list(order[n_test + n_val :]),
        }
    _validate_type(split, dict, "split")
    for key in ("train", "validation"):
        if not split.get(key):
            raise ValueError(f"split needs mice for {key!r}, got {split}.")
    split = {
        k: [str(m) for m in split.get(k, [])] for k in ("train", "validation", "test")
    }
    seen = {}
    for key, names in split.items():
        for mouse in names:
            if mouse in seen:
                raise ValueError(
                    f"Mouse {mouse!r} is in both {seen[mouse]!r} and {key!r}: the "
                    "split is by animal."
                )
            seen[mouse] = key
            if mouse not in mice:
                raise ValueError(f"Mouse {mouse!r} of split[{key!r}] has no recording.")
    return split, {
        key: [r for r in recordings if r.mouse in names] for key, names in split.items()
    }


def _index(recordings):
    """All training windows: (recording index, epoch index, label)."""
    parts = []
    for ii, rec in enumerate(recordings):
        k, y = rec.windows()
        parts.append(np.stack([np.full(len(k), ii), k, y], axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, 3), int)
