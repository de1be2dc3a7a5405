"""The package's own tables, MNE annotation files, BIDS events, EDF+ and YASA."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .._stages import DEFAULT_EPOCH_LENGTH
from ..hypnogram import (
    _ALIASES,
    ARTIFACT,
    NREM,
    REM,
    STAGES,
    UNSCORED,
    WAKE,
    _make_stages,
    _map_labels,
    to_annotations,
    to_hypnogram,
    to_stages,
)
from ._base import (
    _clock,
    _codes_to_stages,
    _epochs,
    _Format,
    _positive,
    _read_csv,
    _read_text,
    _register,
    _write_file,
    _write_text,
)

_TIME_COLS = ("onset", "time", "start", "start_time", "seconds", "time_s", "t")
_EPOCH_COLS = ("epoch", "epoch_no", "epoch_number", "epochs", "epoch #")
_LABEL_COLS = ("stage", "label", "score", "state", "sleep_stage", "hypnogram")


def _find_column(columns, candidates, given, what):
    if given is not None:
        if given not in columns:
            raise ValueError(f"{what}={given!r} is not a column of {list(columns)}.")
        return given
    for col in columns:
        if str(col).strip().lower() in candidates:
            return col
    return None


def _read_table(
    fname,
    epoch_length=None,
    mapping=None,
    label_col=None,
    time_col=None,
    epoch_col=None,
    epoch_base=1,
    **kw,
):
    """Read a generic table with one row per epoch (the package's CSV/TSV)."""
    fname = Path(fname)
    epoch_length = (
        DEFAULT_EPOCH_LENGTH
        if epoch_length is None
        else _positive(epoch_length, "epoch_length")
    )
    suffix = fname.suffix.lower()
    sep = {".csv": ",", ".tsv": "\t"}.get(suffix, r"[,\t;]")
    table = _read_csv(fname, sep=sep, engine="python")
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
    attrs = {"epoch_length": float(epoch_length)}
    if "provenance" in table.columns:  # a reviewed scoring: kept with the stages
        attrs["provenance"] = table["provenance"].astype(str).tolist()
    return _make_stages(values, onsets, attrs)


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


def _write_table(values, stages, proba, path, overwrite, **kw):
    sep = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    table = pd.DataFrame(
        {
            "epoch": np.arange(1, len(values) + 1),
            "onset": stages.index.to_numpy(float) - float(stages.index[0]),
            "stage": list(values),
        }
    )
    provenance = stages.attrs.get("provenance")
    if provenance is not None and len(provenance) == len(values):
        table["provenance"] = list(provenance)  # a review's: who gave the stage
    _write_text(
        path, table.to_csv(sep=sep, index=False, lineterminator="\n"), overwrite
    )


def _sniff_table(path, head):
    if Path(path).suffix.lower() not in (".csv", ".tsv", ".txt"):
        return False
    first = head.splitlines()[0].lower() if head.strip() else ""
    words = {w.strip().strip('"') for w in first.replace("\t", ",").split(",")}
    return bool(words & set(_LABEL_COLS)) and not _is_mne_annotations_head(head)


_register(
    _Format(
        name="table",
        tool="mne-mousesleep (generic table)",
        suffixes=(".csv", ".tsv", ".txt"),
        holds=frozenset(STAGES),
        time_base="``onset`` (s) or ``epoch`` (1-based) column, else consecutive rows",
        epoch_length="10",
        read=_read_table,
        write=_write_table,
        sniff=_sniff_table,
        default_name="{stem}_epochs.csv",
        notes="a label column (``stage``, ``label``, ``score``, ``state``...) "
        "with stage names or aliases (W, NR, R, A...)",
    )
)


# --- MNE annotation files -----------------------------------------------------


def _is_mne_annotations_head(head):
    return head.startswith("# MNE-Annotations") or "onset,duration,description" in (
        head.splitlines()[0] if head else ""
    )


def _read_annotations(path, epoch_length=None, mapping=None, **kw):
    from mne import read_annotations

    length = (
        DEFAULT_EPOCH_LENGTH
        if epoch_length is None
        else _positive(epoch_length, "epoch_length")
    )
    return to_stages(read_annotations(path), mapping=mapping, epoch_length=length)


def _write_annotations(values, stages, proba, path, overwrite, **kw):
    out = _make_stages(values, stages.index, stages.attrs)
    annot = to_annotations(out, merge_bouts=True)
    _write_file(
        path, lambda tmp: annot.save(tmp, overwrite=True, verbose=False), overwrite
    )


def _sniff_annotations(path, head):
    name = Path(path).name.lower()
    return name.endswith(".fif") or (
        name.endswith((".csv", ".txt")) and _is_mne_annotations_head(head)
    )


_register(
    _Format(
        name="annotations",
        tool="MNE-Python (Annotations.save)",
        suffixes=("-annot.fif", ".csv", ".txt"),
        holds=frozenset(STAGES),
        time_base="onset and duration (s) from ``orig_time``",
        epoch_length="bouts",
        read=_read_annotations,
        write=_write_annotations,
        sniff=_sniff_annotations,
        default_name="{stem}_scoring-annot.fif",
        notes="descriptions of :data:`ANNOTATION_DESCRIPTIONS` (read with "
        ":func:`mne.read_annotations`)",
    )
)


# --- BIDS events.tsv ----------------------------------------------------------


def _read_events(path, epoch_length=None, mapping=None, **kw):
    from mne import Annotations

    length = None if epoch_length is None else _positive(epoch_length, "epoch_length")
    table = _read_csv(path, sep="\t")
    sidecar = _events_sidecar(path)
    described = [
        c
        for c in table.columns
        if isinstance(sidecar.get(c), dict) and "Levels" in sidecar[c]
    ]
    column = next(
        (c for c in ("trial_type", "stage", "value", *described) if c in table), None
    )
    if column is None or not {"onset", "duration"} <= set(table.columns):
        raise ValueError(
            f"{Path(path).name}: BIDS events need onset, duration and a stage column "
            f"(trial_type, stage, value or one whose Levels the events JSON sidecar "
            f"gives), got {list(table.columns)}."
        )
    labels = table[column].astype(str).to_numpy()
    levels = (sidecar.get(column) or {}).get("Levels") or {}
    if levels and mapping is None:  # the codes, as the dataset explains them
        labels = np.array([str(levels.get(v, v)) for v in labels], dtype=object)
    durations = table["duration"].to_numpy(float)
    if length is None:  # one epoch per row (nearly all as long, <= 60 s): that
        finite = durations[np.isfinite(durations)]
        values, counts = np.unique(finite, return_counts=True)
        common = float(values[counts.argmax()]) if len(values) else 0.0
        epochs = len(finite) > 1 and counts.max(initial=0) >= 0.9 * len(finite)
        length = common if epochs and 0 < common <= 60 else DEFAULT_EPOCH_LENGTH
    annot = Annotations(table["onset"].to_numpy(float), durations, labels)
    try:
        return to_stages(annot, mapping=mapping, epoch_length=length)
    except ValueError as err:
        if levels or mapping is not None:
            raise
        raise ValueError(
            f"{err} Or explain the codes of the column {column!r} with its "
            f'"Levels" in the events JSON sidecar (BIDS), e.g. '
            f"task-sleep_events.json at the dataset's root: "
            f'{{"{column}": {{"Levels": {{"1": "Wake", "2": "NREM", "3": "REM"}}}}}}.'
        ) from None


def _events_sidecar(path):
    """Return the JSON sidecar of a BIDS events file, by BIDS inheritance.

    Every ``*_events.json`` from the file's folder up to the dataset's root
    (the folder with ``dataset_description.json``, at most three levels up)
    whose entities are a subset of the file's; nearer ones override farther
    ones. ``{}`` without any.
    """
    path = Path(path)
    name = path.name
    if not name.endswith("_events.tsv"):
        return {}
    entities = set(name[: -len("_events.tsv")].split("_"))
    found = []
    folder = path.parent
    for _ in range(4):  # the file's folder, datatype, session, subject, root
        for candidate in sorted(folder.glob("*_events.json")):
            keys = set(candidate.name[: -len("_events.json")].split("_"))
            if keys <= entities:
                found.append(candidate)
        if (folder / "dataset_description.json").is_file() or folder.parent == folder:
            break
        folder = folder.parent
    merged = {}
    for candidate in reversed(found):  # the farthest first, the nearest last
        try:
            merged.update(json.loads(candidate.read_text(encoding="utf-8-sig")))
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{candidate} (the JSON sidecar of {name}) cannot be read: {err}"
            ) from None
    return merged


