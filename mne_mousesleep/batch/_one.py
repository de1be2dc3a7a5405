"""One recording: read, score, write its outputs (in a worker of the batch)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import dataclasses
import time
import traceback
import warnings
from pathlib import Path
from typing import NamedTuple

from mne.io import BaseRaw
from mne.utils import verbose

from .._stages import _description
from ..hypnogram import ANNOTATION_DESCRIPTIONS, UNSCORED
from ..io import read_recording
from ..models import load_model
from ..scoring import ScoringOptions, ScoringResult, _score
from ..scoring.animals import _animal_options
from ..scoring.check import _no_context
from ..scoring.quality import describe_quality
from ._staleness import FROM_SCORING, _lock, _read_sidecar, _settings, _state
from ._write import _sidecar, _write_outputs, _writers


class _Run(NamedTuple):
    """What is the same for every recording of a batch."""

    options: ScoringOptions  # the scoring options
    settings: dict  # what decides the outputs (see _staleness._settings)
    overwrite: bool
    quiet: bool  # local workers: no chatter between the progress bar's lines
    report: dict | None  # the report settings (lights_on), or None


def _for_job(run, job):
    """Return the run of one job: an animal's channels in its options, settings."""
    if job.animal is None:
        return run
    options = _animal_options(run.options, job.animal, job.channels)
    settings = dict(_settings(options, run.report), animal=job.animal)
    return run._replace(options=options, settings=settings)


#: The models loaded in this process, by what the options name.
_MODELS = {}


@verbose
def _read_and_score(source, options, *, verbose=None):
    """Read a recording and score it: the one path of a single recording.

    ``source`` is a path, a :class:`mne_bids.BIDSPath` or a Raw. Every batch
    worker and the command line's single recording (``--out``, ``--proba``,
    ``--example``) score through here. Returns the Raw and the
    :class:`~mne_mousesleep.ScoringResult`, the reader's warnings in its
    quality record.
    """
    if isinstance(source, BaseRaw):
        raw, reader_warnings = source, []
    else:
        raw, reader_warnings = read_recording(
            source, allow_truncated=options.allow_truncated
        )
    result = _score(raw, options)
    quality = dict(result.quality, reader_warnings=reader_warnings)
    return raw, dataclasses.replace(result, quality=quality)


def _score_one(job, paths, run, n_threads):
    """Score one recording and write its outputs (runs in a worker).

    The recording's lock is held meanwhile; if another run holds it, nothing
    is done (status ``"busy"``). Its state is checked again under the lock.
    """
    import torch
    from filelock import Timeout

    if n_threads:
        torch.set_num_threads(n_threads)
    t0 = time.perf_counter()
    run = _for_job(run, job)
    result = dict(file=str(job.path), status="scored", error="", note="")
    if job.animal is not None:
        result["animal"] = job.animal
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
        state, note, replaceable = _state(job, paths, run.settings)
        if state != "todo" and not run.overwrite:
            result.update(status=state, note=note)
            return result
        # With overwrite, what was there is replaced, whatever its state.
        result["note"] = f"replaced ({state})" if state != "todo" else note
        # Warnings (e.g. an implausible amplitude) are kept in the summary.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _score_into(result, job, paths, run, replaceable)
    finally:
        _release(lock)
    messages = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
    result["warnings"] = " | ".join(messages)
    result["seconds"] = time.perf_counter() - t0
    return result


def _release(lock):
    """Release a recording's lock and remove its file (no hidden files left).

    The file is removed while the lock is held: another run that opened it
    meanwhile either fails to lock it (busy) or locks a file no longer in
    the folder and checks the outputs' state again under it.
    """
    try:
        Path(lock.lock_file).unlink(missing_ok=True)
    except OSError:
        pass  # a read-only folder keeps it; it holds no data
    lock.release()


def _loaded(options):
    """Return the options with their model loaded (once per process)."""
    key = str(options.model)
    if key not in _MODELS:
        _MODELS[key] = load_model(options.model)
    return options.replace(model=_MODELS[key])


def _score_into(row, job, paths, run, replaceable):
    """Score ``job`` and write its outputs; fill its row of the summary."""
    try:
        # On a Dask cluster no explicit verbose: MNE's temporary log levels are
        # global, and its workers may be threads. Local workers: no chatter
        # between the progress bar's lines (the quality record keeps it).
        if row.get("note") == FROM_SCORING:  # only a report was added
            raw = read_recording(
                job.source, allow_truncated=run.options.allow_truncated
            )[0]
            info = _read_sidecar(job)
            result = ScoringResult.from_dict(info["result"])
        else:
            raw, result = _read_and_score(
                job.source,
                _loaded(run.options),
                verbose="error" if run.quiet else None,
            )
        writers, summary = _writers(raw, result, job, paths, run)
        figures = _summary_row(summary, raw, result)
        sidecar = _sidecar(job, paths, run, result, figures)
        _write_outputs(job, paths, writers, run.overwrite, replaceable, sidecar)
        row.update(figures)
    except Exception as err:  # noqa: BLE001 (reported, the batch goes on)
        expected = isinstance(err, ValueError | TypeError | OSError)
        row.update(
            status="failed",
            error=str(err) if expected else f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(),
        )


def _summary_row(summary, raw, result):
    """Return a recording's row of the summary: length, stages, quality, trust."""
    quality = result.quality
    row = dict(
        hours=raw.n_times / raw.info["sfreq"] / 3600,
        epochs=int(summary["epochs"].sum()),
    )
    for stage in [*ANNOTATION_DESCRIPTIONS, *result.roles]:  # a lab's own too
        if stage == UNSCORED:
            continue
        desc = _description(stage)
        row[f"{stage} %"] = (
            float(summary.loc[desc, "percent"]) if desc in summary.index else 0.0
        )
    no_context = quality["unscored_reasons"].get(_no_context(result.card), 0)
    row.update(
        unscored=quality["n_unscored"],
        bad_epochs=quality["n_unscored"] - no_context,
        input_warnings=len(quality["warnings"])
        + len(quality["reader_warnings"])
        + bool(quality["likely_unit_error"]),
        quality=describe_quality(quality),
        trust=result.trust["verdict"],
        trust_reasons="; ".join(result.trust["reasons"]),
    )
    return row
