"""How the scores change from lab to lab: simulated labs with known truth.

The published networks come from one lab. This script simulates recordings of
the same mice (same seed: same hypnogram) as other labs would record them
(other gain, noise, spectral tilt, electrode polarity, sampling rate, EMG,
theta-rich active Wake) and one day in the dark phase (mostly Wake), scores
each with every setting the package has, and prints one table:

- 5-stage mean F1, 3-stage mean F1, and the 3-stage F1 of Wake and REM
  against the simulated truth (:func:`mne_mousesleep.evaluate`);
- ``changed``: the share of 5-stage calls that differ from the reference
  lab's calls on the same epochs (same hypnogram; the labs that share it);
- ``W->R``: Wake -> REM transitions in the calls (mice do not go from Wake
  straight into REM; the truth has none).

Then label-free indicators on the two real MiSleep recordings: the share of
REM calls, Wake -> REM transitions, the share of REM calls in the upper half
of the recording's EMG power (REM has muscle atonia), the mean confidence and
the share of unscored epochs.

The simulator is a test bed, not physiology; the figures rank settings, they
do not predict accuracy on real labs. Run:
``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_cross_lab.py``
(``--hours`` per recording, default 6; ``--seeds``, default 2; ``--out``
writes the table as CSV).
"""

import argparse
import time

import mne
import numpy as np
import pandas as pd
from _machine import cpu_name  # benchmarks/_machine.py

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

#: Simulated labs: parameters of :func:`simulate_recording`, plus
#: ``resample`` (Hz) and ``emg_factor`` (the EMG scaled and buried in noise).
LABS = {
    "reference (1 kHz)": {},
    "gain 0.3": dict(gain=0.3),
    "gain 3": dict(gain=3.0),
    "noise x2": dict(noise=2.0),
    "tilt +0.5": dict(tilt=0.5),
    "sign flip": dict(sign=-1),
    "256 Hz": dict(resample=256.0),
    "128 Hz": dict(resample=128.0),
    "EMG absent": dict(ch_names=("EEG_PR",)),
    "EMG weak": dict(emg_factor=0.1),
    "theta-rich active Wake": dict(active_theta=70.0),
    "dark phase (mostly Wake)": dict(start="2024-01-01 19:00:00"),
}
#: The package's settings, as keyword arguments of predict_proba.
SETTINGS = {
    "published": {},
    "+ EMG atonia": dict(emg="EMG"),
}


def make_lab(params, hours, seed):
    """Return a simulated recording of a lab and its true stages."""
    params = dict(params)
    resample = params.pop("resample", None)
    emg_factor = params.pop("emg_factor", None)
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


def measure(raw, truth, setting):
    kwargs = dict(setting)
    if kwargs.get("emg") and kwargs["emg"] not in raw.ch_names:
        kwargs.pop("emg")  # no EMG in this lab: the setting does nothing
    proba = mms.predict_proba(raw, picks="EEG_PR", verbose="error", **kwargs)
    calls = mms.to_stages(proba)
    five = mms.evaluate(truth, calls)
    three = mms.evaluate(truth, calls, n_stages=3)
    f1 = three.per_class["f1"]
    return calls, {
        "5-stage F1": five.mean_f1,
        "3-stage F1": three.mean_f1,
        "Wake F1": f1.get("Wake", np.nan),
        "REM F1": f1.get("REM", np.nan),
        "W->R": wake_to_rem(calls),
        "true W->R": wake_to_rem(truth),
    }


def real_indicators():
    """Label-free indicators on the real MiSleep recordings."""
    rows = {}
    mat = mms.datasets.fetch_misleep_example()
    edf = mms.datasets.fetch_misleep_edf_example()
    # The .edf names no EMG channel (SOURCE.md): no EMG setting, no EMG figure.
    for name, raw, picks, emg in (
        ("MiSleep .mat (EEG_P, EMG_DIFF)", mat, "EEG_P", "EMG_DIFF"),
        ("MiSleep .edf (Channel1)", edf, "Channel1", None),
    ):
        for setting, kwargs in SETTINGS.items():
            if "emg" in kwargs and emg is None:
                continue
            kwargs = {k: (emg if k == "emg" else v) for k, v in kwargs.items()}
            with mne.utils.use_log_level("error"):
                try:
                    proba = mms.predict_proba(raw, picks=picks, **kwargs)
                except ValueError as err:  # e.g. nothing scorable: say so
                    rows[(name, setting)] = {"refused": str(err)[:60]}
                    continue
                power = mms.emg_power(raw, emg) if emg else None
            calls = mms.to_stages(proba)
            values = np.asarray(calls.astype(str))
            scored = values != "unscored"
            rem = values == "REM"
            on_high = np.nan
            if power is not None and rem.any():
                n = min(len(power), len(rem))
                high = power[:n] > np.nanmedian(power)
                on_high = 100 * (rem[:n] & high).sum() / rem.sum()
            rows[(name, setting)] = {
                "REM %": 100 * rem[scored].mean(),
                "W->R": wake_to_rem(calls),
                "REM on high EMG %": on_high,
                "mean confidence": float(np.nanmean(proba.max(axis=1))),
                "unscored %": 100 * (~scored).mean(),
            }
    return pd.DataFrame(rows).T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the table as CSV")
    args = parser.parse_args()
    print(f"machine: {cpu_name()}; recordings of {args.hours:g} h, seeds 0..")
    t0 = time.perf_counter()
    rows = []
    for seed in range(args.seeds):
        reference = {}
        for lab, params in LABS.items():
            raw, truth = make_lab(params, args.hours, seed)
            for setting, kwargs in SETTINGS.items():
                calls, row = measure(raw, truth, kwargs)
                if lab == "reference (1 kHz)":
                    reference[setting] = calls
                ref = reference.get(setting)
                same_day = "start" not in params and ref is not None
                if same_day:
                    common = calls.index.intersection(ref.index)
                    a = np.asarray(calls.loc[common].astype(str))
                    b = np.asarray(ref.loc[common].astype(str))
                    keep = (a != "unscored") & (b != "unscored")
                    row["changed %"] = 100 * (a[keep] != b[keep]).mean()
                else:
                    row["changed %"] = np.nan
                rows.append(dict(lab=lab, setting=setting, seed=seed, **row))
    table = pd.DataFrame(rows).groupby(["lab", "setting"], sort=False).mean()
    table = table.drop(columns="seed")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.round(3).to_string())
        print("\nReal MiSleep recordings, label-free indicators:")
        print(real_indicators().round(3).to_string())
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    if args.out:
        table.to_csv(args.out)


if __name__ == "__main__":
    main()