def _write_events(values, stages, proba, path, overwrite, **kw):
    out = _make_stages(values, stages.index, {**stages.attrs, "meas_date": None})
    annot = to_annotations(out, merge_bouts=True)
    table = pd.DataFrame(
        dict(onset=annot.onset, duration=annot.duration, trial_type=annot.description)
    )
    text = table.to_csv(sep="\t", index=False, lineterminator="\n")
    _write_text(path, text, overwrite)


def _sniff_events(path, head):
    first = head.splitlines()[0].split("\t") if head.strip() else []
    return first[:2] == ["onset", "duration"]


_register(
    _Format(
        name="bids",
        tool="BIDS events.tsv",
        suffixes=("_events.tsv",),
        holds=frozenset(STAGES),
        time_base="onset and duration (s) from the recording's first sample",
        epoch_length="bouts",
        read=_read_events,
        write=_write_events,
        sniff=_sniff_events,
        default_name="{stem}_events.tsv",
        notes="``onset``, ``duration``, ``trial_type`` (stage descriptions)",
    )
)


# --- EDF+ annotations ---------------------------------------------------------

# Sleep-EDF's human stages (FORMATS.md 12b): every NREM stage is mouse NREM.
_EDF_TEXTS = {
    **{f"sleep stage {n}": NREM for n in ("1", "2", "3", "4", "n1", "n2", "n3")},
    "movement time": ARTIFACT,
}


