"""The stage vocabulary and the time base of a stage sequence.

The package's central representation of a scoring is a *stage sequence*: a
:class:`pandas.Series` of the categorical stage names :data:`STAGES`, one row
per epoch, indexed by the epoch onset in seconds from the first sample of the
recording. Its ``attrs`` carry ``"epoch_length"`` (s), ``"meas_date"`` (the
recording's measurement date or None) and ``"first_time"`` (s from
``meas_date`` to the first sample), so that clock times can be recovered:
the *time base*, read in one place (:func:`_time_base`). The public
conversions are in :mod:`mne_mousesleep.hypnogram`.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from mne.utils import _validate_type

#: Stage names used throughout the package.
WAKE, NREM, PRE_REM, REM, ARTIFACT, UNSCORED = (
    "Wake",
    "NREM",
    "pre-REM",
    "REM",
    "artifact",
    "unscored",
)
#: The mouse stage vocabulary, in the order used for tables and plots.
STAGES = (WAKE, NREM, PRE_REM, REM, ARTIFACT, UNSCORED)
#: The stages that are sleep or wake (not artifact, not unscored).
SCORED_STAGES = (WAKE, NREM, PRE_REM, REM)

#: Description of each stage in :class:`mne.Annotations` (MNE's sleep naming;
#: artifacts start with ``BAD_`` so that epoching rejects them by default).
ANNOTATION_DESCRIPTIONS = {
    WAKE: "Sleep stage W",
    NREM: "Sleep stage NREM",
    PRE_REM: "Sleep stage pre-REM",
    REM: "Sleep stage R",
    ARTIFACT: "BAD_artifact",
    UNSCORED: "Sleep stage ?",
}

#: Stage of a 3-stage :class:`yasa.Hypnogram` for each stage (pre-REM is folded
#: into NREM, as in the 3-class models of Grieger et al. 2021).
YASA_STAGES = {
    WAKE: "WAKE",
    NREM: "NREM",
    PRE_REM: "NREM",
    REM: "REM",
    ARTIFACT: "ART",
    UNSCORED: "UNS",
}

#: Integer code of each stage (negative codes for artifact and unscored, as in
#: YASA).
STAGE_CODES = {WAKE: 0, NREM: 1, PRE_REM: 2, REM: 3, ARTIFACT: -1, UNSCORED: -2}

# Labels understood without a user mapping (matched case-insensitively).
_ALIASES = {
    **{desc.lower(): stage for stage, desc in ANNOTATION_DESCRIPTIONS.items()},
    **{s.lower(): s for s in STAGES},
    "w": WAKE,
    "wake": WAKE,
    "aw": WAKE,
    "qw": WAKE,
    "sleep stage wake": WAKE,
    "nr": NREM,
    "nrem": NREM,
    "sws": NREM,
    "n": NREM,
    "sleep stage n": NREM,
    "pre-rem": PRE_REM,
    "prerem": PRE_REM,
    "pre_rem": PRE_REM,
    "ps": PRE_REM,
    "is": PRE_REM,
    "r": REM,
    "rem": REM,
    "sleep stage rem": REM,
    "a": ARTIFACT,
    "art": ARTIFACT,
    "artifact": ARTIFACT,
    "artefact": ARTIFACT,
    "bad_artifact": ARTIFACT,
    "x": ARTIFACT,
    "movement time": ARTIFACT,
    "uns": UNSCORED,
    "?": UNSCORED,
    "u": UNSCORED,
    "undefined": UNSCORED,
    "unknown": UNSCORED,
}
_FROM_YASA = {"WAKE": WAKE, "NREM": NREM, "REM": REM, "ART": ARTIFACT, "UNS": UNSCORED}


#: Epoch length (s) of a stage sequence, labels or annotations that do not say
#: theirs: that of the published networks (Grieger et al. 2021). Models say
#: their own in the model card.
DEFAULT_EPOCH_LENGTH = 10.0

#: Provenance of an epoch's stage in a reviewed scoring (the ``provenance``
#: column of ``<name>_reviewed.csv``): the scorer's, confirmed or corrected by
#: the expert. Written by the review window, read by reports and fine-tuning.
SCORER, CONFIRMED, CORRECTED = "scorer", "expert-confirmed", "expert-corrected"
PROVENANCE = (SCORER, CONFIRMED, CORRECTED)


@dataclass(frozen=True)
class _TimeBase:
    """Where the epochs of a scoring lie in time.

    ``epoch_length`` in s; ``meas_date`` the recording's measurement date (or
    None); ``first_time`` the time (s) from ``meas_date`` to the first sample.
    Epoch onsets count in s from the first sample.
    """

    epoch_length: float = DEFAULT_EPOCH_LENGTH
    meas_date: datetime | None = None
    first_time: float = 0.0

    def attrs(self):
        """Return the time base as the ``attrs`` entries of a sequence."""
        return dict(
            epoch_length=float(self.epoch_length),
            meas_date=self.meas_date,
            first_time=float(self.first_time),
        )


def _time_base(scoring):
    """Return the :class:`_TimeBase` in the ``attrs`` of a sequence or DataFrame.

    Entries it lacks take the defaults (:data:`DEFAULT_EPOCH_LENGTH`, no
    ``meas_date``, the first sample at 0 s).
    """
    attrs = getattr(scoring, "attrs", None) or {}
    return _TimeBase(
        epoch_length=float(attrs.get("epoch_length", DEFAULT_EPOCH_LENGTH)),
        meas_date=attrs.get("meas_date"),
        first_time=float(attrs.get("first_time", 0.0)),
    )


#: Roles of a lab's own classes: what the steps need to know of a class (the
#: EMG rules, the hidden Markov model's prior, the trust verdict, the fold to
#: YASA's stages and to the formats that cannot hold it). ``"other"`` (e.g.
#: seizures) counts as neither sleep nor wake, like artifact.
ROLES = ("wake", "NREM", "pre-REM", "REM", "artifact", "other")
#: The stage of the package's vocabulary that each role folds to.
ROLE_STAGES = {
    "wake": WAKE,
    "NREM": NREM,
    "pre-REM": PRE_REM,
    "REM": REM,
    "artifact": ARTIFACT,
    "other": ARTIFACT,
}
#: The role of each stage of the vocabulary (but unscored).
STAGE_ROLES = {stage: role for role, stage in ROLE_STAGES.items() if role != "other"}


def _check_roles(roles, what="roles"):
    """Check a lab's own classes ``{name: role}``; return them as a plain dict."""
    _validate_type(roles, (dict, None), what)
    out = {}
    for name, role in (roles or {}).items():
        _validate_type(name, str, f"a class name of {what}")
        if name in STAGES or name.strip().lower() in _ALIASES or not name.strip():
            raise ValueError(
                f"{what} names the class {name!r}, which is (or reads as) a stage "
                f"of the package's vocabulary {STAGES}: name the lab's own class "
                "otherwise (e.g. 'active Wake')."
            )
        if role not in ROLES:
            raise ValueError(
                f"{what} gives class {name!r} the role {role!r}; roles are {ROLES}."
            )
        out[name] = role
    return out


