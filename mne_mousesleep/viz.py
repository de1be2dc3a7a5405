"""Figures: hypnogram with hypnodensity, confusion and transition matrices."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne.utils import _check_option

from ._stages import _roles, _stage_of, _time_base
from .hypnogram import (
    ARTIFACT,
    NREM,
    PRE_REM,
    REM,
    SCORED_STAGES,
    UNSCORED,
    WAKE,
    _check_proba,
    to_stages,
)

#: Colours of the stages in all figures.
STAGE_COLORS = {
    WAKE: "#f4a261",
    NREM: "#264653",
    PRE_REM: "#8ab17d",
    REM: "#e76f51",
    ARTIFACT: "#9e9e9e",
    UNSCORED: "#ffffff",
}
_LEVELS = {WAKE: 4, REM: 3, PRE_REM: 2, NREM: 1, ARTIFACT: 0}
#: Colours of a lab's own classes, in the order of their roles' dict.
OWN_COLORS = ("#6a4c93", "#1982c4", "#b5179e", "#2a9d8f", "#bc6c25", "#3a86ff")


def _color(stage, own=()):
    """Return the colour of a stage, or of a lab's own class (by its place)."""
    if stage in STAGE_COLORS:
        return STAGE_COLORS[stage]
    return OWN_COLORS[list(own).index(stage) % len(OWN_COLORS)]


def _levels(roles):
    """Return the y level of each stage, a lab's own classes above their role's.

    From the bottom: artifact, NREM, pre-REM, REM, Wake, each followed by
    the own classes of its role (of role other: after artifact).
    """
    order = []
    for stage in sorted(_LEVELS, key=_LEVELS.get):
        order.append(stage)
        order += [name for name in roles if _stage_of(name, roles) == stage]
    levels = {stage: ii for ii, stage in enumerate(order)}
    return dict(reversed(levels.items()))  # top first, as the axis lists them


def _hours(stages):
    return (stages.index.to_numpy(float) - float(stages.index[0])) / 3600


def plot_hypnogram(scoring, *, proba=None, review=None, axes=None):
    """Plot a 5-stage hypnogram, with the hypnodensity below when available.

    Parameters
    ----------
    scoring : pandas.DataFrame | pandas.Series | mne.Annotations | yasa.Hypnogram
        Probabilities from :func:`mne_mousesleep.predict_proba` (then the
        hypnodensity is drawn too) or anything
        :func:`mne_mousesleep.to_stages` accepts.
    proba : pandas.DataFrame | None
        Probabilities to draw as hypnodensity, when ``scoring`` is a stage
        sequence (e.g. an expert's).
    review : pandas.DataFrame | None
        Bouts to highlight, as returned by :func:`mne_mousesleep.review_list`.
    axes : array of matplotlib.axes.Axes | None
        One or two axes to draw into.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (not shown). The x axis is in hours from the first epoch.

    Notes
    -----
    YASA's :meth:`yasa.Hypnogram.plot_hypnogram` and
    :meth:`yasa.Hypnogram.plot_hypnodensity` draw the 3-stage hypnogram of
    :func:`mne_mousesleep.to_hypnogram`; this function keeps pre-REM and
    artifact apart.
    """
    import matplotlib.pyplot as plt

    if isinstance(scoring, pd.DataFrame) and proba is None:
        proba = scoring
    stages = to_stages(scoring)
    n_axes = 2 if proba is not None else 1
    if axes is None:
        fig, axes = plt.subplots(
            n_axes, 1, figsize=(10, 2.2 * n_axes + 0.6), sharex=True, squeeze=False
        )
        axes = axes[:, 0]
    else:
        axes = np.atleast_1d(axes)
        if len(axes) != n_axes:
            raise ValueError(f"axes must hold {n_axes} axes, got {len(axes)}.")
        fig = axes[0].figure
    length = _time_base(stages).epoch_length
    t = _hours(stages)
    ax = axes[0]
    roles = _roles(stages)
    level_of = _levels(roles)
    levels = np.array([level_of.get(s, np.nan) for s in stages.to_numpy(object)])
    ax.step(
        np.r_[t, t[-1] + length / 3600],
        np.r_[levels, levels[-1]],
        where="post",
        color="k",
        lw=0.8,
    )
    for stage in (REM, PRE_REM, ARTIFACT, *roles):
        mask = stages.to_numpy(object) == stage
        ax.scatter(
            t[mask] + length / 7200,
            levels[mask],
            s=4,
            color=_color(stage, roles),
            zorder=3,
        )
    ax.set(
        yticks=list(level_of.values()),
        yticklabels=list(level_of),
        ylim=(-0.5, max(level_of.values()) + 0.5),
        ylabel="Stage",
    )
    if stages.attrs.get("model"):
        ax.set_title(f"Scored by {stages.attrs['model']}", loc="left", fontsize=9)
    if proba is not None:
        values, _ = _check_proba(proba)
        ax_p = axes[1]
        tp = (proba.index.to_numpy(float) - float(proba.index[0])) / 3600
        ax_p.stackplot(
            tp,
            np.nan_to_num(values).T,
            labels=list(proba.columns),
            colors=[_color(c, _roles(proba)) for c in proba.columns],
            step="post",
        )
        ax_p.set(ylim=(0, 1), ylabel="Probability")
        ax_p.legend(
            loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
        )
    if review is not None:
        for _, bout in review.iterrows():
            x0 = (bout["onset"] - float(stages.index[0])) / 3600
            for a in axes:
                a.axvspan(
                    x0, x0 + bout["duration"] / 3600, color="gold", alpha=0.4, lw=0
                )
    axes[-1].set_xlabel("Time (h)")
    fig.tight_layout()
    return fig


