"""How the scores change from lab to lab: simulated labs with known truth.

The published networks come from one lab. This script simulates recordings of
the same mice (same seed: same hypnogram) as other labs would record them
(other gain, noise, spectral tilt, electrode polarity, sampling rate, EMG,
theta-rich active Wake), plus a mostly-Wake night (dark phase) and a
mostly-NREM day, scores each with the published method, with each of the
package's cross-lab steps alone (gain step, EMG rules, HMM), with the gain
step and the EMG rules (what the HMM smooths) and with all of them (the
defaults), and prints one table. Epochs are pooled over the seeds
before the figures are computed (REM is rare: per-recording F1 of a few REM
epochs is noise):

- 5-stage mean F1, 3-stage mean F1, the 3-stage F1 of Wake and REM and the
  REM precision and recall against the simulated truth
  (:func:`mne_mousesleep.evaluate`);
- ``changed %``: the share of 5-stage calls that differ from the reference
  lab's calls (1 kHz, gain 1) with the same setting on the same epochs (the
  labs that share its hypnogram); for the sampling rates, 100 minus it is the
  agreement with the 1-kHz scores;
- ``W->R``: Wake -> REM transitions in the calls, summed over seeds (mice do
  not go from Wake straight into REM; the truth has none);
- ``verdict``: the trust verdicts (ok/review/unreliable counts).

Then label-free indicators on the two real MiSleep recordings (no labels):
the share of REM calls, Wake -> REM transitions, the share of REM calls in
the upper half of the recording's EMG power (REM has muscle atonia), the mean
confidence, the gain applied, the verdict, and the largest share of calls that
scaling the EEG by 0.25, 0.5, 2 or 4 changes.

The simulator is a test bed, not physiology; the figures rank settings, they
do not predict accuracy on real labs. Run:
``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_cross_lab.py``
(``--hours`` per recording, default 6; ``--seeds``, default 2; ``--labs``, a
comma-separated subset; ``--out`` writes the table as CSV).
"""

import argparse
import time
import warnings

import mne
import numpy as np
import pandas as pd
from _machine import cpu_name  # benchmarks/_machine.py

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_hypnogram, simulate_recording

#: Simulated labs: parameters of :func:`simulate_recording`, plus
#: ``resample`` (Hz), ``emg_factor`` (the EMG scaled and buried in noise) and
#: ``mostly_nrem`` (most Wake bouts of the day replaced by NREM).
LABS = {
    "reference (1 kHz)": {},
    "gain 0.3": dict(gain=0.3),
    "gain 3": dict(gain=3.0),
    "noise x2": dict(noise=2.0),
    "tilt +0.5": dict(tilt=0.5),
    "sign flip": dict(sign=-1),
    "256 Hz": dict(resample=256.0),
    "128 Hz": dict(resample=128.0),
    "100 Hz": dict(resample=100.0),
    "64 Hz": dict(resample=64.0),
    "EMG absent": dict(ch_names=("EEG_PR",)),
    "EMG weak": dict(emg_factor=0.1),
    "EMG strong x3": dict(emg_factor=3.0),
    "theta-rich active Wake": dict(active_theta=70.0),
    "theta-rich Wake without EMG": dict(active_theta=100.0, ch_names=("EEG_PR",)),
    "mostly Wake (dark phase)": dict(start="2024-01-01 19:00:00"),
    "mostly NREM": dict(mostly_nrem=True),
}
_PUBLISHED = dict(adapt=None, emg=None, smooth=None, precision="float32")
#: The package's settings, as keyword arguments of predict_proba.
SETTINGS = {
    "published": _PUBLISHED,
    "+ gain step": dict(_PUBLISHED, adapt="gain"),
    "+ EMG rules": dict(_PUBLISHED, emg="auto"),
    "+ HMM": dict(_PUBLISHED, smooth="hmm"),
    "gain + EMG (no HMM)": dict(smooth=None),
    "all, HMM": dict(smooth="hmm"),
    "all, HSMM": dict(smooth="hsmm"),
}


#: The truth's architecture: "pooled" (bouts drawn from the five labs'
#: expert scorings) or "chain" (the simulator's light/dark Markov chain).
TRUTH = {"lab": "pooled"}


def _mostly_nrem(hours, seed):
    """A light-phase hypnogram with 80 % of its Wake bouts turned into NREM."""
    stages = simulate_hypnogram(hours * 3600.0, seed=seed, lab=TRUTH["lab"])
    values = np.array(stages.astype(str), dtype=object)
    rng = np.random.default_rng(seed)
    bout = np.r_[0, np.cumsum(values[1:] != values[:-1])]
    for b in np.unique(bout[values == "Wake"]):
        if rng.random() < 0.8:
            values[bout == b] = "NREM"
    out = stages.copy()
    out[:] = values
    return out


