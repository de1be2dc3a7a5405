"""Writing a recording's outputs and its sidecar, never clobbering."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from .._fetch import _file_sha256 as _sha256
from ..hypnogram import proba_to_stages, to_annotations
from ..io import write_scoring
from ..io._review import _review_record
from ..io._write import _atomic, _move, _tmp_path
from ._jobs import _entities
from ._staleness import _fingerprint, _known_hashes, _read_sidecar, _settings_sha256


def stage_summary(annotations):
    """Time per stage of scored annotations.

    Parameters
    ----------
    annotations : mne.Annotations
        As returned by :func:`mne_mousesleep.score`.

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by stage description, with columns ``epochs``, ``minutes`` and
        ``percent`` (of the scored time; unscored epochs have NaN percent).
    """
    df = pd.DataFrame(
        {"description": annotations.description, "duration": annotations.duration}
    )
    table = df.groupby("description", sort=False)["duration"].agg(["count", "sum"])
    table.columns = ["epochs", "seconds"]
    table["minutes"] = table["seconds"] / 60
    scored = table.drop(index="Sleep stage ?", errors="ignore")["seconds"].sum()
    table["percent"] = 100 * table["seconds"] / scored if scored else 0.0
    table.loc[table.index == "Sleep stage ?", "percent"] = float("nan")
    table.index.name = "stage"
    return table[["epochs", "minutes", "percent"]]


def _writers(raw, result, job, paths, run):
    """One function ``write(tmp)`` per output of a recording, by kind."""
    proba = result.to_frame()
    merge = run.options.merge_bouts
    annot = to_annotations(proba, merge_bouts=merge)
    summary = stage_summary(to_annotations(proba) if merge else annot)
    first_time = result.first_time
    writers = dict(
        csv=lambda tmp: annot.save(tmp),
        fif=lambda tmp: annot.save(tmp),
        tsv=lambda tmp: _annotations_table(annot, first_time).to_csv(tmp, sep="\t"),
        events=lambda tmp: _annotations_table(annot, first_time, bids=True).to_csv(
            tmp, sep="\t", index=False
        ),
        stages=lambda tmp: summary.round(3).to_csv(tmp, sep="\t"),
    )
    if run.report is not None:
        writers["proba"] = lambda tmp: _proba_table(proba).to_csv(tmp)
        writers["report"] = lambda tmp: _report(raw, result, job, run, tmp)
    for kind in paths:
        if kind not in writers:
            writers[kind] = _tool_writer(proba, kind, paths)
    return writers, summary


def _sidecar(job, paths, run, result, figures):
    """Return what a recording's sidecar says, but the hashes of its outputs.

    ``figures`` is the recording's row of the batch summary (hours, stages,
    quality, trust): a later run's summary shows it for a recording it skips.
    """
    reviewed = job.out / f"{job.stem}_reviewed.csv"
    review = None
    if reviewed.is_file():
        try:
            review = _review_record(reviewed)[1]
        except (OSError, ValueError) as err:  # not the window's file: said, not fatal
            review = dict(file=reviewed.name, error=str(err))
    return dict(
        file=str(job.path),
        summary=figures,
        input=_fingerprint(job.path),
        settings=run.settings,
        settings_sha256=_settings_sha256(run.settings),
        outputs=[p.name for p in paths.values()],
        **_entities(job),
        result=result.to_dict(),
        # The expert's review beside the outputs (the batch never writes it).
        review=review,
    )


def _proba_table(proba):
    """Probabilities with the final stage of each epoch (HMM path included)."""
    table = proba.copy()
    table["stage"] = proba_to_stages(proba).astype(str).to_numpy()
    table.index.name = "onset"
    return table.round(6)


def _report(raw, result, job, run, tmp):
    from ..report import report

    rep = report(
        raw,
        result,
        lights_on=run.report["lights_on"],
        title=job.stem,
        verbose="error",
    )
    rep.save(tmp, open_browser=False, overwrite=True, verbose="error")


def _tool_writer(proba, kind, paths):
    """Write one file of a scoring tool's format (or its companion file).

    The format's writer names its files itself (a companion beside the
    main file), so it writes into a temporary folder and the file asked for
    is moved to ``tmp``.
    """
    fmt = kind.rstrip("+")
    main = paths[fmt]

    def write(tmp):
        with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".tmp") as folder:
            # Quiet: the file is written under a temporary name (the batch
            # says where its outputs go).
            write_scoring(
                proba, Path(folder) / main.name, format=fmt, verbose="warning"
            )
            os.replace(Path(folder) / paths[kind].name, tmp)

    return write


def _write_json(path, info):
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(info, indent=1)))


def _write_outputs(job, paths, writers, overwrite, replaceable, sidecar):
    """Write the outputs of a recording, then its sidecar, never clobbering.

    Every output is first written to a hidden temporary file; a sidecar
    marked incomplete records their sha256 (and those of the outputs they
    replace) before any is moved into place, and the sidecar is completed
    last. So a run interrupted at any point leaves outputs that the next run
    recognises as its own (and writes again) rather than as edited by hand.
    Existing outputs are replaced only with ``overwrite`` or when they are in
    ``replaceable``; up-to-date ones are kept as they are.
    """
    job.out.mkdir(parents=True, exist_ok=True)
    previous = _known_hashes(_read_sidecar(job) or {})
    tmps, hashes, pending = {}, {}, {}
    try:
        for kind, path in paths.items():
            if path.exists() and not (overwrite or path.name in replaceable):
                hashes[path.name] = _sha256(path)  # up to date: kept as it is
                continue
            tmp = _tmp_path(path)
            writers[kind](tmp)
            tmps[path] = tmp
            hashes[path.name] = _sha256(tmp)
            pending[path.name] = sorted(
                {hashes[path.name], *previous.get(path.name, ())}
            )
        _write_json(
            job.sidecar,
            dict(sidecar, complete=False, pending_sha256=pending, sha256=hashes),
        )
        for path, tmp in tmps.items():
            _move(tmp, path, overwrite or path.name in replaceable)
        _write_json(job.sidecar, dict(sidecar, complete=True, sha256=hashes))
    finally:
        for tmp in tmps.values():
            if tmp.exists():
                tmp.unlink()


def _annotations_table(annot, first_time, bids=False):
    """Annotations as a table, onsets in seconds from the first sample.

    With BIDS events columns (``onset``, ``duration``, ``trial_type``) when
    ``bids``.
    """
    onset = annot.onset - (first_time if annot.orig_time is not None else 0.0)
    if bids:
        return pd.DataFrame(
            dict(onset=onset, duration=annot.duration, trial_type=annot.description)
        )
    return pd.DataFrame(
        dict(onset=onset, duration=annot.duration, description=annot.description)
    ).set_index("onset")
