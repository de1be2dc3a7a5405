"""The report of a study, from the outputs of a batch (without scoring again)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import html
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from mne.utils import _check_option, logger, verbose

from .._docs import fill_doc
from .._stages import NREM, PRE_REM, REM, SCORED_STAGES, WAKE, _roles, _time_base
from ..stats import phase_statistics, sleep_statistics
from ._figures import (
    _group_figure,
    _percent_by_phase,
    _stacked_hypnograms,
)
from ._html import _add_figure, _table
from ._recording import _read_result, _reviewed_stages

_KEY_COLUMNS = ("recording", "mouse", "participant_id", "subject")


#: The outputs of a batch by which a recording without its sidecar is found.
_OUTPUT_SUFFIXES = ("_scoring.csv", "_scoring.tsv", "_scoring.fif", "_proba.csv",
                    "_stages.tsv", "_report.html")  # fmt: skip
ON_INVALID = ("list", "raise")


def _verify(sidecar):
    """Check a recording's sidecar and the outputs it vouches for.

    Returns the problem (a sentence) or None: the sidecar unreadable, from an
    earlier version or of an interrupted run; an output it lists missing, or
    changed since it was written (its sha256 differs: edited or truncated).
    """
    from .._fetch import _file_sha256

    sidecar = Path(sidecar)
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as err:
        return f"{sidecar.name} unreadable (truncated or edited?): {err}"
    if not isinstance(info, dict) or "result" not in info:
        return f"{sidecar.name} holds no scoring result (an earlier version's)"
    if info.get("complete") is False:
        return f"{sidecar.name}: its scoring was interrupted while writing"
    for name, expected in (info.get("sha256") or {}).items():
        path = sidecar.with_name(name)
        if not path.is_file():
            return f"{name} missing"
        if _file_sha256(path) != expected:
            return f"{name} changed since it was written (edited or truncated)"
    return None


def _orphans(folder, stems):
    """Return the outputs in ``folder`` of recordings without a sidecar."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        for suffix in _OUTPUT_SUFFIXES:
            if path.name.endswith(suffix) and path.is_file():
                stem = path.name[: -len(suffix)]
                ours = path.name.startswith(".") or path.name == "study_report.html"
                if stem not in stems and not ours:
                    found.setdefault((path.parent, stem), []).append(path.name)
    return found


def _find_recordings(inputs):
    """Return the sidecars of ``inputs`` and the recordings left out, with why."""
    sidecars, folders = [], []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            sidecars += sorted(item.rglob("*_scoring.json"))
            folders.append(item)
        elif item.is_file():
            sidecars.append(item)
        else:
            raise FileNotFoundError(f"No such file or folder: {item}")
    left_out, good = [], []
    for sidecar in sidecars:
        problem = _verify(sidecar)
        stem = sidecar.name[: -len("_scoring.json")]
        if problem is None:
            good.append(sidecar)
        else:
            left_out.append(
                dict(recording=stem, folder=str(sidecar.parent), problem=problem)
            )
    stems = {s.name[: -len("_scoring.json")] for s in sidecars}
    for folder in folders:
        for (parent, stem), names in _orphans(folder, stems).items():
            left_out.append(
                dict(
                    recording=stem,
                    folder=str(parent),
                    problem=f"no {stem}_scoring.json beside {', '.join(names)}",
                )
            )
    return good, left_out


def _load_recording(sidecar):
    """Read what a batch wrote of one recording: its sidecar's scoring result."""
    info = json.loads(Path(sidecar).read_text())
    stem = Path(sidecar).name[: -len("_scoring.json")]
    result = _read_result(sidecar)
    stages, review = _reviewed_stages(sidecar, result)
    return dict(
        stem=stem,
        folder=Path(sidecar).parent,
        mouse=info.get("subject") or stem.split("_")[0],
        session=info.get("session") or "",
        verdict=(result.trust or {}).get("verdict", ""),
        stages=stages,
        review=review,
        report=Path(sidecar).with_name(f"{stem}_report.html"),
    )


