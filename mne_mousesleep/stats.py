"""Sleep architecture: transition matrices, stage statistics, light/dark phases."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne.utils import _check_option, _validate_type

from ._stages import (  # noqa: F401
    _roles,
    _stage_of,
    _time_base,
    _zeitgeber,
    _zt_hours,
)
from .hypnogram import (
    ARTIFACT,
    NREM,
    PRE_REM,
    REM,
    SCORED_STAGES,
    UNSCORED,
    WAKE,
    _bout_bounds,
    to_hypnogram,
    to_stages,
)

_STAGES_5 = (WAKE, NREM, PRE_REM, REM, ARTIFACT)


def _own(stages):
    """Return a lab's own classes of a sequence: scored (sleep, wake) and not."""
    roles = _roles(stages)
    scored = tuple(c for c, r in roles.items() if r not in ("artifact", "other"))
    return scored, tuple(c for c in roles if c not in scored)


def _epoch_length(stages):
    return _time_base(stages).epoch_length


def _bouts(stages):
    """Bouts of a stage sequence: DataFrame with stage, onset (s), duration (s)."""
    values = stages.to_numpy(dtype=object)
    onsets = stages.index.to_numpy(dtype=float)
    length = _epoch_length(stages)
    if not len(values):
        return pd.DataFrame(columns=["stage", "onset", "duration", "start", "end"])
    starts, ends = _bout_bounds(values, onsets, length)
    return pd.DataFrame(
        {
            "stage": values[starts],
            "onset": onsets[starts],
            "duration": onsets[ends - 1] + length - onsets[starts],
            "start": starts,
            "end": ends,
        }
    )