def make_lab(params, hours, seed):
    """Return a simulated recording of a lab and its true stages."""
    params = dict(params)
    resample = params.pop("resample", None)
    emg_factor = params.pop("emg_factor", None)
    if params.pop("mostly_nrem", False):
        params["stages"] = _mostly_nrem(hours, seed)
    if "stages" not in params:
        params["lab"] = TRUTH["lab"]
    raw = simulate_recording(hours * 3600.0, 1000.0, seed=seed, **params)
    truth = mms.to_stages(raw.annotations)
    if resample is not None:
        raw = raw.resample(resample, npad="auto", verbose="error")
    if emg_factor is not None:
        rng = np.random.default_rng(seed + 1000)
        emg = raw.ch_names.index("EMG")
        data = raw.get_data()
        scale = np.std(data[emg])
        data[emg] = emg_factor * data[emg] + 0.5 * scale * rng.standard_normal(
            data.shape[1]
        )
        raw = mne.io.RawArray(data, raw.info, verbose="error").set_annotations(
            raw.annotations, verbose="error"
        )
    raw.set_annotations(None)  # the truth is kept aside, not given to the scorer
    return raw, truth


def wake_to_rem(stages):
    values = np.asarray(stages.astype(str))
    return int(((values[:-1] == "Wake") & (values[1:] == "REM")).sum())


def score(raw, setting):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # low rates warn
        proba = mms.predict_proba(raw, picks="EEG_PR", verbose="error", **setting)
    return mms.to_stages(proba), proba.attrs["trust"]["verdict"]


def figures(truth, calls):
    """F1 figures on epochs pooled over recordings."""
    five = mms.evaluate(truth, calls)
    three = mms.evaluate(truth, calls, n_stages=3)
    per = three.per_class
    got, true = _rem_architecture(calls), _rem_architecture(truth)
    return {
        "5-stage F1": five.mean_f1,
        "3-stage F1": three.mean_f1,
        "Wake F1": per.loc["Wake", "f1"],
        "REM F1": per.loc["REM", "f1"],
        "REM prec": per.loc["REM", "precision"],
        "REM rec": per.loc["REM", "recall"],
        "REM bouts/true": got[0] / max(true[0], 1),
        "REM mean s (true)": f"{got[1]:.0f} ({true[1]:.0f})",
        "|d latency| s": abs(got[2] - true[2]),
    }


def _rem_architecture(stages):
    """REM bouts, their mean duration (s), the mean REM latency (s).

    The latency is from each sleep onset (NREM after at least 1 min of Wake)
    to the next REM epoch.
    """
    values = np.asarray(stages.astype(str), dtype=object)
    length = float(stages.attrs.get("epoch_length", 10.0))
    change = np.r_[True, values[1:] != values[:-1]]
    starts = np.flatnonzero(change)
    lengths = np.diff(np.r_[starts, len(values)])
    labels = values[starts]
    rem = lengths[labels == "REM"] * length
    latencies = []
    for i in range(1, len(labels)):
        if labels[i] == "NREM" and labels[i - 1] == "Wake" and lengths[i - 1] >= 6:
            later = np.flatnonzero(values[starts[i] :] == "REM")
            if len(later):
                latencies.append(later[0] * length)
    mean_latency = float(np.mean(latencies)) if latencies else np.nan
    return len(rem), float(rem.mean()) if len(rem) else 0.0, mean_latency


def _pooled(series_list):
    """Concatenate per-recording stage series on one continuous time axis."""
    out, offset = [], 0.0
    for s in series_list:
        s = s.copy()
        s.index = s.index + offset
        offset = float(s.index[-1]) + 3600.0  # a gap: no transition across
        out.append(s)
    pooled = pd.concat(out)
    pooled.attrs = dict(series_list[0].attrs)
    return pooled