def _roles(scoring):
    """Return the lab's own classes ``{name: role}`` in a scoring's ``attrs``."""
    return dict((getattr(scoring, "attrs", None) or {}).get("roles") or {})


def _stage_of(name, roles):
    """Return the package's stage of a class: itself, or its role's stage."""
    return name if name in STAGES else ROLE_STAGES[roles[name]]


def _description(stage):
    """Return the annotation description of a stage or of a lab's own class."""
    return ANNOTATION_DESCRIPTIONS.get(stage, f"Sleep stage {stage}")


def _make_stages(values, onsets, attrs):
    roles = dict(dict(attrs).get("roles") or {})
    categories = STAGES + tuple(roles)
    values = np.asarray(values, dtype=object)
    unknown = set(pd.unique(values[pd.notna(values)])) - set(categories)
    if unknown:  # never a silent NaN
        raise ValueError(
            f"Stages {sorted(map(str, unknown))} are neither of {STAGES} nor a "
            f"class of the scoring's roles {roles or '{}'}."
        )
    stages = pd.Series(
        pd.Categorical(values, categories=categories),
        index=pd.Index(np.asarray(onsets, float), name="onset"),
        name="stage",
    )
    stages.attrs = {**_TimeBase().attrs(), **dict(attrs)}
    if not roles:
        stages.attrs.pop("roles", None)
    return stages


