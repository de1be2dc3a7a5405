"""Scoring at 4 s: a 4-s model against a 10-s model converted to 4 s.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_epoch_length.py``
(``--mice``, ``--hours``, ``--max-epochs`` to change the size; about 1.5 h
on 2 cores with the defaults, most of it training the 4-s model: 12,600
windows per training epoch at about 100 windows/s).

Simulated mice whose true stages are drawn in 4-s epochs (bouts as long in
seconds as at 10 s; :func:`mne_mousesleep.datasets.simulate_hypnogram`),
split by animal. Two 3conv_pool models are trained on the same recordings
with the same recipe and seed: one at ``epoch_length=4`` (a 28-s window, 3
epochs of context on each side), one at 10 s (the 4-s truth converted to 10-s
epochs by the majority rule, as a lab that scores at 10 s would have it). On
the test mice, the 10-s model's stages are converted to 4 s
(:func:`mne_mousesleep.to_epoch_length`) and both are compared with the 4-s
truth: 5-stage mean F1 and per-stage F1 (network alone, and with the default
steps), and the bout statistics that 4-s scoring is for (bouts per stage,
mean bout length, REM latency). Then the cost: the time to score the same
hours with each model (the whole-recording path at both lengths), as a ratio
in the same process.
"""

import argparse
import time

import numpy as np
import pandas as pd
import torch

try:
    from _machine import cpu_name
except ImportError:  # run from elsewhere
    from benchmarks._machine import cpu_name

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

_STAGES = ("Wake", "NREM", "pre-REM", "REM")


def _mice(n, hours, seed0=300):
    return [
        simulate_recording(
            hours * 3600.0,
            128.0,
            seed=seed0 + m,
            variability=0.2,
            epoch_length=4.0,
        )
        for m in range(n)
    ]


def _train(mice, ids, split, epoch_length, args):
    t0 = time.perf_counter()
    model = mms.train(
        mice,
        mice=ids,
        split=split,
        picks="EEG_PR",
        epoch_length=epoch_length,
        max_epochs=args.max_epochs,
        min_epochs=min(8, args.max_epochs),
        seed=0,
        name=f"sim-{epoch_length:g}s",
        verbose="error",
    )
    return model, time.perf_counter() - t0


def _bouts(stages):
    stats = mms.sleep_statistics(stages)
    out = {}
    for stage in ("Wake", "NREM", "REM"):
        out[f"{stage} bouts"] = stats[f"{stage} bouts"]
        out[f"{stage} mean bout s"] = stats[f"{stage} mean bout s"]
    out["REM latency min"] = stats["latency REM min"]
    return out


def _compare(model, raw, truth, steps):
    options = mms.ScoringOptions() if steps else mms.ScoringOptions.published()
    proba = mms.predict_proba(
        raw, options=options.replace(model=model), verbose="error"
    )
    stages = mms.proba_to_stages(proba)
    if model.card.epoch_length != 4.0:
        stages = mms.to_epoch_length(stages, 4.0)
    ev = mms.evaluate(truth, stages)
    return ev, _bouts(stages)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mice", type=int, default=10)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--timing-hours", type=float, default=6.0)
    args = parser.parse_args()
    print(f"Machine: {cpu_name()}; torch threads {torch.get_num_threads()}")
    mice = _mice(args.mice, args.hours)
    ids = [f"M{m}" for m in range(args.mice)]
    split = {"train": ids[:-3], "validation": ids[-3:-2], "test": ids[-2:]}
    print(
        f"{args.mice} simulated mice x {args.hours:g} h, truth in 4-s epochs; "
        f"train {len(split['train'])}, validation 1, test 2 (by animal)"
    )
    models = {}
    for length in (4.0, 10.0):
        model, seconds = _train(mice, ids, split, length, args)
        models[length] = model
        card = model.card
        print(
            f"{length:g}-s model: {card.n_context} epochs of context "
            f"({(2 * card.n_context + 1) * length:g}-s window), trained in "
            f"{seconds:.0f} s, best training epoch "
            f"{card.details['best_training_epoch']}, validation mean F1 "
            f"{card.metrics['validation mean F1']:.3f}"
        )
    rows, bouts = [], []
    test = [mice[ids.index(m)] for m in split["test"]]
    for steps in (False, True):
        for length, model in models.items():
            evs, bts = [], []
            for raw in test:
                truth = mms.to_stages(raw.annotations)
                ev, bt = _compare(model, raw, truth, steps)
                evs.append(ev)
                bts.append(bt)
            f1 = pd.concat([ev.per_class["f1"] for ev in evs], axis=1).mean(axis=1)
            rows.append(
                {
                    "model": f"{length:g}-s" + ("" if length == 4 else " -> 4 s"),
                    "steps": "default" if steps else "network only",
                    "mean F1": np.mean([ev.mean_f1 for ev in evs]),
                    **{f"F1 {s}": f1[s] for s in _STAGES},
                    "kappa": np.mean([ev.kappa for ev in evs]),
                }
            )
            if steps:
                bouts.append(
                    pd.DataFrame(bts).mean().rename(rows[-1]["model"]).round(1)
                )
    truth_bouts = pd.DataFrame(
        [_bouts(mms.to_stages(raw.annotations)) for raw in test]
    ).mean()
    bouts.insert(0, truth_bouts.rename("truth (4 s)").round(1))
    print("\nTest mice, 4-s epochs against the 4-s truth (mean of 2 mice):")
    print(pd.DataFrame(rows).round(3).to_string(index=False))
    print("\nBout statistics (default steps), mean of the test mice:")
    print(pd.concat(bouts, axis=1).to_string())
    # Cost: the same recording scored by each model, in this process.
    long = simulate_recording(args.timing_hours * 3600.0, 128.0, seed=999)
    times = {}
    for length, model in models.items():
        mms.predict_proba(long, model=model, verbose="error")  # warm
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            mms.predict_proba(long, model=model, verbose="error")
            best = min(best, time.perf_counter() - t0)
        times[length] = best
    print(
        f"\nScoring {args.timing_hours:g} h at 128 Hz (default steps, best of 3): "
        f"4-s model {times[4.0]:.2f} s, 10-s model {times[10.0]:.2f} s, ratio "
        f"{times[4.0] / times[10.0]:.2f} (2.5 times the epochs, each window of 7 "
        "epochs instead of 3)"
    )


if __name__ == "__main__":
    main()
