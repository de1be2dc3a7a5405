"""Sleep reports: an :class:`mne.Report` per recording and one per study."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd
from mne.io import BaseRaw
from mne.time_frequency import psd_array_welch
from mne.utils import _validate_type, logger, verbose

from ._docs import fill_doc
from .hypnogram import (
    ARTIFACT,
    NREM,
    PRE_REM,
    REM,
    SCORED_STAGES,
    WAKE,
    _check_proba,
    proba_to_stages,
)

#: Frequency range (Hz) of the EEG spectra per stage.
SPECTRUM_RANGE = (0.5, 30.0)
#: Delta and theta bands (Hz) of the ratios per stage (mouse theta, REM).
BANDS = {"delta": (0.5, 4.0), "theta": (6.0, 9.0)}
# Legends right of the axes, in every figure of the reports.
_LEGEND = dict(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
#: The most samples per second drawn in a raw snippet (display only).
SNIPPET_SFREQ = 200.0

_SECTIONS = (
    "Summary",
    "Hypnogram",
    "Statistics",
    "Spectra",
    "Review",
)


def _table(df, float_format="{:.1f}", raw_html=(), index=True):
    """Return a DataFrame as a compact HTML table (mne.Report's classes).

    Cells are escaped except in the columns of ``raw_html`` (links made
    here); a wide table scrolls sideways instead of overflowing the page.
    """
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: _number(v, float_format))
        elif col not in raw_html:
            out[col] = out[col].map(lambda v: html.escape(str(v)))
    out.index = [html.escape(str(i)) for i in out.index]
    out.columns = [html.escape(str(c)) for c in out.columns]
    table = out.to_html(
        classes="table table-sm table-striped", border=0, escape=False, index=index
    )
    return f'<div style="overflow-x: auto">{table}</div>'


def _number(value, float_format="{:.1f}"):
    """Format a table cell: counts without decimals, empty for NaN."""
    if pd.isna(value):
        return ""
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    return float_format.format(value)


def _add_figure(rep, fig, title, section, caption=None):
    """Add a figure to a report as PNG, and close it."""
    import matplotlib.pyplot as plt

    rep.add_figure(
        fig, title=title, section=section, caption=caption, image_format="png"
    )
    plt.close(fig)


def _dl(items):
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in items
    )
    return f'<table class="table table-sm">{rows}</table>'


def _zt_axis(ax, start_zt, hours):
    """Label an axis in hours from the start with ZT ticks every 2 h."""
    first = np.ceil(start_zt / 2) * 2
    ticks = np.arange(first - start_zt, hours + 1e-9, 2.0)
    ax.set_xticks(ticks, [f"{(start_zt + t) % 24:g}" for t in ticks])
    ax.set_xlabel("ZT (h)")


def _shade_dark(axes, zt, hours_per_epoch, t):
    dark = zt >= 12
    if not dark.any():
        return
    edges = np.flatnonzero(np.diff(np.r_[0, dark.astype(int), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        for ax in axes:
            ax.axvspan(t[a], t[b - 1] + hours_per_epoch, color="k", alpha=0.12, lw=0)


def _hypnogram_figure(proba, stages, lights_on):
    from .stats import _zeitgeber
    from .viz import plot_hypnogram

    fig = plot_hypnogram(stages, proba=proba)
    fig.set_size_inches(11, 4.6)
    axes = fig.axes[:2]
    t = (stages.index.to_numpy(float) - float(stages.index[0])) / 3600
    per_epoch = float(stages.attrs.get("epoch_length", 10.0)) / 3600
    if lights_on is not None:
        zt = _zeitgeber(stages, lights_on, None)
        _shade_dark(axes, zt, per_epoch, t)
        _zt_axis(axes[-1], float(zt[0]), t[-1] + per_epoch)
        axes[0].set_title(
            "Hypnogram (dark phase shaded) and hypnodensity", loc="left", fontsize=10
        )
    else:
        axes[-1].set_xlabel("Time from the first epoch (h)")
    fig.tight_layout()
    return fig


def _spectra(raw, stages, pick):
    """Return per-epoch EEG spectra (V²/Hz), read hour by hour, and frequencies."""
    sfreq = raw.info["sfreq"]
    n_epoch = int(round(float(stages.attrs.get("epoch_length", 10.0)) * sfreq))
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


def _spectrum_figure(psd, freqs, values, pick):
    import matplotlib.pyplot as plt

    from .viz import STAGE_COLORS

    df = freqs[1] - freqs[0]
    relative = 100 * psd / (psd.sum(axis=1, keepdims=True) * df + 1e-300)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    rows = []
    for stage in (*SCORED_STAGES,):
        mask = values[: len(psd)] == stage
        if mask.sum() < 2:
            continue
        for ax, data, scale in ((axes[0], psd, 1e12), (axes[1], relative, 1.0)):
            q25, mid, q75 = np.percentile(data[mask] * scale, [25, 50, 75], axis=0)
            mean = (data[mask] * scale).mean(axis=0)
            ax.plot(freqs, mean, color=STAGE_COLORS[stage], lw=1.6, label=stage)
            ax.fill_between(freqs, q25, q75, color=STAGE_COLORS[stage], alpha=0.2, lw=0)
        band = {
            name: psd[mask][:, (freqs >= lo) & (freqs < hi)].sum(axis=1) * df
            for name, (lo, hi) in BANDS.items()
        }
        rows.append(
            dict(
                stage=stage,
                epochs=int(mask.sum()),
                **{
                    f"{n} power µV²": float(np.median(v) * 1e12)
                    for n, v in band.items()
                },
                **{
                    "theta/delta": float(
                        np.median(band["theta"] / (band["delta"] + 1e-30))
                    )
                },
            )
        )
    axes[0].set(
        yscale="log",
        xlabel="Frequency (Hz)",
        ylabel="Power (µV²/Hz)",
        title=f"Absolute ({pick})",
    )
    axes[1].set(
        xlabel="Frequency (Hz)",
        ylabel="Power (% of 0.5–30 Hz per Hz)",
        title="Relative",
    )
    for ax in axes:
        ax.set_xlim(*SPECTRUM_RANGE)
    axes[1].legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    table = pd.DataFrame(rows).set_index("stage") if rows else pd.DataFrame()
    return fig, table


def _emg_figure(log_power, values, channel):
    import matplotlib.pyplot as plt

    from .viz import STAGE_COLORS

    fig, ax = plt.subplots(figsize=(6, 3.2))
    data, labels, colors = [], [], []
    for stage in SCORED_STAGES:
        v = log_power[: len(values)][values[: len(log_power)] == stage]
        v = v[np.isfinite(v)]
        if len(v):
            data.append(v)
            labels.append(f"{stage}\n(n={len(v)})")
            colors.append(STAGE_COLORS[stage])
    if data:
        parts = ax.boxplot(
            data,
            patch_artist=True,
            showfliers=False,
            medianprops=dict(color="k"),
        )
        ax.set_xticks(range(1, len(labels) + 1), labels)
        for patch, color in zip(parts["boxes"], colors):
            patch.set_facecolor(color)
    ax.set(ylabel="log10 EMG power (V²/Hz)", title=f"EMG power per stage ({channel})")
    fig.tight_layout()
    return fig


def _snippet_figure(raw, bout, picks, pad=10.0):
    import matplotlib.pyplot as plt

    from .viz import STAGE_COLORS

    sfreq = raw.info["sfreq"]
    t0 = max(0.0, bout["onset"] - pad)
    t1 = min(raw.n_times / sfreq, bout["onset"] + bout["duration"] + pad)
    start, stop = int(t0 * sfreq), int(t1 * sfreq)
    data = raw.get_data(picks=picks, start=start, stop=stop)
    step = max(1, int(np.ceil(sfreq / SNIPPET_SFREQ)))  # display only
    data = data[:, ::step]
    t = (start + np.arange(data.shape[1]) * step) / sfreq
    fig, axes = plt.subplots(
        len(picks), 1, figsize=(11, 1.2 + 1.0 * len(picks)), sharex=True, squeeze=False
    )
    for ax, trace, name in zip(axes[:, 0], data, picks):
        ax.plot(t, trace * 1e6, color="k", lw=0.5)
        ax.axvspan(
            bout["onset"],
            bout["onset"] + bout["duration"],
            color=STAGE_COLORS.get(bout["stage"], "gold"),
            alpha=0.25,
            lw=0,
        )
        ax.set_ylabel(f"{name}\n(µV)", fontsize=8)
    axes[0, 0].set_title(
        f"{bout['stage']} (or {bout['alternative']}?) at {bout['onset']:.0f} s, "
        f"confidence {bout['confidence']:.2f}",
        loc="left",
        fontsize=9,
    )
    axes[-1, 0].set_xlabel("Time from the first sample (s)")
    fig.tight_layout()
    return fig


def _statistics(stages, lights_on):
    from .stats import phase_statistics, sleep_statistics

    if lights_on is not None:
        stats = phase_statistics(stages, lights_on=lights_on).T
    else:
        stats = sleep_statistics(stages).to_frame("total")
    keep = []
    for stage in (*SCORED_STAGES, ARTIFACT):
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


@verbose
@fill_doc
def report(
    raw,
    proba,
    *,
    picks=None,
    emg="auto",
    lights_on=None,
    title=None,
    n_review=6,
    spindles=False,
    verbose=None,
):
    """Make a sleep report of one scored recording (an :class:`mne.Report`).

    Parameters
    ----------
    raw : instance of Raw
        The scored recording (volts). It is not modified; with
        ``preload=False`` it is read one hour at a time.
    proba : pandas.DataFrame, shape (n_epochs, n_classes) | path-like
        Its probabilities, from :func:`~mne_mousesleep.predict_proba` (with
        their ``attrs``: model, quality record, trust verdict), or the
        ``<name>_proba.csv`` a batch wrote with ``report=True`` (read back
        with its sidecar, without scoring again).
    picks : str | None
        The EEG channel of the spectra and snippets (default: the first
        channel the network read).
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
    ValueError
        If ``proba`` does not fit ``raw`` (epochs beyond its end), a channel is
        not in ``raw``, or ``lights_on`` is given for a recording without
        ``meas_date``.
    """
    import mne

    from .emg import _find_emg, emg_power
    from .quality import describe_quality
    from .review import review_list
    from .stats import hourly_statistics, transition_matrix
    from .viz import plot_hourly, plot_transition_matrix

    _validate_type(raw, BaseRaw, "raw")
    if isinstance(proba, str | os.PathLike):  # a batch's output: no scoring again
        proba = _read_proba(proba)
    _check_proba(proba)
    attrs = proba.attrs
    epoch_length = float(attrs.get("epoch_length", 10.0))
    if (
        float(proba.index[-1]) + epoch_length
        > raw.times[-1] + 1 / raw.info["sfreq"] + 1e-6
    ):
        raise ValueError(
            f"proba ends at {float(proba.index[-1]) + epoch_length:g} s, after the "
            f"recording ({raw.times[-1]:g} s): is it the scoring of this recording?"
        )
    if picks is None:
        picks = (attrs.get("ch_names") or [raw.ch_names[0]])[0]
    if emg == "auto":
        emg, _ = _find_emg(raw)
    for name, value in (("picks", picks), ("emg", emg)):
        if value is not None and value not in raw.ch_names:
            raise ValueError(f"{name}={value!r} is not a channel of the recording.")
    if lights_on is not None and raw.info["meas_date"] is None:
        raise ValueError(
            "lights_on needs the recording's clock time, and it has no meas_date."
        )
    stages = proba_to_stages(proba)
    values = stages.to_numpy(object)
    name = Path(raw.filenames[0]).name if raw.filenames and raw.filenames[0] else None
    title = title or name or "Sleep report"
    rep = mne.Report(title=title, verbose="error")

    # Summary
    hours = len(proba) * epoch_length / 3600
    trust = attrs.get("trust") or {}
    quality = attrs.get("quality")
    items = [
        ("recording", name or "(in memory)"),
        ("start", raw.info["meas_date"] or "unknown (no meas_date)"),
        ("duration", f"{hours:.2f} h ({len(proba)} epochs of {epoch_length:g} s)"),
        ("sampling rate", f"{raw.info['sfreq']:g} Hz"),
        (
            "channels",
            ", ".join(attrs.get("ch_names") or [picks])
            + (f"; EMG {emg}" if emg else "; no EMG"),
        ),
        ("model", attrs.get("model", "unknown")),
        ("gain step", _describe_adapt(attrs.get("adapt"))),
        ("EMG rules", _describe_emg(attrs.get("emg_atonia"))),
        ("smoothing", "hidden Markov model" if attrs.get("hmm") else "none"),
        ("input quality", describe_quality(quality) if quality else "not recorded"),
        ("trust verdict", trust.get("verdict", "not recorded")),
    ]
    summary = _dl(items)
    if trust.get("reasons") or trust.get("notes"):
        summary += (
            "<p><b>Reasons:</b></p><ul>"
            + "".join(f"<li>{html.escape(r)}</li>" for r in trust.get("reasons", []))
            + "</ul><p><b>Notes:</b></p><ul>"
            + "".join(f"<li>{html.escape(r)}</li>" for r in trust.get("notes", []))
            + "</ul>"
        )
    rep.add_html(summary, title="Recording and scoring", section="Summary")

    # Hypnogram and hourly course
    fig = _hypnogram_figure(proba, stages, lights_on)
    _add_figure(rep, fig, "Hypnogram and hypnodensity", "Hypnogram")
    hourly = hourly_statistics(stages, lights_on=lights_on)
    fig = plot_hourly(hourly)
    fig.set_size_inches(11, 3)
    fig.axes[0].set_ylabel("% of the hour")
    fig.tight_layout()
    _add_figure(rep, fig, "Hourly stage course", "Hypnogram")

    # Statistics
    stats = _statistics(stages, lights_on)
    rep.add_html(_table(stats), title="Stage statistics", section="Statistics")
    _, probs = transition_matrix(stages)
    fig = plot_transition_matrix(probs)
    _add_figure(rep, fig, "Transition matrix", "Statistics")

    # Spectra
    psd, freqs = _spectra(raw, stages, picks)
    fig, bands = _spectrum_figure(psd, freqs, values, picks)
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
        fig = _emg_figure(
            emg_power(raw, emg, epoch_length=epoch_length, verbose="error"), values, emg
        )
        _add_figure(rep, fig, "EMG power per stage", "Spectra")

    # Review
    review = review_list(proba).head(n_review)
    shown = [picks] + ([emg] if emg else [])
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

    if spindles:
        _add_spindles(rep, raw, proba, stages, picks, lights_on)
    logger.info(f"Report of {title}: {len(rep._content)} items")
    return rep


def _describe_adapt(record):
    if not record:
        return "off"
    gains = record.get("gain") or record.get("gains")
    if isinstance(gains, dict):
        gains = ", ".join(f"{k} {v:.3g}" for k, v in gains.items())
    return f"on (gain {gains})" if gains is not None else "on"


def _describe_emg(record):
    if not record or not record.get("channel"):
        return (record or {}).get("reason", "off")
    changed = record.get("n_changed")
    informative = record.get("informative")
    return f"{record['channel']}, informative: {informative}, epochs changed: {changed}"


def _add_spindles(rep, raw, proba, stages, pick, lights_on):
    from .spindles import detect_spindles
    from .stats import _zeitgeber

    found = detect_spindles(raw, proba, picks=pick, verbose="error")
    length = float(stages.attrs.get("epoch_length", 10.0))
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


# --- the study -------------------------------------------------------------------

_KEY_COLUMNS = ("recording", "mouse", "participant_id", "subject")


def _load_recording(sidecar):
    """Read what a batch wrote of one recording: its sidecar and probabilities."""
    import json

    info = json.loads(Path(sidecar).read_text())
    stem = Path(sidecar).name[: -len("_scoring.json")]
    proba = _read_proba(Path(sidecar).with_name(f"{stem}_proba.csv"), info)
    stages = proba_to_stages(proba)
    return dict(
        stem=stem,
        folder=Path(sidecar).parent,
        mouse=info.get("subject") or stem.split("_")[0],
        session=info.get("session") or "",
        verdict=(info.get("trust") or {}).get("verdict", ""),
        stages=stages,
        report=Path(sidecar).with_name(f"{stem}_report.html"),
    )


def _read_proba(path, info=None):
    """Read ``<name>_proba.csv`` of a batch back into probabilities with attrs.

    The sidecar ``<name>_scoring.json`` beside it gives the time base, the
    model and the records (quality, trust...); the ``stage`` column (the
    stages as scored, HMM path included) becomes the HMM path again.
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No probabilities {path.name}: score with report=True (--report) to "
            "write them."
        )
    if info is None:
        sidecar = path.with_name(path.name[: -len("_proba.csv")] + "_scoring.json")
        info = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    table = pd.read_csv(path, index_col="onset")
    stage = table.pop("stage").astype(str)
    time = info.get("time") or {}
    meas_date = time.get("meas_date")
    table.attrs = dict(
        model=info.get("model"),
        meas_date=None
        if meas_date is None
        else pd.Timestamp(meas_date).to_pydatetime(),
        first_time=float(time.get("first_time", 0.0)),
        epoch_length=float(time.get("epoch_length", 10.0)),
        ch_names=info.get("ch_names"),
        sfreq=time.get("sfreq"),
        quality=info.get("quality"),
        adapt=info.get("adapt"),
        emg_atonia=info.get("emg_atonia"),
        trust=info.get("trust"),
    )
    if info.get("hmm"):
        table.attrs["hmm"] = dict(
            info["hmm"],
            path=stage.tolist(),
            onsets=[float(t) for t in table.index],
        )
    return table


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
    from .stats import phase_statistics, sleep_statistics

    rows = []
    for rec in recordings:
        stages = rec["stages"]
        row = dict(recording=rec["stem"], mouse=rec["mouse"], session=rec["session"])
        row["verdict"] = rec["verdict"]
        total = sleep_statistics(stages)
        row["total sleep min"] = (
            total[f"{NREM} min"] + total[f"{PRE_REM} min"] + total[f"{REM} min"]
        )
        phases = {"total": total}
        if lights_on is not None and stages.attrs.get("meas_date") is not None:
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


