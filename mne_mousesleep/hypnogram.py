"""Stage vocabulary and conversions of scores to annotations and hypnograms."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne import Annotations
from mne.utils import _validate_type

from ._docs import fill_doc

#: Stage names used throughout the package.
WAKE, NREM, PRE_REM, REM, ARTIFACT, UNSCORED = (
    "Wake",
    "NREM",
    "pre-REM",
    "REM",
    "artifact",
    "unscored",
)
STAGES = (WAKE, NREM, PRE_REM, REM, ARTIFACT, UNSCORED)

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


def _check_proba(proba):
    _validate_type(proba, pd.DataFrame, "proba")
    unknown = [c for c in proba.columns if c not in STAGES[:-1]]
    if unknown or proba.shape[1] == 0:
        raise ValueError(
            f"proba must have columns among {STAGES[:-1]}, got {list(proba.columns)}."
        )
    values = proba.to_numpy(dtype=float)
    scored = ~np.isnan(values).any(axis=1)
    if not np.allclose(values[scored].sum(axis=1), 1, atol=1e-4):
        raise ValueError("Each scored row of proba must sum to 1.")
    return values, scored


def proba_to_stages(proba):
    """Return the most probable stage of each epoch.

    Parameters
    ----------
    proba : pandas.DataFrame, shape (n_epochs, n_classes)
        Probabilities as returned by :func:`mne_mousesleep.predict_proba`. Rows
        of NaN are unscored epochs.

    Returns
    -------
    stages : pandas.Series of str, shape (n_epochs,)
        Stage names (see :data:`STAGES`), ``"unscored"`` for rows of NaN, with
        the index of ``proba`` (onsets in seconds).
    """
    values, scored = _check_proba(proba)
    stages = np.full(len(proba), UNSCORED, dtype=object)
    if scored.any():
        stages[scored] = np.asarray(proba.columns, dtype=object)[
            values[scored].argmax(axis=1)
        ]
    return pd.Series(stages, index=proba.index, name="stage")


@fill_doc
def to_annotations(proba, *, merge_bouts=False):
    """Turn per-epoch probabilities into :class:`mne.Annotations`.

    Parameters
    ----------
    proba : pandas.DataFrame, shape (n_epochs, n_classes)
        Probabilities as returned by :func:`mne_mousesleep.predict_proba`; its
        index is the epoch onset in seconds from the first sample, and its
        ``attrs`` carry the time base (``"meas_date"``, ``"first_time"``) and
        ``"epoch_length"``. Without these attributes, the onsets are taken as
        they are, ``orig_time=None`` and epochs of 10 s.
    %(merge_bouts)s

    Returns
    -------
    annotations : mne.Annotations
        One annotation per epoch (or per bout), described with
        :data:`ANNOTATION_DESCRIPTIONS`.
    """
    _validate_type(merge_bouts, bool, "merge_bouts")
    stages = proba_to_stages(proba).to_numpy()
    epoch_length = float(proba.attrs.get("epoch_length", 10.0))
    meas_date = proba.attrs.get("meas_date", None)
    first_time = float(proba.attrs.get("first_time", 0.0))
    onsets = proba.index.to_numpy(dtype=float)
    durations = np.full(len(stages), epoch_length)
    if merge_bouts and len(stages):
        # A new bout starts where the stage changes or epochs are not contiguous.
        new = np.r_[
            True,
            (stages[1:] != stages[:-1]) | ~np.isclose(np.diff(onsets), epoch_length),
        ]
        starts = np.flatnonzero(new)
        ends = np.r_[starts[1:], len(stages)]
        durations = onsets[ends - 1] + epoch_length - onsets[starts]
        onsets, stages = onsets[starts], stages[starts]
    # With a measurement date, MNE counts onsets from it, and the first sample
    # lies first_time seconds after it; without, onsets count from the first
    # sample.
    if meas_date is not None:
        onsets = onsets + first_time
    descriptions = [ANNOTATION_DESCRIPTIONS[s] for s in stages]
    return Annotations(onsets, durations, descriptions, orig_time=meas_date)


def to_hypnogram(proba, *, start=None, scorer=None):
    """Turn per-epoch probabilities into a 3-stage :class:`yasa.Hypnogram`.

    Parameters
    ----------
    proba : pandas.DataFrame, shape (n_epochs, n_classes)
        Probabilities as returned by :func:`mne_mousesleep.predict_proba`.
    start : str | datetime.datetime | pandas.Timestamp | None
        Clock time of the first epoch. ``None`` takes it from
        ``proba.attrs`` (the Raw's ``meas_date`` plus the time of its first
        sample); if the recording has no ``meas_date``, the hypnogram has no
        clock time.
    scorer : str | None
        Name of the scorer. ``None`` uses the model name in ``proba.attrs``.

    Returns
    -------
    hypnogram : yasa.Hypnogram
        With ``n_stages=3`` and ``freq`` the epoch length (``"10s"``). Stages are
        the most probable 5-class stage folded with :data:`YASA_STAGES`:
        pre-REM becomes NREM, artifact becomes ``"ART"``, and epochs without a
        score (first and last) are ``"UNS"``. ``hypnogram.proba`` holds the
        folded probabilities (columns WAKE, NREM, REM, ART, UNS; NREM is the sum
        of NREM and pre-REM; UNS is 1 on unscored epochs). The 5-class labels
        stay available in the annotations and in ``proba``.

    Notes
    -----
    The folded probabilities may have a different maximum than the 5-class
    ones (e.g. Wake 0.4, NREM 0.3, pre-REM 0.3 is scored Wake, while the
    folded NREM probability is 0.6); the stage follows the 5-class score.
    """
    import yasa

    values, scored = _check_proba(proba)
    stages = proba_to_stages(proba).map(YASA_STAGES).to_numpy()
    folded = pd.DataFrame(
        0.0, index=range(len(proba)), columns=["WAKE", "NREM", "REM", "ART", "UNS"]
    )
    for col, name in zip(values.T, proba.columns):
        folded[YASA_STAGES[name]] += np.nan_to_num(col)
    folded.loc[~scored, "UNS"] = 1.0
    if start is None and proba.attrs.get("meas_date") is not None:
        start = pd.Timestamp(proba.attrs["meas_date"]) + pd.Timedelta(
            seconds=float(proba.attrs.get("first_time", 0.0))
            + float(proba.index[0] if len(proba) else 0.0)
        )
    if scorer is None:
        scorer = proba.attrs.get("model", None)
    epoch_length = float(proba.attrs.get("epoch_length", 10.0))
    return yasa.Hypnogram(
        list(stages),
        n_stages=3,
        freq=f"{epoch_length:g}s",
        start=start,
        scorer=scorer,
        proba=folded,
    )
