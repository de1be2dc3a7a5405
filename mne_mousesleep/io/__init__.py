"""Recordings and scorings in and out: step 0 of the pipeline.

:func:`read_recording` (``_recording``) reads every recording the package
scores or trains on; ``_write`` writes every file atomically. The rest is the
scoring files of the tools labs score with: one registry
(:func:`scoring_formats`) knows, for each format, how to recognise it, read
it onto the package's stage sequence and write a stage sequence back. The
facts behind every format (with their sources) are in the project's
``formats`` notes; see :ref:`scoring-formats`.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.utils import _validate_type, logger, verbose

from .._docs import fill_doc
from .._stages import STAGES, _make_stages, _regrid, _time_base
from . import accusleep, faster2, misleep, tables, visbrain  # noqa: F401 (registry)
from ._base import _FORMATS, _check_target, _fold, _head, _positive, _prepare
from ._recording import RECORDING_SUFFIXES, read_recording  # noqa: F401


def scoring_formats():
    """List the scoring file formats that can be read and written.

    Returns
    -------
    formats : pandas.DataFrame, shape (n_formats, 6)
        One row per format name (the index; what ``format=`` takes): the
        ``tool``, the file name ``suffixes``, the ``stages`` it can hold, its
        ``time_base``, its ``epoch_length`` (``"stored"`` in the file,
        ``"required"`` from the user, ``"bouts"`` cut into epochs of
        ``epoch_length``, or the tool's fixed length in seconds) and
        ``notes`` on its codes.
    """
    rows = []
    for fmt in _FORMATS.values():
        rows.append(
            dict(
                format=fmt.name,
                tool=fmt.tool,
                suffixes=", ".join(fmt.suffixes),
                stages=", ".join(s for s in STAGES if s in fmt.holds),
                time_base=fmt.time_base,
                epoch_length=fmt.epoch_length,
                notes=fmt.notes,
            )
        )
    return pd.DataFrame(rows).set_index("format")


def _check_format(format):
    if format not in _FORMATS:
        raise ValueError(
            f"format must be one of {sorted(_FORMATS)} (or None to detect it), "
            f"got {format!r}."
        )
    return _FORMATS[format]


def _detect(path):
    """Return the format of an existing file, from its content and name."""
    head = _head(path)
    found = sorted(n for n, fmt in _FORMATS.items() if fmt.sniff(path, head))
    if len(found) > 1 and "table" in found:  # the generic table is the fallback
        found.remove("table")
    if len(found) == 1:
        return _FORMATS[found[0]]
    if not found and Path(path).suffix.lower() in (".csv", ".tsv", ".txt"):
        return _FORMATS["table"]  # its reader says what is missing
    if not found:
        raise ValueError(
            f"Cannot tell the scoring format of {Path(path).name}; pass format= "
            f"(--from on the command line) among {sorted(_FORMATS)}."
        )
    raise ValueError(
        f"{Path(path).name} could be any of {found}; pass format= (--from on "
        "the command line) to say which."
    )


def _match(name, suffix):
    if "*" in suffix:
        return len(suffix) if fnmatch.fnmatch(name, suffix) else 0
    return len(suffix) if name.endswith(suffix) else 0


def _detect_name(path):
    """Return the format to write, from the file name alone (if unambiguous)."""
    name = Path(path).name.lower()
    scores = {n: max(_match(name, s) for s in f.suffixes) for n, f in _FORMATS.items()}
    best = max(scores.values())
    found = sorted(n for n, s in scores.items() if s == best and s > 0)
    if len(found) == 1:
        return _FORMATS[found[0]]
    raise ValueError(
        f"Cannot tell which format to write from the name {Path(path).name}"
        + (f" (it could be any of {found})" if found else "")
        + f"; pass format= (--to on the command line) among {sorted(_FORMATS)}."
    )


@verbose
@fill_doc
def read_scoring(
    fname,
    *,
    format=None,
    epoch_length=None,
    mapping=None,
    raw=None,
    label_col=None,
    time_col=None,
    epoch_col=None,
    epoch_base=1,
    verbose=None,
):
    """Read an expert scoring from the file of any scoring tool.

    Parameters
    ----------
    fname : path-like
        The scoring file. See :func:`scoring_formats` and
        :ref:`scoring-formats` for the formats: AccuSleep ``.mat``,
        AccuSleePy CSV, FASTER2 ``*.stage.csv``, MiSleep ``.txt``,
        IntelliSleepScorer ``_scores.csv``, visbrain (stage-duration, per
        window + description, Elan ``.hyp``), somnotate ``.hyp``, SPINDLE
        CSVs, Weber-lab ``remidx_*.txt``, YASA JSON, EDF+ annotations, BIDS
        ``events.tsv``, MNE annotation files and generic CSV/TSV tables.
    format : str | None
        The format's name (the index of :func:`scoring_formats`). ``None``
        detects it from the content and the name; a file that could be of
        several formats raises an error listing them.
    epoch_length : float | None
        In seconds. For formats that store one stage per epoch without the
        length (AccuSleep, AccuSleePy) it is required; for formats whose tool
        fixes it (SPINDLE 4 s, remidx 2.5 s, IntelliSleepScorer 10 s) or that
        store it (FASTER2, YASA, visbrain's description) ``None`` takes that
        length (a different value raises, except for the fixed ones, which it
        overrides). For formats of bouts (MiSleep, visbrain stage-duration,
        somnotate, Elan, EDF+, BIDS events, MNE annotations) it is the length
        of the epochs the bouts are cut into (default 10 s, majority rule of
        :func:`~mne_mousesleep.to_epoch_length`). Generic tables: 10 s by
        default.
    mapping : dict | None
        A lab's own codes or labels to stage names of
        :data:`~mne_mousesleep.STAGES`, added to (or replacing) the format's
        table; e.g. ``{4: "pre-REM"}`` for an AccuSleePy brain state. For
        tables and annotations, as in :func:`~mne_mousesleep.to_stages`.
    raw : instance of Raw | None
        The scored recording. With it, the epochs are placed on its time axis
        (onsets in seconds from its first sample, its ``meas_date`` and
        ``first_time`` in ``attrs``): a file that stores a clock time is placed
        by clock (taken as UTC, as MNE reads EDF); in one that does not, time
        counts from the first sample (files of epochs start there; BIDS
        events and tables keep their onsets). Epochs off the recording's
        epoch grid are re-cut onto it (majority rule) and epochs outside the
        recording dropped.
    label_col, time_col, epoch_col : str | None
        Generic tables only: the column names, when not found automatically.
    epoch_base : int
        Generic tables only: number of the first epoch in an epoch column (1,
        or 0 for zero-based numbering).
    %(verbose)s

    Returns
    -------
    stages : pandas.Series
        The stage sequence (categorical, :data:`~mne_mousesleep.STAGES`), one
        row per epoch, indexed by onset in seconds from the start of the
        scoring (or the first sample of ``raw``). ``attrs`` hold
        ``"epoch_length"``, ``"meas_date"`` (the clock time of the scoring's
        start when the file stores one, as UTC), ``"first_time"`` and
        ``"format"``. Stages a format cannot hold are never made up: its
        undefined codes read as unscored.

    Raises
    ------
    ValueError
        For an unknown or ambiguous format, codes or labels the format does not
        know (pass ``mapping``), a missing ``epoch_length`` where the format
        needs one, or malformed rows (with the file and what was expected).
    FileNotFoundError
        If ``fname`` (or a companion file the format needs) does not exist.
    """
    fname = Path(fname)
    if not fname.is_file():
        raise FileNotFoundError(f"No such scoring file: {fname}")
    if fname.stat().st_size == 0:
        raise ValueError(f"{fname}: the file is empty (0 bytes), not a scoring.")
    fmt = _detect(fname) if format is None else _check_format(format)
    if epoch_length is not None:
        epoch_length = _positive(epoch_length, "epoch_length")
    options = dict(epoch_length=epoch_length, mapping=mapping)
    if fmt.name == "table":
        options.update(
            label_col=label_col,
            time_col=time_col,
            epoch_col=epoch_col,
            epoch_base=epoch_base,
        )
    try:
        stages = fmt.read(fname, **options)
    except (ValueError, TypeError, KeyError, IndexError, UnicodeError) as err:
        if fname.name in str(err):
            raise
        raise ValueError(
            f"{fname.name} (read as {fmt.name}): {type(err).__name__}: {err}"
        ) from err
    if not len(stages):
        raise ValueError(f"{fname.name} (read as {fmt.name}) holds no epoch.")
    stages.attrs["format"] = fmt.name
    logger.info(
        f"Read {len(stages)} epochs of {stages.attrs['epoch_length']:g} s from "
        f"{fname.name} ({fmt.name})"
    )
    if raw is not None:
        stages = _place(stages, raw)
    return stages


def _place(stages, raw):
    """Put a scoring on the time axis of ``raw`` (see read_scoring)."""
    _validate_type(raw, BaseRaw, "raw")
    meas_date, first_time = raw.info["meas_date"], float(raw.first_time)
    base = _time_base(stages)
    start = base.meas_date
    onsets = stages.index.to_numpy(float) + base.first_time
    if start is not None and meas_date is not None:
        shift = (pd.Timestamp(start) - pd.Timestamp(meas_date)).total_seconds()
        onsets = onsets + shift - first_time
        how = f"by clock ({pd.Timestamp(start)} vs the recording's {meas_date})"
    else:  # onsets count from the first sample (epoch files start there)
        how = "from the recording's first sample (no clock time on one side)"
    length = base.epoch_length
    values = stages.to_numpy(object)
    if not np.allclose(onsets / length, np.round(onsets / length), atol=1e-4):
        values, onsets = _regrid(onsets, onsets + length, values, length, 0.0)
        how += "; re-cut onto the recording's epoch grid"
    duration = raw.n_times / raw.info["sfreq"]
    keep = (onsets > -1e-6) & (onsets + length <= duration + 1e-6)
    if not keep.any():
        raise ValueError(
            f"The scoring ({onsets[0]:g} to {onsets[-1] + length:g} s from the "
            f"recording's first sample) does not overlap the recording (0 to "
            f"{duration:g} s)."
        )
    logger.info(f"Scoring placed {how}; {int((~keep).sum())} epochs outside dropped")
    attrs = {**stages.attrs, "meas_date": meas_date, "first_time": first_time}
    return _make_stages(values[keep], onsets[keep], attrs)


@verbose
@fill_doc
def write_scoring(
    scoring,
    fname,
    *,
    format=None,
    epoch_length=None,
    start=None,
    mapping=None,
    overwrite=False,
    verbose=None,
):
    """Write a scoring in the file format of a scoring tool.

    Parameters
    ----------
    scoring : pandas.DataFrame | pandas.Series | mne.Annotations | yasa.Hypnogram
        Probabilities from :func:`~mne_mousesleep.predict_proba` (then the
        formats with probability or confidence columns, FASTER2, AccuSleePy
        and YASA, get them), or anything
        :func:`~mne_mousesleep.to_stages` accepts.
    fname : path-like
        The file to write. Its folder must exist.
    format : str | None
        The format's name (see :func:`scoring_formats`). ``None`` takes it from
        the file name when that is unambiguous (``.mat``, ``.stage.csv``,
        ``.json``, ``.edf``, ``-annot.fif``, ``_events.tsv``, ``remidx_*.txt``,
        ``_scores.csv``, ``_predictions_without_artifacts.csv``), else raises.
    epoch_length : float | None
        Write epochs of this length (s), converted with the majority rule of
        :func:`~mne_mousesleep.to_epoch_length` (e.g. 2.5 for an AccuSleep
        project scored at 2.5 s). ``None``: the scoring's own epochs, or the
        tool's fixed length (SPINDLE 4 s, remidx 2.5 s, IntelliSleepScorer
        10 s).
    start : datetime.datetime | str | None
        Clock time of the first epoch for the formats that store it (FASTER2,
        MiSleep, YASA, EDF+). ``None``: from the scoring's ``meas_date``.
    mapping : dict | None
        AccuSleePy only: a lab's own digits, ``{stage: digit}`` (e.g.
        ``{"pre-REM": 4}``), so that the file holds that stage.
    overwrite : bool
        Replace ``fname`` (and a companion file the format writes) if it
        exists. Files are written whole, never appended to.
    %(verbose)s

    Returns
    -------
    fname : pathlib.Path
        The file written.

    Raises
    ------
    FileExistsError
        If the file exists and ``overwrite`` is False.
    ValueError
        For an unknown or ambiguous format, or a scoring the format cannot
        place in time (e.g. MiSleep without a clock time).

    Warns
    -----
    RuntimeWarning
        When the format cannot hold every stage of the scoring (the one rule:
        pre-REM is written as NREM; artifact as the format's undefined code and
        unscored as its artifact code; where it has neither, both as Wake). The
        warning says how many epochs of each were merged.
    """
    fname = Path(fname)
    fmt = _detect_name(fname) if format is None else _check_format(format)
    if fmt.write is None:
        raise ValueError(f"The {fmt.name} format can be read but not written.")
    _check_target(fname, overwrite)  # before any conversion
    if (
        epoch_length is None
        and fmt.epoch_length not in ("stored", "required", "bouts")
        and fmt.name != "table"
    ):
        epoch_length = float(fmt.epoch_length)
    if epoch_length is not None:
        epoch_length = _positive(epoch_length, "epoch_length")
    stages, proba = _prepare(scoring, fmt, epoch_length)
    if start is not None:
        start = pd.Timestamp(start)
        if start.tzinfo is None:
            start = start.tz_localize("UTC")
        stages.attrs["meas_date"] = start.to_pydatetime()
        stages.attrs["first_time"] = -float(stages.index[0])
    if mapping is not None and fmt.name != "accusleepy":
        raise ValueError(f"mapping is for AccuSleePy's digits, not {fmt.name}.")
    if mapping:
        fmt = _with_stages(fmt, mapping)
    values = _fold(stages, fmt)
    fmt.write(values, stages, proba, fname, overwrite, mapping=mapping)
    logger.info(f"Wrote {len(values)} epochs to {fname} ({fmt.name})")
    return fname


def _with_stages(fmt, mapping):
    from dataclasses import replace

    unknown = [s for s in mapping if s not in STAGES]
    if unknown:
        raise ValueError(f"mapping keys must be stages among {STAGES}, got {unknown}.")
    return replace(fmt, holds=fmt.holds | set(mapping))


def _output_name(fmt_name, stem):
    """Return the file name a batch writes for a recording in this format."""
    return _FORMATS[fmt_name].default_name.format(stem=stem)


def writable_formats():
    """Names of the formats :func:`write_scoring` writes."""
    return tuple(sorted(n for n, f in _FORMATS.items() if f.write is not None))
