"""FASTER2 ``*.stage.csv``, IntelliSleepScorer ``_scores.csv`` and SPINDLE CSVs.

Three per-epoch CSV layouts of scoring tools. Facts from
``../shared/formats/FORMATS.md`` sections 7, 9 and 10: FASTER2
``OrganismalSystemsBiology/faster2`` (commit dc254e8), IntelliSleepScorer
``broadinstitute/IntelliSleepScorer`` (commit 5c165ef), SPINDLE's open
replication ``amibeuret/spindle`` (commit b89a558).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._stages import DEFAULT_EPOCH_LENGTH, _time_base
from .._version import __version__
from ..hypnogram import ARTIFACT, NREM, PRE_REM, REM, UNSCORED, WAKE
from ._base import (
    _check_no_gaps,
    _check_target,
    _clock,
    _codes_to_stages,
    _epochs,
    _Format,
    _lines,
    _positive,
    _read_csv,
    _register,
    _write_text,
)

# --- FASTER2 ------------------------------------------------------------------

_FASTER2 = {"WAKE": WAKE, "NREM": NREM, "REM": REM, "UNKNOWN": UNSCORED}
_FASTER2_OUT = {WAKE: "Wake", NREM: "NREM", REM: "REM", UNSCORED: "Unknown"}
_FASTER2_COLUMNS = (
    "Stage",
    "REM probability",
    "NREM probability",
    "Wake probability",
    "NaN ratio EEG-TS",
    "NaN ratio EMG-TS",
    "Outlier ratio EEG-TS",
    "Outlier ratio EMG-TS",
)


def _utc(text):
    """Return a naive clock time read from a file as UTC (as MNE reads EDF)."""
    try:
        return pd.Timestamp(text).tz_localize("UTC").to_pydatetime()
    except (ValueError, TypeError):
        return None


def _read_faster2(path, epoch_length=None, mapping=None, **kw):
    lines = _lines(path)
    header = []
    while len(header) < len(lines) and lines[len(header)].startswith("#"):
        header.append(lines[len(header)])
    rows = lines[len(header) :]
    if rows and rows[0].split(",")[0].strip() == "Stage":
        rows = rows[1:]  # the column-name row of FASTER2 (not in old FASTER)
    text = "\n".join(header)
    stored = re.search(r"Epoch length:\s*([0-9.]+)", text)
    start = re.search(r"Start:\s*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
    if epoch_length is not None:
        length = _positive(epoch_length, "epoch_length")
        if stored and not np.isclose(float(stored.group(1)), length):
            raise ValueError(
                f"{Path(path).name} says its epochs last {stored.group(1)} s, "
                f"not epoch_length={epoch_length}."
            )
    elif stored:
        length = float(stored.group(1))
        if not length > 0:
            line = next(i for i, ln in enumerate(header) if "Epoch length" in ln)
            raise ValueError(
                f"{Path(path).name}, line {line + 1}: 'Epoch length: "
                f"{stored.group(1)}' is not a length; pass epoch_length= (FASTER2's "
                "default is 8 s)."
            )
    else:
        raise ValueError(
            f"{Path(path).name} (an older FASTER file) does not store the epoch "
            "length; pass epoch_length= (FASTER2's default is 8 s)."
        )
    _check_no_gaps(rows, path, first=len(lines) - len(rows))
    labels = [r.split(",")[0].strip().upper() for r in rows if r.strip()]
    table = dict(_FASTER2)
    table.update({str(k).upper(): v for k, v in (mapping or {}).items()})
    stages = _codes_to_stages(labels, table, "stages", path)
    return _epochs(stages, length, start and _utc(start.group(1)))


def _write_faster2(values, stages, proba, path, overwrite, **kw):
    n, length = len(values), _time_base(stages).epoch_length
    start = _clock(stages)
    when = "NA End: NA"
    if start is not None:
        end = start + pd.Timedelta(seconds=n * length)
        when = f"{start:%Y-%m-%d %H:%M:%S} End: {end:%Y-%m-%d %H:%M:%S}"
    sfreq = stages.attrs.get("sfreq")
    stem = Path(path).name.split(".")[0]
    header = [
        f"# Exp label: {stem} Recorded at NA",
        f"# Device ID: {stem} Mouse group: NA Mouse ID: {stem} DOB: NA",
        f"# Start: {when} Note: scored by mne-mousesleep",
        f"# Epoch num: {n}  Epoch length: {length:g} [s]",
        f"# Sampling frequency: {'NA' if sfreq is None else f'{sfreq:g}'} [Hz]",
        f"# Staged by mne-mousesleep {__version__}",
    ]
    p = np.zeros((n, 3))  # REM, NREM, Wake, as FASTER2 orders them
    if proba is not None:
        cols = {REM: 0, NREM: 1, PRE_REM: 1, WAKE: 2}
        for col, column in proba.items():
            if col in cols:
                p[:, cols[col]] += np.nan_to_num(column.to_numpy(float))
    else:  # an expert's scoring: certain of each stage it gives
        for stage, col in ((REM, 0), (NREM, 1), (WAKE, 2)):
            p[values == stage, col] = 1.0
    p[values == UNSCORED] = 0.0  # as FASTER2 writes its Unknown epochs
    table = pd.DataFrame(p.round(6), columns=_FASTER2_COLUMNS[1:4])
    table.insert(0, "Stage", [_FASTER2_OUT[v] for v in values])
    for col in _FASTER2_COLUMNS[4:]:
        table[col] = 0.0
    body = table.to_csv(index=False, lineterminator="\n")
    _write_text(path, "\n".join(header) + "\n" + body, overwrite)


def _sniff_faster2(path, head):
    return Path(path).name.lower().endswith(".stage.csv") or head.startswith(
        "# Exp label:"
    )


_register(
    _Format(
        name="faster2",
        tool="FASTER2",
        suffixes=(".stage.csv",),
        holds=frozenset({WAKE, NREM, REM, UNSCORED}),
        time_base="one row per epoch; start clock time and epoch length in the header",
        epoch_length="stored",
        read=_read_faster2,
        write=_write_faster2,
        sniff=_sniff_faster2,
        default_name="{stem}.faster2.stage.csv",
        notes="6 ``#`` header lines, a column row, then ``Stage`` (Wake, NREM, "
        "REM, Unknown) and the REM, NREM and Wake probabilities",
    )
)


# --- IntelliSleepScorer -------------------------------------------------------

_INTELLI = {1: WAKE, 2: NREM, 3: REM}
_INTELLI_COLUMNS = ["Epoch No.", "Stage_Code", "Stage"]


def _read_intelli(path, epoch_length=None, mapping=None, **kw):
    named = re.search(r"epoch_length_([0-9.]+)_sec", Path(path).name)
    if epoch_length is not None:
        length = _positive(epoch_length, "epoch_length")
    else:
        length = float(named.group(1)) if named else DEFAULT_EPOCH_LENGTH
    table = _read_csv(path)
    if list(table.columns[:3]) != _INTELLI_COLUMNS:
        raise ValueError(
            f"{Path(path).name}: IntelliSleepScorer columns are {_INTELLI_COLUMNS}, "
            f"got {list(table.columns)}."
        )
    numbers = table["Epoch No."].to_numpy()
    if not np.array_equal(numbers, np.arange(len(table))):
        raise ValueError(
            f"{Path(path).name}: 'Epoch No.' must count 0, 1, 2, ... without gaps."
        )
    codes = [int(c) for c in table["Stage_Code"]]
    stages = _codes_to_stages(codes, {**_INTELLI, **(mapping or {})}, "codes", path)
    names = table["Stage"].astype(str).str.strip().str.upper()
    agree = [s.upper() == n for s, n in zip(stages, names)]
    if mapping is None and not all(agree):
        ii = agree.index(False)
        raise ValueError(
            f"{Path(path).name}: epoch {ii} has code {codes[ii]} but stage "
            f"{table['Stage'][ii]!r}."
        )
    return _epochs(stages, length)


def _write_intelli(values, stages, proba, path, overwrite, **kw):
    code = {WAKE: 1, NREM: 2, REM: 3}
    table = pd.DataFrame(
        {
            "Epoch No.": np.arange(len(values)),
            "Stage_Code": [code[v] for v in values],
            "Stage": list(values),
        }
    )
    _write_text(path, table.to_csv(index=False, lineterminator="\n"), overwrite)


def _sniff_intelli(path, head):
    return head.startswith("Epoch No.,Stage_Code,Stage")


_register(
    _Format(
        name="intellisleepscorer",
        tool="IntelliSleepScorer",
        suffixes=("_scores.csv",),
        holds=frozenset({WAKE, NREM, REM}),
        time_base="``Epoch No.`` from 0",
        epoch_length="10",
        read=_read_intelli,
        write=_write_intelli,
        sniff=_sniff_intelli,
        default_name="{stem}_epoch_length_10_sec_scores.csv",
        notes="``Epoch No.``, ``Stage_Code`` (1 Wake, 2 NREM, 3 REM), ``Stage``; "
        "the epoch length from the file name (``epoch_length_<L>_sec``), else 10 s",
    )
)


# --- SPINDLE ------------------------------------------------------------------

_SPINDLE = {"w": WAKE, "n": NREM, "r": REM}
_PRED = "_predictions_without_artifacts.csv"
_PROB = "_ad_predictions_prob.csv"


def _spindle_pair(path):
    """Return the predictions file and its artefact-probability sibling."""
    name = Path(path).name
    for tail, other in ((_PRED, _PROB), (_PROB, _PRED)):
        if name.endswith(tail):
            sibling = Path(path).with_name(name[: -len(tail)] + other)
            return (Path(path), sibling) if tail == _PRED else (sibling, Path(path))
    return Path(path), Path(path).with_name(Path(path).stem + _PROB)


def _index_rows(path, what):
    table = _read_csv(path, header=None)
    if table.shape[1] != 2:
        raise ValueError(
            f"{Path(path).name}: SPINDLE {what} rows are '<index>,<value>', got "
            f"{table.shape[1]} columns."
        )
    if not np.array_equal(table[0].to_numpy(), np.arange(len(table))):
        raise ValueError(f"{Path(path).name}: the index must count 0, 1, 2, ...")
    return table[1]


def _read_spindle(path, epoch_length=None, mapping=None, **kw):
    length = 4.0 if epoch_length is None else _positive(epoch_length, "epoch_length")
    pred, prob = _spindle_pair(path)
    if not pred.exists():
        raise FileNotFoundError(f"No SPINDLE predictions file {pred} beside {path}.")
    labels = [str(v).strip().lower() for v in _index_rows(pred, "prediction")]
    stages = _codes_to_stages(labels, {**_SPINDLE, **(mapping or {})}, "labels", pred)
    if prob.exists():  # the artefact detector: p > 0.5 is noise
        p = _index_rows(prob, "artefact probability").to_numpy(float)
        if len(p) != len(stages):
            raise ValueError(
                f"{prob.name} has {len(p)} rows but {pred.name} {len(stages)}."
            )
        stages = [ARTIFACT if q > 0.5 else s for s, q in zip(stages, p)]
    return _epochs(stages, length)


def _write_spindle(values, stages, proba, path, overwrite, **kw):
    pred, prob = _spindle_pair(path)
    if Path(path) != pred:
        raise ValueError(f"Write SPINDLE predictions to a file named *{_PRED}.")
    _check_target(prob, overwrite)  # before the main file is written
    art = values == ARTIFACT
    # The predictions file has no artefact label: w there, 1.0 in the sibling
    # (as SPINDLE's own artefact-detected epochs keep a stage).
    letter = {WAKE: "w", NREM: "n", REM: "r", ARTIFACT: "w"}
    _write_text(
        pred, "".join(f"{i},{letter[v]}\n" for i, v in enumerate(values)), overwrite
    )
    _write_text(
        prob, "".join(f"{i},{float(a):.1f}\n" for i, a in enumerate(art)), overwrite
    )


def _sniff_spindle(path, head):
    name = Path(path).name
    if name.endswith((_PRED, _PROB)):
        return True
    rows = [r.split(",") for r in head.splitlines()[:20] if r.strip()]
    return bool(rows) and all(
        len(r) == 2 and r[0].strip().isdigit() and r[1].strip().lower() in _SPINDLE
        for r in rows
    )


_register(
    _Format(
        name="spindle",
        tool="SPINDLE",
        suffixes=(_PRED, _PROB),
        holds=frozenset({WAKE, NREM, REM, ARTIFACT}),
        time_base="0-based row index",
        epoch_length="4",
        read=_read_spindle,
        write=_write_spindle,
        sniff=_sniff_spindle,
        default_name="{stem}" + _PRED,
        companion="{stem}" + _PROB,
        notes="``<index>,<w|n|r>`` and, in the sibling ``*_ad_predictions_prob.csv``, "
        "the artefact probability (> 0.5: artifact)",
    )
)
