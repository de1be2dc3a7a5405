"""Scoring many recordings: files, folders or a BIDS dataset, resumably."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import json
import os
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path

import pandas as pd
from mne.utils import ProgressBar, _validate_type, logger, verbose

from ._docs import fill_doc
from ._fetch import _file_sha256 as _sha256
from .io._base import _FORMATS as _SCORING_FORMATS

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
#: Output formats: MNE annotations (csv, fif, tsv) and every format of
#: :func:`mne_mousesleep.write_scoring` ("annotations" is "fif"; BIDS input
#: gets its events.tsv anyway).
FORMATS = ("csv", "fif", "tsv") + tuple(sorted(_SCORING_FORMATS))
#: The most worker processes the default ``n_jobs`` starts (memory per worker).
MAX_DEFAULT_JOBS = 8
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


def _outputs(job, formats, report=False):
    """Output paths of a job, by kind."""
    out, stem = job["out"], job["stem"]
    paths = {}
    if report:  # the probabilities (for the study report) and the report
        paths["proba"] = out / f"{stem}_proba.csv"
        paths["report"] = out / f"{stem}_report.html"
    for fmt in formats:
        if fmt == "csv":
            paths["csv"] = out / f"{stem}_scoring.csv"
        elif fmt in ("fif", "annotations"):  # MNE's annotation file
            paths["fif"] = out / f"{stem}_scoring-annot.fif"
        elif fmt == "bids" and job["bids"] is not None:
            continue  # a BIDS dataset gets its events.tsv anyway (below)
        elif fmt == "tsv":
            paths["tsv"] = out / f"{stem}_scoring.tsv"
        else:  # a scoring tool's format (see mne_mousesleep.io)
            tool = _SCORING_FORMATS[fmt]
            paths[fmt] = out / tool.default_name.format(stem=stem)
            if tool.companion:
                paths[f"{fmt}+"] = out / tool.companion.format(stem=stem)
    if job["bids"] is not None:
        paths["events"] = out / f"{stem}_events.tsv"
    paths["stages"] = out / f"{stem}_stages.tsv"
    return paths


def _fingerprint(path):
    stat = Path(path).stat()
    return dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def _settings(model, picks, adapt, emg, smooth, merge_bouts, report=None):
    from . import __version__

    if isinstance(smooth, pd.DataFrame):  # a lab's transition matrix
        smooth = {"transition_matrix": smooth.round(8).to_dict()}
    return dict(
        model=str(model) if model is not None else None,
        picks=picks,
        adapt=adapt,
        emg=emg,
        smooth=smooth,
        merge_bouts=bool(merge_bouts),
        version=__version__,
        **({} if report is None else {"report": report}),
    )


def _read_sidecar(job):
    sidecar = job["out"] / f"{job['stem']}{_SIDECAR}"
    try:
        info = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _known_hashes(info):
    """Return the sha256 of each output that its sidecar vouches for, as sets."""
    known = {name: {h} for name, h in (info.get("sha256") or {}).items()}
    if info.get("complete") is False:  # an interrupted run: old or new content
        for name, hashes in (info.get("pending_sha256") or {}).items():
            known.setdefault(name, set()).update(hashes)
    return known


def _state(job, paths, settings):
    """Say what to do with a recording's outputs, without replacing any.

    Returns ``(state, note, replaceable)``: ``state`` is ``"todo"`` (no
    output exists; or only some do and those are up to date, and the missing
    ones are written; or a run was interrupted while writing them),
    ``"skipped"`` (all up to date), ``"edited"`` (an output differs from what
    was written: kept) or ``"stale"`` (outputs exist but the input or the
    settings changed, or no sidecar says where they come from: kept).
    ``replaceable`` names the existing outputs that an interrupted run wrote
    and that may be written again.
    """
    existing = [p for p in paths.values() if p.exists()]
    if not existing:
        return "todo", "", set()
    names = ", ".join(p.name for p in existing)
    info = _read_sidecar(job)
    if info is None:
        return (
            "stale",
            f"stale: {names} exist(s) without a sidecar; kept, pass --overwrite",
            set(),
        )
    known = _known_hashes(info)
    edited = [
        p.name for p in existing if p.name in known and _sha256(p) not in known[p.name]
    ]
    if edited:
        return (
            "edited",
            f"edited: {', '.join(edited)} changed since written; kept",
            set(),
        )
    before = info.get("settings") or {}
    changed = [
        k
        for k in sorted(set(settings) | set(before))
        if before.get(k) != settings.get(k)
    ]
    if info.get("input") != _fingerprint(job["path"]):
        changed.insert(0, "input file")
    # Sidecars of earlier versions list their outputs without hashes.
    ours = set(known) | set(info.get("outputs") or [])
    foreign = [p.name for p in existing if p.name not in ours]
    if changed or foreign:
        what = [f"{', '.join(changed)} changed"] if changed else []
        what += [f"{', '.join(foreign)} not written by this scoring"] if foreign else []
        return "stale", f"stale ({'; '.join(what)}): kept, pass --overwrite", set()
    if info.get("complete") is False:
        return "todo", "resuming an interrupted scoring", {p.name for p in existing}
    if len(existing) < len(paths):
        return "todo", "", set()
    return "skipped", "up to date", set()


def _tmp_path(path):
    """Return a hidden temporary name beside ``path``, with the same suffix.

    MNE needs the suffix (``-annot.fif``, ``.csv``); the process and thread
    make it unique between concurrent writers.
    """
    return path.with_name(f".tmp{os.getpid()}_{threading.get_ident()}_{path.name}")


def _move(tmp, path, overwrite):
    """Move a complete temporary file to ``path``.

    With ``overwrite=False`` the move never replaces a file that exists (a
    hard link, which fails if ``path`` exists): :class:`FileExistsError` is
    raised instead.
    """
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(
            f"{path} appeared while it was being written; kept"
        ) from None
    except OSError:  # no hard links on this file system
        if path.exists():
            raise FileExistsError(f"{path} exists; kept") from None
        os.replace(tmp, path)
    else:
        tmp.unlink()


def _atomic(path, write, overwrite=True):
    """Call ``write(tmp)`` on a hidden temporary name, then move it to ``path``.

    An interrupted run leaves at most a hidden temporary file, never a
    truncated output. With ``overwrite=False`` an existing ``path`` is never
    replaced (see :func:`_move`).
    """
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        write(tmp)
        _move(tmp, path, overwrite)
    finally:
        if tmp.exists():
            tmp.unlink()


def _check_writable(folder):
    """Return why outputs cannot be written to ``folder``, or None.

    The folder (and its parents) is created if needed, and a temporary file
    is written to it and removed.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        return f"cannot write outputs to {folder}: it is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".mne_mousesleep_check"):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        return f"cannot write outputs to {folder}: {reason}"
    return None


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
#: What MNE's EDF/BDF reader says of a file whose header counts more data
#: records than the file holds (a truncated or still-growing file).
_TRUNCATED = "does not match the file size"