def _map_labels(labels, mapping, what, roles=None):
    """Map labels to stage names with a user mapping or the known aliases.

    ``roles`` (a lab's own classes) adds their names, and their annotation
    descriptions, to what is known.
    """
    roles = roles or {}
    known = STAGES + tuple(roles)
    aliases = dict(_ALIASES)
    for name in roles:
        aliases[name.lower()] = aliases[_description(name).lower()] = name
    labels = np.asarray(labels, dtype=object)
    out = np.empty(len(labels), dtype=object)
    unknown = set()
    for ii, label in enumerate(labels):
        if mapping is not None:
            stage = mapping.get(label, mapping.get(str(label), _MISSING))
        else:
            stage = aliases.get(str(label).strip().lower(), _MISSING)
        if stage is _MISSING or (stage is not None and stage not in known):
            unknown.add(label)
        out[ii] = stage
    if unknown:
        hint = (
            f"pass mapping={{label: stage}} with stages among {known} (None to "
            "ignore a label)"
            if mapping is None
            else f"add them to mapping (values among {known}, or None to ignore)"
        )
        raise ValueError(f"Unknown {what} {sorted(map(str, unknown))}: {hint}.")
    return out


_MISSING = object()


def _regular_grid(durations):
    """Return the grid (s) that every duration is a whole number of, or None.

    Stage annotations of a scoring in epochs (one per epoch, or per bout of
    epochs) last whole numbers of the epoch: their greatest common divisor
    (to the millisecond) is the epoch, or a multiple of it when every bout
    happens to be. Bouts of any length have none of 1 s or more: None.
    """
    durations = np.asarray(durations, float)
    durations = durations[durations > 0]
    ms = np.round(durations * 1000).astype(np.int64)
    if not len(ms) or not np.allclose(ms, durations * 1000, atol=1e-3):
        return None
    grid = int(np.gcd.reduce(ms))
    return grid / 1000 if grid >= 1000 else None


def _epoch_grid(durations):
    """Return the epoch length (s) that stage annotations of ``durations`` are in.

    :data:`DEFAULT_EPOCH_LENGTH` when they all last whole multiples of it (a
    10-s scoring, bouts merged or not); the one duration of them all when
    they are one per epoch (two or more; a 4-s scoring: 4); else (bouts of other epochs,
    or of any length) :data:`DEFAULT_EPOCH_LENGTH`, by the majority rule:
    the old default where the epoch is not plain.
    """
    durations = np.asarray(durations, float)
    ratio = durations / DEFAULT_EPOCH_LENGTH
    if np.allclose(ratio, np.round(ratio), atol=1e-6) and (np.round(ratio) >= 1).all():
        return DEFAULT_EPOCH_LENGTH
    if len(durations) > 1 and np.allclose(durations, durations[0], atol=1e-6):
        return float(durations[0]) if durations[0] > 0 else DEFAULT_EPOCH_LENGTH
    return DEFAULT_EPOCH_LENGTH


