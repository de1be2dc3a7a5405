"""The figures of the reports (matplotlib; the stage colours of :mod:`..viz`)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import functools

import numpy as np
import pandas as pd

from .._stages import ARTIFACT, SCORED_STAGES, WAKE, _time_base, _zeitgeber
from ..viz import STAGE_COLORS, plot_hypnogram
from ._html import _LEGEND

#: Delta and theta bands (Hz) of the ratios per stage (mouse theta, REM).
BANDS = {"delta": (0.5, 4.0), "theta": (6.0, 9.0)}
#: Frequency range (Hz) of the EEG spectra per stage.
SPECTRUM_RANGE = (0.5, 30.0)
#: The most samples per second drawn in a raw snippet (display only).
SNIPPET_SFREQ = 200.0


#: Fonts with CJK glyphs, tried after the default one for names of mice,
#: channels and files (Linux, Windows and macOS names).
CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic",
             "IPAPGothic", "Yu Gothic", "Meiryo", "MS Gothic", "Hiragino Sans",
             "Noto Sans CJK SC", "Microsoft YaHei", "Malgun Gothic",
             "Arial Unicode MS")  # fmt: skip


def _font_families():
    """Return the font family list of the figures: the default, then CJK fonts.

    Only fonts installed here are listed (matplotlib's font fallback draws a
    Japanese mouse name with the first font that has its glyphs).
    """
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    default = plt.rcParams["font.family"]
    default = [default] if isinstance(default, str) else list(default)
    if default == ["sans-serif"]:
        default = [plt.rcParams["font.sans-serif"][0]]
    return default + [f for f in CJK_FONTS if f in have]


def _any_script(func):
    """Draw a figure with fonts for names in any script (see _font_families)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib.pyplot as plt

        with plt.rc_context({"font.family": _font_families()}):
            return func(*args, **kwargs)

    return wrapper


#: Steps (h) of the ZT ticks, the first that gives at most 12 ticks is used.
_ZT_STEPS = (5 / 60, 10 / 60, 15 / 60, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 12.0, 24.0)


def _zt_axis(ax, start_zt, hours):
    """Label an axis in hours from the start with ZT ticks (step by length).

    A 10-min recording gets ticks every 5 min (``ZT h:mm``), a day every 2 h.
    """
    step = next((s for s in _ZT_STEPS if hours / s <= 12), _ZT_STEPS[-1])
    first = np.ceil(start_zt / step - 1e-9) * step
    ticks = np.arange(first - start_zt, hours + 1e-9, step)
    labels = []
    for t in ticks:
        zt = (start_zt + t) % 24
        h, m = divmod(int(round(zt * 60)), 60)
        labels.append(f"{h % 24}:{m:02d}" if step < 1 else f"{zt:g}")
    ax.set_xticks(ticks, labels)
    ax.set_xlim(0, hours)
    ax.set_xlabel("ZT (h:mm)" if step < 1 else "ZT (h)")


def _shade_dark(axes, zt, hours_per_epoch, t):
    dark = zt >= 12
    if not dark.any():
        return
    edges = np.flatnonzero(np.diff(np.r_[0, dark.astype(int), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        for ax in axes:
            ax.axvspan(t[a], t[b - 1] + hours_per_epoch, color="k", alpha=0.12, lw=0)


@_any_script
def _hypnogram_figure(proba, stages, lights_on):

    fig = plot_hypnogram(stages, proba=proba)
    fig.set_size_inches(11, 4.6)
    axes = fig.axes[:2]
    t = (stages.index.to_numpy(float) - float(stages.index[0])) / 3600
    per_epoch = _time_base(stages).epoch_length / 3600
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


@_any_script
def _spectrum_figure(psd, freqs, values, pick):
    import matplotlib.pyplot as plt

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


@_any_script
def _emg_figure(log_power, values, channel):
    import matplotlib.pyplot as plt

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


@_any_script
def _snippet_figure(raw, bout, picks, pad=10.0):
    import matplotlib.pyplot as plt

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


@_any_script
def _stacked_hypnograms(recordings, lights_on):
    import matplotlib.pyplot as plt

    n = len(recordings)
    fig, ax = plt.subplots(figsize=(11, 0.45 * n + 1.4))
    use_zt = lights_on is not None and all(
        _time_base(r["stages"]).meas_date is not None for r in recordings
    )
    spans = []
    for row, rec in enumerate(recordings):
        stages = rec["stages"]
        length = _time_base(stages).epoch_length / 3600
        t = (stages.index.to_numpy(float) - float(stages.index[0])) / 3600
        if use_zt:
            t = t + float(_zeitgeber(stages, lights_on, None)[0])
        spans += [float(t[0]), float(t[-1]) + length]
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
    lo, hi = min(spans), max(spans)  # the recordings' own hours, not a day
    if use_zt:
        for day in range(int(np.floor(lo / 24)), int(np.ceil(hi / 24)) + 1):
            dark = max(lo, 12 + 24 * day), min(hi, 24 + 24 * day)
            if dark[1] > dark[0]:
                ax.axvspan(*dark, color="k", alpha=0.08, lw=0)
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
    ax.set_xlim(lo, hi)
    fig.tight_layout()
    return fig


@_any_script
def _percent_by_phase(table):
    import matplotlib.pyplot as plt

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


@_any_script
def _group_figure(table, groups):
    import matplotlib.pyplot as plt

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


def _phases(table):
    """Return the phases the recordings cover (6 h of light phase: no dark)."""
    return [
        p
        for p in ("light", "dark", "total")
        if f"{WAKE} % {p}" in table and table[f"{WAKE} % {p}"].notna().any()
    ]
