"""The registry of scoring formats, and what their readers and writers share."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from mne.utils import logger, warn

from .._stages import _roles, _stage_of, _time_base
from ..hypnogram import (
    ARTIFACT,
    NREM,
    PRE_REM,
    UNSCORED,
    WAKE,
    _make_stages,
    _regrid,
    _start_time,
    to_epoch_length,
    to_stages,
)
from ._write import _atomic


@dataclass(frozen=True)
class _Format:
    """One scoring format: how to recognise, read and write it."""

    name: str
    tool: str
    suffixes: tuple  # file name endings, for detection and the docs
    holds: frozenset  # the project stages the format can hold
    time_base: str  # in words, for the docs
    epoch_length: str  # "stored", "required", "bouts" or a fixed default (s)
    read: object = None
    write: object = None
    sniff: object = None  # sniff(path, head) -> True when the content is it
    default_name: str = "{stem}.txt"  # output name in a batch
    companion: str = ""  # name of a second file the format writes, if any
    notes: str = ""
    extra: dict = field(default_factory=dict)


_FORMATS = {}


def _register(fmt):
    _FORMATS[fmt.name] = fmt
    return fmt


def _head(path, n_bytes=4096):
    """Return the first bytes of a file as text (BOM dropped, bad bytes replaced)."""
    with open(path, "rb") as fid:
        return fid.read(n_bytes).decode("utf-8-sig", errors="replace")


def _check_no_gaps(lines, path, first=0):
    """Raise for a blank line between rows (it would shift every later epoch).

    ``lines`` are the file's lines from line ``first`` (0-based); blank lines
    at the end are fine.
    """
    rows = list(lines)
    while rows and not rows[-1].strip():
        rows.pop()
    for ii, line in enumerate(rows):
        if not line.strip():
            raise ValueError(
                f"{Path(path).name}, line {first + ii + 1}: a blank line between "
                "epochs (a missing epoch?) would shift every later one; fill it "
                "in (e.g. as unscored) or delete it."
            )


def _read_csv(path, **kwargs):
    """:func:`pandas.read_csv` of a scoring file, as saved by any desktop.

    UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8"), else
    Latin-1; a blank line between rows is an error naming it; pandas' errors
    name the file.
    """
    import io

    text = _read_text(path)
    _check_no_gaps(text.splitlines(), path)
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{Path(path).name}: not a readable table: {err}") from None


def _read_text(path):
    """Return the whole file as text: UTF-8, else Latin-1 (never fails)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _lines(path):
    return _read_text(path).splitlines()


def _need_epoch_length(epoch_length, fmt, path):
    if epoch_length is None:
        raise ValueError(
            f"{Path(path).name}: the {fmt} format does not store the epoch "
            "length; pass epoch_length= (in seconds, as set in the tool when "
            "scoring)."
        )
    return _positive(epoch_length, "epoch_length")


def _positive(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a number of seconds, got {value!r}."
        ) from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value}.")
    return value


def _codes_to_stages(codes, table, what, path):
    """Map codes read from a file with the format's table; unknown codes raise."""
    codes = list(codes)
    unknown = sorted({str(c) for c in codes if c not in table})
    if unknown:
        raise ValueError(
            f"{Path(path).name}: unknown {what} {unknown[:8]} (this format knows "
            f"{sorted(map(str, table))}); pass mapping={{code: stage}} for a "
            "lab's own codes."
        )
    return [table[c] for c in codes]


def _epochs(values, epoch_length, start=None, extra=None):
    """Return a stage sequence of consecutive epochs from 0 s (clock ``start``)."""
    length = float(epoch_length)
    attrs = {"epoch_length": length, "meas_date": start, "first_time": 0.0}
    attrs.update(extra or {})
    return _make_stages(list(values), np.arange(len(values)) * length, attrs)


def _bouts(starts, ends, values, epoch_length, start=None, extra=None, name=""):
    """Cut contiguous bouts (s from the scoring's start) into epochs."""
    starts, ends = np.asarray(starts, float), np.asarray(ends, float)
    if not len(starts):
        raise ValueError(f"{name} holds no scored bout.")
    if (ends <= starts).any():
        ii = int(np.flatnonzero(ends <= starts)[0])
        raise ValueError(
            f"{name}: bout {ii + 1} ends ({ends[ii]:g} s) before it starts "
            f"({starts[ii]:g} s)."
        )
    if (starts[1:] < ends[:-1] - 1e-6).any():
        ii = int(np.flatnonzero(starts[1:] < ends[:-1] - 1e-6)[0])
        raise ValueError(
            f"{name}: bouts overlap at {starts[ii + 1]:g} s (the previous bout "
            f"ends at {ends[ii]:g} s)."
        )
    values, onsets = _regrid(starts, ends, values, epoch_length, 0.0)
    keep = onsets >= -1e-9
    attrs = {"epoch_length": float(epoch_length), "meas_date": start}
    attrs.update(extra or {})
    return _make_stages(values[keep], onsets[keep], attrs)