def _regrid(starts, ends, values, epoch_length, origin):
    """Cut bouts ``[starts, ends)`` into epochs of a grid through ``origin``.

    Returns the stage and onset of each epoch from the first to the last that
    the bouts cover for at least half its time. An epoch takes the stage that
    covers most of its time; time that no bout covers counts as unscored. A
    tie goes to the stage that comes first in the epoch, but never to
    unscored when a stage ties with it.
    """
    starts, ends = np.asarray(starts, float), np.asarray(ends, float)
    values = np.asarray(values, dtype=object)
    # Contiguous bouts of one stage count as one (per-second files: fast).
    same = (values[1:] == values[:-1]) & np.isclose(starts[1:], ends[:-1], atol=1e-9)
    if same.any():
        first_of_run, last_of_run = np.r_[True, ~same], np.r_[~same, True]
        starts, ends = starts[first_of_run], ends[last_of_run]
        values = values[first_of_run]
    length = float(epoch_length)
    first = np.floor((starts.min() - origin) / length + 1e-9)
    last = np.ceil((ends.max() - origin) / length - 1e-9)
    onsets = origin + np.arange(first, last) * length
    names = STAGES + tuple(v for v in dict.fromkeys(values) if v not in STAGES)
    index = {stage: ii for ii, stage in enumerate(names)}
    cover = np.zeros((len(onsets), len(names)))
    begin = np.full((len(onsets), len(names)), np.inf)
    for start, end, stage in zip(starts, ends, values):
        col = index[stage]
        k0 = int(np.floor((start - origin) / length + 1e-9) - first)
        k1 = int(np.ceil((end - origin) / length - 1e-9) - first)
        ks = np.arange(k0, k1)
        lo = np.maximum(onsets[ks], start)
        hi = np.minimum(onsets[ks] + length, end)
        cover[ks, col] += np.maximum(hi - lo, 0.0)
        begin[ks, col] = np.minimum(begin[ks, col], lo)
    unscored = index[UNSCORED]
    covered = cover.sum(axis=1)
    cover[:, unscored] += np.clip(length - covered, 0.0, None)
    begin[:, unscored] = np.where(cover[:, unscored] > 0, np.inf, begin[:, unscored])
    cover = np.round(cover, 6)
    tied = cover == cover.max(axis=1, keepdims=True)
    only = tied.sum(axis=1) == 1
    tied[~only, unscored] = False  # unscored loses every tie
    key = np.where(tied, begin, np.inf)
    key[tied & ~np.isfinite(key)] = 0.0  # unscored alone among the tied
    best = np.argmin(np.where(tied, key, np.inf), axis=1)
    # Edge epochs the scoring covers for less than half their time are left
    # out (they are mostly outside it); inside, gaps are unscored epochs.
    half = np.flatnonzero(covered >= length / 2 - 1e-6)
    keep = slice(half[0], half[-1] + 1) if len(half) else slice(0, 0)
    return np.asarray(names, dtype=object)[best][keep], onsets[keep]


def _runs(values):
    """Start and end (exclusive) index of each run of equal values (none if empty)."""
    values = np.asarray(values, dtype=object)
    if not len(values):
        return np.empty(0, int), np.empty(0, int)
    new = np.r_[True, values[1:] != values[:-1]]
    starts = np.flatnonzero(new)
    return starts, np.r_[starts[1:], len(values)]


def _bout_bounds(values, onsets, epoch_length):
    """Start and end (exclusive) indices of runs of equal, contiguous epochs."""
    new = np.r_[
        True,
        (values[1:] != values[:-1]) | ~np.isclose(np.diff(onsets), epoch_length),
    ]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(values)]
    return starts, ends


def _seconds_from_first_sample(stages, raw):
    """Epoch onsets of ``stages`` in seconds from the first sample of ``raw``.

    Probabilities count from the first sample (``first_time`` in their attrs);
    annotations of a Raw count from its ``meas_date`` (or ``first_samp``), so
    the Raw's own ``first_time`` is subtracted.
    """
    absolute = stages.index.to_numpy(float) + _time_base(stages).first_time
    return absolute - raw.first_time


def _start_time(stages):
    """Clock time of the first epoch, or None."""
    base = _time_base(stages)
    if base.meas_date is None or not len(stages):
        return None
    offset = base.first_time + float(stages.index[0])
    return pd.Timestamp(base.meas_date) + pd.Timedelta(seconds=offset)


def _zeitgeber(stages, lights_on, start):
    """ZT in hours of each epoch onset."""
    if start is None:
        start = _start_time(stages)
    if start is None:
        raise ValueError(
            "The scoring has no clock time (the recording has no meas_date); "
            "pass start (clock time of the first epoch)."
        )
    rel = stages.index.to_numpy(float) - float(stages.index[0])
    return (_zt_hours(start, lights_on) + rel / 3600) % 24


def _zt_hours(clock_time, lights_on):
    """Zeitgeber time (h, 0-24) of a clock time, lights on at ``"HH:MM"``."""
    clock_time = pd.Timestamp(clock_time)
    _validate_type(lights_on, str, "lights_on")
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?", lights_on.strip()):
        raise ValueError(
            f"lights_on must be a clock time 'HH:MM' (00:00 to 23:59), got "
            f"{lights_on!r}."
        )
    on = pd.Timedelta(lights_on.strip() + (":00" if lights_on.count(":") == 1 else ""))
    since_midnight = clock_time - clock_time.normalize()
    return ((since_midnight - on).total_seconds() / 3600) % 24