def _read_groups(groups, group_column):
    if groups is None:
        return None, None
    if not isinstance(groups, pd.DataFrame):
        path = Path(groups)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        groups = pd.read_csv(path, sep=sep, dtype=str)
    keys = [c for c in groups.columns if c in _KEY_COLUMNS]
    if not keys:
        raise ValueError(
            f"The group table needs a column among {_KEY_COLUMNS}, got "
            f"{list(groups.columns)}."
        )
    key = keys[0]
    if group_column is None:
        others = [c for c in groups.columns if c not in _KEY_COLUMNS]
        group_column = "group" if "group" in others else (others[0] if others else None)
    if group_column not in groups.columns:
        raise ValueError(
            f"group_column={group_column!r} is not a column of the group table "
            f"{list(groups.columns)}."
        )
    table = groups[[key, group_column]].astype(str)
    if key in ("participant_id", "subject"):  # BIDS: sub-01 and 01 alike
        table[key] = table[key].str.removeprefix("sub-")
    return dict(zip(table[key], table[group_column])), (key, group_column)


def _study_rows(recordings, lights_on):
    rows = []
    for rec in recordings:
        stages = rec["stages"]
        row = dict(recording=rec["stem"], mouse=rec["mouse"], session=rec["session"])
        row["verdict"] = rec["verdict"]
        review = rec.get("review")
        row["expert review"] = (
            "none" if review is None else f"{review['corrected']} corrected"
        )
        total = sleep_statistics(stages)
        roles = _roles(stages)  # a lab's own classes of sleep roles count too
        sleep = [NREM, PRE_REM, REM]
        sleep += [c for c, r in roles.items() if r in ("NREM", "pre-REM", "REM")]
        row["total sleep min"] = sum(total[f"{s} min"] for s in sleep)
        phases = {"total": total}
        if lights_on is not None and _time_base(stages).meas_date is not None:
            ph = phase_statistics(stages, lights_on=lights_on)
            phases = {"light": ph.loc["light"], "dark": ph.loc["dark"], "total": total}
        for phase, stats in phases.items():
            for stage in SCORED_STAGES:
                row[f"{stage} % {phase}"] = stats[f"{stage} %"]
        row["REM latency min"] = total[f"latency {REM} min"]
        for stage in (WAKE, NREM, REM):
            row[f"{stage} bouts"] = total[f"{stage} bouts"]
        rows.append(row)
    return pd.DataFrame(rows)


def _group_statistics(table, mapping, key):
    """Return group means and SEM per metric, and an exploratory test of each."""
    from scipy import stats as sps

    column = "recording" if key == "recording" else "mouse"
    groups = table[column].map(mapping)
    if groups.isna().any():
        missing = sorted(table.loc[groups.isna(), column])
        raise ValueError(f"No group for {missing} in the group table.")
    metrics = [
        c
        for c in table.columns
        if ("%" in c or c in ("total sleep min", "REM latency min"))
        and table[c].notna().any()
    ]
    rows = []
    for metric in metrics:
        row = {"metric": metric}
        samples = []
        for name in sorted(groups.unique()):
            v = table.loc[groups == name, metric].astype(float).dropna().to_numpy()
            row[f"{name} mean"] = v.mean() if len(v) else np.nan
            row[f"{name} SEM"] = (
                v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan
            )
            row[f"{name} n"] = len(v)
            samples.append(v)
        usable = [v for v in samples if len(v) > 1]
        if usable and all(np.ptp(v) < 1e-9 for v in usable):
            row["test"], row["p (uncorrected)"] = "no spread", np.nan
        elif len(usable) == 2 and len(samples) == 2:
            res = sps.ttest_ind(*usable, equal_var=False)
            row["test"], row["p (uncorrected)"] = "Welch t", float(res.pvalue)
        elif len(usable) > 2 and len(usable) == len(samples):
            res = sps.f_oneway(*usable)
            row["test"], row["p (uncorrected)"] = "one-way ANOVA", float(res.pvalue)
        else:
            row["test"], row["p (uncorrected)"] = "too few", np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("metric"), groups


