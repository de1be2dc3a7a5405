"""Scoring many recordings: files, folders or a BIDS dataset, resumably.

``_jobs`` finds the recordings and names their outputs; ``_staleness`` tells
whether their outputs are up to date (the sidecar against the settings);
``_one`` reads, scores and writes one recording (in a worker), through the
same single-recording path as the command line; ``_write`` writes its
files and sidecar atomically; ``_workers`` runs the recordings here, in local
worker processes or on a Dask cluster.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import json
import os
from pathlib import Path

import pandas as pd
from mne.utils import _validate_type, logger, verbose

from .._device import _resolve_device
from .._docs import fill_doc
from ..io._write import _atomic, _check_writable
from ..scoring._options import _takes_options
from ..scoring.animals import _animal_options
from ._jobs import FORMATS, _find_jobs, _outputs
from ._one import _for_job, _Run
from ._staleness import _settings, _state
from ._workers import _run
from ._write import stage_summary

__all__ = ["FORMATS", "score_files", "stage_summary"]

#: The most worker processes the default ``n_jobs`` starts (memory per worker).
MAX_DEFAULT_JOBS = 8
#: Columns of the batch summary that come first, in this order.
_FIRST = ["file", "animal", "status", "error", "note", "hours", "epochs"]


@_takes_options
@verbose
@fill_doc
def score_files(
    inputs,
    out_dir=None,
    *,
    picks=None,
    model=None,
    adapt="gain",
    emg="auto",
    smooth="hsmm",
    merge_bouts=False,
    formats=("csv",),
    overwrite=False,
    n_jobs=None,
    client=None,
    allow_truncated=False,
    reject_by_annotation=True,
    check_units=True,
    report=False,
    lights_on=None,
    groups=None,
    animals=None,
    device="auto",
    precision="auto",
    options=None,
    verbose=None,
):
    """Score many recordings and write one set of outputs per recording.

    Parameters
    ----------
    inputs : path-like | list of path-like
        Recording files (any format :func:`mne.io.read_raw` reads, or a
        MiSleep ``.mat``), folders (searched recursively for such files) or
        BIDS dataset roots (folders with ``dataset_description.json``; their
        EEG recordings are read with :func:`mne_bids.read_raw_bids`).
    out_dir : path-like | None
        Folder of the outputs, which mirrors the sub-folders of a folder
        input. None (default) writes next to each recording, or for a BIDS
        dataset into ``<root>/derivatives/mne-mousesleep/``.
    %(picks_score)s
    %(model)s
    %(adapt)s
    %(emg)s
    %(smooth)s
    %(merge_bouts)s
    formats : tuple of str
        Formats of the annotations: ``"csv"`` (``<name>_scoring.csv``, read by
        :func:`mne.read_annotations`), ``"fif"`` (``<name>_scoring-annot.fif``),
        ``"tsv"`` (``<name>_scoring.tsv``: onset, duration, description); and
        any format of :func:`mne_mousesleep.write_scoring` by its name (e.g.
        ``"faster2"``: ``<name>.faster2.stage.csv``, ``"misleep"``:
        ``<name>_misleep.txt``, ``"accusleep"``: ``<name>_labels.mat``; the
        names are in :ref:`scoring-formats`), so that the lab's tool opens the
        scores for correction.
    overwrite : bool
        If False (default), no existing output is ever replaced. Recordings
        whose outputs are up to date (same input size and modification time,
        same options, model and version, and the files as written, all
        recorded in ``<name>_scoring.json``) are skipped, so an interrupted
        batch resumes where it stopped. Outputs that exist but are stale
        (input or settings changed, or no sidecar) or were edited since they
        were written are kept and reported (status ``"stale"`` or
        ``"edited"``). If True, every recording is scored again and its
        outputs replaced.
    n_jobs : int | None
        Number of local worker processes, each scoring one recording at a
        time with ``cpu_count // n_jobs`` torch threads. None (default) uses
        one process per 2 CPU cores, at most 8 (each may hold a recording's
        data, up to about 2 GB for 24 h at 1 kHz in memory): one recording
        already keeps 2 cores busy, so on a 2-core machine more processes
        only compete (``n_jobs=2`` is slower than 1 there). Workers
        are joblib's loky processes and end with the process that
        started them, even if it is killed. Ignored when ``client`` is given.
    client : distributed.Client | str | None
        Run the batch on a Dask cluster: a client or a scheduler address
        (``"tcp://host:8786"``). The workers need mne-mousesleep installed
        and the recordings and outputs on a shared file system.
    allow_truncated : bool
        Score EDF/BDF files whose header counts more data than the file holds
        (truncated copies, or recordings still being written), as far as they
        go. If False (default) such a file fails with the reason.
    %(reject_by_annotation)s
    %(check_units)s
    report : bool
        Also write, per recording, ``<name>_report.html`` (an
        :class:`mne.Report`, see :func:`mne_mousesleep.report`) and
        ``<name>_proba.csv`` (the probabilities and the stage of each epoch),
        and over all recordings ``study_report.html`` (see
        :func:`mne_mousesleep.study_report`; in ``out_dir``, else in the
        common folder of the outputs), rebuilt from the outputs on disk, so
        recordings skipped as up to date are in it too.
    lights_on : str | None
        Clock time of lights on (``"HH:MM"``) for the reports.
    groups : path-like | pandas.DataFrame | None
        Group table of the study report (see
        :func:`mne_mousesleep.study_report`).
    animals : None | "auto" | dict | path-like
        Recordings of several animals: ``"auto"`` splits each recording into
        the animals that :func:`~mne_mousesleep.find_animals` finds from its
        channel names; a layout dict or file (see
        :func:`~mne_mousesleep.score_animals`) gives them. Each animal is
        scored on its own channels as if it had its own file, into outputs
        ``<name>_<animal>_*`` with a sidecar and a report each; for BIDS input
        the animal is the subject (``sub-<animal>``); the study report treats
        each animal as a mouse. A recording whose layout cannot be found or
        does not fit fails with the reason. None (default): one animal per
        recording.
    %(device)s
    %(precision_score)s
    %(options)s
    %(verbose)s

    Returns
    -------
    summary : pandas.DataFrame
        One row per recording (per animal with ``animals``, then with its
        ``animal``): ``file``, ``status`` (``"scored"``,
        ``"skipped"`` (up to date), ``"stale"`` or ``"edited"`` (outputs
        kept, see ``overwrite``), ``"busy"`` (another run is scoring it: its
        lock file ``.<name>_scoring.lock`` is held) or ``"failed"``),
        ``error``, ``note``, ``hours``, ``epochs``, the percent of scored time
        per stage, ``unscored`` (epochs without a score, for any reason),
        ``bad_epochs`` (of them, those unscored for bad data),
        ``input_warnings`` (warnings of the quality record: amplitude, picked
        bad channel, reader, unit), ``quality`` (the input-quality record in a
        line: unscored epochs by
        reason, amplitude, warnings; the whole record, reader warnings
        included, is in the JSON sidecar), ``seconds`` and ``outputs``. When
        the outputs of a recording cannot be written (read-only folder, a
        file in the way), it fails before anything is scored. Files that fail
        (unreadable, truncated, no parietal channel, ...) are reported here
        and logged; the others are scored regardless. Warnings raised while
        scoring a recording (e.g. an implausible amplitude) are in
        ``warnings``.

    Raises
    ------
    FileNotFoundError
        If an input does not exist.
    ValueError
        If no recording is found, an unknown format is asked for, two
        recordings would write the same outputs, or ``picks`` or an EMG
        channel is given with ``animals`` (the layout gives them).

    Notes
    -----
    For each recording ``<name>`` the outputs are the annotations in the
    chosen formats, ``<name>_stages.tsv`` (epochs, minutes and percent per
    stage), for BIDS input ``<name>_events.tsv`` (BIDS columns ``onset``,
    ``duration``, ``trial_type``), and ``<name>_scoring.json`` (a fingerprint of the
    input, the settings and their sha256: every option of
    :class:`~mne_mousesleep.ScoringOptions` but ``batch_size`` and ``device``,
    the model's name and sha256 or its file's sha256, the package version;
    the sha256 of each output; and under ``"result"`` the whole
    :class:`~mne_mousesleep.ScoringResult`, from which
    :func:`~mne_mousesleep.report` and :func:`~mne_mousesleep.study_report`
    rebuild without scoring again). An output is up to date when all of these
    match. Every output is written to a hidden
    temporary name; the sidecar records their sha256 (marked incomplete)
    before they are moved into place, and is completed last. So an
    interrupted run never leaves a truncated output, never marks as done a
    recording that is not, and the next run tells its own half-written
    outputs (written again) from files edited by hand (kept).

    While a recording is scored, a lock file ``.<name>_scoring.lock`` in its
    output folder is held (filelock), so that two runs on the same
    folder never score it twice.
    """
    n_jobs = _check_batch(options, formats, n_jobs, report)
    if animals is not None:  # picks or an EMG channel beside a layout: refused
        _animal_options(options, None, dict(eeg=None, emg=None))
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    jobs = _find_jobs(inputs, out_dir, animals)
    report_settings = dict(lights_on=lights_on) if report else None
    run = _Run(
        options=options,
        settings=_settings(options, report_settings),
        overwrite=overwrite,
        quiet=client is None,
        report=report_settings,
    )
    rows, todo = _plan(jobs, formats, run)
    for ii, result, outputs in _run(todo, run, n_jobs, client):
        rows[ii] = _finished(result, outputs)
    for ii, job in enumerate(jobs):  # kept outputs: their figures, as written
        if rows[ii]["status"] in ("skipped", "busy", "stale", "edited"):
            rows[ii] = _with_figures(rows[ii], job.sidecar)
    summary = _summary(rows, len(jobs))
    if report:
        _study(jobs, out_dir, lights_on, groups)
    return summary


def _with_figures(row, sidecar):
    """Return a summary row completed with the figures of its sidecar."""
    try:
        figures = json.loads(Path(sidecar).read_text()).get("summary") or {}
    except (OSError, ValueError, AttributeError):
        figures = {}
    return {**figures, **row}


def _whole_summary(summary, out_dir):
    """Return ``summary`` with a row for every other recording of ``out_dir``.

    The recordings scored into the folder by earlier runs (from other inputs)
    are read from their sidecars, status ``"earlier run"``, so that the
    folder's ``scoring_summary.tsv`` always holds the whole study.
    """
    animals = summary["animal"] if "animal" in summary else [None] * len(summary)
    known = {
        (str(Path(f).resolve()), _no_nan(a)) for f, a in zip(summary["file"], animals)
    }
    rows = []
    for sidecar in sorted(Path(out_dir).rglob("*_scoring.json")):
        try:
            info = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            continue
        file = info.get("file") if isinstance(info, dict) else None
        if not file or "summary" not in info:
            continue
        key = (str(Path(file).resolve()), info.get("animal"))
        if key in known:
            continue
        known.add(key)
        rows.append(
            dict(
                info["summary"],
                file=file,
                **({"animal": key[1]} if key[1] is not None else {}),
                status="earlier run",
                note="from its sidecar",
            )
        )
    if not rows:
        return summary
    extra = pd.DataFrame(rows)
    return pd.concat([summary, extra], ignore_index=True)[
        list(summary.columns) + [c for c in extra.columns if c not in summary]
    ]


def _no_nan(value):
    return (
        None
        if value is None or (isinstance(value, float) and value != value)
        else value
    )


def _check_batch(options, formats, n_jobs, report):
    """Check the batch's own arguments before anything is read; return n_jobs."""
    if n_jobs is None:
        n_jobs = min(max(1, (os.cpu_count() or 1) // 2), MAX_DEFAULT_JOBS)
    _validate_type(n_jobs, "int", "n_jobs")
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer or None, got {n_jobs}.")
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"formats must be among {FORMATS}, got {formats}.")
    if options.model is not None and not isinstance(options.model, str | os.PathLike):
        raise TypeError("In a batch, model must be a registry name or a file path.")
    _validate_type(report, bool, "report")
    _resolve_device(options.device)  # before anything is scored
    return n_jobs


def _plan(jobs, formats, run):
    """Rows of the recordings not to score (their state), and the jobs to score.

    Output folders that cannot be written fail their recordings before
    anything is scored.
    """
    unwritable = {}
    for folder in dict.fromkeys(job.out for job in jobs):
        reason = _check_writable(folder)
        if reason is not None:
            unwritable[folder] = reason
            logger.warning(reason)
    rows, todo = {}, []
    for ii, job in enumerate(jobs):
        paths = _outputs(job, formats, run.report is not None)
        outputs = ", ".join(str(p) for p in paths.values())
        row = dict(file=str(job.path), outputs=outputs, error="", note="")
        if job.animal is not None:
            row["animal"] = job.animal
        if job.error is not None:  # the recording cannot be split into animals
            rows[ii] = dict(row, status="failed", error=job.error)
            logger.warning(f"{job.path}: {job.error}")
            continue
        if job.out in unwritable:
            rows[ii] = dict(row, status="failed", error=unwritable[job.out])
            continue
        state, note, _ = _state(job, paths, _for_job(run, job).settings)
        if state == "todo" or run.overwrite:
            todo.append((ii, job, paths, outputs))
        else:
            rows[ii] = dict(row, status=state, note=note)
    counts = pd.Series([r["status"] for r in rows.values()]).value_counts()
    logger.info(
        ", ".join(
            [f"{len(jobs)} recording(s): {len(todo)} to score"]
            + [f"{n} {k}" for k, n in counts.items()]
        )
    )
    return rows, todo


def _finished(result, outputs):
    """Log a finished recording's problems (its summary row says them too)."""
    result["outputs"] = outputs
    if result.get("warnings"):
        logger.info(f"{result['file']}: {result['warnings']}")
    if result["status"] == "failed":
        logger.info(f"Failed: {result['file']}: {result['error']}")
        logger.debug(result.pop("traceback", ""))
    elif result["status"] != "scored":
        logger.info(f"{result['file']}: {result['note']}")
    result.pop("traceback", None)
    return result


def _summary(rows, n_jobs):
    """Return the summary table of a batch, one row per recording, in input order."""
    summary = pd.DataFrame([rows[ii] for ii in range(n_jobs)])
    for column in ("error", "note", "warnings", "seconds", "hours", "epochs"):
        if column not in summary:
            summary[column] = "" if column in ("error", "note", "warnings") else None
    summary[["error", "note", "warnings"]] = summary[
        ["error", "note", "warnings"]
    ].fillna("")
    for column in ("hours", "seconds"):
        summary[column] = pd.to_numeric(summary[column]).astype(float)
    for column in ("epochs", "unscored", "bad_epochs", "input_warnings"):
        if column in summary:
            summary[column] = pd.to_numeric(summary[column]).astype("Int64")
    rest = [c for c in summary if c not in _FIRST]
    first = [c for c in _FIRST if c in summary or c != "animal"]
    return summary[first + rest]


def _study(jobs, out_dir, lights_on, groups):
    """Write study_report.html over every recording of the output folder(s).

    Rebuilt from all the sidecars there (earlier runs' too), each verified;
    those that cannot be used are listed in it and logged.
    """
    from ..report._study import _study_report

    folders = [Path(out_dir)] if out_dir else list(dict.fromkeys(j.out for j in jobs))
    n_found = sum(len(list(f.rglob("*_scoring.json"))) for f in folders if f.is_dir())
    if not n_found:
        logger.warning("No recording scored: no study report.")
        return
    if n_found == 1:  # one recording: its own report says it all
        logger.info("One recording: its report, no study report.")
        return
    folder = (
        Path(out_dir)
        if out_dir
        else Path(os.path.commonpath([str(f) for f in folders]))
    )
    try:
        rep, _ = _study_report(
            folders, groups, None, lights_on, "Sleep study", folder, "list"
        )
    except FileNotFoundError as err:
        logger.warning(f"No study report: {err}")
        return
    path = folder / "study_report.html"
    _atomic(
        path,
        lambda tmp: rep.save(tmp, open_browser=False, overwrite=True, verbose="error"),
    )
    logger.info(f"Study report: {path}")
