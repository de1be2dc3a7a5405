"""How much labelling a new lab needs: fine-tuning against labelled epochs.

A simulated new lab (another gain, more noise, a spectral tilt, theta-rich
active Wake, 256 Hz) records mice; its expert labels ``N`` epochs of each stage
(10, 30, 100, 300) on the training mice and as many on one validation mouse.
The published 5-stage network is fine-tuned on them
(:func:`mne_mousesleep.train` with ``init``) and scored on two other mice of
the lab against their simulated truth, in two ways:

- ``published``: fine-tuning and scoring as published (no gain step, no
  sampling-rate augmentation; scoring with ``adapt=None, emg=None,
  smooth=None``);
- ``with the steps``: the gain step in fine-tuning and scoring, the EMG rules
  and the HMM in scoring (the package's defaults).

``N = 0`` is the network without fine-tuning. Each figure is the mean over
``--repeats`` draws of the labelled epochs. Run:
``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_labelling.py``
(``--hours`` per mouse, default 4; ``--sizes``, default 10,30,100,300).
"""

import argparse
import time

import mne
import numpy as np
import pandas as pd
from _machine import cpu_name  # benchmarks/_machine.py

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

#: The simulated new lab (parameters of simulate_recording).
LAB = dict(gain=2.5, noise=1.5, tilt=0.3, active_theta=70.0)
_PUBLISHED = dict(adapt=None, emg=None, smooth=None, precision="float32")
_STAGES = ("Wake", "NREM", "pre-REM", "REM", "artifact")


def mouse(seed, hours):
    """One mouse of the new lab and its true stages."""
    raw = simulate_recording(hours * 3600.0, 256.0, seed=seed, **LAB)
    raw.info["subject_info"] = {"his_id": f"m{seed}"}
    truth = mms.to_stages(raw.annotations)
    raw.set_annotations(None)
    return raw, truth


def labelled(raw, truth, n, rng):
    """A copy of ``raw`` with ``n`` epochs of each stage annotated (at most)."""
    values = np.asarray(truth.astype(str))
    keep = []
    for stage in _STAGES:
        where = np.flatnonzero(values == stage)
        where = where[(where > 0) & (where < len(values) - 1)]  # full windows
        keep.extend(rng.choice(where, size=min(n, len(where)), replace=False))
    partial = truth.copy()
    unlabelled = np.ones(len(values), bool)
    unlabelled[np.asarray(keep, int)] = False
    partial[unlabelled] = "unscored"  # "Sleep stage ?": not learnt from
    annot = mms.to_annotations(partial)
    out = raw.copy()
    out.set_annotations(
        mne.Annotations(annot.onset, annot.duration, annot.description, orig_time=None),
        verbose="error",
    )
    return out


def evaluate(model, tests, kwargs):
    f5, f3 = [], []
    for raw, truth in tests:
        with mne.utils.use_log_level("error"):
            proba = mms.predict_proba(raw, picks="EEG_PR", model=model, **kwargs)
        calls = mms.to_stages(proba)
        f5.append(mms.evaluate(truth, calls).mean_f1)
        f3.append(mms.evaluate(truth, calls, n_stages=3).mean_f1)
    return float(np.mean(f5)), float(np.mean(f3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--sizes", default="10,30,100,300")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--train-mice", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=12)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {cpu_name()}; {args.train_mice} training mice, 1 validation,")
    print(f"2 test mice, {args.hours:g} h each; new lab: {LAB}, 256 Hz")
    t0 = time.perf_counter()
    n_train = args.train_mice
    train_mice = [mouse(seed, args.hours) for seed in range(n_train + 1)]
    tests = [mouse(100 + seed, args.hours) for seed in range(2)]
    base = mms.load_model("grieger2021-5stage")
    settings = {
        "published": dict(train=dict(adapt=None, resample_rates=()), score=_PUBLISHED),
        "with the steps": dict(train=dict(adapt="gain"), score={}),
    }
    rows = []
    for name, setting in settings.items():
        f5, f3 = evaluate(base, tests, setting["score"])
        rows.append(dict(setting=name, N=0, repeat=0, **{"5-stage F1": f5}, **{
            "3-stage F1": f3}))  # fmt: skip
    for n in sizes:
        for rep in range(args.repeats):
            rng = np.random.default_rng(1000 * n + rep)
            recs = [labelled(raw, truth, n, rng) for raw, truth in train_mice]
            split = {
                "train": [f"m{s}" for s in range(n_train)],
                "validation": [f"m{n_train}"],
            }
            for name, setting in settings.items():
                with mne.utils.use_log_level("error"):
                    model = mms.train(
                        recs,
                        n_classes=5,
                        init="grieger2021-5stage",
                        split=split,
                        lr=1e-4,
                        batch_size=64,
                        max_epochs=args.max_epochs,
                        min_epochs=4,
                        patience=3,
                        windows_per_epoch=max(512, 5 * n),
                        precision="float32",  # as documented, on every CPU
                        seed=rep,
                        **setting["train"],
                    )
                f5, f3 = evaluate(model, tests, setting["score"])
                rows.append(
                    dict(setting=name, N=n, repeat=rep, **{"5-stage F1": f5},
                         **{"3-stage F1": f3})
                )  # fmt: skip
                print(
                    f"N={n:4d} repeat {rep} {name:15s}: 5-stage F1 {f5:.3f}, "
                    f"3-stage F1 {f3:.3f} ({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
    table = pd.DataFrame(rows).groupby(["N", "setting"]).mean().drop(columns="repeat")
    print("\nMean F1 on the test mice against labelled epochs per stage:")
    print(table.round(3).unstack("setting").to_string())
    print(f"\n{time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