@verbose
@fill_doc
def study_report(
    inputs,
    *,
    groups=None,
    group_column=None,
    lights_on=None,
    title="Sleep study",
    link_from=None,
    on_invalid="list",
    verbose=None,
):
    """Make a report of a study from the outputs of a batch, without re-scoring.

    Parameters
    ----------
    inputs : path-like | list of path-like
        Folders of batch outputs (searched recursively for
        ``<name>_scoring.json`` sidecars) or sidecar files, written by
        :func:`~mne_mousesleep.score_files`: each holds its recording's
        :class:`~mne_mousesleep.ScoringResult`, read here (with
        ``report=True`` the batch also writes the per-recording reports that
        the table links to).
    groups : path-like | pandas.DataFrame | None
        A group table: a CSV/TSV (or DataFrame) with a key column
        (``recording``, the name of a recording's outputs; ``mouse``; or
        BIDS ``participant_id``, e.g. the dataset's ``participants.tsv``) and
        a group column (genotype, treatment...).
    group_column : str | None
        The group column (default: ``"group"``, else the first column that is
        not a key).
    lights_on : str | None
        Clock time of lights on, ``"HH:MM"``: stage percentages per light and
        dark phase and hypnograms on a common ZT axis.
    title : str
        Title of the report.
    link_from : path-like | None
        Folder the report will be saved in, so that its links to the
        per-recording reports are relative and resolve (default: the common
        folder of the inputs).
    on_invalid : "list" | "raise"
        What to do with a recording that cannot be used: a sidecar unreadable,
        of an interrupted run or of an earlier version; an output its sidecar
        lists missing, or changed since it was written (its sha256 differs:
        edited or truncated, e.g. a ``<name>_proba.csv`` cut short); outputs
        without their sidecar; an animal of the group table without a
        scoring. ``"list"`` (default): leave it out of every table and
        statistic, and list it with its problem at the top of the report (a
        "Left out" section) and in the log (warnings); ``"raise"``: raise
        :class:`ValueError` listing them.
    %(verbose)s

    Returns
    -------
    report : mne.Report
        Sections: Recordings (one row per recording: mouse, session, trust
        verdict, total sleep, percent of scored time per stage and phase,
        REM latency, bouts; links to the per-recording reports), Hypnograms
        (all recordings on a common ZT axis), Stages by phase (per mouse) and,
        with ``groups``, Groups (mean ± SEM per metric and phase, plotted, and
        an exploratory test per metric: Welch's t-test for two groups, one-way
        ANOVA for more; p-values are uncorrected for the number of metrics).

    Raises
    ------
    FileNotFoundError
        If no sidecar is found.
    ValueError
        If ``on_invalid="raise"`` and a recording cannot be used, if the group
        table has no key column or a recording has no group.
    """
    rep, _ = _study_report(
        inputs, groups, group_column, lights_on, title, link_from, on_invalid
    )
    return rep


