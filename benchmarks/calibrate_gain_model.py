"""Fit the gain model of the published networks (the numbers in the registry).

The published networks were trained on EEG at one lab's scale (first
BatchNorm: mean 0.0032 mV, variance 0.0186 mV^2). The Tübingen recordings are
not public, so the gain model of the published networks is fitted on the
package's simulated reference lab (:func:`mne_mousesleep.datasets.
simulate_recording` with ``gain=1``), whose scale the published networks
score best (this script checks it: 3-stage mean F1 against the simulated
truth for gains around 1). Each recording starts at lights-on and lasts 24 h,
so light and dark phase (mostly sleep, mostly Wake) are both in the fit.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/calibrate_gain_model.py``
(``--seeds``, default 3; ``--hours``, default 24). It prints the
coefficients to put in ``mne_mousesleep/models/_registry.py``, the spread of
the recordings' intercepts (they share one gain, so it should be small) and the
F1 against the input gain.
"""

import argparse
import time

from _machine import cpu_name  # benchmarks/_machine.py

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.scoring.gain import _epoch_features, fit_gain_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    features, raws = [], []
    for seed in range(args.seeds):
        raw = simulate_recording(args.hours * 3600.0, 1000.0, seed=100 + seed)
        x = mms.preprocess(raw, picks="EEG_PR", verbose="error")[0]
        features.append(_epoch_features(x, 64.0, 10.0))
        raws.append(raw)
    model = fit_gain_model(features)
    print(f"Machine: {cpu_name()}; {args.seeds} x {args.hours:g} h")
    print("coef =", [round(c, 5) for c in model["coef"]])
    print("intercept =", round(model["intercept"], 5))
    print("offsets (2 x log gain of each recording) =", model["offsets"])
    # Is gain 1 of the simulator the networks' scale? F1 against the gain.
    raw = raws[0]
    truth = mms.to_stages(raw.annotations)
    data = raw.get_data()
    eeg = raw.ch_names.index("EEG_PR")
    for gain in (0.5, 0.7, 0.85, 1.0, 1.2, 1.4, 2.0):
        scaled = raw.copy()
        scaled._data[eeg] = data[eeg] * gain
        proba = mms.predict_proba(
            scaled, picks="EEG_PR", adapt=None, emg=None, smooth=None, verbose="error"
        )
        f1 = mms.evaluate(truth, mms.to_stages(proba), n_stages=3).mean_f1
        print(f"input gain {gain:4.2f}: published 3-stage mean F1 {f1:.3f}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