def _stacked_hypnograms(recordings, lights_on):
    import matplotlib.pyplot as plt

    from .stats import _zeitgeber
    from .viz import STAGE_COLORS

    n = len(recordings)
    fig, ax = plt.subplots(figsize=(11, 0.45 * n + 1.4))
    use_zt = lights_on is not None and all(
        r["stages"].attrs.get("meas_date") is not None for r in recordings
    )
    for row, rec in enumerate(recordings):
        stages = rec["stages"]
        length = float(stages.attrs.get("epoch_length", 10.0)) / 3600
        t = (stages.index.to_numpy(float) - float(stages.index[0])) / 3600
        if use_zt:
            t = t + float(_zeitgeber(stages, lights_on, None)[0])
        values = stages.to_numpy(object)
        for stage, color in STAGE_COLORS.items():
            mask = values == stage
            if stage == "unscored" or not mask.any():
                continue
            ax.broken_barh(
                [(x, length) for x in t[mask]], (row - 0.4, 0.8), color=color, lw=0
            )
    ax.set_yticks(
        range(n), [f"{r['mouse']} {r['session']}".strip() for r in recordings]
    )
    ax.invert_yaxis()
    if use_zt:
        ax.axvspan(12, 24, color="k", alpha=0.08, lw=0)
        ax.set_xlabel("ZT (h; dark phase shaded)")
    else:
        ax.set_xlabel("Time from the first epoch (h)")
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=STAGE_COLORS[s])
        for s in (*SCORED_STAGES, ARTIFACT)
    ]
    ax.legend(
        handles,
        [*SCORED_STAGES, ARTIFACT],
        **_LEGEND,
    )
    fig.tight_layout()
    return fig