def _study_report(
    inputs, groups, group_column, lights_on, title, link_from, on_invalid
):
    """:func:`study_report`; also returns the recordings left out, with why."""
    import mne

    _check_option("on_invalid", on_invalid, ON_INVALID)
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    sidecars, left_out = _find_recordings(inputs)
    if left_out and on_invalid == "raise":
        raise ValueError(
            f"{len(left_out)} recording(s) of the study cannot be used: "
            + "; ".join(f"{r['recording']}: {r['problem']}" for r in left_out)
            + ". Score them again (overwrite=True, --overwrite), or pass "
            "on_invalid='list' to leave them out of the statistics visibly."
        )
    if not sidecars:
        raise FileNotFoundError(
            f"No *_scoring.json sidecar in {[str(i) for i in inputs]}"
            + (
                f" that can be used ({'; '.join(r['problem'] for r in left_out)})."
                if left_out
                else "."
            )
        )
    recordings = []
    for sidecar in sidecars:
        try:
            recordings.append(_load_recording(sidecar))
        except ValueError as err:  # e.g. a review of another recording
            stem = sidecar.name[: -len("_scoring.json")]
            problem = dict(recording=stem, folder=str(sidecar.parent), problem=str(err))
            if on_invalid == "raise":
                raise ValueError(
                    f"Recording {stem} of the study cannot be used: {err} (or pass "
                    "on_invalid='list' to leave it out of the statistics visibly)."
                ) from None
            left_out.append(problem)
    if not recordings:
        raise ValueError(
            "No recording of the study can be used: "
            + "; ".join(f"{r['recording']}: {r['problem']}" for r in left_out)
        )
    if link_from is None:
        link_from = Path(os.path.commonpath([str(r["folder"]) for r in recordings]))
    mapping, key = _read_groups(groups, group_column)
    left_out += _without_scoring(mapping, key, recordings, left_out)
    for row in left_out:
        logger.warning(f"Left out of the study: {row['recording']}: {row['problem']}")
    table = _study_rows(recordings, lights_on)
    rep = mne.Report(title=title, verbose="error")
    if left_out:
        rep.add_html(
            f"<p><b>{len(left_out)} recording(s) left out of every table and "
            "statistic below</b> (each problem says how to include it again):</p>"
            + _table(pd.DataFrame(left_out), index=False),
            title=f"{len(left_out)} left out",
            section="Left out",
        )

    links = []
    for rec in recordings:
        if rec["report"].is_file():
            rel = os.path.relpath(rec["report"], link_from).replace(os.sep, "/")
            links.append(f'<a href="{html.escape(rel)}">{html.escape(rec["stem"])}</a>')
        else:
            links.append(html.escape(rec["stem"]))
    shown = table.dropna(axis=1, how="all").copy()  # e.g. no dark phase
    shown.insert(0, "report", links)
    shown = shown.drop(columns="recording")
    # Two tables that fit a page: the recordings, then their stage shares.
    shares = [c for c in shown.columns if " % " in c]
    page = _table(shown.drop(columns=shares), raw_html=("report",), index=False)
    rep.add_html(page, title=f"{len(recordings)} recordings", section="Recordings")
    if shares:
        page = _table(shown[["report", *shares]], raw_html=("report",), index=False)
        rep.add_html(
            page, title="Percent of scored time per stage", section="Recordings"
        )
    fig = _stacked_hypnograms(recordings, lights_on)
    _add_figure(rep, fig, "Hypnograms", "Hypnograms")
    fig = _percent_by_phase(table)
    _add_figure(rep, fig, "Stages by phase, per recording", "Stages by phase")
    if mapping is not None:
        stats, group_of = _group_statistics(table, mapping, key[0])
        rep.add_html(
            _table(stats, "{:.3g}")
            + "<p>Exploratory: one test per metric, p-values not corrected for "
            "the number of metrics (or phases).</p>",
            title=f"Groups ({key[1]}): mean ± SEM",
            section="Groups",
        )
        fig = _group_figure(table, group_of)
        _add_figure(rep, fig, "Stage percentages by group", "Groups")
    return rep, left_out


def _without_scoring(mapping, key, recordings, left_out):
    """Return the animals of the group table without a scoring (not yet listed)."""
    if mapping is None:
        return []
    column = "stem" if key[0] == "recording" else "mouse"
    have = {str(rec[column]) for rec in recordings}
    have |= {r["recording"] for r in left_out}
    have |= {r["recording"].split("_")[0] for r in left_out}
    return [
        dict(
            recording=name,
            folder="",
            problem=f"in the group table ({group}), but no scoring of it was found",
        )  # fmt: skip
        for name, group in mapping.items()
        if name not in have
    ]
