"""Reading expert scorings from common lab exports."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from pathlib import Path

import numpy as np
import pandas as pd
from mne import read_annotations
from mne.io import read_raw

from .hypnogram import _make_stages, _map_labels, to_stages

_TIME_COLS = ("onset", "time", "start", "start_time", "seconds", "time_s", "t")
_EPOCH_COLS = ("epoch", "epoch_no", "epoch_number", "epochs", "epoch #")
_LABEL_COLS = ("stage", "label", "score", "state", "sleep_stage", "hypnogram")
_TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
_RAW_SUFFIXES = (".edf", ".bdf", ".gdf")


def _find_column(columns, candidates, given, what):
    if given is not None:
        if given not in columns:
            raise ValueError(f"{what}={given!r} is not a column of {list(columns)}.")
        return given
    for col in columns:
        if str(col).strip().lower() in candidates:
            return col
    return None


def read_scoring(
    fname,
    *,
    mapping=None,
    epoch_length=10.0,
    label_col=None,
    time_col=None,
    epoch_col=None,
    epoch_base=1,
):
    """Read an expert scoring: a table with one row per epoch, or EDF+ annotations.

    Parameters
    ----------
    fname : path-like
        A ``.csv``, ``.tsv`` or ``.txt`` table with one row per epoch: a label
        column (``stage``, ``label``, ``score``, ``state``...) and either a time
        column (``onset``, ``time``, ``start``..., in seconds from the first
        sample) or an epoch-number column (``epoch``...); with neither, rows are
        consecutive epochs from 0 s. Any other file is read with
        :func:`mne.read_annotations` (EDF+/BDF+ annotations, FIF, MNE's
        CSV/TXT annotations are detected by their header).
    mapping : dict | None
        Label (or annotation description) to stage name of
        :data:`mne_mousesleep.STAGES` (None to ignore an annotation). ``None``
        understands the stage names, MNE's sleep descriptions and aliases
        such as ``W``, ``NR``, ``R``, ``A``. Numeric labels need a mapping (labs
        number stages differently).
    epoch_length : float
        Epoch length in seconds.
    label_col, time_col, epoch_col : str | None
        Column names, when they are not found automatically.
    epoch_base : int
        Number of the first epoch in an epoch column (1 by default, as in most
        exports; 0 for zero-based numbering).

    Returns
    -------
    stages : pandas.Series
        The stage sequence (categorical), indexed by onset in seconds.

    Raises
    ------
    ValueError
        For unknown labels, numeric labels without a mapping, onsets that are
        not on the epoch grid (mismatched epoch length), gaps, overlapping or
        repeated epochs, or missing columns.
    """
    fname = Path(fname)
    suffix = fname.suffix.lower()
    if suffix in _RAW_SUFFIXES:  # the header gives the annotations' clock time
        raw = read_raw(fname, preload=False, verbose="error")
        return to_stages(raw.annotations, mapping=mapping, epoch_length=epoch_length)
    if suffix not in _TABLE_SUFFIXES or _is_mne_annotations(fname):
        return to_stages(
            read_annotations(fname), mapping=mapping, epoch_length=epoch_length
        )
    sep = {".csv": ",", ".tsv": "\t"}.get(suffix, r"[,\t;]")
    table = pd.read_csv(fname, sep=sep, engine="python")
    label = _find_column(table.columns, _LABEL_COLS, label_col, "label_col")
    time = _find_column(table.columns, _TIME_COLS, time_col, "time_col")
    epoch = _find_column(table.columns, _EPOCH_COLS, epoch_col, "epoch_col")
    if label is None:
        if table.shape[1] != 1:
            raise ValueError(
                f"No label column found in {list(table.columns)}; pass label_col."
            )
        label = table.columns[0]
    labels = table[label].to_numpy(dtype=object)
    if mapping is None and pd.api.types.is_numeric_dtype(table[label]):
        raise ValueError(
            f"The labels of {fname.name} are numbers ({sorted(set(labels))[:6]}); "
            "pass mapping={number: stage}, e.g. {1: 'Wake', 2: 'NREM', 3: 'REM'}."
        )
    if time is not None:
        onsets = table[time].to_numpy(dtype=float)
    elif epoch is not None:
        onsets = (table[epoch].to_numpy(dtype=float) - epoch_base) * epoch_length
    else:
        onsets = np.arange(len(table)) * float(epoch_length)
    _check_grid(onsets, epoch_length, fname.name)
    values = _map_labels(labels, mapping, "labels")
    if any(v is None for v in values):
        raise ValueError("Rows of a per-epoch table cannot be ignored (None).")
    return _make_stages(values, onsets, {"epoch_length": float(epoch_length)})


def _is_mne_annotations(fname):
    with open(fname, encoding="utf-8", errors="replace") as fid:
        head = fid.readline()
    return head.startswith("# MNE-Annotations") or "onset,duration,description" in head


def _check_grid(onsets, epoch_length, name):
    if not len(onsets):
        raise ValueError(f"{name} holds no epoch.")
    steps = np.diff(onsets)
    if (steps <= 1e-6).any():
        ii = np.flatnonzero(steps <= 1e-6)[0]
        raise ValueError(
            f"{name}: epochs overlap or repeat at {onsets[ii + 1]:g} s (after "
            f"{onsets[ii]:g} s)."
        )
    n = steps / epoch_length
    off_grid = ~np.isclose(n, np.round(n), atol=1e-6)
    if off_grid.any():
        ii = np.flatnonzero(off_grid)[0]
        raise ValueError(
            f"{name}: epochs {onsets[ii]:g} s and {onsets[ii + 1]:g} s are "
            f"{steps[ii]:g} s apart, not the epoch length {epoch_length:g} s; "
            "pass epoch_length."
        )
    if (np.round(n) > 1).any():
        ii = np.flatnonzero(np.round(n) > 1)[0]
        raise ValueError(
            f"{name}: gap of {steps[ii] - epoch_length:g} s after the epoch at "
            f"{onsets[ii]:g} s; every epoch needs a row (use a label such as "
            "'unscored')."
        )
