"""Per-epoch confidence and the review queue: the least confident bouts."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne.utils import _validate_type

from .hypnogram import _check_proba, proba_to_stages
from .stats import _bouts


def confidence(proba):
    """Confidence of each scored epoch, from its probabilities.

    Parameters
    ----------
    proba : pandas.DataFrame, shape (n_epochs, n_classes)
        Probabilities as returned by :func:`mne_mousesleep.predict_proba`.

    Returns
    -------
    conf : pandas.DataFrame, shape (n_epochs, 3)
        ``stage`` (most probable), ``confidence`` (its probability, 0–1) and
        ``entropy`` (Shannon entropy of the probabilities divided by
        ``log(n_classes)``: 0 when certain, 1 when uniform). NaN for unscored
        epochs. Same index as ``proba``.
    """
    values, scored = _check_proba(proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(values > 0, values * np.log(values), 0.0)
    entropy = -plogp.sum(axis=1) / np.log(values.shape[1])
    entropy[~scored] = np.nan
    top = np.full(len(values), np.nan)
    top[scored] = values[scored].max(axis=1)
    return pd.DataFrame(
        {"stage": proba_to_stages(proba), "confidence": top, "entropy": entropy},
        index=proba.index,
    )


def review_list(proba, *, fraction=0.05):
    """List the least confident bouts, for an expert to check.

    Bouts (runs of epochs with the same most probable stage) are ranked by
    their mean confidence, lowest first, and listed until they cover
    ``fraction`` of the scored time: an expert checks these instead of the
    whole recording.

    Parameters
    ----------
    proba : pandas.DataFrame, shape (n_epochs, n_classes)
        Probabilities as returned by :func:`mne_mousesleep.predict_proba`.
    fraction : float
        Share of the scored time to list, between 0 and 1 (default 0.05).

    Returns
    -------
    review : pandas.DataFrame
        One row per bout, least confident first: ``onset`` (s from the first
        sample), ``duration`` (s), ``stage`` (most probable), ``alternative``
        (second most probable stage, by mean probability over the bout),
        ``confidence`` (mean of the epochs' maximum probability), ``entropy``
        (mean normalised entropy) and ``cumulative %`` of the scored time.

    Raises
    ------
    ValueError
        If ``fraction`` is not in (0, 1].
    """
    _validate_type(fraction, "numeric", "fraction")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    conf = confidence(proba)
    stages = proba_to_stages(proba)
    bouts = _bouts(stages)
    bouts = bouts[bouts["stage"] != "unscored"]
    values = proba.to_numpy(float)
    rows = []
    for _, bout in bouts.iterrows():
        sl = slice(bout["start"], bout["end"])
        mean_p = values[sl].mean(axis=0)
        order = np.argsort(mean_p)[::-1]
        rows.append(
            {
                "onset": bout["onset"],
                "duration": bout["duration"],
                "stage": bout["stage"],
                "alternative": proba.columns[order[1]] if len(order) > 1 else None,
                "confidence": conf["confidence"].to_numpy()[sl].mean(),
                "entropy": conf["entropy"].to_numpy()[sl].mean(),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=["onset", "duration", "stage", "alternative", "confidence", "entropy"],
    )
    table = table.sort_values("confidence", kind="stable").reset_index(drop=True)
    total = table["duration"].sum()
    if not len(table) or total == 0:
        table["cumulative %"] = []
        return table
    table["cumulative %"] = 100 * table["duration"].cumsum() / total
    n_keep = int(np.searchsorted(table["cumulative %"].to_numpy(), 100 * fraction)) + 1
    return table.iloc[:n_keep]
