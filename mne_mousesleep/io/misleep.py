"""MiSleep annotation ``.txt`` files (per-second bouts with clock times).

Facts from ``../shared/formats/FORMATS.md`` section 8: MiSleep 0.3.3
(``misleep/io/annotation.py``: ``load_misleep_anno``, ``save_misleep_anno``),
0.2.19 (``save_anno``) and ``BryanWang0702/MiSleep`` ``docs/data_formats.md``
(commit 3968c6f).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .._stages import DEFAULT_EPOCH_LENGTH, _runs, _time_base
from ..hypnogram import _ALIASES, NREM, REM, UNSCORED, WAKE, _regrid
from ._base import (
    _bouts,
    _clock,
    _Format,
    _lines,
    _positive,
    _register,
    _write_text,
)
from .faster2 import _utc

_FIRST = "READ ONLY! DO NOT EDIT!"
_CODES = "4-INIT 3-Wake 2-REM 1-NREM"
_STAGE_MARKS = ("==========Sleep stage==========", "==========Sleep state==========")
_MISLEEP = {1: NREM, 2: REM, 3: WAKE, 4: UNSCORED}
_OUT = {NREM: (1, "NREM"), REM: (2, "REM"), WAKE: (3, "Wake"), UNSCORED: (4, "INIT")}


def _read_misleep(path, epoch_length=None, mapping=None, **kw):
    length = (
        DEFAULT_EPOCH_LENGTH
        if epoch_length is None
        else _positive(epoch_length, "epoch_length")
    )
    name = Path(path).name
    lines = _lines(path)
    if not lines or lines[0].strip() != _FIRST:
        raise ValueError(f"{name} does not start with MiSleep's {_FIRST!r} line.")
    marks = [ii for ii, ln in enumerate(lines) if ln.strip() in _STAGE_MARKS]
    if not marks:
        raise ValueError(f"{name} has no '{_STAGE_MARKS[0]}' section.")
    start = None
    for ln in lines[:6]:
        if ln.startswith("Acquisition time:"):
            start = _utc(ln.split(":", 1)[1].strip())
    rows = [ln.split(", ") for ln in lines[marks[0] + 1 :] if ln.strip()]
    if any(len(r) != 8 for r in rows):
        bad = next(r for r in rows if len(r) != 8)
        raise ValueError(f"{name}: a bout row has 8 fields, got {', '.join(bad)!r}.")
    try:
        starts = np.array([float(r[1]) for r in rows])
        ends = np.array([float(r[4]) for r in rows])
        codes = [int(r[6]) for r in rows]
    except ValueError as err:
        raise ValueError(f"{name}: unreadable bout row ({err}).") from None
    if len(rows) and rows[0][1].strip() == "1":  # legacy: 1-based, inclusive end
        starts = starts - 1.0
    stages = []
    for code, label in zip(codes, (r[7].strip() for r in rows)):
        stage = (mapping or {}).get(code, (mapping or {}).get(label))
        if stage is None:
            stage = (
                _MISLEEP.get(code) if code in _MISLEEP else _ALIASES.get(label.lower())
            )
        if stage is None:
            raise ValueError(
                f"{name}: unknown state {code} {label!r}; pass mapping={{{code}: "
                "stage}."
            )
        stages.append(stage)
    return _bouts(starts, ends, stages, length, start, name=name)


def _write_misleep(values, stages, proba, path, overwrite, **kw):
    start = _clock(stages)
    if start is None:
        raise ValueError(
            "MiSleep files need the recording's clock time, and this scoring "
            "has none (no meas_date); pass start= to write_scoring."
        )
    length = _time_base(stages).epoch_length
    onsets = np.arange(len(values)) * length
    if not float(length).is_integer():  # MiSleep holds whole seconds
        values, onsets = _regrid(onsets, onsets + length, values, 1.0, 0.0)
        length = 1.0
    first, last = _runs(values)
    rows = []
    for a, b in zip(first, last):
        t0, t1 = int(round(onsets[a])), int(round(onsets[b - 1] + length))
        c0 = start + pd.Timedelta(seconds=t0)
        c1 = start + pd.Timedelta(seconds=t1)
        code, label = _OUT[values[a]]
        rows.append(
            f"{c0:%d:%H:%M:%S}, {t0}, 1, {c1:%d:%H:%M:%S}, {t1}, 0, {code}, {label}"
        )
    lines = [
        _FIRST,
        _CODES,
        f"Save time: {datetime.now():%Y-%m-%d %H:%M:%S}",
        f"Acquisition time: {start:%Y-%m-%d %H:%M:%S}",
        "==========Marker==========",
        "==========Start-End==========",
        _STAGE_MARKS[0],
        *rows,
    ]
    _write_text(path, "\n".join(lines), overwrite)  # no trailing newline


def _sniff_misleep(path, head):
    return head.lstrip("\ufeff").startswith(_FIRST)


_register(
    _Format(
        name="misleep",
        tool="MiSleep",
        suffixes=(".txt",),
        holds=frozenset({WAKE, NREM, REM, UNSCORED}),
        time_base="bouts in whole seconds (0-based, end exclusive; legacy 1-based, "
        "end inclusive) and the acquisition clock time",
        epoch_length="bouts",
        read=_read_misleep,
        write=_write_misleep,
        sniff=_sniff_misleep,
        default_name="{stem}_misleep.txt",
        notes="codes 1 NREM, 2 REM, 3 Wake, 4 INIT; no trailing newline",
    )
)
