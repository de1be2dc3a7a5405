"""Training on simulated mice: throughput, a larger 5-class run, new-lab fine-tuning.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_training.py``
(``--part`` chooses ``throughput``, ``five`` or ``finetune``; default all).
"""

import argparse
import time

import numpy as np
import torch

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.models._grieger2021 import ARCHITECTURES
from mne_mousesleep.training import PAPER_AUGMENTATION, _augmented_window

#: The trained networks are compared as they are: no cross-lab step.
_PUBLISHED = dict(adapt=None, emg=None, smooth=None)


def throughput(n_windows=512, batch_size=256):
    """Training windows per second (augmentation, forward, backward, step)."""
    x = np.random.default_rng(0).standard_normal((1, 640 * 600)).astype(np.float32)
    rng = np.random.default_rng(1)
    for name, cls in ARCHITECTURES.items():
        torch.manual_seed(0)
        net = cls(1, 5).train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        t0 = time.perf_counter()
        for _ in range(0, n_windows, batch_size):
            epochs = rng.integers(1, 598, size=batch_size)
            batch = np.stack(
                [_augmented_window(x, k, PAPER_AUGMENTATION, rng) for k in epochs]
            )
            y = torch.from_numpy(rng.integers(0, 5, size=batch_size))
            opt.zero_grad()
            loss = torch.nn.functional.nll_loss(net(torch.from_numpy(batch)), y)
            loss.backward()
            opt.step()
        rate = n_windows / (time.perf_counter() - t0)
        print(f"{name}: {rate:.1f} training windows/s (batch {batch_size})")


def five_classes(n_mice=10, hours=2.0):
    """3conv_pool from scratch, 5 classes, EEG + EMG, split by mouse."""
    raws = [
        simulate_recording(hours * 3600, 128.0, seed=200 + m, variability=0.2)
        for m in range(n_mice)
    ]
    mice = [f"M{m}" for m in range(n_mice)]
    split = {"train": mice[:-3], "validation": mice[-3:-2], "test": mice[-2:]}
    t0 = time.perf_counter()
    model = mms.train(
        raws,
        picks=["EEG_PR", "EMG"],
        n_classes=5,
        mice=mice,
        split=split,
        batch_size=64,
        lr=1e-3,
        warmup_epochs=2,
        max_epochs=15,
        min_epochs=6,
        patience=4,
        windows_per_epoch=2048,
        verbose="error",
    )
    print(f"5 classes, {n_mice} mice x {hours:g} h: {time.perf_counter() - t0:.0f} s")
    print(model.history[["epoch", "loss", "validation mean F1"]].to_string())
    for key, value in model.card.metrics.items():
        print(f"  {key}: {value}")


def fine_tune(n_train=2, n_test=3):
    """The published 3-class model on a new lab, before and after fine-tuning."""
    lab = dict(gain=1.8, noise=1.6, tilt=0.4)
    raws = [
        simulate_recording(3600.0, 128.0, seed=300 + m, variability=0.1, **lab)
        for m in range(n_train + n_test)
    ]
    train_raws, test_raws = raws[:n_train], raws[n_train:]

    def mean_f1(model):
        scores = []
        for raw in test_raws:
            proba = mms.predict_proba(
                raw, picks="EEG_PR", model=model, verbose="error", **_PUBLISHED
            )
            scores.append(mms.evaluate(raw.annotations, proba, n_stages=3).mean_f1)
        return np.mean(scores)

    before = mean_f1("grieger2021-3stage")
    # 2 scored hours: one mouse to train, one to validate (split by mouse).
    t0 = time.perf_counter()
    tuned = mms.train(
        train_raws,
        picks="EEG_PR",
        n_classes=3,
        init="grieger2021-3stage",
        mice=["L0", "L1"],
        split={"train": ["L0"], "validation": ["L1"], "test": []},
        lr=1e-4,
        batch_size=64,
        warmup_epochs=1,
        max_epochs=8,
        min_epochs=3,
        patience=3,
        windows_per_epoch=512,
        verbose="error",
    )
    elapsed = time.perf_counter() - t0
    after = mean_f1(tuned)
    print(f"new lab {lab}, {n_test} held-out mice x 1 h, 3 classes:")
    print(f"  published grieger2021-3stage: mean F1 {before:.3f}")
    print(f"  fine-tuned on 2 scored hours: mean F1 {after:.3f} ({elapsed:.0f} s)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", default="all")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.part in ("all", "throughput"):
        throughput()
    if args.part in ("all", "finetune"):
        fine_tune()
    if args.part in ("all", "five"):
        five_classes()


if __name__ == "__main__":
    main()