def _read_recording(fname, *, allow_truncated=False):
    """Open a recording: a MiSleep ``.mat``, or any file MNE reads (not preloaded).

    Returns the Raw and the reader's warnings (messages), caught whatever
    MNE's log level; the reader's information messages are not shown. A
    truncated EDF/BDF raises :class:`ValueError` unless
    ``allow_truncated``.
    """
    import mne

    from .datasets import read_misleep_mat

    # At MNE's "warning" level the reader's information messages are not
    # shown, and its warnings are Python warnings, caught here.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if _recording_suffix(Path(fname)) == ".mat":
                raw = read_misleep_mat(fname)
            else:
                raw = mne.io.read_raw(fname, preload=False, verbose="warning")
        except OSError:
            raise  # missing file, permissions: said as they are
        except Exception as err:  # noqa: BLE001 (readers raise all kinds)
            if "annotations channel" not in str(err) or _recording_suffix(
                Path(fname)
            ) not in (".edf", ".bdf"):
                raise ValueError(f"{fname} could not be read: {err}") from err
            # MNE's bare Exception for an EDF annotation channel that is not
            # UTF-8: the signals are fine; read the annotations as latin1.
            raw = mne.io.read_raw(
                fname, preload=False, encoding="latin1", verbose="warning"
            )
            warnings.warn(
                "the annotation channel is not valid UTF-8 (corrupt?); it was "
                "read as latin1, so annotation texts may be garbled",
                RuntimeWarning,
                stacklevel=2,
            )
    return _check_read(fname, raw, caught, allow_truncated)


