"""AccuSleep (MATLAB) label files, AccuSleePy label CSVs and Weber-lab remidx.

The three share the stage numbering of the Weber lab's tools (REM 1, Wake 2,
NREM 3). Facts from ``../shared/formats/FORMATS.md`` sections 1, 2 and 11a:
AccuSleep ``zekebarger/AccuSleep`` (commit 990d7e6), AccuSleePy 0.13.0,
``tortugar/Lab`` PySleep (commit bcb8dae).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..hypnogram import NREM, REM, UNSCORED, WAKE
from ._base import (
    _codes_to_stages,
    _epochs,
    _Format,
    _lines,
    _need_epoch_length,
    _positive,
    _read_csv,
    _register,
    _write_bytes,
    _write_text,
)

_ACCUSLEEP = {1: REM, 2: WAKE, 3: NREM, 4: UNSCORED}
_ACCUSLEEPY = {1: REM, 2: WAKE, 3: NREM, -1: UNSCORED}
_REMIDX = {0: UNSCORED, 1: REM, 2: WAKE, 3: NREM}


def _numbers(values, path, what):
    out = []
    for v in values:
        f = float(v)
        if not np.isfinite(f) or f != int(f):
            raise ValueError(
                f"{Path(path).name}: {what} must be whole numbers, got {v!r}."
            )
        out.append(int(f))
    return out


def _mapping_codes(mapping, default):
    """Code -> stage: the defaults, updated by a user's ``{code: stage}``."""
    table = dict(default)
    for code, stage in (mapping or {}).items():
        table[int(code)] = stage
    return table


# --- AccuSleep .mat --------------------------------------------------------


def _read_accusleep(path, epoch_length=None, mapping=None, **kw):
    from scipy.io import loadmat

    length = _need_epoch_length(epoch_length, "AccuSleep", path)
    try:
        mat = loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 (HDF5)
        raise ValueError(
            f"{Path(path).name} is a MATLAB v7.3 (HDF5) file; save it again as "
            "v7 in MATLAB (save(path, 'labels', '-v7')) to read it."
        ) from None
    if "labels" not in mat:
        names = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(
            f"{Path(path).name} has no variable 'labels' (AccuSleep's), only {names}."
        )
    labels = np.asarray(mat["labels"])
    if labels.ndim > 2 or (labels.ndim == 2 and min(labels.shape) > 1):
        raise ValueError(
            f"{Path(path).name}: 'labels' must be a vector, got shape {labels.shape}."
        )
    codes = _numbers(labels.ravel(), path, "AccuSleep labels")
    stages = _codes_to_stages(
        codes, _mapping_codes(mapping, _ACCUSLEEP), "labels", path
    )
    return _epochs(stages, length)


def _write_accusleep(values, stages, proba, path, overwrite, **kw):
    from scipy.io import savemat

    code = {stage: c for c, stage in _ACCUSLEEP.items()}
    labels = np.array([[code[v]] for v in values], dtype=float)
    buffer = io.BytesIO()
    savemat(buffer, {"labels": labels}, do_compression=True)
    _write_bytes(path, buffer.getvalue(), overwrite)


def _sniff_accusleep(path, head):
    return head.startswith("MATLAB 5.0 MAT-file") or head.startswith("MATLAB 7.3")


_register(
    _Format(
        name="accusleep",
        tool="AccuSleep (MATLAB)",
        suffixes=(".mat",),
        holds=frozenset({WAKE, NREM, REM, UNSCORED}),
        time_base="one value per epoch from the recording's start",
        epoch_length="required",
        read=_read_accusleep,
        write=_write_accusleep,
        sniff=_sniff_accusleep,
        default_name="{stem}_labels.mat",
        notes="variable ``labels`` (column of double): 1 REM, 2 Wake, 3 NREM, "
        "4 undefined",
    )
)


# --- AccuSleePy .csv ---------------------------------------------------------


