"""The reviewed scoring (``<name>_reviewed.csv``): the one reader, and its tie.

The review window saves a table with one row per epoch: ``onset`` (s from
the first sample), ``duration``, ``stage``, ``provenance``, ``scorer`` (the
scorer's own stage), ``time`` (the epoch's clock time, ISO 8601, empty
without a measurement date) and ``recording`` (the identity of the scored
channels, see :func:`mne_mousesleep.predict_proba`'s ``"recording"``
record). Every reader (the window, the reports, the study list,
:func:`~mne_mousesleep.fine_tune`) reads it through :func:`_review_record`
and refuses, with :func:`_check_review`, a review of another recording or
scoring, naming both.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .._fetch import _file_sha256
from .._stages import CONFIRMED, CORRECTED, PROVENANCE, STAGES, UNSCORED, _runs

#: Share of the epochs scored in both on which a review's ``scorer`` column
#: must agree with the scoring it is read with. The column holds the
#: scorer's stages; teaching the scorer in the window changes a few of them
#: (51 of 8,640 epochs in a day reviewed), another scoring of the recording
#: or another mouse far more.
REVIEW_AGREEMENT = 0.9


class _ForeignReview(ValueError):
    """A review of another recording or scoring (its message names both)."""


def _review_record(path, *, accepted=STAGES):
    """Read a reviewed scoring (``<name>_reviewed.csv``) and describe it.

    Returns the table and the record the sidecar and the reports keep: the
    file, its sha256, the epochs, how many the expert confirmed and
    corrected, the provenance of the expert's epochs as runs ``[first
    epoch, number of epochs, provenance]`` (the others are the scorer's), and
    the identity of the recording it reviews (``recording``, ``start``; None
    in a file saved before they were written). Raises ValueError if the
    table lacks its ``stage`` or ``provenance`` column, or holds a stage not
    in ``accepted`` (None: any) or a provenance not the package's (naming
    the line).
    """
    path = Path(path)
    table = pd.read_csv(path, dtype={"stage": str, "provenance": str})
    if not {"stage", "provenance"} <= set(table):
        raise ValueError(
            f"{path.name} lacks the columns stage and provenance: it is not a "
            "reviewed scoring saved by the review window."
        )
    if accepted is not None:
        _check_values(table, path, "stage", accepted)
    _check_values(table, path, "provenance", PROVENANCE)
    provenance = table["provenance"].to_numpy(object)
    runs = [
        [int(a), int(b - a), str(provenance[a])]
        for a, b in zip(*_runs(provenance))
        if provenance[a] in (CONFIRMED, CORRECTED)
    ]
    counts = table["provenance"].value_counts()
    identity = _review_identity(table)
    record = dict(
        file=path.name,
        sha256=_file_sha256(path),
        n_epochs=len(table),
        confirmed=int(counts.get(CONFIRMED, 0)),
        corrected=int(counts.get(CORRECTED, 0)),
        expert_runs=runs,
        recording=identity["id"],
        start=identity["start"],
    )
    return table, record


def _check_values(table, path, column, accepted):
    """Refuse a value of ``column`` not in ``accepted``, naming its line."""
    values = table[column]
    bad = ~values.isin(list(accepted))
    if column == "stage":
        bad &= values.notna()  # an empty cell is an epoch without a stage
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{path.name}, line {row + 2}: {values.iloc[row]!r} in column "
            f"{column!r} is not one of {list(accepted)} ({int(bad.sum())} such "
            "line(s))."
        )


def _review_identity(table):
    """Return the recording a reviewed table says it reviews: ``dict(id, start)``.

    ``id`` from its ``recording`` column, ``start`` (ISO 8601) from its first
    ``time`` less its ``onset``; None where the table has no such column (a
    file saved before they were written, or a recording without a date).
    """
    rid = start = None
    if "recording" in table:
        values = table["recording"].dropna().astype(str).unique()
        rid = ",".join(values) if len(values) else None
    if "time" in table and len(table) and isinstance(table["time"].iloc[0], str):
        onset = float(table["onset"].iloc[0]) if "onset" in table else 0.0
        try:
            first = datetime.datetime.fromisoformat(table["time"].iloc[0])
        except ValueError:
            first = None
        if first is not None:
            start = (first - datetime.timedelta(seconds=onset)).isoformat()
    return dict(id=rid, start=start)


def _identity_columns(recording, onsets):
    """Return the ``time`` and ``recording`` columns of a review of ``recording``.

    ``recording`` is the scoring's identity record (``quality["recording"]``;
    empty for a scoring read back from an earlier version), ``onsets`` the
    epochs' onsets (s from the first sample).
    """
    recording = recording or {}
    start = recording.get("start")
    if start:
        first = datetime.datetime.fromisoformat(start)
        times = [
            (first + datetime.timedelta(seconds=float(t))).isoformat() for t in onsets
        ]
    else:
        times = [""] * len(onsets)
    return dict(time=times, recording=recording.get("id") or "")


def _check_review(table, path, *, recording=None, scorer=None, name=None):
    """Refuse a review that is not of this recording and scoring, naming both.

    ``recording`` is the identity record of the recording read with it
    (``quality["recording"]``: ``id``, ``start``, ``channels``), ``scorer``
    the scoring's stages (array of str, one per epoch) and ``name`` what to
    call the recording. Checked where both sides know it: the length, the
    recording's identity and start time, and that the review's ``scorer``
    column agrees with the scoring on at least :data:`REVIEW_AGREEMENT` of
    the epochs scored in both. Raises :class:`_ForeignReview` (a
    ValueError).
    """
    path, what = Path(path), name or "this recording"
    ours, theirs = dict(recording or {}), _review_identity(table)
    problems = []
    if scorer is not None and len(table) != len(scorer):
        problems.append(f"it holds {len(table)} epochs, the scoring {len(scorer)}")
    if theirs["id"] and ours.get("id") and theirs["id"] != ours["id"]:
        channels = ", ".join(ours.get("channels") or [])
        problems.append(
            f"it reviews recording {theirs['id']}"
            + (f" (started {theirs['start']})" if theirs["start"] else "")
            + f", {what} is recording {ours['id']}"
            + (f" (channels {channels})" if channels else "")
        )
    elif theirs["start"] and ours.get("start"):
        gap = datetime.datetime.fromisoformat(
            theirs["start"]
        ) - datetime.datetime.fromisoformat(ours["start"])
        if abs(gap.total_seconds()) > 1e-3:
            problems.append(
                f"it reviews a recording started {theirs['start']}, {what} "
                f"started {ours['start']}"
            )
    if not problems and scorer is not None and "scorer" in table:
        theirs_stages = table["scorer"].astype(str).to_numpy(object)
        ours_stages = np.asarray(scorer, dtype=object).astype(str)
        both = (theirs_stages != UNSCORED) & (ours_stages != UNSCORED)
        if both.any():
            agreement = float(np.mean(theirs_stages[both] == ours_stages[both]))
            if agreement < REVIEW_AGREEMENT:
                problems.append(
                    f"its scorer column agrees with the scoring of {what} on "
                    f"{agreement:.0%} of the epochs (a review of another "
                    f"recording or scoring agrees on less than "
                    f"{REVIEW_AGREEMENT:.0%})"
                )
    if problems:
        raise _ForeignReview(
            f"{path.name} is not the review of {what}: {'; '.join(problems)}. "
            "Move it aside, or review this recording again."
        )