def _check_read(fname, raw, caught, allow_truncated):
    """Return the Raw and the reader's warnings; refuse a truncated file."""
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    if not allow_truncated and any(_TRUNCATED in m for m in messages):
        raise ValueError(
            f"{fname} looks truncated: the record count of its header does not "
            f"match the file size (only {raw.times[-1]:.0f} s could be read). "
            "Scoring it as complete would be wrong; pass allow_truncated=True "
            "(--allow-truncated) to score what it holds."
        )
    return raw, messages


def _read(job, allow_truncated=False):
    if job["bids"] is not None:
        from mne_bids import read_raw_bids

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = read_raw_bids(job["bids"], verbose="warning")
        return _check_read(job["path"], raw, caught, allow_truncated)
    return _read_recording(job["path"], allow_truncated=allow_truncated)


def _lock(job):
    from filelock import FileLock

    return FileLock(job["out"] / f".{job['stem']}_scoring.lock", timeout=0)


def _score_one(job, paths, run, n_threads):
    """Score one recording and write its outputs (runs in a worker).

    ``run`` holds what is the same for every recording of the batch (see
    :func:`score_files`). The recording's lock is held meanwhile; if another
    run holds it, nothing is done (status ``"busy"``). Its state is checked
    again under the lock.
    """
    import torch
    from filelock import Timeout

    if n_threads:
        torch.set_num_threads(n_threads)
    t0 = time.perf_counter()
    result = dict(file=str(job["path"]), status="scored", error="", note="")
    lock = _lock(job)
    try:
        lock.acquire()
    except Timeout:
        result.update(status="busy", note="in progress elsewhere (locked)")
        return result
    except OSError as err:
        result.update(status="failed", error=f"cannot lock outputs: {err}")
        return result
    try:
        state, note, replaceable = _state(job, paths, run["settings"])
        if state != "todo" and not run["overwrite"]:
            result.update(status=state, note=note)
            return result
        result["note"] = note
        # Warnings (e.g. an implausible amplitude) are kept in the summary.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _score_into(result, job, paths, run, replaceable)
    finally:
        lock.release()
    messages = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
    result["warnings"] = " | ".join(messages)
    result["seconds"] = time.perf_counter() - t0
    return result