def _heatmap(table, ax, title, fmt, vmax, label):
    """Draw a table as an annotated heatmap with a colour bar; return the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    fig = ax.figure
    values = table.to_numpy(float)
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=vmax)
    ax.set_xticks(range(table.shape[1]), list(table.columns), rotation=45, ha="right")
    ax.set_yticks(range(table.shape[0]), list(table.index))
    ax.set(xlabel=table.columns.name, ylabel=table.index.name, title=title)
    top = np.nanmax(values) if vmax is None else vmax
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            color = "white" if v > 0.6 * top else "black"
            ax.text(j, i, format(v, fmt), ha="center", va="center", color=color,
                    fontsize=8)  # fmt: skip
    fig.colorbar(im, ax=ax, fraction=0.046, label=label)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(evaluation, *, normalize="recall", ax=None):
    """Plot the confusion matrix of an evaluation.

    Parameters
    ----------
    evaluation : Evaluation
        As returned by :func:`mne_mousesleep.evaluate`.
    normalize : "recall" | "precision" | None
        Normalise by row (recall), by column (precision), or show counts.
    ax : matplotlib.axes.Axes | None
        The axes to draw into.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (not shown).
    """
    _check_option("normalize", normalize, ("recall", "precision", None))
    table = {
        "recall": evaluation.confusion_recall,
        "precision": evaluation.confusion_precision,
        None: evaluation.confusion,
    }[normalize]
    title = f"mean F1 {evaluation.mean_f1:.3f}, kappa {evaluation.kappa:.3f}"
    if normalize is None:
        return _heatmap(table, ax, title, ".0f", None, "count")
    return _heatmap(table, ax, title, ".2f", 1.0, normalize)


def plot_transition_matrix(probs, *, ax=None):
    """Plot a transition probability matrix as a heatmap.

    Parameters
    ----------
    probs : pandas.DataFrame
        Row-normalised probabilities, as the second output of
        :func:`mne_mousesleep.transition_matrix`.
    ax : matplotlib.axes.Axes | None
        The axes to draw into.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (not shown).
    """
    if not isinstance(probs, pd.DataFrame):
        raise TypeError(f"probs must be a DataFrame, got {type(probs).__name__}.")
    return _heatmap(probs, ax, "Transition probabilities", ".3f", 1.0, "probability")


def plot_hourly(hourly, *, ax=None):
    """Plot the hourly time course of the stages (percent of each hour).

    Parameters
    ----------
    hourly : pandas.DataFrame
        As returned by :func:`mne_mousesleep.hourly_statistics`; the dark phase
        is shaded when it has a ``phase`` column.
    ax : matplotlib.axes.Axes | None
        The axes to draw into.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (not shown).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 3))
    fig = ax.figure
    x = hourly["ZT"].to_numpy() if "ZT" in hourly else hourly.index.to_numpy()
    pos = np.arange(len(hourly))
    bottom = np.zeros(len(hourly))
    own = [
        c[: -len(" bouts")]
        for c in hourly.columns
        if c.endswith(" bouts") and c[: -len(" bouts")] not in STAGE_COLORS
    ]  # a lab's own classes
    for stage in (*SCORED_STAGES, ARTIFACT, *own):
        minutes = hourly[f"{stage} min"].to_numpy(float)
        share = 100 * minutes / hourly["total min"].to_numpy(float)
        ax.bar(
            pos, share, bottom=bottom, color=_color(stage, own), label=stage, width=0.9
        )
        bottom += share
    if "unscored min" in hourly:  # the rest of the recorded time, so bars reach 100
        share = 100 * hourly["unscored min"].to_numpy(float)
        share = share / hourly["total min"].to_numpy(float)
        ax.bar(pos, share, bottom=bottom, color="0.85", label="unscored", width=0.9)
    if "phase" in hourly:
        for ii, phase in enumerate(hourly["phase"]):
            if phase == "dark":
                ax.axvspan(ii - 0.5, ii + 0.5, color="k", alpha=0.08, lw=0)
    ax.set_xticks(pos, [f"{v:g}" for v in x])
    ax.set(
        ylim=(0, 100), ylabel="% of hour", xlabel="ZT (h)" if "ZT" in hourly else "Hour"
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