def _read_edf(path, epoch_length=None, mapping=None, **kw):
    from mne import read_annotations
    from mne.io import read_raw

    length = (
        DEFAULT_EPOCH_LENGTH
        if epoch_length is None
        else _positive(epoch_length, "epoch_length")
    )
    raw = read_raw(path, preload=False, verbose="error")
    annot = read_annotations(path)  # all of them (also in annotation-only files)
    if mapping is None:
        mapping = {}
        for desc in set(annot.description):
            stage = _EDF_TEXTS.get(desc.lower(), _ALIASES.get(desc.strip().lower()))
            if stage is not None:
                mapping[desc] = stage
    annot = annot.copy()
    stages = to_stages(annot, mapping=mapping, epoch_length=length)
    # EDF onsets count from the file's start (its first sample).
    stages.attrs["meas_date"] = raw.info["meas_date"]
    stages.attrs["first_time"] = 0.0
    return stages


def _write_edf(values, stages, proba, path, overwrite, **kw):
    from edfio import Edf, EdfAnnotation, Recording

    out = _make_stages(values, stages.index, {**stages.attrs, "meas_date": None})
    annot = to_annotations(out, merge_bouts=True)
    onset0 = float(stages.index[0])
    entries = [
        EdfAnnotation(float(o) - onset0, float(d), str(t))
        for o, d, t in zip(annot.onset, annot.duration, annot.description)
    ]
    start = _clock(stages)
    options = {}
    if start is not None:
        options = dict(
            starttime=start.to_pydatetime().time(),
            recording=Recording(startdate=start.to_pydatetime().date()),
        )
    edf = Edf([], annotations=entries, **options)
    _write_file(path, edf.write, overwrite)


def _sniff_edf(path, head):
    return Path(path).suffix.lower() in (".edf", ".bdf")


_register(
    _Format(
        name="edf",
        tool="EDF+ annotations (Sleep-EDF style)",
        suffixes=(".edf",),
        holds=frozenset(STAGES),
        time_base="onset and duration (s) from the file's start date and time",
        epoch_length="bouts",
        read=_read_edf,
        write=_write_edf,
        sniff=_sniff_edf,
        default_name="{stem}_hypnogram.edf",
        notes="one annotation per bout with :data:`ANNOTATION_DESCRIPTIONS`; "
        "reads Sleep-EDF texts (``Sleep stage 1``-``4`` as NREM, "
        "``Movement time`` as artifact)",
    )
)


# --- YASA Hypnogram JSON ------------------------------------------------------

_YASA = {
    "WAKE": WAKE,
    "NREM": NREM,
    "N1": NREM,
    "N2": NREM,
    "N3": NREM,
    "REM": REM,
    "ART": ARTIFACT,
    "UNS": UNSCORED,
}


def _read_yasa(path, epoch_length=None, mapping=None, **kw):
    import yasa

    # yasa's from_dict, as its from_json, after reading with any BOM dropped.
    hyp = yasa.Hypnogram.from_dict(json.loads(_read_text(path)))
    length = pd.Timedelta(hyp.freq).total_seconds()
    if epoch_length is not None and not np.isclose(float(epoch_length), length):
        raise ValueError(
            f"{Path(path).name} stores epochs of {hyp.freq}, not epoch_length="
            f"{epoch_length}."
        )
    labels = [str(v).upper() for v in hyp.hypno]
    stages = _codes_to_stages(labels, {**_YASA, **(mapping or {})}, "stages", path)
    start = None if hyp.start is None else pd.Timestamp(hyp.start)
    if start is not None and start.tzinfo is None:
        start = start.tz_localize("UTC")
    extra = {"scorer": hyp.scorer} if hyp.scorer else {}
    return _epochs(stages, length, start and start.to_pydatetime(), extra)


def _write_yasa(values, stages, proba, path, overwrite, **kw):
    source = (
        proba if proba is not None else _make_stages(values, stages.index, stages.attrs)
    )
    start = _clock(stages)
    hyp = to_hypnogram(source, start=start)
    _write_file(path, hyp.to_json, overwrite)


def _sniff_yasa(path, head):
    return Path(path).suffix.lower() == ".json" and '"n_stages"' in head


_register(
    _Format(
        name="yasa",
        tool="YASA Hypnogram (to_json / from_json)",
        suffixes=(".json",),
        holds=frozenset({WAKE, NREM, REM, ARTIFACT, UNSCORED}),
        time_base="fixed ``freq`` from ``start`` (clock time)",
        epoch_length="stored",
        read=_read_yasa,
        write=_write_yasa,
        sniff=_sniff_yasa,
        default_name="{stem}_hypnogram.json",
        notes="3-stage hypnogram (WAKE, NREM, REM, ART, UNS); N1-N3 of other "
        "YASA hypnograms are read as NREM",
    )
)
