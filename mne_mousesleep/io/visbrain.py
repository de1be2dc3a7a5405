"""visbrain hypnograms (stage-duration, per window, Elan) and somnotate's.

visbrain and Elan know human stages (N1, N2, N3): all of them are read as
NREM, and NREM is written as N3 (slow-wave sleep, as mouse NREM is). Facts from
``../shared/formats/FORMATS.md`` section 6: ``EtienneCmb/visbrain``
``visbrain/io/rw_hypno.py`` (commit b599038) and ``paulbrodersen/somnotate``
``example_pipeline/data_io.py`` and ``configuration.py`` (commit a20f33d).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from pathlib import Path

import numpy as np

from .._stages import DEFAULT_EPOCH_LENGTH, _runs, _time_base
from ..hypnogram import ARTIFACT, NREM, REM, UNSCORED, WAKE
from ._base import (
    _bouts,
    _check_target,
    _codes_to_stages,
    _epochs,
    _Format,
    _lines,
    _positive,
    _register,
    _write_text,
)

_VISBRAIN = {
    "Wake": WAKE,
    "N1": NREM,
    "N2": NREM,
    "N3": NREM,
    "REM": REM,
    "Art": ARTIFACT,
}
_VISBRAIN_OUT = {WAKE: "Wake", NREM: "N3", REM: "REM", ARTIFACT: "Art"}
_SOMNOTATE = {
    "awake": WAKE,
    "sleep movement": WAKE,
    "non-rem": NREM,
    "nrem": NREM,
    "rem": REM,
    "undefined": UNSCORED,
}
_SOMNOTATE_OUT = {WAKE: "awake", NREM: "non-REM", REM: "REM", UNSCORED: "undefined"}


def _duration_rows(path):
    """Info lines (``*key<TAB>value``) and ``(label, end)`` rows."""
    info, rows = {}, []
    for line in _lines(path):
        if not line.strip():
            continue
        if line.startswith("*"):
            key, _, value = line[1:].partition("\t")
            info[key.strip()] = value.strip()
            continue
        label, sep, end = line.rpartition("\t")
        if not sep:  # visbrain splits on any whitespace
            label, _, end = line.strip().rpartition(" ")
        try:
            rows.append((label.strip(), float(end)))
        except ValueError:
            raise ValueError(
                f"{Path(path).name}: rows are '<stage><TAB><end s>', got {line!r}."
            ) from None
    if not rows:
        raise ValueError(f"{Path(path).name} holds no stage row.")
    return info, rows


def _read_duration(path, table, epoch_length, mapping, fmt):
    length = (
        DEFAULT_EPOCH_LENGTH
        if epoch_length is None
        else _positive(epoch_length, "epoch_length")
    )
    _, rows = _duration_rows(path)
    labels = [label for label, _ in rows]
    ends = np.array([end for _, end in rows])
    table = {**table, **(mapping or {})}
    if fmt == "somnotate":
        keyed = []
        for label in labels:
            low = label.lower()
            keyed.append(label if label in table else low)
            if low.endswith("(artefact)") and keyed[-1] not in table:
                keyed[-1] = label
                table[label] = ARTIFACT
        labels = keyed
    stages = _codes_to_stages(labels, table, "stages", path)
    starts = np.r_[0.0, ends[:-1]]
    return _bouts(starts, ends, stages, length, name=Path(path).name)


def _read_visbrain(path, epoch_length=None, mapping=None, **kw):
    return _read_duration(path, _VISBRAIN, epoch_length, mapping, "visbrain")


def _read_somnotate(path, epoch_length=None, mapping=None, **kw):
    return _read_duration(path, _SOMNOTATE, epoch_length, mapping, "somnotate")


def _bout_table(values, stages):
    length = _time_base(stages).epoch_length
    first, last = _runs(values)
    return [(values[a], b * length) for a, b in zip(first, last)], len(values) * length


def _write_visbrain(values, stages, proba, path, overwrite, **kw):
    bouts, total = _bout_table(values, stages)
    # Exact bout ends (not visbrain's last-sample times), as its docs show.
    lines = [f"*Duration_sec\t{total:.1f}"]
    lines += [f"{_VISBRAIN_OUT[v]}\t{end:.1f}" for v, end in bouts]
    _write_text(path, "\n".join(lines) + "\n", overwrite)


def _write_somnotate(values, stages, proba, path, overwrite, **kw):
    bouts, total = _bout_table(values, stages)
    width = max(len(_SOMNOTATE_OUT[v]) for v, _ in bouts)
    # Exactly two info lines: somnotate's reader skips two.
    lines = [f"*Duration_sec\t{total:.1f}", "*Datafile\tUnspecified"]
    lines += [f"{_SOMNOTATE_OUT[v]:<{width}}\t{end:.1f}" for v, end in bouts]
    _write_text(path, "\n".join(lines) + "\n", overwrite)


def _duration_labels(path, head):
    labels = set()
    for line in head.splitlines()[:-1] or head.splitlines():
        if line.strip() and not line.startswith("*"):
            labels.add(line.rpartition("\t")[0].strip() or line.split()[0])
    return labels


def _sniff_visbrain(path, head):
    labels = _duration_labels(path, head)
    return bool(labels) and labels <= set(_VISBRAIN) and "\t" in head


def _sniff_somnotate(path, head):
    labels = {
        lb.lower().removesuffix(" (artefact)") for lb in _duration_labels(path, head)
    }
    return bool(labels) and labels <= set(_SOMNOTATE) and "\t" in head


_register(
    _Format(
        name="visbrain",
        tool="visbrain (stage-duration)",
        suffixes=(".txt", ".csv"),
        holds=frozenset({WAKE, NREM, REM, ARTIFACT}),
        time_base="bout end times (s) from the recording's start",
        epoch_length="bouts",
        read=_read_visbrain,
        write=_write_visbrain,
        sniff=_sniff_visbrain,
        default_name="{stem}_visbrain.txt",
        notes="``*`` info lines, then ``<stage><TAB><end s>`` (Wake, N1, N2, N3, "
        "REM, Art)",
    )
)
_register(
    _Format(
        name="somnotate",
        tool="somnotate",
        suffixes=(".hyp",),
        holds=frozenset({WAKE, NREM, REM, UNSCORED}),
        time_base="bout end times (s) from the recording's start",
        epoch_length="bouts",
        read=_read_somnotate,
        write=_write_somnotate,
        sniff=_sniff_somnotate,
        default_name="{stem}_somnotate.hyp",
        notes="two ``*`` info lines, then ``<label><TAB><end:.1f>`` (awake, "
        "non-REM, REM, undefined; ``<stage> (artefact)`` read as artifact)",
    )
)


# --- visbrain per-window .txt + _description.txt ------------------------------


def _description_of(path):
    path = Path(path)
    if path.stem.endswith("_description"):
        return path.with_name(
            path.stem.removesuffix("_description") + path.suffix
        ), path
    return path, path.with_name(path.stem + "_description" + path.suffix)


def _read_sample(path, epoch_length=None, mapping=None, **kw):
    data, description = _description_of(path)
    if not description.exists():
        raise FileNotFoundError(
            f"No description file {description.name} beside {data.name} (visbrain's "
            "per-window hypnograms need it)."
        )
    pairs = dict(line.split()[:2] for line in _lines(description) if line.strip())
    if "time" not in pairs:
        raise ValueError(f"{description.name} has no 'time <window s>' line.")
    window = _positive(pairs.pop("time"), "the description's time")
    if epoch_length is not None and not np.isclose(float(epoch_length), window):
        raise ValueError(
            f"{description.name} says {window:g}-s windows, not epoch_length="
            f"{epoch_length}."
        )
    names = {"W": WAKE, "N1": NREM, "N2": NREM, "N3": NREM, "N4": NREM, "REM": REM}
    names.update({"Art": ARTIFACT, "Nde": ARTIFACT, "Mt": ARTIFACT})
    table = {}
    for key, code in pairs.items():
        if key not in names:
            raise ValueError(f"{description.name}: unknown stage name {key!r}.")
        table[int(code)] = names[key]
    table.update(mapping or {})
    codes = [int(float(v)) for v in _lines(data) if v.strip()]
    return _epochs(_codes_to_stages(codes, table, "values", data), window)


def _write_sample(values, stages, proba, path, overwrite, **kw):
    data, description = _description_of(path)
    if Path(path) != data:
        raise ValueError("Write the per-window values, not the _description file.")
    _check_target(description, overwrite)  # before the values are written
    code = {WAKE: 0, NREM: 3, REM: 4, ARTIFACT: -1}
    length = _time_base(stages).epoch_length
    _write_text(data, "".join(f"{code[v]}\n" for v in values), overwrite)
    text = f"time {length:g}\nW 0\nN1 1\nN2 2\nN3 3\nREM 4\nArt -1\n"
    _write_text(description, text, overwrite)


def _sniff_sample(path, head):
    data, description = _description_of(path)
    return description.exists() and data.exists()


_register(
    _Format(
        name="visbrain-sample",
        tool="visbrain (per-window values + description)",
        suffixes=(".txt", "_description.txt"),
        holds=frozenset({WAKE, NREM, REM, ARTIFACT}),
        time_base="one integer per window; the window (s) in the description",
        epoch_length="stored",
        read=_read_sample,
        write=_write_sample,
        sniff=_sniff_sample,
        default_name="{stem}_hypno.txt",
        companion="{stem}_hypno_description.txt",
        notes="values 0 W, 1-3 N1-N3, 4 REM, -1 Art, named in "
        "``<name>_description.txt``",
    )
)


# --- Elan .hyp ----------------------------------------------------------------

_ELAN = {
    0: WAKE,
    1: NREM,
    2: NREM,
    3: NREM,
    4: NREM,
    5: REM,
    -1: ARTIFACT,
    -2: ARTIFACT,
}


def _read_elan(path, epoch_length=None, mapping=None, **kw):
    length = (
        DEFAULT_EPOCH_LENGTH
        if epoch_length is None
        else _positive(epoch_length, "epoch_length")
    )
    lines = [ln for ln in _lines(path) if ln.strip()]
    if len(lines) < 4 or not lines[0].startswith("time_base"):
        raise ValueError(f"{Path(path).name}: an Elan .hyp starts with 'time_base'.")
    step = _positive(lines[0].split()[1], "time_base")  # seconds per value
    codes = [int(float(v)) for v in lines[4:]]
    stages = _codes_to_stages(codes, {**_ELAN, **(mapping or {})}, "values", path)
    starts = np.arange(len(stages)) * step
    return _bouts(starts, starts + step, stages, length, name=Path(path).name)


def _write_elan(values, stages, proba, path, overwrite, **kw):
    length = _time_base(stages).epoch_length
    if not length.is_integer():
        raise ValueError(
            f"Elan .hyp files hold one value per second; {length:g}-s epochs do "
            "not fill whole seconds (convert with to_epoch_length first)."
        )
    code = {WAKE: 0, NREM: 3, REM: 5, ARTIFACT: -1}
    per_second = np.repeat([code[v] for v in values], int(length))
    sfreq = stages.attrs.get("sfreq")
    header = [
        "time_base 1.000000",
        f"sampling_period {1.0 / sfreq if sfreq else 1.0:.8f}",
        f"epoch_nb {len(per_second)}",
        "epoch_list",
    ]
    _write_text(
        path, "\n".join(header + [str(c) for c in per_second]) + "\n", overwrite
    )


def _sniff_elan(path, head):
    return head.startswith("time_base")


_register(
    _Format(
        name="elan",
        tool="visbrain / Elan .hyp",
        suffixes=(".hyp",),
        holds=frozenset({WAKE, NREM, REM, ARTIFACT}),
        time_base="one value per second (``time_base``) from the recording's start",
        epoch_length="bouts",
        read=_read_elan,
        write=_write_elan,
        sniff=_sniff_elan,
        default_name="{stem}_elan.hyp",
        notes="4 header lines, then 0 Wake, 1-4 N1-N4, 5 REM, -1/-2 artifact",
    )
)
