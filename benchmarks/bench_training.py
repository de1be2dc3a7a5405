"""Training on simulated mice: throughput, precision, a 5-class run, fine-tuning.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_training.py``
(``--part`` chooses ``throughput``, ``precision``, ``five`` or ``finetune``;
default all). ``throughput`` prints training windows/s per architecture in
float32 and bfloat16 (where the CPU has it) against the float32 bound of the
machine's measured matrix-product peak; ``precision`` trains 3conv_pool in
both and prints the validation and test F1 and the time per training epoch.
"""

import argparse
import time

import numpy as np
import torch

try:
    from _machine import cpu_name
except ImportError:  # run from elsewhere
    from benchmarks._machine import cpu_name

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.models._grieger2021 import ARCHITECTURES
from mne_mousesleep.training import PAPER_AUGMENTATION, _augmented_window

#: The trained networks are compared as they are: no cross-lab step.
_PUBLISHED = dict(adapt=None, emg=None, smooth=None)


def _gemm_gflops(dtype=torch.float32, n=2048):
    """Rate of a large matrix product with all threads (the machine's peak)."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    for _ in range(2):
        a @ b
    t0 = time.perf_counter()
    for _ in range(5):
        a @ b
    return 2 * n**3 * 5 / (time.perf_counter() - t0) / 1e9


def _flops_per_window(net, n_samples=1920):
    """Multiply-adds x 2 of the convolutions and linear layers, one window."""
    total, length = 0, n_samples
    for module in net.modules():
        if isinstance(module, torch.nn.ConstantPad1d):
            length += sum(module.padding)
        elif isinstance(module, torch.nn.Conv1d):
            length = (length - module.kernel_size[0]) // module.stride[0] + 1
            total += (
                2
                * module.in_channels
                * module.out_channels
                * (module.kernel_size[0] * length)
            )
        elif isinstance(module, torch.nn.MaxPool1d | torch.nn.AvgPool1d):
            k = (
                module.kernel_size
                if isinstance(module.kernel_size, int)
                else (module.kernel_size[0])
            )
            length //= k
        elif isinstance(module, torch.nn.Linear):
            total += 2 * module.in_features * module.out_features
    return total


def throughput(n_windows=768, batch_size=256):
    """Training windows per second (augmentation, forward, backward, step).

    In float32 and, where the CPU computes it natively, bfloat16 autocast (what
    ``train(precision="auto")`` picks), against the float32 bound of the
    measured matrix-product peak (training = 3 x the forward FLOPs).
    """
    from mne_mousesleep._device import _native_bf16_cpu

    x = np.random.default_rng(0).standard_normal((1, 640 * 600)).astype(np.float32)
    rng = np.random.default_rng(1)
    peak = _gemm_gflops()
    print(f"float32 matrix-product peak: {peak:.0f} GFLOPS")
    modes = [None] + ([torch.bfloat16] if _native_bf16_cpu() else [])
    if len(modes) == 2:
        print(
            f"bfloat16 matrix-product peak: {_gemm_gflops(torch.bfloat16):.0f} GFLOPS"
        )
    for name, cls in ARCHITECTURES.items():
        flops = 3 * _flops_per_window(cls(1, 5))
        bound = peak * 1e9 / flops
        for dtype in modes:
            torch.manual_seed(0)
            net = cls(1, 5).train()
            opt = torch.optim.Adam(net.parameters(), lr=1e-4)
            rates = []
            for _ in range(0, n_windows, batch_size):
                t0 = time.perf_counter()
                epochs = rng.integers(1, 598, size=batch_size)
                batch = np.stack(
                    [_augmented_window(x, k, PAPER_AUGMENTATION, rng) for k in epochs]
                )
                y = torch.from_numpy(rng.integers(0, 5, size=batch_size))
                opt.zero_grad()
                with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                    out = net(torch.from_numpy(batch))
                loss = torch.nn.functional.nll_loss(out.float(), y)
                loss.backward()
                opt.step()
                rates.append(batch_size / (time.perf_counter() - t0))
            rate = float(np.median(rates[1:]))  # the first batch warms up
            label = "float32" if dtype is None else "bfloat16"
            print(
                f"{name} {label}: {rate:.1f} training windows/s (batch {batch_size}); "
                f"float32 bound {bound:.1f} windows/s ({flops / 1e9:.2f} GFLOP per "
                f"window), {rate / bound:.0%} of it"
            )


def precision(n_mice=6, hours=2.0, seeds=(0, 1)):
    """3conv_pool trained in float32 and in bfloat16: F1 and time per epoch."""
    from mne_mousesleep._device import _native_bf16_cpu

    if not _native_bf16_cpu():
        print("precision: this CPU has no native bfloat16; nothing to compare")
        return
    raws = [
        simulate_recording(hours * 3600, 128.0, seed=400 + m, variability=0.2)
        for m in range(n_mice)
    ]
    mice = [f"M{m}" for m in range(n_mice)]
    split = {"train": mice[:-2], "validation": mice[-2:-1], "test": mice[-1:]}
    for seed in seeds:
        for mode in ("float32", "bfloat16"):
            model = mms.train(
                raws,
                picks="EEG_PR",
                n_classes=3,
                mice=mice,
                split=split,
                batch_size=64,
                max_epochs=8,
                min_epochs=8,
                warmup_epochs=2,
                windows_per_epoch=1024,
                seed=seed,
                precision=mode,
                adapt=None,
                resample_rates=(),
                verbose="error",
            )
            card = model.card
            print(
                f"seed {seed} {mode}: validation mean F1 "
                f"{card.metrics['validation mean F1']:.3f}, test mean F1 "
                f"{card.metrics['test mean F1']:.3f}, "
                f"{card.details['seconds_per_training_epoch']:.1f} s per training epoch"
            )


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
    print(f"Machine: {cpu_name()}")
    if args.part in ("all", "throughput"):
        throughput()
    if args.part in ("all", "precision"):
        precision()
    if args.part in ("all", "finetune"):
        fine_tune()
    if args.part in ("all", "five"):
        five_classes()


if __name__ == "__main__":
    main()