def _score_into(result, job, paths, run, replaceable):
    from .hypnogram import to_annotations
    from .models import load_model
    from .quality import NO_CONTEXT, describe_quality
    from .scoring import predict_proba

    try:
        key = str(run["model"])
        if key not in _MODELS:
            _MODELS[key] = load_model(run["model"])
        raw, reader_warnings = _read(job, run["allow_truncated"])
        # On a Dask cluster no explicit verbose: MNE's temporary log levels are
        # global, and its workers may be threads.
        proba = predict_proba(
            raw,
            run["picks"],
            model=_MODELS[key],
            adapt=run["adapt"],
            emg=run["emg"],
            smooth=run["smooth"],
            reject_by_annotation=run["reject_by_annotation"],
            check_units=run["check_units"],
            device=run["device"],
            # Local workers (this process or loky's): no chatter between the
            # progress bar's lines; what matters is in the quality record.
            verbose="error" if run["quiet"] else None,
        )
        quality = proba.attrs["quality"]
        quality["reader_warnings"] = reader_warnings
        annot = to_annotations(proba, merge_bouts=run["merge_bouts"])
        per_epoch = to_annotations(proba) if run["merge_bouts"] else annot
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
        if run["report"] is not None:
            writers["proba"] = lambda tmp: _proba_table(proba).to_csv(tmp)
            writers["report"] = lambda tmp: _report(raw, proba, job, run, tmp)
        for kind in paths:
            if kind not in writers:
                writers[kind] = _tool_writer(proba, kind, paths)
        _write_outputs(
            job,
            paths,
            writers,
            run["overwrite"],
            replaceable,
            dict(
                input=_fingerprint(job["path"]),
                settings=run["settings"],
                outputs=[p.name for p in paths.values()],
                model=proba.attrs["model"],
                ch_names=proba.attrs["ch_names"],
                adapt=proba.attrs.get("adapt"),
                emg_atonia=proba.attrs.get("emg_atonia"),
                hmm=_hmm_record(proba.attrs.get("hmm")),
                trust=proba.attrs.get("trust"),
                quality=quality,
                time=dict(
                    meas_date=None
                    if proba.attrs["meas_date"] is None
                    else proba.attrs["meas_date"].isoformat(),
                    first_time=proba.attrs["first_time"],
                    epoch_length=proba.attrs["epoch_length"],
                    sfreq=proba.attrs.get("sfreq"),
                ),
                **_entities(job),
            ),
        )
        result.update(_summary_row(summary, raw))
        no_context = quality["unscored_reasons"].get(NO_CONTEXT, 0)
        result.update(
            unscored=quality["n_unscored"],
            bad_epochs=quality["n_unscored"] - no_context,
            input_warnings=len(quality["warnings"])
            + len(quality["reader_warnings"])
            + bool(quality["likely_unit_error"]),
            quality=describe_quality(quality),
            trust=proba.attrs["trust"]["verdict"],
            trust_reasons="; ".join(proba.attrs["trust"]["reasons"]),
        )
    except Exception as err:  # noqa: BLE001 (reported, the batch goes on)
        expected = isinstance(err, ValueError | TypeError | OSError)
        result.update(
            status="failed",
            error=str(err) if expected else f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(),
        )


def _entities(job):
    """Mouse (subject) and session of a recording, for the study report."""
    if job["bids"] is not None:
        return dict(subject=job["bids"].subject, session=job["bids"].session or "")
    mouse, _, session = job["stem"].partition("_")
    return dict(subject=mouse, session=session)


def _proba_table(proba):
    """Probabilities with the final stage of each epoch (HMM path included)."""
    from .hypnogram import proba_to_stages

    table = proba.copy()
    table["stage"] = proba_to_stages(proba).astype(str).to_numpy()
    table.index.name = "onset"
    return table.round(6)


def _report(raw, proba, job, run, tmp):
    from .report import report

    rep = report(
        raw,
        proba,
        lights_on=run["report"]["lights_on"],
        title=job["stem"],
        verbose="error",
    )
    rep.save(tmp, open_browser=False, overwrite=True, verbose="error")


def _tool_writer(proba, kind, paths):
    """Write one file of a scoring tool's format (or its companion file).

    The format's writer names its files itself (a companion beside the
    main file), so it writes into a temporary folder and the file asked for
    is moved to ``tmp``.
    """
    from .io import write_scoring

    fmt = kind.rstrip("+")
    main = paths[fmt]

    def write(tmp):
        with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".tmp") as folder:
            write_scoring(proba, Path(folder) / main.name, format=fmt)
            os.replace(Path(folder) / paths[kind].name, tmp)

    return write


