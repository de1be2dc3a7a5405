"""A trust verdict per recording, from label-free indicators."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np

from .adapt import GAIN_RANGE
from .quality import MIN_RELIABLE_SFREQ

#: Thresholds of the verdict: (review, unreliable).
THRESHOLDS = {
    "mean_confidence": (0.8, 0.6),  # below
    "unscored_share": (0.1, 0.5),  # above
    "artifact_share": (0.1, 0.3),  # above
    "rem_on_awake_emg": (0.2, 0.5),  # above (share of REM calls)
    "wake_to_rem_per_rem_bout": (0.1, 0.3),  # above
}
VERDICTS = ("ok", "review", "unreliable")


def _wake_to_rem(labels):
    """Wake -> REM steps and REM bouts in a sequence of stage labels."""
    labels = np.asarray(labels, dtype=object)
    w_r = int(((labels[:-1] == "Wake") & (labels[1:] == "REM")).sum())
    bouts = int(
        (labels[0] == "REM") + ((labels[:-1] != "REM") & (labels[1:] == "REM")).sum()
    )
    return w_r, bouts


def judge(network_labels, proba, quality, adapt_record, emg_record, smoothed):
    """Return the trust record of one recording.

    ``network_labels`` are the network's most probable stages before the EMG
    and HMM steps (``"unscored"`` for unscored epochs), ``proba`` the final
    probabilities, ``smoothed`` whether the HMM ran.
    """
    values = proba.to_numpy(float)
    scored = ~np.isnan(values).any(axis=1)
    n = len(values)
    emg = emg_record or {}
    indicators = {}
    reasons = []
    level = 0

    def flag(lvl, reason):
        nonlocal level
        level = max(level, lvl)
        reasons.append(reason)

    def check(key, value, fmt, what, below=False, fixed=False):
        # ``fixed``: a later step corrects what the indicator shows (the EMG
        # rules, the HMM), so it calls for review at most.
        indicators[key] = value
        if value is None:
            return
        review, unreliable = THRESHOLDS[key]
        worse = (lambda v, t: v < t) if below else (lambda v, t: v > t)
        if worse(value, unreliable) and not fixed:
            flag(2, what.format(fmt.format(value), fmt.format(unreliable)))
        elif worse(value, review):
            flag(1, what.format(fmt.format(value), fmt.format(review)))

    confidence = float(np.nanmean(values[scored].max(axis=1))) if scored.any() else 0.0
    check(
        "mean_confidence", confidence, "{:.2f}", "mean confidence {} < {}", below=True
    )
    check(
        "unscored_share",
        quality.get("n_unscored", 0) / max(n, 1),
        "{:.0%}",
        "{} of epochs unscored (> {})",
    )
    artifact = 0.0
    if "artifact" in proba.columns and scored.any():
        best = np.asarray(proba.columns)[values[scored].argmax(axis=1)]
        artifact = float((best == "artifact").mean())
    check("artifact_share", artifact, "{:.0%}", "{} of epochs artifact (> {})")
    w_r, bouts = _wake_to_rem(network_labels)
    indicators["wake_to_rem_before_smoothing"] = w_r
    indicators["rem_bouts_before_smoothing"] = bouts
    check(
        "wake_to_rem_per_rem_bout",
        w_r / bouts if bouts else None,
        "{:.0%}",
        "{} of the network's REM bouts start straight from Wake (> {}), "
        "which mice do not do",
        fixed=smoothed,
    )
    check(
        "rem_on_awake_emg",
        emg.get("rem_on_awake_emg"),
        "{:.0%}",
        "{} of the network's REM calls on awake-level EMG (> {}), where REM's "
        "atonia is impossible",
        fixed=True,  # the EMG rules moved them to Wake
    )
    sfreq = quality.get("sfreq")
    indicators["sfreq"] = sfreq
    low_rate = None
    if sfreq is not None and sfreq < MIN_RELIABLE_SFREQ:
        low_rate = (
            f"sampling rate {sfreq:g} Hz < {MIN_RELIABLE_SFREQ:g} Hz: the published "
            "networks' calls change with the rate below it"
        )
        if not emg.get("informative"):
            flag(1, low_rate)
    gains = (adapt_record or {}).get("gain") or {}
    indicators["gain"] = gains
    lo, hi = GAIN_RANGE
    for name, g in gains.items():
        if not lo <= g <= hi:
            flag(1, f"gain x{g:.3g} on {name}, outside {lo:g}-{hi:g}: far from the "
                 "training scale")  # fmt: skip
    if quality.get("likely_unit_error"):
        flag(2, "likely unit error: " + quality["likely_unit_error"])
    indicators["emg_used"] = emg.get("channel")
    indicators["emg_informative"] = bool(emg.get("informative", False))
    notes = []
    if low_rate and emg.get("informative"):
        notes.append(low_rate + "; the EMG rules correct most of it")
    if not emg.get("channel"):
        notes.append(f"EEG only ({emg.get('reason', 'no EMG')}): REM not checked "
                     "for atonia")  # fmt: skip
    elif not emg.get("informative"):
        notes.append(f"EMG {emg['channel']} not informative ({emg.get('reason')})")
    adapt = adapt_record or {}
    if not adapt.get("applied"):
        notes.append(f"no gain step ({adapt.get('reason', 'adapt=None')})")
    return dict(
        verdict=VERDICTS[level], reasons=reasons, notes=notes, indicators=indicators
    )