def _read_accusleepy(path, epoch_length=None, mapping=None, **kw):
    length = _need_epoch_length(epoch_length, "AccuSleePy", path)
    table = _read_csv(path)
    if "brain_state" not in table.columns:
        raise ValueError(
            f"{Path(path).name} has no 'brain_state' column: {list(table.columns)}."
        )
    codes = _numbers(table["brain_state"], path, "brain_state values")
    stages = _codes_to_stages(
        codes, _mapping_codes(mapping, _ACCUSLEEPY), "brain_state codes", path
    )
    extra = {}
    if "confidence_score" in table.columns:
        conf = table["confidence_score"].to_numpy(float)
        if ((conf < 0) | (conf > 1)).any():
            raise ValueError(f"{Path(path).name}: confidence_score outside [0, 1].")
        extra["confidence"] = conf.tolist()
    return _epochs(stages, length, extra=extra)


def _write_accusleepy(values, stages, proba, path, overwrite, mapping=None, **kw):
    code = {stage: c for c, stage in _ACCUSLEEPY.items()}
    for stage, c in (mapping or {}).items():  # a lab's digits, e.g. pre-REM: 4
        code[stage] = int(c)
    table = pd.DataFrame({"brain_state": [code[v] for v in values]})
    if proba is not None:
        conf = proba.max(axis=1, skipna=True).to_numpy(float)
        # AccuSleePy's confidence is of the class it scored; unscored: 0.
        table["confidence_score"] = np.round(np.nan_to_num(conf, nan=0.0), 6)
    _write_text(path, table.to_csv(index=False, lineterminator="\n"), overwrite)


def _sniff_accusleepy(path, head):
    first = head.splitlines()[0].strip() if head else ""
    return first in ("brain_state", "brain_state,confidence_score")


_register(
    _Format(
        name="accusleepy",
        tool="AccuSleePy",
        suffixes=(".csv",),
        holds=frozenset({WAKE, NREM, REM, UNSCORED}),
        time_base="one row per epoch from the recording's start",
        epoch_length="required",
        read=_read_accusleepy,
        write=_write_accusleepy,
        sniff=_sniff_accusleepy,
        default_name="{stem}_accusleepy.csv",
        notes="``brain_state`` (1 REM, 2 Wake, 3 NREM, -1 undefined; a lab's "
        "own digits with ``mapping``) and optional ``confidence_score``",
    )
)


# --- Weber lab remidx_*.txt ----------------------------------------------------


def _read_remidx(path, epoch_length=None, mapping=None, **kw):
    length = 2.5 if epoch_length is None else _positive(epoch_length, "epoch_length")
    states, flags = [], []
    for line in _lines(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(
                f"{Path(path).name}: remidx lines hold '<state> <flag>', got {line!r}."
            )
        states.append(fields[0])
        flags.append(fields[1])
    codes = _numbers(states, path, "remidx states")
    flags = _numbers(flags, path, "remidx flags")
    stages = _codes_to_stages(codes, _mapping_codes(mapping, _REMIDX), "states", path)
    # Bins inside a break (flag -1) are excluded from analysis by the tool.
    stages = [UNSCORED if f == -1 else s for s, f in zip(stages, flags)]
    return _epochs(stages, length, extra={"remidx_flags": flags})


def _write_remidx(values, stages, proba, path, overwrite, **kw):
    code = {stage: c for c, stage in _REMIDX.items()}
    # Flag 0: not annotated by hand (what the tool's own classifier writes).
    text = "".join(f"{code[v]}\t0\n" for v in values)
    _write_text(path, text, overwrite)


def _sniff_remidx(path, head):
    lines = [ln for ln in head.splitlines()[:20] if ln.strip() and ln[0] != "#"]
    pairs = all(len(ln.split()) == 2 for ln in lines) and bool(lines)
    return "remidx" in Path(path).name.lower() and pairs


_register(
    _Format(
        name="remidx",
        tool="Weber lab sleepy / sleep_annotation_qt",
        suffixes=("remidx_*.txt",),
        holds=frozenset({WAKE, NREM, REM, UNSCORED}),
        time_base="one line per 2.5-s bin from the recording's start",
        epoch_length="2.5",
        read=_read_remidx,
        write=_write_remidx,
        sniff=_sniff_remidx,
        default_name="remidx_{stem}.txt",
        notes="``<state><TAB><flag>``: 0 undefined, 1 REM, 2 Wake, 3 NREM; flag "
        "-1 (a break) is read as unscored",
    )
)