def real_indicators():
    """Label-free indicators on the real MiSleep recordings."""
    rows = {}
    mat = mms.datasets.fetch_misleep_example()
    edf = mms.datasets.fetch_misleep_edf_example()
    # The .edf names no EMG channel (SOURCE.md): the EMG step finds none.
    for name, raw, picks, emg in (
        ("MiSleep .mat (EEG_P, EMG_DIFF)", mat, "EEG_P", "EMG_DIFF"),
        ("MiSleep .edf (Channel1)", edf, "Channel1", None),
    ):
        raw = raw.copy().load_data()
        eeg = raw.ch_names.index(picks)
        power = mms.emg_power(raw, emg, verbose="error") if emg else None
        for setting, kwargs in SETTINGS.items():
            with mne.utils.use_log_level("error"):
                try:
                    proba = mms.predict_proba(raw, picks=picks, **kwargs)
                except ValueError as err:  # e.g. nothing scorable: say so
                    rows[(name, setting)] = {"refused": str(err)[:60]}
                    continue
                changed = 0.0
                for factor in (0.25, 0.5, 2.0, 4.0):
                    scaled = raw.copy()
                    scaled._data[eeg] *= factor
                    other = mms.predict_proba(
                        scaled, picks=picks, check_units=False, **kwargs
                    )
                    a = np.asarray(mms.to_stages(proba).astype(str))
                    b = np.asarray(mms.to_stages(other).astype(str))
                    keep = (a != "unscored") & (b != "unscored")
                    changed = max(changed, 100 * (a[keep] != b[keep]).mean())
            calls = mms.to_stages(proba)
            values = np.asarray(calls.astype(str))
            scored = values != "unscored"
            rem = values == "REM"
            on_high = np.nan
            if power is not None and rem.any():
                n = min(len(power), len(rem))
                high = power[:n] > np.nanmedian(power)
                on_high = 100 * (rem[:n] & high).sum() / rem.sum()
            gain = (proba.attrs["adapt"].get("gain") or {}).values()
            rows[(name, setting)] = {
                "REM %": 100 * rem[scored].mean(),
                "W->R": wake_to_rem(calls),
                "REM on high EMG %": on_high,
                "mean confidence": float(np.nanmean(proba.max(axis=1))),
                "gain": next(iter(gain), np.nan),
                "x0.25-4 changed % (max)": changed,
                "verdict": proba.attrs["trust"]["verdict"],
            }
    return pd.DataFrame(rows).T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--labs", default=None, help="comma-separated subset")
    parser.add_argument("--out", default=None, help="write the table as CSV")
    parser.add_argument(
        "--truth",
        default="pooled",
        help="the truth's architecture: pooled (or lab_1..lab_5: bouts drawn from "
        "the experts' scorings) or chain (the simulator's Markov chain)",
    )
    args = parser.parse_args()
    TRUTH["lab"] = None if args.truth == "chain" else args.truth
    labs = LABS if args.labs is None else {k: LABS[k] for k in args.labs.split(",")}
    print(
        f"machine: {cpu_name()}; recordings of {args.hours:g} h, seeds 0.., truth "
        f"{args.truth}"
    )
    t0 = time.perf_counter()
    calls = {}  # (lab, setting) -> list of per-seed calls
    truths, verdicts, reference = {}, {}, {}
    for seed in range(args.seeds):
        for lab, params in {"reference (1 kHz)": {}, **labs}.items():
            if (lab, seed) in truths:
                continue
            raw, truth = make_lab(params, args.hours, seed)
            truths[(lab, seed)] = truth
            for setting, kwargs in SETTINGS.items():
                stages, verdict = score(raw, kwargs)
                calls.setdefault((lab, setting), []).append(stages)
                verdicts.setdefault((lab, setting), []).append(verdict)
                if lab == "reference (1 kHz)":
                    reference[(setting, seed)] = stages
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows = []
    for (lab, setting), per_seed in calls.items():
        if lab not in labs:
            continue
        truth = _pooled([truths[(lab, s)] for s in range(args.seeds)])
        pooled = _pooled(per_seed)
        row = dict(lab=lab, setting=setting, **figures(truth, pooled))
        same_day = "start" not in LABS[lab] and "mostly_nrem" not in LABS[lab]
        if same_day:
            diffs = []
            for seed, stages in enumerate(per_seed):
                ref = reference[(setting, seed)]
                common = stages.index.intersection(ref.index)
                a = np.asarray(stages.loc[common].astype(str))
                b = np.asarray(ref.loc[common].astype(str))
                keep = (a != "unscored") & (b != "unscored")
                diffs.append(a[keep] != b[keep])
            row["changed %"] = 100 * np.concatenate(diffs).mean()
        else:
            row["changed %"] = np.nan
        row["W->R"] = sum(wake_to_rem(c) for c in per_seed)
        counts = pd.Series(verdicts[(lab, setting)]).value_counts()
        row["verdict"] = "/".join(
            f"{counts.get(v, 0)}" for v in ("ok", "review", "unreliable")
        )
        rows.append(row)
    table = pd.DataFrame(rows).set_index(["lab", "setting"])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("verdict: ok/review/unreliable counts")
        print(table.round(3).to_string())
        numbers = table.drop(columns=["verdict", "REM mean s (true)"])
        means = numbers.groupby(level="setting", sort=False)
        print("\nMean over the labs:")
        print(means.mean().round(3).to_string())
        print("\nReal MiSleep recordings, label-free indicators:")
        print(real_indicators().round(3).to_string())
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    if args.out:
        table.to_csv(args.out)


if __name__ == "__main__":
    main()
