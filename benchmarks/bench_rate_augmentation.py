"""Do models that train() makes score a recording alike at 128 Hz and 1 kHz?

Trains the 3conv_pool network from scratch on simulated mice recorded at
1 kHz, with the sampling-rate augmentation of :func:`mne_mousesleep.train`
(``resample_rates=(128.0,)``, the default) and without it
(``resample_rates=()``), then scores held-out mice at 1 kHz and the same
recordings resampled to 256, 128 and 100 Hz, and prints the agreement of the
calls with those at 1 kHz and the 3-stage mean F1 against the simulated truth.
The published 3-stage network is scored the same way for comparison (the
published path, ``adapt=None, emg=None, smooth=None``, as for the trained
models: only the network and its preprocessing are compared). Run:
``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_rate_augmentation.py``
(``--hours`` per mouse, default 2; ``--max-epochs``, default 15).
"""

import argparse
import time

import mne
import numpy as np
import pandas as pd
from _machine import cpu_name  # benchmarks/_machine.py

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

_PUBLISHED = dict(adapt=None, emg=None, smooth=None, precision="float32")
RATES = (256.0, 128.0, 100.0)


def mouse(seed, hours):
    raw = simulate_recording(hours * 3600.0, 1000.0, seed=seed, variability=0.2)
    raw.info["subject_info"] = {"his_id": f"m{seed}"}
    return raw


def calls(model, raw):
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(raw, picks="EEG_PR", model=model, **_PUBLISHED)
    return mms.to_stages(proba)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--mice", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {cpu_name()}; {args.mice} training mice + 1 validation, ")
    print(f"2 test mice, {args.hours:g} h each at 1 kHz (simulated)")
    t0 = time.perf_counter()
    train_mice = [mouse(seed, args.hours) for seed in range(args.mice + 1)]
    tests = [mouse(200 + seed, args.hours) for seed in range(2)]
    split = {
        "train": [f"m{s}" for s in range(args.mice)],
        "validation": [f"m{args.mice}"],
    }
    models = {"published 3-stage": mms.load_model("grieger2021-3stage")}
    for name, rates in (
        ("trained, rate augmentation", (128.0,)),
        ("trained, none", ()),
    ):
        with mne.utils.use_log_level("error"):
            models[name] = mms.train(
                train_mice,
                n_classes=3,
                split=split,
                resample_rates=rates,
                max_epochs=args.max_epochs,
                min_epochs=5,
                patience=4,
                seed=0,
                precision="float32",  # as documented, on every CPU
            )
        print(f"{name}: trained ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows = []
    for name, model in models.items():
        row = {"model": name}
        refs = [calls(model, raw) for raw in tests]
        truth = [mms.to_stages(raw.annotations) for raw in tests]
        row["F1 1 kHz"] = np.mean(
            [mms.evaluate(t, c, n_stages=3).mean_f1 for t, c in zip(truth, refs)]
        )
        for rate in RATES:
            agree, f1 = [], []
            for raw, ref, t in zip(tests, refs, truth):
                low = raw.copy().resample(rate, verbose="error")
                c = calls(model, low)
                common = c.index.intersection(ref.index)
                a = np.asarray(c.loc[common].astype(str))
                b = np.asarray(ref.loc[common].astype(str))
                keep = (a != "unscored") & (b != "unscored")
                agree.append(a[keep] == b[keep])
                f1.append(mms.evaluate(t, c, n_stages=3).mean_f1)
            row[f"agree {rate:g} Hz %"] = 100 * np.concatenate(agree).mean()
            row[f"F1 {rate:g} Hz"] = np.mean(f1)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string())
    print(f"\n{time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
