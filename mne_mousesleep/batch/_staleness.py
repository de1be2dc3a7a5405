"""Whether a recording's outputs are up to date: its sidecar against this run.

A recording's outputs are up to date when its sidecar says they were made
from the same input file (size and modification time) with the same
settings: every option of :class:`~mne_mousesleep.ScoringOptions` that
changes what is computed, the model (its name and weights' sha256, or the
sha256 of its file), the package version and the report settings. The
settings are kept in the sidecar as they are and as one sha256.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import hashlib
import json
from pathlib import Path

from .._fetch import _file_sha256 as _sha256
from .._version import __version__
from ..models._registry import DEFAULT_MODEL, MODELS


def _fingerprint(path):
    stat = Path(path).stat()
    return dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def _model_identity(model):
    """Return the model as plain values: its name and weights, or its file."""
    if model is None or (isinstance(model, str) and model in MODELS):
        name = model or DEFAULT_MODEL
        return dict(name=name, sha256=MODELS[name].card.sha256)
    path = Path(model)
    return dict(file=str(path), sha256=_sha256(path) if path.is_file() else None)


def _settings(options, report=None):
    """Return the settings that decide a recording's outputs (JSON-ready).

    Every option but those of :attr:`ScoringOptions.COMPUTE_ONLY
    <mne_mousesleep.ScoringOptions.COMPUTE_ONLY>`, with the model's identity,
    the package version and, with reports, their settings.
    """
    values = options.to_dict()
    for name in options.COMPUTE_ONLY:
        values.pop(name)
    values["model"] = _model_identity(options.model)
    values["version"] = __version__
    if report is not None:
        values["report"] = report
    return values


def _settings_sha256(settings):
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_sidecar(job):
    try:
        info = json.loads(job.sidecar.read_text())
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


def _changed(info, job, settings):
    """Return the settings (and the input) that differ from the sidecar's."""
    before = info.get("settings") or {}
    if "report" not in settings:  # fewer outputs asked for: not a change
        before = {k: v for k, v in before.items() if k != "report"}
    changed = []
    if _settings_sha256(before) != _settings_sha256(settings):
        changed = [
            k
            for k in sorted(set(settings) | set(before))
            if before.get(k) != settings.get(k)
        ] or ["settings"]
    if info.get("input") != _fingerprint(job.path):
        changed.insert(0, "input file")
    return changed


#: The note of a recording whose new outputs are made from its scoring.
FROM_SCORING = "new outputs made from the existing scoring (not scored again)"


def _report_added(info, changed):
    """Whether only reports were asked for since a complete scoring.

    Then the report is made from the sidecar's scoring result, the rest of
    the outputs kept as they are: the scoring does not depend on it.
    """
    before = (info.get("settings") or {}).get("report")
    return (
        changed == ["report"]
        and before is None
        and info.get("complete") is not False
        and isinstance(info.get("result"), dict)
    )


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
    changed = _changed(info, job, settings)
    if _report_added(info, changed) and len(existing) < len(paths):
        return "todo", FROM_SCORING, set()
    # Sidecars without hashes list their outputs only.
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


def _lock(job):
    from filelock import FileLock

    return FileLock(job.out / f".{job.stem}_scoring.lock", timeout=0)
