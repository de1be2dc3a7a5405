"""Step 7: a trust verdict per recording, from label-free indicators."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.utils import logger

from .._architecture import RUNUP_S, _limits
from .._stages import _runs
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


def judge(
    network_labels,
    values,
    classes,
    quality,
    adapt_record,
    emg_record,
    smoothed,
    final_labels=None,
    epoch_length=10.0,
):
    """Return the trust record of one recording.

    ``network_labels`` are the network's most probable stages before the EMG
    and HMM steps (``"unscored"`` for unscored epochs), ``values`` the final
    probabilities ``(n_epochs, n_classes)`` of ``classes``, ``smoothed``
    whether the HMM ran, ``final_labels`` the final stages (the decoder's
    path; None: the most probable of ``values``) whose architecture is
    checked against the five labs' (:func:`_check_architecture`).
    """
    verdict = _Verdict()
    emg = emg_record or {}
    values = np.asarray(values, float)
    _check_calls(verdict, values, classes, quality)
    _check_physiology(verdict, network_labels, emg, smoothed)
    if final_labels is None:
        scored = ~np.isnan(values).any(axis=1)
        final_labels = np.full(len(values), "unscored", dtype=object)
        final_labels[scored] = np.asarray(classes, object)[
            values[scored].argmax(axis=1)
        ]
    too_little = _check_architecture(verdict, final_labels, epoch_length)
    low_rate = _check_input(verdict, quality, adapt_record, emg)
    verdict.indicators["emg_used"] = emg.get("channel")
    verdict.indicators["emg_informative"] = bool(emg.get("informative", False))
    notes = _notes(low_rate, emg, adapt_record or {})
    if too_little:
        notes.append(too_little)
    return dict(
        verdict=VERDICTS[verdict.level],
        reasons=verdict.reasons,
        notes=notes,
        indicators=verdict.indicators,
    )


#: Hours of scored epochs below which the architecture is not judged.
ARCHITECTURE_MIN_HOURS = 2.0
#: Shares of REM bouts entered from Wake, and of REM onsets (2 min or more
#: into the recording) after less NREM than the least of the five labs' 5th
#: percentiles, above which a scoring's architecture is not a real mouse's
#: (the five labs' experts: at most 1.6 % and 5 %).
ARCHITECTURE_LIMITS = dict(rem_from_wake=0.05, rem_without_runup=0.10)


def _check_architecture(verdict, labels, epoch_length):
    """Check the final calls against the five labs' expert scorings.

    REM bouts longer than the longest the experts scored (304 s), REM
    entered from Wake or without an NREM run-up, a REM share or REM bouts
    per hour more than twice the highest lab's: "review", with the reason.
    Returns a note when the scoring is too short to judge (None otherwise).
    """
    labels = np.asarray(labels, dtype=object)
    scored = labels != "unscored"
    hours = scored.sum() * epoch_length / 3600
    verdict.indicators["architecture_hours"] = float(hours)
    if hours < ARCHITECTURE_MIN_HOURS:
        return (
            f"architecture check: too little to judge ({hours * 60:.0f} min "
            f"scored; {ARCHITECTURE_MIN_HOURS:g} h needed)"
        )
    limits = _limits()
    longest, least = limits["longest_rem_s"], limits["least_runup"]
    share_max, per_hour_max = limits["rem_share"], limits["rem_per_hour"]
    starts, ends = _runs(labels)
    lengths = ends - starts
    stages = labels[starts]
    rem = np.flatnonzero(stages == "REM")
    n_rem = len(rem)
    share = float((labels == "REM").sum() / max(scored.sum(), 1))
    per_hour = n_rem / hours
    longest_call = float(lengths[rem].max() * epoch_length) if n_rem else 0.0
    from_wake = sum(1 for i in rem if i > 0 and stages[i - 1] == "Wake")
    n_runup = max(1, int(round(RUNUP_S / epoch_length)))
    onsets = [starts[i] for i in rem if starts[i] >= n_runup]
    runups = [
        np.isin(labels[t - n_runup : t], ("NREM", "pre-REM")).mean() for t in onsets
    ]
    without = float(np.mean(np.less(runups, least))) if runups else 0.0
    verdict.indicators.update(
        rem_share=share,
        rem_bouts_per_hour=per_hour,
        longest_rem_bout_s=longest_call,
        rem_from_wake=from_wake / n_rem if n_rem else 0.0,
        rem_without_runup=without,
    )
    if longest_call > longest:
        verdict.flag(
            1,
            f"a REM bout of {longest_call:g} s: none of the five labs' experts "
            f"scored one longer than {longest:g} s",
        )
    if n_rem and from_wake / n_rem > ARCHITECTURE_LIMITS["rem_from_wake"]:
        verdict.flag(
            1,
            f"{from_wake / n_rem:.0%} of the REM bouts entered from Wake (the five "
            f"labs' experts: at most 2 %)",
        )
    if without > ARCHITECTURE_LIMITS["rem_without_runup"]:
        verdict.flag(
            1,
            f"{without:.0%} of the REM onsets after less than {least:.0%} NREM in "
            "the 2 min before (the five labs' experts: 5 %)",
        )
    if share > 2 * share_max:
        verdict.flag(
            1,
            f"REM is {share:.0%} of the scored time, more than twice the highest "
            f"of the five labs ({share_max:.1%})",
        )
    if per_hour > 2 * per_hour_max:
        verdict.flag(
            1,
            f"{per_hour:.1f} REM bouts per hour, more than twice the highest of "
            f"the five labs ({per_hour_max:.1f})",
        )
    return None


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
