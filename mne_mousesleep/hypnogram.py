"""Conversions between scores, annotations, stage sequences and hypnograms.

A scoring is a *stage sequence* (see :mod:`mne_mousesleep._stages`): a
:class:`pandas.Series` of the stage names :data:`STAGES`, one row per epoch,
indexed by the epoch onset in seconds from the first sample of the
recording, with its time base in ``attrs``.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne import Annotations
from mne.utils import _validate_type, logger

from ._docs import fill_doc
from ._stages import (  # noqa: F401 (the vocabulary is public here)
    _ALIASES,
    _FROM_YASA,
    _MISSING,
    ANNOTATION_DESCRIPTIONS,
    ARTIFACT,
    DEFAULT_EPOCH_LENGTH,
    NREM,
    PRE_REM,
    REM,
    SCORED_STAGES,
    STAGE_CODES,
    STAGES,
    UNSCORED,
    WAKE,
    YASA_STAGES,
    _bout_bounds,
    _check_roles,
    _description,
    _epoch_grid,
    _make_stages,
    _map_labels,
    _regrid,
    _roles,
    _seconds_from_first_sample,
    _stage_of,
    _start_time,
    _time_base,
)


def proba_to_stages(proba):
    """Return the most probable stage of each epoch.

    Parameters
    ----------
    proba : pandas.DataFrame, shape (n_epochs, n_classes)
        Probabilities as returned by :func:`mne_mousesleep.predict_proba`. Rows
        of NaN are unscored epochs.

    Returns
    -------
    stages : pandas.Series, shape (n_epochs,)
        The stage sequence (categorical, :data:`STAGES`), ``"unscored"`` for
        rows of NaN, with the index and time attributes of ``proba``.

    Notes
    -----
    When ``proba`` was smoothed by the hidden Markov model
    (``smooth="hmm"`` in :func:`~mne_mousesleep.predict_proba`), the stages
    are the most probable sequence (Viterbi path, in
    ``proba.attrs["hmm"]["path"]``), which can differ from the most probable
    stage of each epoch alone; remove ``proba.attrs["hmm"]`` to get the
    latter.
    """
    values, scored = _check_proba(proba)
    stages = np.full(len(proba), UNSCORED, dtype=object)
    if scored.any():
        stages[scored] = np.asarray(proba.columns, dtype=object)[
            values[scored].argmax(axis=1)
        ]
    hmm = proba.attrs.get("hmm") or {}
    if hmm.get("path"):  # smoothed: the labels are the Viterbi path
        path = dict(zip(hmm["onsets"], hmm["path"]))
        for ii, onset in enumerate(proba.index):
            label = path.get(float(onset))
            if scored[ii] and label is not None:
                stages[ii] = label
    return _make_stages(stages, proba.index, proba.attrs)


def _check_proba(proba):
    _validate_type(proba, pd.DataFrame, "proba")
    known = STAGES[:-1] + tuple(_roles(proba))
    unknown = [c for c in proba.columns if c not in known]
    if unknown or proba.shape[1] == 0:
        raise ValueError(
            f"proba must have columns among {known} (a lab's own classes in "
            f"proba.attrs['roles']), got {list(proba.columns)}."
        )
    values = proba.to_numpy(dtype=float)
    scored = ~np.isnan(values).any(axis=1)
    if not np.allclose(values[scored].sum(axis=1), 1, atol=1e-4):
        raise ValueError("Each scored row of proba must sum to 1.")
    return values, scored


def _annotations_to_stages(annotations, mapping, epoch_length, origin=None, roles=None):
    stages = _map_labels(
        annotations.description, mapping, "annotation descriptions", roles
    )
    keep = np.array([s is not None for s in stages], bool)
    onsets = annotations.onset[keep]
    durations = annotations.duration[keep]
    stages = stages[keep]
    if not len(stages):
        raise ValueError("The annotations hold no sleep stage.")
    order = np.argsort(onsets, kind="stable")
    onsets, durations, stages = onsets[order], durations[order], stages[order]
    ends = onsets + durations
    gaps = onsets[1:] - ends[:-1]
    if (gaps < -1e-6).any():
        ii = np.flatnonzero(gaps < -1e-6)[0]
        raise ValueError(
            f"Overlapping stage annotations: {stages[ii]!r} at {onsets[ii]:g} s "
            f"(until {ends[ii]:g} s) and {stages[ii + 1]!r} at {onsets[ii + 1]:g} s."
        )
    if (gaps > 1e-6).any():
        ii = np.flatnonzero(gaps > 1e-6)[0]
        raise ValueError(
            f"Gap of {gaps[ii]:g} s in the stage annotations between {ends[ii]:g} s "
            f"and {onsets[ii + 1]:g} s; annotate it (e.g. 'Sleep stage ?')."
        )
    if epoch_length is None:  # the scoring's own epochs (see to_stages)
        epoch_length = _epoch_grid(durations)
    attrs = {"epoch_length": float(epoch_length), "meas_date": annotations.orig_time}
    if roles:
        attrs["roles"] = dict(roles)
    n_per = durations / epoch_length
    on_grid = origin is None or np.allclose(
        (onsets[0] - origin) / epoch_length,
        np.round((onsets[0] - origin) / epoch_length),
        atol=1e-6,
    )
    if (
        on_grid
        and np.allclose(n_per, np.round(n_per), atol=1e-6)
        and (np.round(n_per) >= 1).all()
    ):
        counts = np.round(n_per).astype(int)
        values = np.repeat(stages, counts)
        epoch_onsets = onsets[0] + np.arange(len(values)) * epoch_length
        return _make_stages(values, epoch_onsets, attrs)
    # Another epoch length (or bouts of any duration): the majority rule.
    logger.info(
        f"Stage annotations last {sorted({f'{d:g}' for d in durations})[:4]} s, "
        f"not multiples of {epoch_length:g} s: converted to {epoch_length:g}-s "
        "epochs (majority of time, see to_epoch_length)."
    )
    origin = onsets[0] if origin is None else origin
    values, epoch_onsets = _regrid(onsets, ends, stages, epoch_length, origin)
    if not len(values):
        raise ValueError(
            f"The stage annotations ({onsets[0]:g} to {ends[-1]:g} s) cover no "
            f"{epoch_length:g}-s epoch for half its time."
        )
    return _make_stages(values, epoch_onsets, attrs)


def to_epoch_length(scoring, epoch_length=10.0, *, origin=None):
    """Convert a scoring to epochs of another length (majority of time).

    Use it to compare or train with expert scorings made at other epoch
    lengths (AccuSleep's 2.5 or 4 s, FASTER2's 8 s, SPINDLE's 4 s, a Weber-lab
    ``remidx`` file's 2.5 s, MiSleep's per-second bouts), or to write our
    10-s scores at the epoch length a tool expects.

    Parameters
    ----------
    scoring : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        Anything :func:`to_stages` accepts.
    epoch_length : float
        The new epoch length, in seconds.
    origin : float | None
        Onset (s, on the scoring's time axis) of one epoch of the new grid.
        Default: the onset of the first epoch of ``scoring``.

    Returns
    -------
    stages : pandas.Series, shape (n_new_epochs,)
        The stage sequence on the new grid, from the first to the last epoch
        that the scoring covers for at least half its time; ``attrs`` as
        ``scoring``'s, with the new ``"epoch_length"``.

    Raises
    ------
    ValueError
        If ``epoch_length`` is not positive, or so long that no new epoch is
        covered by the scoring for half its time.

    Notes
    -----
    The rule, for every new epoch:

    - It takes the stage that covers most of its time (so shorter epochs
      inside one longer epoch all take that epoch's stage, and a 10-s epoch
      made of four 2.5-s epochs takes the majority of the four).
    - Time that the scoring does not cover (in a gap, or beyond its ends)
      counts as unscored. At the edges, a new epoch that the scoring covers
      for less than half its time is left out; so converting to shorter
      epochs and back gives the scoring back.
    - A tie (e.g. two 2.5-s epochs of Wake, then two of NREM) goes to the
      stage that comes first in the epoch, but unscored loses every tie.
    """
    length = float(epoch_length)
    if not np.isfinite(length) or length <= 0:
        raise ValueError(
            f"epoch_length must be a positive number, got {epoch_length!r}."
        )
    stages = to_stages(scoring)
    if not len(stages):
        raise ValueError("The scoring holds no epoch.")
    old = _time_base(stages).epoch_length
    onsets = stages.index.to_numpy(float)
    origin = onsets[0] if origin is None else float(origin)
    values, new_onsets = _regrid(
        onsets, onsets + old, stages.to_numpy(object), length, origin
    )
    if not len(values):
        covered = onsets[-1] + old - onsets[0]
        raise ValueError(
            f"epoch_length={epoch_length!r} s: no epoch of that length is covered "
            f"for half its time by the scoring, which spans {covered:g} s "
            f"({len(stages)} epochs of {old:g} s); pass a shorter epoch_length."
        )
    return _make_stages(values, new_onsets, {**stages.attrs, "epoch_length": length})


def to_stages(scoring, *, mapping=None, epoch_length=None, roles=None):
    """Convert a scoring to the package's stage sequence.

    Parameters
    ----------
    scoring : DataFrame | Series | Annotations | Hypnogram | array-like
        Probabilities from :func:`mne_mousesleep.predict_proba`; a stage
        sequence (returned as a copy); annotations, as written by
        :func:`mne_mousesleep.score` or by an expert (then give ``mapping``);
        a :class:`yasa.Hypnogram` (3-stage: WAKE, NREM, REM, ART, UNS); or one
        label per epoch (stage names, known aliases such as ``"W"``, ``"NR"``,
        ``"R"``, or integer codes of :data:`STAGE_CODES`).
    mapping : dict | None
        For annotations and labels: maps each description or label to a stage
        name of :data:`STAGES`, or to None to ignore annotations with that
        description. ``None`` uses the descriptions of
        :data:`ANNOTATION_DESCRIPTIONS` and common aliases.
    epoch_length : float | None
        Epoch length in seconds (default: from the input, else 10 s). For
        annotations: 10 s when every stage annotation lasts a multiple of
        10 s; their one duration when they all last the same (one per epoch:
        a scoring in 4-s epochs gives 4 s); else 10 s, by the majority rule
        (bouts merged from 4-s epochs need ``epoch_length=4``).
    roles : dict | None
        A lab's own classes ``{name: role}`` (roles among
        ``"wake", "NREM", "pre-REM", "REM", "artifact", "other"``), for
        annotations and labels that name them (``"active Wake"`` or
        ``"Sleep stage active Wake"``, as :func:`to_annotations` writes
        them). Probabilities and stage sequences carry theirs in
        ``attrs["roles"]``.

    Returns
    -------
    stages : pandas.Series, shape (n_epochs,)
        Categorical stage names indexed by onset (s).

    Raises
    ------
    ValueError
        For unknown labels, annotation durations that are not a multiple of
        the epoch length, gaps or overlaps between stage annotations.
    TypeError
        For other input types.

    Notes
    -----
    A :class:`pandas.Series` of labels (e.g. a column of a spreadsheet) is
    taken as epochs in order, ``epoch_length`` apart, unless its index is
    time: named ``"onset"`` (as the package's own stage sequences),
    ``"onset_s"``, ``"time"``, ``"time_s"`` or ``"seconds"`` (seconds), or a
    :class:`pandas.TimedeltaIndex`.
    A stage sequence (categorical, of :data:`STAGES`) keeps its index as
    onsets unless it is the default one.
    """
    if isinstance(scoring, pd.DataFrame):
        return proba_to_stages(scoring)
    if isinstance(scoring, Annotations):
        return _annotations_to_stages(
            scoring, mapping, epoch_length, roles=_check_roles(roles)
        )
    try:
        import yasa
    except ImportError:  # pragma: no cover
        yasa = None
    if yasa is not None and isinstance(scoring, yasa.Hypnogram):
        length = pd.Timedelta(scoring.freq).total_seconds()
        values = [_FROM_YASA.get(s, _MISSING) for s in scoring.hypno.astype(str)]
        if any(v is _MISSING for v in values):
            raise ValueError(
                f"Only 3-stage YASA hypnograms convert, got labels {scoring.labels}."
            )
        start = scoring.start
        return _make_stages(
            values,
            np.arange(len(values)) * length,
            {
                "epoch_length": length,
                "meas_date": None if start is None else pd.Timestamp(start),
            },
        )
    if isinstance(scoring, pd.Series) and isinstance(
        scoring.dtype, pd.CategoricalDtype
    ):
        known = STAGES + tuple(_roles(scoring)) + tuple(roles or {})
        if set(scoring.cat.categories) <= set(known):
            length = epoch_length or scoring.attrs.get("epoch_length")
            length = float(length or DEFAULT_EPOCH_LENGTH)
            # A stage sequence's index is its onsets; a default one is order.
            positional = isinstance(scoring.index, pd.RangeIndex)
            onsets = _series_onsets(scoring, length) if positional else scoring.index
            own = {**_roles(scoring), **_check_roles(roles)}
            attrs = {**scoring.attrs, "roles": own}  # empty roles are dropped
            out = _make_stages(scoring.astype(object).to_numpy(), onsets, attrs)
            if epoch_length is not None or "epoch_length" not in scoring.attrs:
                out.attrs["epoch_length"] = length
            return out
    if not isinstance(scoring, list | tuple | np.ndarray | pd.Series):
        raise TypeError(
            "scoring must be probabilities, a stage sequence, Annotations, a "
            f"yasa.Hypnogram or a sequence of labels, got {type(scoring).__name__}."
        )
    labels = np.asarray(scoring, dtype=object)
    if labels.ndim != 1:
        raise ValueError(
            f"scoring must hold one label per epoch (1-D), got shape {labels.shape}."
        )
    if mapping is None and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in labels
    ):
        mapping = {code: stage for stage, code in STAGE_CODES.items()}
    roles = _check_roles(roles)
    values = _map_labels(labels, mapping, "labels", roles)
    if any(v is None for v in values):
        raise ValueError("Labels mapped to None cannot be dropped from a sequence.")
    length = float(epoch_length or DEFAULT_EPOCH_LENGTH)
    if isinstance(scoring, pd.Series):
        onsets = _series_onsets(scoring, length)
        attrs = {**scoring.attrs, "epoch_length": length}
    else:
        onsets, attrs = np.arange(len(values)) * length, {"epoch_length": length}
    if roles:
        attrs["roles"] = roles
    return _make_stages(values, onsets, attrs)


#: Index names of a Series whose index is time: onsets in seconds.
TIME_INDEX_NAMES = ("onset", "onset_s", "time", "time_s", "seconds")


def _series_onsets(series, epoch_length):
    """Return the onsets (s) of a Series of labels, one per epoch.

    The index is time only when it says so: named as in
    :data:`TIME_INDEX_NAMES` (seconds; the package's own stage sequences
    are indexed by ``"onset"``) or a :class:`pandas.TimedeltaIndex` (from
    the first sample). Any other index (the default 0, 1, 2..., epoch
    numbers, row labels of a spreadsheet) is the order of the epochs, each
    ``epoch_length`` seconds long.
    """
    index = series.index
    if isinstance(index, pd.TimedeltaIndex):
        return index.total_seconds().to_numpy(dtype=float)
    if index.name in TIME_INDEX_NAMES:
        try:
            return index.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"The index {index.name!r} of the labels is taken as onsets in "
                f"seconds, but holds {index.dtype} values; reset it "
                "(labels.reset_index(drop=True)) to take the labels as epochs "
                "in order."
            ) from None
    return np.arange(len(series)) * float(epoch_length)


def to_codes(stages):
    """Return the integer code of each epoch (:data:`STAGE_CODES`).

    Parameters
    ----------
    stages : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        Anything :func:`to_stages` accepts.

    Returns
    -------
    codes : pandas.Series of int, shape (n_epochs,)
        Wake 0, NREM 1, pre-REM 2, REM 3, artifact -1, unscored -2; a lab's
        own classes 4, 5, ... in the order of ``attrs["roles"]``.
    """
    stages = to_stages(stages)
    own = {name: 4 + ii for ii, name in enumerate(_roles(stages))}
    codes = stages.astype(object).map({**STAGE_CODES, **own}).astype(int)
    codes.name = "code"
    return codes


@fill_doc
def to_annotations(scoring, *, merge_bouts=False):
    """Turn per-epoch scores into :class:`mne.Annotations`.

    Parameters
    ----------
    scoring : pandas.DataFrame | pandas.Series
        Probabilities as returned by :func:`mne_mousesleep.predict_proba`, or a
        stage sequence (:func:`to_stages`). The index is the epoch onset in
        seconds from the first sample; ``attrs`` carry the time base
        (``"meas_date"``, ``"first_time"``) and ``"epoch_length"``. Without these
        attributes, the onsets are taken as they are, ``orig_time=None`` and
        epochs of 10 s.
    %(merge_bouts)s

    Returns
    -------
    annotations : mne.Annotations
        One annotation per epoch (or per bout), described with
        :data:`ANNOTATION_DESCRIPTIONS`.
    """
    _validate_type(merge_bouts, bool, "merge_bouts")
    stages = to_stages(scoring)
    values = stages.to_numpy(dtype=object)
    base = _time_base(stages)
    epoch_length, meas_date, first_time = (
        base.epoch_length,
        base.meas_date,
        base.first_time,
    )
    onsets = stages.index.to_numpy(dtype=float)
    durations = np.full(len(values), epoch_length)
    if merge_bouts and len(values):
        starts, ends = _bout_bounds(values, onsets, epoch_length)
        durations = onsets[ends - 1] + epoch_length - onsets[starts]
        onsets, values = onsets[starts], values[starts]
    # With a measurement date, MNE counts onsets from it, and the first sample
    # lies first_time seconds after it; without, onsets count from the first
    # sample.
    if meas_date is not None:
        onsets = onsets + first_time
    descriptions = [_description(s) for s in values]
    return Annotations(onsets, durations, descriptions, orig_time=meas_date)


def to_hypnogram(scoring, *, start=None, scorer=None):
    """Turn per-epoch scores into a 3-stage :class:`yasa.Hypnogram`.

    Parameters
    ----------
    scoring : pandas.DataFrame | pandas.Series | mne.Annotations
        Probabilities as returned by :func:`mne_mousesleep.predict_proba`, or
        anything :func:`to_stages` accepts (then the hypnogram has no
        probabilities).
    start : str | datetime.datetime | pandas.Timestamp | None
        Clock time of the first epoch. ``None`` takes it from the time
        attributes (the Raw's ``meas_date`` plus the time of its first
        sample); if the recording has no ``meas_date``, the hypnogram has no
        clock time.
    scorer : str | None
        Name of the scorer. ``None`` uses the model name in ``scoring.attrs``.

    Returns
    -------
    hypnogram : yasa.Hypnogram
        With ``n_stages=3`` and ``freq`` the epoch length (``"10s"``). Stages are
        folded with :data:`YASA_STAGES` (a lab's own classes by their role:
        ``"active Wake"`` of role wake is WAKE, a class of role other is
        ART): pre-REM becomes NREM, artifact becomes
        ``"ART"``, and epochs without a score (first and last) are ``"UNS"``.
        From probabilities, ``hypnogram.proba`` holds the folded probabilities
        (columns WAKE, NREM, REM, ART, UNS; NREM is the sum of NREM and pre-REM;
        UNS is 1 on unscored epochs). The 5-class labels stay available in the
        annotations and in the probabilities.

    Notes
    -----
    The folded probabilities may have a different maximum than the 5-class
    ones (e.g. Wake 0.4, NREM 0.3, pre-REM 0.3 is scored Wake, while the
    folded NREM probability is 0.6); the stage follows the 5-class score.
    """
    import yasa

    folded = None
    if isinstance(scoring, pd.DataFrame):
        values, scored = _check_proba(scoring)
        folded = pd.DataFrame(
            0.0,
            index=range(len(scoring)),
            columns=["WAKE", "NREM", "REM", "ART", "UNS"],
        )
        roles = _roles(scoring)
        for col, name in zip(values.T, scoring.columns):
            folded[YASA_STAGES[_stage_of(name, roles)]] += np.nan_to_num(col)
        folded.loc[~scored, "UNS"] = 1.0
    stages = to_stages(scoring)
    if start is None:
        start = _start_time(stages)
    if scorer is None:
        scorer = stages.attrs.get("model", None)
    epoch_length = _time_base(stages).epoch_length
    roles = _roles(stages)
    return yasa.Hypnogram(
        [YASA_STAGES[_stage_of(s, roles)] for s in stages.astype(object)],
        n_stages=3,
        freq=f"{epoch_length:g}s",
        start=start,
        scorer=scorer,
        proba=folded,
    )
