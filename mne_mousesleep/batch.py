"""Scoring many recordings: files, folders or a BIDS dataset, resumably."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import pandas as pd
from mne.utils import ProgressBar, _validate_type, logger, verbose

from ._docs import fill_doc

#: Suffixes of the recordings found in folders (MNE readers and MiSleep .mat).
RECORDING_SUFFIXES = (
    ".edf",
    ".bdf",
    ".fif",
    ".fif.gz",
    ".gdf",
    ".set",
    ".vhdr",
    ".mat",
)
#: Output formats of the annotations.
FORMATS = ("csv", "fif", "tsv")
_SIDECAR = "_scoring.json"


def _recording_suffix(path):
    name = path.name.lower()
    for suffix in RECORDING_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def _stem(path):
    """File name without its recording suffix (and MNE's ``_raw``/``-raw``)."""
    stem = path.name[: -len(_recording_suffix(path) or path.suffix)]
    for tail in ("_raw", "-raw"):
        if stem.endswith(tail):
            stem = stem[: -len(tail)]
    return stem


def _is_bids_root(path):
    return path.is_dir() and (path / "dataset_description.json").is_file()


def _bids_recordings(root):
    """Return the recordings of a BIDS dataset as (path, BIDSPath) pairs."""
    try:
        from mne_bids import find_matching_paths
    except ImportError:
        raise ImportError(
            f"{root} is a BIDS dataset; reading it needs mne-bids "
            "(pip install mne-mousesleep[bids])."
        ) from None
    found = []
    for bids_path in find_matching_paths(root, datatypes="eeg", suffixes="eeg"):
        if _recording_suffix(bids_path.fpath) in (None, ".mat"):
            continue
        if "derivatives" in bids_path.fpath.relative_to(root).parts:
            continue
        found.append((bids_path.fpath, bids_path))
    return sorted(found, key=lambda item: str(item[0]))


def _find_jobs(inputs, out_dir):
    """One job per recording: where to read it and where to write its outputs."""
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    jobs = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"No such file or folder: {path}")
        if _is_bids_root(path):
            for fpath, bids_path in _bids_recordings(path):
                rel = fpath.parent.relative_to(path)
                base = Path(out_dir) if out_dir else path / "derivatives/mne-mousesleep"
                stem = fpath.name[: fpath.name.rindex("_eeg")]
                jobs.append(dict(path=fpath, bids=bids_path, out=base / rel, stem=stem))
        elif path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and _recording_suffix(p) and not p.name.startswith(".")
            )
            for fpath in files:
                rel = fpath.parent.relative_to(path)
                out = Path(out_dir) / rel if out_dir else fpath.parent
                jobs.append(dict(path=fpath, bids=None, out=out, stem=_stem(fpath)))
        else:
            out = Path(out_dir) if out_dir else path.parent
            jobs.append(dict(path=path, bids=None, out=out, stem=_stem(path)))
    if not jobs:
        raise ValueError(f"No recording found in {[str(p) for p in inputs]}.")
    seen = {}
    for job in jobs:
        key = (job["out"].resolve(), job["stem"])
        if key in seen:
            raise ValueError(
                f"{seen[key]} and {job['path']} would write the same outputs "
                f"({job['out'] / job['stem']}_*); rename one or score them "
                "into different --out-dir folders."
            )
        seen[key] = job["path"]
    return jobs


def _outputs(job, formats):
    """Output paths of a job, by kind."""
    out, stem = job["out"], job["stem"]
    paths = {}
    for fmt in formats:
        if fmt == "csv":
            paths["csv"] = out / f"{stem}_scoring.csv"
        elif fmt == "fif":
            paths["fif"] = out / f"{stem}_scoring-annot.fif"
        elif fmt == "tsv":
            paths["tsv"] = out / f"{stem}_scoring.tsv"
    if job["bids"] is not None:
        paths["events"] = out / f"{stem}_events.tsv"
    paths["stages"] = out / f"{stem}_stages.tsv"
    return paths


def _fingerprint(path):
    stat = Path(path).stat()
    return dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def _settings(model, picks, emg, merge_bouts):
    from . import __version__

    return dict(
        model=str(model) if model is not None else None,
        picks=picks,
        emg=emg,
        merge_bouts=bool(merge_bouts),
        version=__version__,
    )


def _is_up_to_date(job, paths, settings):
    sidecar = job["out"] / f"{job['stem']}{_SIDECAR}"
    if not sidecar.is_file() or not all(p.is_file() for p in paths.values()):
        return False
    try:
        info = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    return (
        info.get("input") == _fingerprint(job["path"])
        and info.get("settings") == settings
        and sorted(info.get("outputs", [])) == sorted(p.name for p in paths.values())
    )