# --- writing --------------------------------------------------------------


def _prepare(scoring, fmt, epoch_length):
    """Return the stages to write (at the epoch length asked) and probabilities."""
    proba = scoring if isinstance(scoring, pd.DataFrame) else None
    stages = to_stages(scoring)
    if not len(stages):
        raise ValueError("The scoring holds no epoch.")
    onsets = stages.index.to_numpy(float)
    length = _time_base(stages).epoch_length
    if len(onsets) > 1 and not np.allclose(np.diff(onsets), length, atol=1e-6):
        steps = np.diff(onsets) / length
        if not np.allclose(steps, np.round(steps), atol=1e-6) or (steps < 0.5).any():
            raise ValueError(
                f"The scoring's onsets are not on a grid of its {length:g}-s "
                "epochs in time order; convert it with to_epoch_length first."
            )
        # Gaps (epochs an expert left out) are written as unscored epochs.
        grid = (
            onsets[0]
            + np.arange(int(round((onsets[-1] - onsets[0]) / length)) + 1) * length
        )
        where = np.round((onsets - onsets[0]) / length).astype(int)
        values = np.full(len(grid), UNSCORED, dtype=object)
        values[where] = stages.to_numpy(object)
        logger.info(f"{len(grid) - len(onsets)} missing epochs written as unscored")
        stages = _make_stages(values, grid, stages.attrs)
        proba = None
    if epoch_length is not None and not np.isclose(epoch_length, length):
        logger.info(
            f"Writing {fmt.name}: {length:g}-s epochs converted to "
            f"{epoch_length:g}-s epochs (majority of time, see to_epoch_length)."
        )
        stages = to_epoch_length(stages, epoch_length)
        proba = None  # probabilities belong to the original epochs
    return stages, proba


#: What a format cannot hold becomes, in this order of preference.
_FALLBACK = {
    PRE_REM: (NREM,),
    ARTIFACT: (UNSCORED, WAKE),
    UNSCORED: (ARTIFACT, WAKE),
}


def _fold(stages, fmt):
    """Fold stages a format cannot hold (the one rule), warning what merged.

    A lab's own class becomes the stage of its role (``"active Wake"`` of
    role wake: Wake); pre-REM becomes NREM (as the 3-class models of
    Grieger et al. 2021);
    artifact becomes the format's unscored code and unscored its artifact
    code; where a format holds neither, both become Wake (what the format's
    own tools do with epochs they cannot score), so the file stays readable.
    """
    names = np.asarray(stages.to_numpy(object), dtype=object)
    roles = _roles(stages)
    merged = Counter()
    # A lab's own class becomes the stage of its role (then the rule below).
    values = names.copy()
    for name in roles:
        hit = names == name
        if hit.any() and name not in fmt.holds:
            values[hit] = _stage_of(name, roles)
    out = values.copy()
    for stage, options in _FALLBACK.items():
        if stage in fmt.holds:
            continue
        target = next(o for o in options if o in fmt.holds)
        hit = values == stage
        if hit.any():
            out[hit] = target
    for a, b in zip(names, out):
        if a != b:
            merged[(a, b)] += 1
    if merged:
        length = f"{_time_base(stages).epoch_length:g} s"
        what = "; ".join(
            f"{n} {a} epochs of {length} written as {b}" for (a, b), n in merged.items()
        )
        warn(
            f"The {fmt.name} format cannot hold every stage of this scoring: "
            f"{what}. Reading the file back gives the merged stages."
        )
    return out


def _write_file(path, write, overwrite):
    """Call ``write(tmp)`` and move the whole file to ``path``.

    Never appends, never replaces without ``overwrite`` (checked first, and
    again by the move).
    """
    _check_target(path, overwrite)
    _atomic(Path(path), write, overwrite=overwrite)


def _write_bytes(path, data, overwrite):
    """Write a whole file at once; never append, never replace without asking."""
    _write_file(path, lambda tmp: Path(tmp).write_bytes(data), overwrite)


def _write_text(path, text, overwrite, *, encoding="utf-8"):
    """Write text exactly (line endings as given, no newline added)."""
    _write_bytes(path, text.encode(encoding), overwrite)


def _check_target(path, overwrite):
    path = Path(path)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}.")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"No such folder to write {path.name} into: {path.parent}"
        )


def _clock(stages):
    """Clock time of the first epoch (naive, as the tools write it), or None."""
    start = _start_time(stages)
    if start is None:
        return None
    start = pd.Timestamp(start)
    if start.tzinfo is not None:
        start = start.tz_convert("UTC").tz_localize(None)
    return start
