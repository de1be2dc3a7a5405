"""Step 7: a trust verdict per recording, from label-free indicators."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.utils import logger

from .check import MIN_RELIABLE_SFREQ
from .gain import GAIN_RANGE

#: Thresholds of the verdict: (review, unreliable).
THRESHOLDS = {
    "mean_confidence": (0.8, 0.6),  # below
    "unscored_share": (0.1, 0.5),  # above
    "artifact_share": (0.1, 0.3),  # above
    "rem_on_awake_emg": (0.2, 0.5),  # above (share of REM calls)
    "rem_tone_over_nrem": (1.0, 1.0),  # above (EMG power ratio), review at most
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


class _Verdict:
    """The indicators of a recording, the reasons found and the level reached."""

    def __init__(self):
        self.indicators, self.reasons, self.level = {}, [], 0

    def flag(self, level, reason):
        self.level = max(self.level, level)
        self.reasons.append(reason)

    def check(self, key, value, fmt, what, below=False, fixed=False):
        """Record ``value``; flag it against :data:`THRESHOLDS` of ``key``.

        ``fixed``: a later step corrects what the indicator shows (the EMG
        rules, the HMM), so it calls for review at most.
        """
        self.indicators[key] = value
        if value is None:
            return
        review, unreliable = THRESHOLDS[key]
        worse = (lambda v, t: v < t) if below else (lambda v, t: v > t)
        if worse(value, unreliable) and not fixed:
            self.flag(2, what.format(fmt.format(value), fmt.format(unreliable)))
        elif worse(value, review):
            self.flag(1, what.format(fmt.format(value), fmt.format(review)))


def judge(network_labels, values, classes, quality, adapt_record, emg_record, smoothed):
    """Return the trust record of one recording.

    ``network_labels`` are the network's most probable stages before the EMG
    and HMM steps (``"unscored"`` for unscored epochs), ``values`` the final
    probabilities ``(n_epochs, n_classes)`` of ``classes``, ``smoothed``
    whether the HMM ran.
    """
    verdict = _Verdict()
    emg = emg_record or {}
    _check_calls(verdict, np.asarray(values, float), classes, quality)
    _check_physiology(verdict, network_labels, emg, smoothed)
    low_rate = _check_input(verdict, quality, adapt_record, emg)
    verdict.indicators["emg_used"] = emg.get("channel")
    verdict.indicators["emg_informative"] = bool(emg.get("informative", False))
    return dict(
        verdict=VERDICTS[verdict.level],
        reasons=verdict.reasons,
        notes=_notes(low_rate, emg, adapt_record or {}),
        indicators=verdict.indicators,
    )


def _check_calls(verdict, values, classes, quality):
    """Check the confidence, unscored and artifact shares of the final calls."""
    scored = ~np.isnan(values).any(axis=1)
    confidence = float(np.nanmean(values[scored].max(axis=1))) if scored.any() else 0.0
    verdict.check(
        "mean_confidence", confidence, "{:.2f}", "mean confidence {} < {}", below=True
    )
    verdict.check(
        "unscored_share",
        quality.get("n_unscored", 0) / max(len(values), 1),
        "{:.0%}",
        "{} of epochs unscored (> {})",
    )
    artifact = 0.0
    if "artifact" in classes and scored.any():
        best = np.asarray(classes)[values[scored].argmax(axis=1)]
        artifact = float((best == "artifact").mean())
    verdict.check("artifact_share", artifact, "{:.0%}", "{} of epochs artifact (> {})")


def _check_physiology(verdict, network_labels, emg, smoothed):
    """Check for what mice do not do in the calls: Wake -> REM, REM with tone."""
    w_r, bouts = _wake_to_rem(network_labels)
    verdict.indicators["wake_to_rem_before_smoothing"] = w_r
    verdict.indicators["rem_bouts_before_smoothing"] = bouts
    verdict.check(
        "wake_to_rem_per_rem_bout",
        w_r / bouts if bouts else None,
        "{:.0%}",
        "{} of the network's REM bouts start straight from Wake (> {}), "
        "which mice do not do",
        fixed=smoothed,
    )
    verdict.check(
        "rem_on_awake_emg",
        emg.get("rem_on_awake_emg"),
        "{:.0%}",
        "{} of the network's REM calls on awake-level EMG (> {}), where REM's "
        "atonia is impossible",
        fixed=True,  # the EMG rules moved them to Wake
    )
    tone = emg.get("rem_tone_over_nrem")
    verdict.check(
        "rem_tone_over_nrem",
        None if emg.get("informative") else tone,  # else: rem_on_awake_emg
        "{:.2g}",
        "REM tone exceeds NREM tone: the network's REM calls have {} times the "
        "EMG power of its NREM calls (> {}), where REM needs atonia",
        fixed=True,  # the EMG step moved those well above NREM's to Wake
    )
    verdict.indicators["rem_tone_over_nrem"] = tone


def _check_input(verdict, quality, adapt_record, emg):
    """Check the sampling rate, the gains and the units; return the rate note."""
    sfreq = quality.get("sfreq")
    verdict.indicators["sfreq"] = sfreq
    low_rate = None
    if sfreq is not None and sfreq < MIN_RELIABLE_SFREQ:
        low_rate = (
            f"sampling rate {sfreq:g} Hz < {MIN_RELIABLE_SFREQ:g} Hz: the published "
            "networks' calls change with the rate below it"
        )
        if not emg.get("informative"):
            verdict.flag(1, low_rate)
    gains = (adapt_record or {}).get("gain") or {}
    verdict.indicators["gain"] = gains
    lo, hi = GAIN_RANGE
    for name, g in gains.items():
        if not lo <= g <= hi:
            verdict.flag(1, f"gain x{g:.3g} on {name}, outside {lo:g}-{hi:g}: far "
                         "from the training scale")  # fmt: skip
    if quality.get("likely_unit_error"):
        verdict.flag(2, "likely unit error: " + quality["likely_unit_error"])
    return low_rate


def _notes(low_rate, emg, adapt):
    """Return what the verdict did not weigh: EEG alone, a mute EMG, no gain."""
    notes = []
    if low_rate and emg.get("informative"):
        notes.append(low_rate + "; the EMG rules correct most of it")
    if not emg.get("channel"):
        notes.append(f"EEG only ({emg.get('reason', 'no EMG')}): REM not checked "
                     "for atonia")  # fmt: skip
    elif not emg.get("informative"):
        notes.append(
            f"EMG channel {emg['channel']} not informative ({emg.get('reason')})"
        )
    if not adapt.get("applied"):
        notes.append(f"no gain step ({adapt.get('reason', 'adapt=None')})")
    return notes


def _log_trust(trust):
    text = f"Trust: {trust['verdict']}"
    if trust["reasons"]:
        text += " (" + "; ".join(trust["reasons"]) + ")"
    (logger.warning if trust["verdict"] != "ok" else logger.info)(text)
    for note in trust["notes"]:
        logger.info(f"Trust note: {note}")