def _atomic(path, write):
    """Call ``write(tmp)`` on a hidden temporary name, then rename it to ``path``.

    The temporary file keeps the suffix MNE needs (``-annot.fif``, ``.csv``);
    an interrupted run leaves at most a hidden temporary file, never a
    truncated output.
    """
    path = Path(path)
    tmp = path.with_name(f".tmp{os.getpid()}_{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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


_MODELS = {}


def _read_recording(fname, verbose=None):
    """Open a recording: a MiSleep ``.mat``, or any file MNE reads (not preloaded)."""
    import mne

    from .datasets import read_misleep_mat

    if _recording_suffix(Path(fname)) == ".mat":
        return read_misleep_mat(fname)
    return mne.io.read_raw(fname, preload=False, verbose=verbose)


def _read(job):
    if job["bids"] is not None:
        from mne_bids import read_raw_bids

        return read_raw_bids(job["bids"], verbose=None)
    return _read_recording(job["path"])


def _score_one(job, paths, settings, model, picks, emg, merge_bouts, n_threads):
    """Score one recording and write its outputs (runs in a worker)."""
    import torch

    if n_threads:
        torch.set_num_threads(n_threads)
    t0 = time.perf_counter()
    result = dict(file=str(job["path"]), status="scored", error="")
    # Warnings (e.g. an implausible amplitude) are kept in the summary.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _score_into(result, job, paths, settings, model, picks, emg, merge_bouts)
    messages = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
    result["warnings"] = " | ".join(messages)
    result["seconds"] = time.perf_counter() - t0
    return result


def _score_into(result, job, paths, settings, model, picks, emg, merge_bouts):
    from .hypnogram import to_annotations
    from .models import load_model
    from .scoring import predict_proba

    try:
        key = str(model)
        if key not in _MODELS:
            _MODELS[key] = load_model(model)
        raw = _read(job)
        # No explicit verbose here: MNE's temporary log levels are global, and
        # workers may be threads (a Dask cluster without processes).
        proba = predict_proba(raw, picks, model=_MODELS[key], emg=emg)
        annot = to_annotations(proba, merge_bouts=merge_bouts)
        per_epoch = to_annotations(proba) if merge_bouts else annot
        summary = stage_summary(per_epoch)
        first_time = proba.attrs["first_time"]
        writers = dict(
            csv=lambda tmp: annot.save(tmp),
            fif=lambda tmp: annot.save(tmp),
            tsv=lambda tmp: _annotations_table(annot, first_time).to_csv(tmp, sep="\t"),
            events=lambda tmp: _annotations_table(annot, first_time, bids=True).to_csv(
                tmp, sep="\t", index=False
            ),
            stages=lambda tmp: summary.round(3).to_csv(tmp, sep="\t"),
        )
        job["out"].mkdir(parents=True, exist_ok=True)
        for kind, path in paths.items():
            _atomic(path, writers[kind])
        sidecar = dict(
            input=_fingerprint(job["path"]),
            settings=settings,
            outputs=[p.name for p in paths.values()],
            model=proba.attrs["model"],
            ch_names=proba.attrs["ch_names"],
            emg_atonia=proba.attrs.get("emg_atonia"),
        )
        _atomic(
            job["out"] / f"{job['stem']}{_SIDECAR}",
            lambda tmp: tmp.write_text(json.dumps(sidecar, indent=1)),
        )
        result.update(_summary_row(summary, raw))
    except Exception as err:  # noqa: BLE001 (reported, the batch goes on)
        result.update(
            status="failed",
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(),
        )


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


def _summary_row(summary, raw):
    from .hypnogram import ANNOTATION_DESCRIPTIONS

    row = dict(
        hours=raw.n_times / raw.info["sfreq"] / 3600,
        epochs=int(summary["epochs"].sum()),
    )
    for stage, desc in ANNOTATION_DESCRIPTIONS.items():
        if stage == "unscored":
            continue
        row[f"{stage} %"] = (
            float(summary.loc[desc, "percent"]) if desc in summary.index else 0.0
        )
    return row


@verbose
@fill_doc
def score_files(
    inputs,
    out_dir=None,
    *,
    picks=None,
    model=None,
    emg=None,
    merge_bouts=False,
    formats=("csv",),
    overwrite=False,
    n_jobs=1,
    client=None,
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
    %(emg)s
    %(merge_bouts)s
    formats : tuple of str
        Formats of the annotations: ``"csv"`` (``<name>_scoring.csv``, read by
        :func:`mne.read_annotations`), ``"fif"`` (``<name>_scoring-annot.fif``),
        ``"tsv"`` (``<name>_scoring.tsv``: onset, duration, description).
    overwrite : bool
        If False (default), recordings whose outputs exist and are up to date
        (same input size and modification time, same settings and version,
        recorded in ``<name>_scoring.json``) are skipped; so an interrupted
        batch resumes where it stopped. If True, every recording is scored
        again.
    n_jobs : int
        Number of local worker processes (each gets ``cpu_count // n_jobs``
        torch threads). Ignored when ``client`` is given.
    client : distributed.Client | str | None
        Run the batch on a Dask cluster: a client or a scheduler address
        (``"tcp://host:8786"``). The workers need mne-mousesleep installed
        and the recordings and outputs on a shared file system.
    %(verbose)s

    Returns
    -------
    summary : pandas.DataFrame
        One row per recording: ``file``, ``status`` (``"scored"``,
        ``"skipped"`` or ``"failed"``), ``error``, ``hours``, ``epochs``, the
        percent of scored time per stage, ``seconds`` and ``outputs``. Files
        that fail (unreadable, no parietal channel, ...) are reported here and
        logged; the others are scored regardless. Warnings raised while
        scoring a recording (e.g. an implausible amplitude) are in
        ``warnings``.

    Raises
    ------
    FileNotFoundError
        If an input does not exist.
    ValueError
        If no recording is found, an unknown format is asked for, or two
        recordings would write the same outputs.

    Notes
    -----
    For each recording ``<name>`` the outputs are the annotations in the
    chosen formats, ``<name>_stages.tsv`` (epochs, minutes and percent per
    stage), for BIDS input ``<name>_events.tsv`` (BIDS columns ``onset``,
    ``duration``, ``trial_type``), and ``<name>_scoring.json`` (the model, the
    channels, the settings and a fingerprint of the input). Every file is
    written to a hidden temporary name and renamed when complete, and the
    JSON sidecar last, so an interrupted run never leaves a truncated output
    or a recording marked as done that is not.
    """
    _validate_type(n_jobs, "int", "n_jobs")
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs}.")
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"formats must be among {FORMATS}, got {formats}.")
    if model is not None and not isinstance(model, str | os.PathLike):
        raise TypeError("In a batch, model must be a registry name or a file path.")
    jobs = _find_jobs(inputs, out_dir)
    settings = _settings(model, picks, emg, merge_bouts)
    rows, todo = {}, []
    for ii, job in enumerate(jobs):
        paths = _outputs(job, formats)
        outputs = ", ".join(str(p) for p in paths.values())
        if not overwrite and _is_up_to_date(job, paths, settings):
            rows[ii] = dict(file=str(job["path"]), status="skipped", outputs=outputs)
        else:
            todo.append((ii, job, paths, outputs))
    logger.info(
        f"{len(jobs)} recording(s): {len(todo)} to score, "
        f"{len(jobs) - len(todo)} up to date"
    )
    args = (settings, model, picks, emg, merge_bouts)
    for ii, result, outputs in _run(todo, args, n_jobs, client):
        result["outputs"] = outputs
        if result.get("warnings"):
            logger.warning(f"{result['file']}: {result['warnings']}")
        if result["status"] == "failed":
            logger.warning(f"Failed: {result['file']}: {result['error']}")
            logger.debug(result.pop("traceback"))
        result.pop("traceback", None)
        rows[ii] = result
    summary = pd.DataFrame([rows[ii] for ii in range(len(jobs))])
    for column in ("error", "warnings", "seconds"):
        if column not in summary:
            summary[column] = float("nan") if column == "seconds" else ""
    summary[["error", "warnings"]] = summary[["error", "warnings"]].fillna("")
    first = ["file", "status", "error", "hours", "epochs"]
    first = [c for c in first if c in summary]
    rest = [c for c in summary if c not in first]
    return summary[first + rest]


def _run(todo, args, n_jobs, client):
    """Yield ``(index, result, outputs)`` as recordings finish, with progress."""
    if not todo:
        return
    if client is not None:
        gen = _run_dask(todo, args, client)
    elif n_jobs > 1 and len(todo) > 1:
        gen = _run_processes(todo, args, n_jobs)
    else:
        gen = (
            (ii, _score_one(job, paths, *args, None), out)
            for ii, job, paths, out in todo
        )
    # One step per finished recording; tqdm's ETA is per recording.
    yield from ProgressBar(gen, max_value=len(todo), mesg="Scoring recordings")


def _run_processes(todo, args, n_jobs):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    ctx = multiprocessing.get_context("spawn")  # torch and fork do not mix
    with ProcessPoolExecutor(min(n_jobs, len(todo)), mp_context=ctx) as pool:
        futures = {
            pool.submit(_score_one, job, paths, *args, threads): (ii, out)
            for ii, job, paths, out in todo
        }
        for future in as_completed(futures):
            ii, out = futures[future]
            yield ii, future.result(), out


def _run_dask(todo, args, client):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ImportError(
            "Scoring on a Dask cluster needs dask.distributed "
            "(pip install mne-mousesleep[dask])."
        ) from None
    own = isinstance(client, str)
    if own:
        client = Client(client)
    try:
        futures = {}
        for ii, job, paths, out in todo:
            future = client.submit(
                _score_one, job, paths, *args, None, pure=False, key=f"score-{ii}"
            )
            futures[future] = (ii, out)
        for future in as_completed(futures):
            ii, out = futures[future]
            yield ii, future.result(), out
    finally:
        if own:
            client.close()


def _print_summary(summary, file=sys.stdout):
    cols = [c for c in summary.columns if c not in ("outputs", "error", "warnings")]
    print(summary[cols].round(2).to_string(index=False), file=file)
