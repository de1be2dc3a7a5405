"""The recordings of a batch: where each is read and where its outputs go."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import os
from pathlib import Path
from typing import NamedTuple

from ..io import _FORMATS as _SCORING_FORMATS
from ..io._recording import _recording_suffix

#: Output formats: MNE annotations (csv, fif, tsv) and every format of
#: :func:`mne_mousesleep.write_scoring` ("annotations" is "fif"; BIDS input
#: gets its events.tsv anyway).
FORMATS = ("csv", "fif", "tsv") + tuple(sorted(_SCORING_FORMATS))
_SIDECAR = "_scoring.json"


class _Job(NamedTuple):
    """One recording of a batch (or one animal of a recording of several)."""

    path: Path  # the recording file
    bids: object  # its mne_bids.BIDSPath, or None
    out: Path  # the folder of its outputs
    stem: str  # the name of its outputs, before the suffixes
    animal: str | None = None  # the animal of a recording of several
    channels: dict | None = None  # its channels: {"eeg": ..., "emg": ...}
    recording: str | None = None  # the stem of the recording of the animal
    error: str | None = None  # why the recording cannot be split into animals

    @property
    def source(self):
        """What :func:`~mne_mousesleep.io.read_recording` reads."""
        return self.path if self.bids is None else self.bids

    @property
    def sidecar(self):
        """The path of the recording's JSON sidecar."""
        return self.out / f"{self.stem}{_SIDECAR}"


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


def _jobs_of(path, out_dir):
    """Return the jobs of one input: a BIDS root, a folder or a file."""
    if _is_bids_root(path):
        base = Path(out_dir) if out_dir else path / "derivatives/mne-mousesleep"
        return [
            _Job(fpath, bids, base / fpath.parent.relative_to(path), _bids_stem(fpath))
            for fpath, bids in _bids_recordings(path)
        ]
    if path.is_dir():
        files = _recordings_in(path)
        return [
            _Job(
                fpath,
                None,
                Path(out_dir) / fpath.parent.relative_to(path)
                if out_dir
                else fpath.parent,
                _stem(fpath),
            )
            for fpath in files
        ]
    return [_Job(path, None, Path(out_dir) if out_dir else path.parent, _stem(path))]


def _recordings_in(folder):
    """Return the recording files under ``folder``, following symbolic links.

    Linked folders are entered once each (a link back up is not a loop); a
    dangling link with a recording's suffix is returned too, so that the
    batch reports it as failed (never skipped without a word).
    """
    found, seen = [], set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            fpath = Path(root) / name
            if name.startswith(".") or not _recording_suffix(fpath):
                continue
            if fpath.is_file() or (fpath.is_symlink() and not fpath.exists()):
                found.append(fpath)
    return sorted(found)


def _bids_stem(fpath):
    return fpath.name[: fpath.name.rindex("_eeg")]


def _find_jobs(inputs, out_dir, animals=None):
    """One job per recording: where to read it and where to write its outputs.

    With ``animals`` (``"auto"``, a layout dict or a layout file), one job
    per animal of each recording instead (see :func:`_animal_jobs`).
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    jobs = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"No such file or folder: {path}")
        jobs += _jobs_of(path, out_dir)
    if not jobs:
        raise ValueError(f"No recording found in {[str(p) for p in inputs]}.")
    if animals is not None:
        jobs = [animal for job in jobs for animal in _animal_jobs(job, animals)]
    seen = {}
    for job in jobs:
        key = (job.out.resolve(), job.stem)
        if key in seen:
            raise ValueError(
                f"{seen[key]} and {job.path} would write the same outputs "
                f"({job.out / job.stem}_*); rename one or score them "
                "into different --out-dir folders."
            )
        seen[key] = job.path
    return jobs


def _animal_jobs(job, animals):
    """Split a recording's job into one job per animal of its layout.

    The layout is found from the recording's header (``"auto"``) or taken
    from ``animals`` and checked against it. The outputs of an animal are
    named ``<name>_<animal>_*``; for BIDS input its subject is the animal
    (``sub-<animal>``). A recording whose layout cannot be found or does not
    fit gives one job that fails with the reason.
    """
    from ..io import read_recording
    from ..scoring.animals import _animal_tag, _resolve_layout

    try:
        raw, _ = read_recording(job.source, allow_truncated=True)
        layout = _resolve_layout(raw, animals)
    except (OSError, ValueError, TypeError) as err:
        return [job._replace(error=str(err))]
    out = []
    for animal, channels in layout.items():
        tag = _animal_tag(animal)
        stem, folder = f"{job.stem}_{tag}", job.out
        if job.bids is not None:  # sub-<animal>: in its name and its folder
            old = f"sub-{job.bids.subject}"
            stem = job.stem.replace(old, f"sub-{tag}", 1)
            folder = Path(*(f"sub-{tag}" if p == old else p for p in job.out.parts))
        out.append(
            job._replace(
                out=folder,
                stem=stem,
                animal=animal,
                channels=channels,
                recording=job.stem,
            )
        )
    return out


def _outputs(job, formats, report=False):
    """Output paths of a job, by kind."""
    out, stem = job.out, job.stem
    paths = {}
    if report:  # the probabilities (for the study report) and the report
        paths["proba"] = out / f"{stem}_proba.csv"
        paths["report"] = out / f"{stem}_report.html"
    for fmt in formats:
        if fmt == "csv":
            paths["csv"] = out / f"{stem}_scoring.csv"
        elif fmt in ("fif", "annotations"):  # MNE's annotation file
            paths["fif"] = out / f"{stem}_scoring-annot.fif"
        elif fmt == "bids" and job.bids is not None:
            continue  # a BIDS dataset gets its events.tsv anyway (below)
        elif fmt == "tsv":
            paths["tsv"] = out / f"{stem}_scoring.tsv"
        else:  # a scoring tool's format (see mne_mousesleep.io)
            tool = _SCORING_FORMATS[fmt]
            paths[fmt] = out / tool.default_name.format(stem=stem)
            if tool.companion:
                paths[f"{fmt}+"] = out / tool.companion.format(stem=stem)
    if job.bids is not None:
        paths["events"] = out / f"{stem}_events.tsv"
    paths["stages"] = out / f"{stem}_stages.tsv"
    return paths


def _entities(job):
    """Mouse (subject) and session of a recording, for the study report.

    An animal of a recording of several is its own mouse; the recording is
    its session (BIDS: the recording's session).
    """
    if job.animal is not None:
        session = (job.bids.session or "") if job.bids is not None else job.recording
        return dict(subject=job.animal, session=session, animal=job.animal)
    if job.bids is not None:
        return dict(subject=job.bids.subject, session=job.bids.session or "")
    mouse, _, session = job.stem.partition("_")
    return dict(subject=mouse, session=session)