def _percent_by_phase(table):
    import matplotlib.pyplot as plt

    from .viz import STAGE_COLORS

    phases = _phases(table)
    fig, axes = plt.subplots(
        1, len(phases), figsize=(11, 3.6), sharey=True, squeeze=False
    )
    labels = [f"{m} {s}".strip() for m, s in zip(table["mouse"], table["session"])]
    for ax, phase in zip(axes[0], phases):
        bottom = np.zeros(len(table))
        for stage in SCORED_STAGES:
            share = table[f"{stage} % {phase}"].to_numpy(float)
            ax.bar(
                range(len(table)),
                np.nan_to_num(share),
                bottom=bottom,
                color=STAGE_COLORS[stage],
                label=stage,
            )
            bottom += np.nan_to_num(share)
        ax.set_xticks(range(len(table)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{phase} phase" if phase != "total" else "whole recording")
    axes[0, 0].set_ylabel("% of scored time")
    axes[0, -1].legend(**_LEGEND)
    fig.tight_layout()
    return fig


def _phases(table):
    """Return the phases the recordings cover (6 h of light phase: no dark)."""
    return [
        p
        for p in ("light", "dark", "total")
        if f"{WAKE} % {p}" in table and table[f"{WAKE} % {p}"].notna().any()
    ]


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


def _group_figure(table, groups):
    import matplotlib.pyplot as plt

    from .viz import STAGE_COLORS

    phases = _phases(table)
    names = sorted(groups.unique())
    fig, axes = plt.subplots(
        1, len(phases), figsize=(11, 3.4), sharey=True, squeeze=False
    )
    width = 0.8 / len(names)
    for ax, phase in zip(axes[0], phases):
        for gi, name in enumerate(names):
            sub = table[groups == name]
            means = [sub[f"{s} % {phase}"].mean() for s in SCORED_STAGES]
            spread = [
                sub[f"{s} % {phase}"].std(ddof=1) / np.sqrt(len(sub))
                if len(sub) > 1
                else 0
                for s in SCORED_STAGES
            ]
            x = np.arange(len(SCORED_STAGES)) + (gi - (len(names) - 1) / 2) * width
            ax.bar(
                x,
                means,
                width,
                yerr=spread,
                capsize=3,
                label=name,
                color=[STAGE_COLORS[s] for s in SCORED_STAGES],
                edgecolor="k",
                hatch=["", "//", "..", "xx"][gi % 4],
            )
        ax.set_xticks(range(len(SCORED_STAGES)), SCORED_STAGES)
        ax.set_title(f"{phase} phase" if phase != "total" else "whole recording")
    axes[0, 0].set_ylabel("% of scored time (mean ± SEM)")
    axes[0, -1].legend(
        title="group (hatching)",
        **_LEGEND,
    )
    fig.tight_layout()
    return fig


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
    verbose=None,
):
    """Make a report of a study from the outputs of a batch, without re-scoring.

    Parameters
    ----------
    inputs : path-like | list of path-like
        Folders of batch outputs (searched recursively for
        ``<name>_scoring.json`` sidecars) or sidecar files, written by
        :func:`~mne_mousesleep.score_files` with ``report=True`` (which also
        writes ``<name>_proba.csv``, read here).
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
        If no sidecar is found, or a recording's probabilities are missing.
    ValueError
        If the group table has no key column or a recording has no group.
    """
    import os

    import mne

    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    sidecars = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            sidecars += sorted(item.rglob("*_scoring.json"))
        elif item.is_file():
            sidecars.append(item)
        else:
            raise FileNotFoundError(f"No such file or folder: {item}")
    if not sidecars:
        raise FileNotFoundError(
            f"No *_scoring.json sidecar in {[str(i) for i in inputs]}."
        )
    recordings = [_load_recording(s) for s in sidecars]
    if link_from is None:
        link_from = Path(os.path.commonpath([str(r["folder"]) for r in recordings]))
    mapping, key = _read_groups(groups, group_column)
    table = _study_rows(recordings, lights_on)
    rep = mne.Report(title=title, verbose="error")

    links = []
    for rec in recordings:
        if rec["report"].is_file():
            rel = os.path.relpath(rec["report"], link_from).replace(os.sep, "/")
            links.append(f'<a href="{html.escape(rel)}">{html.escape(rec["stem"])}</a>')
        else:
            links.append(html.escape(rec["stem"]))
    shown = table.dropna(axis=1, how="all").copy()  # e.g. no dark phase
    shown.insert(0, "report", links)
    page = _table(shown.drop(columns="recording"), raw_html=("report",), index=False)
    rep.add_html(page, title=f"{len(recordings)} recordings", section="Recordings")
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
    return rep