def _hmm_record(hmm):
    """Return the HMM record for the sidecar: what it did, not the whole path."""
    if not hmm:
        return None
    return dict(n_changed=hmm["n_changed"], transition=hmm["transition"])


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
    out = job["out"]
    out.mkdir(parents=True, exist_ok=True)
    sidecar_path = out / f"{job['stem']}{_SIDECAR}"
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
            sidecar_path,
            dict(sidecar, complete=False, pending_sha256=pending, sha256=hashes),
        )
        for path, tmp in tmps.items():
            _move(tmp, path, overwrite or path.name in replaceable)
        _write_json(sidecar_path, dict(sidecar, complete=True, sha256=hashes))
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
    adapt="gain",
    emg="auto",
    smooth="hmm",
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
    device="auto",
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
        same settings and version, and the files as written, all recorded in
        ``<name>_scoring.json``) are skipped, so an interrupted batch resumes
        where it stopped. Outputs that exist but are stale (input or settings
        changed, or no sidecar) or were edited since they were written are
        kept and reported (status ``"stale"`` or ``"edited"``). If True, every
        recording is scored again and its outputs replaced.
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
    %(device)s
    %(verbose)s

    Returns
    -------
    summary : pandas.DataFrame
        One row per recording: ``file``, ``status`` (``"scored"``,
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
        If no recording is found, an unknown format is asked for, or two
        recordings would write the same outputs.

    Notes
    -----
    For each recording ``<name>`` the outputs are the annotations in the
    chosen formats, ``<name>_stages.tsv`` (epochs, minutes and percent per
    stage), for BIDS input ``<name>_events.tsv`` (BIDS columns ``onset``,
    ``duration``, ``trial_type``), and ``<name>_scoring.json`` (the model, the
    channels, the settings, a fingerprint of the input, the sha256 of each
    output and the input-quality record). Every output is written to a hidden
    temporary name; the sidecar records their sha256 (marked incomplete)
    before they are moved into place, and is completed last. So an
    interrupted run never leaves a truncated output, never marks as done a
    recording that is not, and the next run tells its own half-written
    outputs (written again) from files edited by hand (kept).

    While a recording is scored, a lock file ``.<name>_scoring.lock`` in its
    output folder is held (filelock), so that two runs on the same
    folder never score it twice.
    """
    if n_jobs is None:
        n_jobs = min(max(1, (os.cpu_count() or 1) // 2), MAX_DEFAULT_JOBS)
    _validate_type(n_jobs, "int", "n_jobs")
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer or None, got {n_jobs}.")
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"formats must be among {FORMATS}, got {formats}.")
    if model is not None and not isinstance(model, str | os.PathLike):
        raise TypeError("In a batch, model must be a registry name or a file path.")
    jobs = _find_jobs(inputs, out_dir)
    from .adapt import _check_adapt
    from .smoothing import _check_smooth

    _check_adapt(adapt)
    _check_smooth(smooth, ("Wake", "REM", "NREM", "pre-REM", "artifact"))
    _validate_type(report, bool, "report")
    from ._device import _resolve_device

    _resolve_device(device)  # before anything is scored
    report_settings = dict(lights_on=lights_on) if report else None
    settings = _settings(model, picks, adapt, emg, smooth, merge_bouts, report_settings)
    # Before anything is scored: can the outputs be written?
    unwritable = {}
    for folder in dict.fromkeys(job["out"] for job in jobs):
        reason = _check_writable(folder)
        if reason is not None:
            unwritable[folder] = reason
            logger.warning(reason)
    rows, todo = {}, []
    for ii, job in enumerate(jobs):
        paths = _outputs(job, formats, report)
        outputs = ", ".join(str(p) for p in paths.values())
        row = dict(file=str(job["path"]), outputs=outputs, error="", note="")
        if job["out"] in unwritable:
            rows[ii] = dict(row, status="failed", error=unwritable[job["out"]])
            continue
        state, note, _ = _state(job, paths, settings)
        if state == "todo" or overwrite:
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
    run = dict(
        settings=settings,
        model=model,
        picks=picks,
        adapt=adapt,
        emg=emg,
        smooth=smooth,
        merge_bouts=merge_bouts,
        overwrite=overwrite,
        allow_truncated=allow_truncated,
        reject_by_annotation=reject_by_annotation,
        check_units=check_units,
        quiet=client is None,
        report=report_settings,
        device=device,
    )
    for ii, result, outputs in _run(todo, run, n_jobs, client):
        result["outputs"] = outputs
        # Each recording's problems are in its row of the summary (printed by
        # the command line after the progress bar), logged here as they come.
        if result.get("warnings"):
            logger.info(f"{result['file']}: {result['warnings']}")
        if result["status"] == "failed":
            logger.info(f"Failed: {result['file']}: {result['error']}")
            logger.debug(result.pop("traceback", ""))
        elif result["status"] != "scored":
            logger.info(f"{result['file']}: {result['note']}")
        result.pop("traceback", None)
        rows[ii] = result
    summary = pd.DataFrame([rows[ii] for ii in range(len(jobs))])
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
    first = ["file", "status", "error", "note", "hours", "epochs"]
    rest = [c for c in summary if c not in first]
    summary = summary[first + rest]
    if report:
        _study(jobs, out_dir, summary, lights_on, groups)
    return summary


def _study(jobs, out_dir, summary, lights_on, groups):
    """Write study_report.html over the recordings whose outputs are there."""
    from .report import study_report

    sidecars = [
        job["out"] / f"{job['stem']}{_SIDECAR}"
        for job, status in zip(jobs, summary["status"])
        if status != "failed" and (job["out"] / f"{job['stem']}_proba.csv").is_file()
    ]
    if not sidecars:
        logger.warning("No recording scored: no study report.")
        return
    folder = (
        Path(out_dir)
        if out_dir
        else Path(os.path.commonpath([str(p.parent) for p in sidecars]))
    )
    rep = study_report(
        sidecars, groups=groups, lights_on=lights_on, link_from=folder, verbose="error"
    )
    path = folder / "study_report.html"
    _atomic(
        path,
        lambda tmp: rep.save(tmp, open_browser=False, overwrite=True, verbose="error"),
    )
    logger.info(f"Study report: {path}")


def _run(todo, run, n_jobs, client):
    """Yield ``(index, result, outputs)`` as recordings finish, with progress."""
    if not todo:
        return
    if client is not None:
        gen = _run_dask(todo, run, client)
    elif n_jobs > 1 and len(todo) > 1:
        gen = _run_processes(todo, run, n_jobs)
    else:
        gen = (
            (ii, _score_one(job, paths, run, None), out) for ii, job, paths, out in todo
        )
    # One step per finished recording; tqdm's ETA is per recording.
    yield from ProgressBar(gen, max_value=len(todo), mesg="Scoring recordings")


def _watch_parent(ppid):
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:  # the parent is gone (even by SIGKILL)
            os._exit(1)


def _worker_init(parent_pid):
    """Start a thread that ends this worker process when its parent dies.

    The parent's pid is passed rather than read here: the parent may already
    be gone by the time a worker has imported what it needs.
    """
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _run_processes(todo, run, n_jobs):
    from concurrent.futures import as_completed

    from joblib.externals.loky import get_reusable_executor

    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    executor = get_reusable_executor(
        max_workers=min(n_jobs, len(todo)),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    futures = {
        executor.submit(_score_one, job, paths, run, threads): (ii, out)
        for ii, job, paths, out in todo
    }
    try:
        for future in as_completed(futures):
            ii, out = futures[future]
            yield ii, future.result(), out
    finally:
        for future in futures:
            future.cancel()


def _run_dask(todo, run, client):
    from ._dask import _dask_client

    with _dask_client(client, "Scoring") as client:
        from distributed import as_completed

        futures = {}
        for ii, job, paths, out in todo:
            future = client.submit(
                _score_one, job, paths, run, None, pure=False, key=f"score-{ii}"
            )
            futures[future] = (ii, out)
        for future in as_completed(futures):
            ii, out = futures[future]
            yield ii, future.result(), out


def _print_summary(summary, file=None):
    hidden = ("outputs", "error", "warnings", "note", "quality", "trust_reasons")
    cols = [c for c in summary.columns if c not in hidden]
    print(summary[cols].round(2).to_string(index=False), file=file or sys.stdout)
