"""The sleep report of one scored recording (an :class:`mne.Report`)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import html
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.time_frequency import psd_array_welch
from mne.utils import _validate_type, logger, verbose

from .._docs import fill_doc
from .._stages import (
    ARTIFACT,
    NREM,
    PRE_REM,
    REM,
    SCORED_STAGES,
    UNSCORED,
    _roles,
    _time_base,
    _zeitgeber,
)
from ..hypnogram import _check_proba
from ..io._review import _check_review, _review_record
from ..scoring import ScoringResult, _score
from ..scoring._options import _takes_options
from ..scoring.check import _find_emg
from ..scoring.emg import emg_power
from ..scoring.quality import describe_quality
from ..spindles import detect_spindles
from ..stats import (
    hourly_statistics,
    phase_statistics,
    sleep_statistics,
    transition_matrix,
)
from ..triage import review_list
from ..viz import plot_hourly, plot_transition_matrix
from ._figures import (
    SPECTRUM_RANGE,
    _emg_figure,
    _hypnogram_figure,
    _snippet_figure,
    _spectrum_figure,
)
from ._html import _add_figure, _dl, _table


@_takes_options
@verbose
@fill_doc
def report(
    raw,
    proba=None,
    *,
    picks=None,
    emg="auto",
    lights_on=None,
    title=None,
    n_review=6,
    spindles=False,
    options=None,
    verbose=None,
):
    """Make a sleep report of one scored recording (an :class:`mne.Report`).

    Parameters
    ----------
    raw : instance of Raw
        The scored recording (volts). It is not modified; with
        ``preload=False`` it is read one hour at a time.
    proba : DataFrame, shape (n_epochs, n_classes) | ScoringResult | path-like | None
        Its scoring: the probabilities of
        :func:`~mne_mousesleep.predict_proba` (with their ``attrs``: model,
        quality record, trust verdict), a
        :class:`~mne_mousesleep.ScoringResult`, or the outputs of a batch
        (the ``<name>_scoring.json`` sidecar, or the ``<name>_proba.csv``
        beside it), read back without scoring again. None: ``raw`` is scored
        first, with ``options``.
    picks : str | list of str | None
        The EEG channel of the spectra and snippets (default: the first
        channel the network read; of a list, the first).
    emg : str | None
        The EMG channel of the EMG power per stage and the snippets;
        ``"auto"``: the one channel of type emg or named EMG, if any.
    lights_on : str | None
        Clock time of lights on (ZT0), ``"HH:MM"``: the statistics are given
        per light and dark phase, the dark phase is shaded and the hourly
        course is in ZT. Needs the recording's ``meas_date``.
    title : str | None
        Title of the report (default: the recording's file name).
    n_review : int
        Number of least confident bouts (:func:`~mne_mousesleep.review_list`)
        shown with their raw EEG and EMG.
    spindles : bool
        Also detect spindles in NREM (:func:`~mne_mousesleep.detect_spindles`)
        and give their density per hour of NREM, per phase.
    %(options)s
    %(verbose)s

    Returns
    -------
    report : mne.Report
        With the sections Summary (recording, model, settings, input
        quality, trust verdict), Hypnogram (hypnogram with hypnodensity,
        hourly course), Statistics (time, percent, bouts, bout durations,
        latencies, pre-REM -> REM entries, by phase; transition matrix),
        Spectra (EEG power spectra per stage, absolute and relative, mean
        and interquartile range over epochs, 0.5–30 Hz; delta and theta
        power and their ratio; EMG power per stage) and Review (least
        confident bouts with EEG/EMG snippets, downsampled for display to
        at most 200 Hz), and Spindles if asked. Save it with
        ``report.save("name.html")``: one self-contained HTML file (no
        network needed to view it).

    Raises
    ------
    FileNotFoundError
        If the outputs of a batch named by ``proba`` are not there.
    ValueError
        If ``proba`` does not fit ``raw`` (epochs beyond its end), a channel is
        not in ``raw``, or ``lights_on`` is given for a recording without
        ``meas_date``.
    """
    import mne

    _validate_type(raw, BaseRaw, "raw")
    result = _result_of(raw, proba, options)
    pick, emg = _channels(raw, result, options)
    if lights_on is not None and raw.info["meas_date"] is None:
        raise ValueError(
            "lights_on needs the recording's clock time, and it has no meas_date."
        )
    frame = result.to_frame()
    stages, review = result.stages(), None
    if isinstance(proba, str | os.PathLike):  # a batch's output: its review too
        stages, review = _reviewed_stages(_sidecar_of(proba), result)
    name = Path(raw.filenames[0]).name if raw.filenames and raw.filenames[0] else None
    title = title or name or "Sleep report"
    rep = mne.Report(title=title, verbose="error")
    _add_summary(rep, raw, result, name, pick, emg, review)
    _add_hypnogram(rep, frame, stages, lights_on)
    _add_statistics(rep, stages, lights_on)
    _add_spectra(rep, raw, stages, pick, emg)
    _add_review(rep, raw, frame, n_review, [pick] + ([emg] if emg else []))
    if spindles:
        _add_spindles(rep, raw, frame, stages, pick, lights_on)
    logger.info(f"Report of {title}: {len(rep._content)} items")
    return rep


def _result_of(raw, proba, options):
    """Return the scoring to report: given, read from a batch's outputs, or made."""
    if proba is None:
        return _score(raw, options)
    if isinstance(proba, str | os.PathLike):  # a batch's output: no scoring again
        result = _read_result(proba)
    elif isinstance(proba, ScoringResult):
        result = proba
    else:
        _check_proba(proba)
        result = ScoringResult.from_frame(proba)
    end = float(result.onsets[-1]) + result.epoch_length
    duration = raw.n_times / raw.info["sfreq"]
    if end > raw.times[-1] + 1 / raw.info["sfreq"] + 1e-6:
        raise ValueError(
            f"proba ends at {end:g} s, after the recording ({raw.times[-1]:g} s): "
            "is it the scoring of this recording?"
        )
    if end + result.epoch_length <= duration + 1e-6:  # a whole epoch short
        raise ValueError(
            f"proba ends at {end:g} s, {duration - end:g} s before the end of the "
            f"recording ({duration:g} s): is it the scoring of this recording?"
        )
    meas_date = raw.info["meas_date"]
    if result.meas_date is not None and meas_date is not None:
        if (
            abs(
                (
                    pd.Timestamp(result.meas_date) - pd.Timestamp(meas_date)
                ).total_seconds()
            )
            > 1
        ):
            raise ValueError(
                f"proba is of a recording that started at {result.meas_date}, "
                f"this one at {meas_date}: is it the scoring of this recording?"
            )
    return result


def _channels(raw, result, options):
    """Return the EEG channel of the spectra and the EMG channel (or None)."""
    pick = options.picks
    if isinstance(pick, list | tuple):
        pick = pick[0]
    if pick is None:
        pick = (list(result.ch_names) or [raw.ch_names[0]])[0]
    emg = options.emg
    if emg == "auto":
        emg, _ = _find_emg(raw)
    for name, value in (("picks", pick), ("emg", emg)):
        if value is not None and value not in raw.ch_names:
            raise ValueError(f"{name}={value!r} is not a channel of the recording.")
    return pick, emg


def _add_summary(rep, raw, result, name, pick, emg, review=None):
    hours = result.n_epochs * result.epoch_length / 3600
    trust, quality = result.trust or {}, result.quality
    items = [
        (
            "recording",
            name or raw.info["description"] or "not from a file (an object in memory)",
        ),
        ("start", raw.info["meas_date"] or "unknown (no meas_date)"),
        (
            "duration",
            f"{hours:.2f} h ({result.n_epochs} epochs of {result.epoch_length:g} s)",
        ),
        ("sampling rate", f"{raw.info['sfreq']:g} Hz"),
        (
            "channels",
            ", ".join(result.ch_names or [pick])
            + (f"; EMG {emg}" if emg else "; no EMG"),
        ),
        ("model", result.model or "unknown"),
        ("network arithmetic", _describe_network(result.network)),
        ("gain step", _describe_adapt(result.gain)),
        ("EMG rules", _describe_emg(result.emg)),
        ("smoothing", _describe_smoothing(result.hmm)),
        ("input quality", describe_quality(quality) if quality else "not recorded"),
        ("trust verdict", trust.get("verdict", "not recorded")),
        ("expert review", _describe_review(review)),
    ]
    summary = _dl(items)
    for heading, key in (("Reasons for the verdict", "reasons"), ("Notes", "notes")):
        if trust.get(key):  # no empty heading
            summary += (
                f"<p><b>{heading}:</b></p><ul>"
                + "".join(f"<li>{html.escape(r)}</li>" for r in trust[key])
                + "</ul>"
            )
    rep.add_html(summary, title="Recording and scoring", section="Summary")


def _add_hypnogram(rep, frame, stages, lights_on):
    fig = _hypnogram_figure(frame, stages, lights_on)
    _add_figure(rep, fig, "Hypnogram and hypnodensity", "Hypnogram")
    fig = plot_hourly(hourly_statistics(stages, lights_on=lights_on))
    fig.set_size_inches(11, 3)
    fig.axes[0].set_ylabel("% of the recorded\ntime in the hour")
    fig.tight_layout()
    _add_figure(rep, fig, "Hourly stage course", "Hypnogram")


def _add_statistics(rep, stages, lights_on):
    stats = _statistics(stages, lights_on)
    rep.add_html(_table(stats), title="Stage statistics", section="Statistics")
    _, probs = transition_matrix(stages)
    _add_figure(rep, plot_transition_matrix(probs), "Transition matrix", "Statistics")


def _add_spectra(rep, raw, stages, pick, emg):
    values = stages.to_numpy(object)
    psd, freqs = _spectra(raw, stages, pick)
    fig, bands = _spectrum_figure(psd, freqs, values, pick)
    _add_figure(
        rep,
        fig,
        "EEG power spectrum per stage",
        "Spectra",
        caption="Mean (line) and interquartile range (band) over the epochs of "
        "each stage.",
    )
    rep.add_html(
        _table(bands, "{:.3g}"),
        title="Delta and theta power per stage (median over epochs)",
        section="Spectra",
    )
    if emg is not None:
        length = _time_base(stages).epoch_length
        power = emg_power(raw, emg, epoch_length=length, verbose="error")
        _add_figure(
            rep, _emg_figure(power, values, emg), "EMG power per stage", "Spectra"
        )


def _add_review(rep, raw, frame, n_review, shown):
    review = review_list(frame).head(n_review)
    rep.add_html(
        _table(review.round(3), "{:.2f}")
        + "<p>Open a bout in MNE's browser: <code>raw.plot(start=ONSET - 10, "
        "duration=DURATION + 20)</code> with the onset and duration (s) of the "
        "table.</p>",
        title="Least confident bouts",
        section="Review",
    )
    for _, bout in review.iterrows():
        fig = _snippet_figure(raw, bout, shown)
        _add_figure(rep, fig, f"Bout at {bout['onset']:.0f} s", "Review")


def _spectra(raw, stages, pick):
    """Return per-epoch EEG spectra (V²/Hz), read hour by hour, and frequencies."""
    sfreq = raw.info["sfreq"]
    n_epoch = int(round(_time_base(stages).epoch_length * sfreq))
    first = int(round(float(stages.index[0]) * sfreq))
    n_epochs = min(len(stages), (raw.n_times - first) // n_epoch)
    per_chunk = max(1, int(3600 * sfreq) // n_epoch)
    out, freqs = [], None
    for e0 in range(0, n_epochs, per_chunk):
        e1 = min(e0 + per_chunk, n_epochs)
        x = raw.get_data(
            picks=[pick], start=first + e0 * n_epoch, stop=first + e1 * n_epoch
        )
        x = np.nan_to_num(x[0].reshape(e1 - e0, n_epoch))
        psd, freqs = psd_array_welch(
            x,
            sfreq,
            fmin=SPECTRUM_RANGE[0],
            fmax=SPECTRUM_RANGE[1],
            n_fft=min(n_epoch, int(4 * sfreq)),
            verbose="error",
        )
        out.append(psd)
    return np.concatenate(out), freqs


def _statistics(stages, lights_on):
    if lights_on is not None:
        stats = phase_statistics(stages, lights_on=lights_on).T
    else:
        stats = sleep_statistics(stages).to_frame("total")
    keep = []
    for stage in (*SCORED_STAGES, ARTIFACT, *_roles(stages)):  # a lab's own too
        keep += [f"{stage} min", f"{stage} %", f"{stage} bouts", f"{stage} mean bout s"]
    keep += [
        f"latency {NREM} min",
        f"latency {PRE_REM} min",
        f"latency {REM} min",
        "REM entries from pre-REM",
        "REM entries from NREM",
        "REM entries via pre-REM %",
    ]
    out = stats.loc[keep]
    out.columns.name = None
    return out


def _describe_network(record):
    """Return the network's arithmetic in words (the step 4 record)."""
    precision = record.get("precision")
    if precision is None:
        return "not recorded"
    if precision == "float32":
        return "float32 (as published)"
    n = record.get("rechecked", 0)
    if not n:
        return f"{precision} (no close call to compute again in float32)"
    return (
        f"{precision}, its {n} close call{'s' if n != 1 else ''} computed again "
        "in float32"
    )


def _describe_adapt(record):
    if not record:
        return "off"
    gains = record.get("gain") or record.get("gains")
    if isinstance(gains, dict):
        gains = ", ".join(f"{k} {v:.3g}" for k, v in gains.items())
    return f"on (gain {gains})" if gains is not None else "on"


def _describe_emg(record):
    """Say the EMG step in words: channel, whether it decided, what it changed."""
    if not record or not record.get("channel"):
        return (record or {}).get("reason", "off")
    changed = {k: v for k, v in (record.get("n_changed") or {}).items() if v}
    moved = (
        ", ".join(f"{n} {stage}" for stage, n in changed.items()) + " epochs to Wake"
        if changed
        else "no epoch changed"
    )
    if record.get("informative"):
        how = "two EMG levels found"
    elif (record.get("above_nrem") or {}).get("applied"):
        how = (
            f"EMG levels undecided ({record.get('reason')}); REM judged against "
            "NREM tone"
        )
    else:
        how = f"not informative ({record.get('reason')})"
    return f"{record['channel']}: {how}; {moved}"


def _add_spindles(rep, raw, frame, stages, pick, lights_on):
    found = detect_spindles(raw, frame, picks=pick, verbose="error")
    length = _time_base(stages).epoch_length
    nrem = stages.to_numpy(object) == NREM
    zt = _zeitgeber(stages, lights_on, None) if lights_on is not None else None
    rows = {}
    starts = np.array([]) if found is None else found.summary()["Start"].to_numpy(float)
    epoch_of = np.floor((starts - float(stages.index[0])) / length).astype(int)
    phases = {"total": np.ones(len(stages), bool)}
    if zt is not None:
        phases = {"light": zt < 12, "dark": zt >= 12, **phases}
    for phase, mask in phases.items():
        hours = (nrem & mask).sum() * length / 3600
        inside = mask[np.clip(epoch_of, 0, len(mask) - 1)] if len(epoch_of) else []
        n = int(np.sum(inside))
        rows[phase] = {
            "spindles": n,
            "NREM h": hours,
            "per NREM hour": n / hours if hours else np.nan,
        }
    rep.add_html(
        _table(pd.DataFrame(rows).T), title="Spindles in NREM", section="Spindles"
    )


def _reviewed_stages(sidecar, result):
    """Return the stages to report: the expert's review beside the outputs, if any.

    Returns the stages (those of ``result`` without a review) and the review
    record (None without one, see :func:`.io._review._review_record`). A
    review of another recording or scoring is refused (ValueError naming
    both, :func:`.io._review._check_review`), and so is one with a stage or
    provenance that is not the package's (naming the line).
    """
    stem = Path(sidecar).name[: -len("_scoring.json")]
    path = Path(sidecar).with_name(f"{stem}_reviewed.csv")
    stages = result.stages()
    if not path.is_file():
        return stages, None
    table, record = _review_record(path)
    _check_review(
        table,
        path,
        recording=result.quality.get("recording"),
        scorer=stages.to_numpy(object).astype(str),
        name=stem,
    )
    reviewed = stages.copy()
    reviewed[:] = table["stage"].fillna(UNSCORED).to_numpy(object)
    logger.info(
        f"Using the expert's review {path.name}: {record['corrected']} epochs "
        f"corrected, {record['confirmed']} confirmed"
    )
    return reviewed, record


def _describe_smoothing(hmm):
    """Describe the decoder of a scoring and what the architecture prior refused."""
    if not hmm:
        return "none"
    if hmm.get("decoder") != "hsmm":
        return f"hidden Markov model ({hmm.get('n_changed', 0)} epochs changed)"
    text = (
        "hidden semi-Markov model with the five labs' architecture prior "
        f"({hmm.get('n_changed', 0)} epochs changed)"
    )
    refused = hmm.get("rem_refused") or {}
    if refused.get("refused"):
        whys = "; ".join(
            f"epoch {first} ({n} epochs): {why}" for first, n, why in refused["refused"]
        )
        text += f"; {refused['n_refused']} REM epochs refused: {whys}"
    return text


def _describe_review(review):
    if review is None:
        return "none (the scorer's stages)"
    return (
        f"{review['file']}: {review['corrected']} epochs corrected, "
        f"{review['confirmed']} confirmed; the figures and tables use it"
    )


def _sidecar_of(path):
    """Return the sidecar of a batch's output: itself, or the one beside it."""
    path = Path(path)
    if path.name.endswith("_scoring.json"):
        return path
    if path.name.endswith("_proba.csv"):
        return path.with_name(path.name[: -len("_proba.csv")] + "_scoring.json")
    raise ValueError(
        f"{path.name} is not an output of a batch: give its <name>_scoring.json "
        "(or the <name>_proba.csv beside it)."
    )


def _read_result(path):
    """Read the :class:`ScoringResult` of a batch's outputs (its sidecar)."""
    sidecar = _sidecar_of(path)
    if not Path(path).is_file() or not sidecar.is_file():
        missing = Path(path) if not Path(path).is_file() else sidecar
        raise FileNotFoundError(
            f"No {missing.name}: score with report=True (--report) to write the "
            "outputs that a report is rebuilt from."
        )
    info = json.loads(sidecar.read_text())
    if "result" not in info:
        raise ValueError(
            f"{sidecar.name} was written by an earlier version (no scoring "
            "result); score again with overwrite=True (--overwrite)."
        )
    return ScoringResult.from_dict(info["result"])