def transition_matrix(scoring, *, n_stages=5, artifacts="exclude"):
    """Markov transition matrix between consecutive epochs.

    Parameters
    ----------
    scoring : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        Anything :func:`mne_mousesleep.to_stages` accepts.
    n_stages : 5 | 3
        5: Wake, NREM, pre-REM, REM (and artifact), then a lab's own classes
        (``attrs["roles"]``; those of role artifact or other with artifact);
        3: the 3-stage hypnogram (pre-REM folded into NREM, the lab's classes
        into the stages of their roles), computed with
        :meth:`yasa.Hypnogram.transition_matrix`.
    artifacts : "exclude" | "state"
        ``"exclude"`` (default): transitions into or out of artifact and
        unscored epochs are not counted (the sequence is cut there), and
        artifact has no row or column. ``"state"``: artifact is a state of its
        own (with ``n_stages=3``, YASA's ART and UNS states); unscored epochs
        still cut the sequence with ``n_stages=5``.

    Returns
    -------
    counts : pandas.DataFrame, shape (n_states, n_states)
        Number of transitions from the row stage to the column stage
        (including a stage to itself).
    probs : pandas.DataFrame, shape (n_states, n_states)
        Row-normalised probabilities; rows of stages never left are NaN.

    References
    ----------
    See Fig. 5 of Grieger et al. (2021), Scientific Reports 11, 12245.
    """
    _check_option("n_stages", n_stages, (3, 5))
    _check_option("artifacts", artifacts, ("exclude", "state"))
    stages = to_stages(scoring)
    if n_stages == 3 and artifacts == "state":
        return to_hypnogram(stages).transition_matrix()
    values = stages.to_numpy(dtype=object)
    scored, unscored_own = _own(stages)
    if n_stages == 3:  # a lab's own classes by their role
        roles = _roles(stages)
        values = np.array([_stage_of(v, roles) for v in values], dtype=object)
        values = np.where(values == PRE_REM, NREM, values)
        states = (WAKE, NREM, REM)
    elif artifacts == "state":
        states = _STAGES_5 + scored + unscored_own
    else:
        states = SCORED_STAGES + scored
    index = {s: ii for ii, s in enumerate(states)}
    codes = np.array([index.get(v, -1) for v in values], dtype=int)
    contiguous = np.isclose(
        np.diff(stages.index.to_numpy(float)), _epoch_length(stages)
    )
    valid = (codes[:-1] >= 0) & (codes[1:] >= 0) & contiguous
    counts = np.zeros((len(states), len(states)), int)
    np.add.at(counts, (codes[:-1][valid], codes[1:][valid]), 1)
    counts = pd.DataFrame(
        counts,
        index=pd.Index(states, name="From Stage"),
        columns=pd.Index(states, name="To Stage"),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    return counts, probs


def sleep_statistics(scoring):
    """Stage statistics of one recording (or one part of it).

    Parameters
    ----------
    scoring : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        Anything :func:`mne_mousesleep.to_stages` accepts.

    Returns
    -------
    stats : pandas.Series
        With, for each of Wake, NREM, pre-REM, REM and artifact, and each of
        a lab's own classes (``attrs["roles"]``, after them):
        ``"<stage> min"`` (minutes), ``"<stage> %"`` (percentage of the scored
        time, i.e. of Wake + NREM + pre-REM + REM and the own classes of those
        roles; for artifact and classes of role artifact or other, of the
        whole time), ``"<stage> bouts"`` (number), ``"<stage> mean bout s"`` and
        ``"<stage> median bout s"`` (bout durations in seconds). Also
        ``"total min"``, ``"scored min"``, ``"unscored min"``,
        ``"latency NREM min"``, ``"latency pre-REM min"``,
        ``"latency REM min"`` (from the first epoch to the first epoch of that
        stage; NaN if absent), ``"REM entries from pre-REM"``,
        ``"REM entries from NREM"``, ``"REM entries via pre-REM %"`` (of the
        REM bouts entered from pre-REM or NREM), ``"pre-REM bouts to REM %"``
        (pre-REM bouts followed by REM) and ``"P(pre-REM -> REM)"`` (the
        epoch-wise transition probability, from :func:`transition_matrix`).

    Notes
    -----
    A bout is a run of consecutive epochs of the same stage. YASA's
    :meth:`yasa.Hypnogram.sleep_statistics` gives the human-sleep metrics of
    the 3-stage hypnogram (e.g. TST, SE); it has no pre-REM, so the 5-stage
    statistics are computed here.
    """
    stages = to_stages(scoring)
    length = _epoch_length(stages)
    values = stages.to_numpy(dtype=object)
    bouts = _bouts(stages)
    scored, _ = _own(stages)
    out = {}
    n_scored = int(np.isin(values, SCORED_STAGES + scored).sum())
    out["total min"] = len(values) * length / 60
    out["scored min"] = n_scored * length / 60
    out["unscored min"] = int((values == UNSCORED).sum()) * length / 60
    for stage in _STAGES_5 + tuple(_roles(stages)):
        n = int((values == stage).sum())
        durations = bouts.loc[bouts["stage"] == stage, "duration"]
        denominator = n_scored if stage in SCORED_STAGES + scored else len(values)
        out[f"{stage} min"] = n * length / 60
        out[f"{stage} %"] = 100 * n / denominator if denominator else np.nan
        out[f"{stage} bouts"] = len(durations)
        out[f"{stage} mean bout s"] = durations.mean() if len(durations) else np.nan
        out[f"{stage} median bout s"] = durations.median() if len(durations) else np.nan
    for stage in (NREM, PRE_REM, REM):
        first = np.flatnonzero(values == stage)
        out[f"latency {stage} min"] = first[0] * length / 60 if len(first) else np.nan
    previous = np.r_[None, bouts["stage"].to_numpy()[:-1]]
    rem = bouts["stage"].to_numpy() == REM
    from_pre = int((rem & (previous == PRE_REM)).sum())
    from_nrem = int((rem & (previous == NREM)).sum())
    out["REM entries from pre-REM"] = from_pre
    out["REM entries from NREM"] = from_nrem
    entries = from_pre + from_nrem
    out["REM entries via pre-REM %"] = 100 * from_pre / entries if entries else np.nan
    following = np.r_[bouts["stage"].to_numpy()[1:], None]
    pre = bouts["stage"].to_numpy() == PRE_REM
    out["pre-REM bouts to REM %"] = (
        100 * (pre & (following == REM)).sum() / pre.sum() if pre.any() else np.nan
    )
    _, probs = transition_matrix(stages)
    out["P(pre-REM -> REM)"] = probs.loc[PRE_REM, REM]
    return pd.Series(out, name="value", dtype=float)


def phase_statistics(scoring, *, lights_on="07:00", start=None):
    """Stage statistics in the light (ZT0–ZT12) and dark (ZT12–ZT24) phases.

    Parameters
    ----------
    scoring : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        Anything :func:`mne_mousesleep.to_stages` accepts.
    lights_on : str
        Clock time of lights on (ZT0), ``"HH:MM"``, in the time zone of the
        recording's ``meas_date`` (usually UTC as stored in the file).
    start : str | datetime.datetime | pandas.Timestamp | None
        Clock time of the first epoch; ``None`` takes it from the scoring's
        ``meas_date``.

    Returns
    -------
    stats : pandas.DataFrame
        One row per phase (``"light"``, ``"dark"``) and one for the whole
        recording (``"total"``), columns as in :func:`sleep_statistics`.
        Latencies count from the first epoch of each phase; bouts are cut at
        the phase boundaries.

    Raises
    ------
    ValueError
        If no clock time is known or ``lights_on`` is not a clock time.
    """
    stages = to_stages(scoring)
    zt = _zeitgeber(stages, lights_on, start)
    rows = {}
    for phase, mask in (("light", zt < 12), ("dark", zt >= 12)):
        rows[phase] = sleep_statistics(_subset(stages, mask))
    rows["total"] = sleep_statistics(stages)
    out = pd.DataFrame(rows).T
    out.index.name = "phase"
    return out


def _subset(stages, mask):
    sub = stages[mask]
    sub.attrs = dict(stages.attrs)
    return sub


def hourly_statistics(scoring, *, lights_on=None, start=None):
    """Stage statistics hour by hour (a time course).

    Parameters
    ----------
    scoring : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        Anything :func:`mne_mousesleep.to_stages` accepts.
    lights_on : str | None
        Clock time of lights on, ``"HH:MM"``. If given, hours are Zeitgeber
        hours (``ZT`` column, 0–23) and a ``phase`` column says light or dark;
        otherwise hours count from the first epoch.
    start : str | datetime.datetime | pandas.Timestamp | None
        Clock time of the first epoch (default: from ``meas_date``).

    Returns
    -------
    stats : pandas.DataFrame
        One row per hour of recording (index ``hour``, from 0), columns as in
        :func:`sleep_statistics`, plus ``ZT`` and ``phase`` when ``lights_on``
        is given.
    """
    stages = to_stages(scoring)
    rel = stages.index.to_numpy(float) - float(stages.index[0])
    hour = (rel // 3600).astype(int)
    zt = None if lights_on is None else _zeitgeber(stages, lights_on, start)
    rows = []
    for h in np.unique(hour):
        mask = hour == h
        row = sleep_statistics(_subset(stages, mask))
        if zt is not None:
            row["ZT"] = np.floor(zt[mask][0])
        rows.append(row.rename(h))
    out = pd.DataFrame(rows)
    out.index.name = "hour"
    if zt is not None:
        out["ZT"] = out["ZT"].astype(int)
        out["phase"] = np.where(out["ZT"] < 12, "light", "dark")
    return out


def smooth_min_bout(scoring, min_duration, *, exclude=(PRE_REM, ARTIFACT, UNSCORED)):
    """Relabel bouts shorter than a minimum duration (optional post-processing).

    Bouts shorter than ``min_duration`` take the stage of the preceding bout
    (the following one for a first bout), shortest bouts first, until none is
    left. Off by default everywhere: the published models' outputs are not
    smoothed unless this is called.

    Parameters
    ----------
    scoring : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        Anything :func:`mne_mousesleep.to_stages` accepts.
    min_duration : float
        Minimum bout duration in seconds (e.g. 20 for two 10-s epochs).
    exclude : tuple of str
        Stages whose short bouts are kept, and which are never used to
        replace another bout. Default: pre-REM (a short stage by nature),
        artifact and unscored.

    Returns
    -------
    stages : pandas.Series
        The smoothed stage sequence (a copy).
    """
    _validate_type(min_duration, "numeric", "min_duration")
    stages = to_stages(scoring)
    values = stages.to_numpy(dtype=object).copy()
    for _ in range(len(values)):
        bouts = _bouts(_copy_with(stages, values))
        short = bouts[
            (bouts["duration"] < min_duration - 1e-9) & ~bouts["stage"].isin(exclude)
        ]
        changed = False
        for ii in short.sort_values("duration", kind="stable").index:
            donor = None
            if ii > 0 and bouts.at[ii - 1, "stage"] not in exclude:
                donor = bouts.at[ii - 1, "stage"]
            elif ii + 1 < len(bouts) and bouts.at[ii + 1, "stage"] not in exclude:
                donor = bouts.at[ii + 1, "stage"]
            if donor is not None:
                values[bouts.at[ii, "start"] : bouts.at[ii, "end"]] = donor
                changed = True
                break
        if not changed:
            break
    return _copy_with(stages, values)


def _copy_with(stages, values):
    out = pd.Series(
        pd.Categorical(values, categories=stages.cat.categories),
        index=stages.index,
        name=stages.name,
    )
    out.attrs = dict(stages.attrs)
    return out
