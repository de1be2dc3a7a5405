"""Training on simulated mice: throughput, memory, precision, compile, recipes.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_training.py``
(``--part`` chooses ``throughput``, ``memory``, ``precision``, ``compile``,
``five`` or ``finetune``; default all but memory).

- ``throughput``: training windows/s per architecture (augmentation, forward,
  backward, Adam step; batch 256) on the CPU, before (the networks with
  padded copies and the per-window numpy augmentation of the first training
  code) and after (the training loop's own augmentation and networks), in
  float32 and in bfloat16 where the CPU has it, against the float32 bound of
  the machine's measured matrix-product peak; on a CUDA GPU too when there is
  one (float32 and the mixed precision of ``precision="auto"``).
- ``memory``: 50 mice x 24 h (one simulated 24-h EDF at 512 Hz, EEG and EMG,
  opened 50 times ``preload=False`` as 50 mice) prepared for training
  (64 Hz, float32, 128-Hz rate versions) and one training epoch, in a child
  process: wall time and peak RSS (``--dir`` keeps the EDF file).
- ``precision``: 3conv_pool and 8conv_2fc trained in float32 and in bfloat16
  (where the CPU has it): validation and test F1, time per training epoch.
- ``compile``: :func:`torch.compile` of the 3conv_pool training step: its
  compile time and windows/s, and after how many windows it pays for itself.
"""

import argparse
import copy
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

try:
    from _machine import cpu_name
except ImportError:  # run from elsewhere
    from benchmarks._machine import cpu_name

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.models.grieger2021._network import ARCHITECTURES
from mne_mousesleep.training import PAPER_AUGMENTATION, _augmented_windows

#: The trained networks are compared as they are: no cross-lab step.
_PUBLISHED = dict(adapt=None, emg=None, smooth=None, precision="float32")
_T = 1920


def _gemm_gflops(dtype=torch.float32, n=2048, device="cpu", trials=5):
    """Rate of a large matrix product with all threads (the machine's peak).

    The best of ``trials`` runs of 5 products: these machines are shared and
    noisy, and the peak is what the machine can do.
    """
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    for _ in range(2):
        a @ b
    best = 0.0
    for _ in range(trials):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        _sync(device)
        best = max(best, 2 * n**3 * 5 / (time.perf_counter() - t0) / 1e9)
    return best


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _flops_per_window(net, n_samples=_T):
    """Multiply-adds x 2 of the convolutions and linear layers, one window."""
    total, length = 0, n_samples
    for module in net.modules():
        if isinstance(module, torch.nn.ConstantPad1d):
            length += sum(module.padding)
        elif isinstance(module, torch.nn.Conv1d):
            pad = 2 * module.padding[0]
            length = (length + pad - module.kernel_size[0]) // module.stride[0] + 1
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


def _first_network(net):
    """The network as the first training code built it: padded copies, ReLUs."""
    net = copy.deepcopy(net)
    fe = net.feature_extractor
    for ii, module in enumerate(fe):
        if isinstance(module, torch.nn.ReLU):
            fe[ii] = torch.nn.ReLU()
        if isinstance(module, torch.nn.Conv1d) and module.padding[0]:
            pad = module.padding[0]
            module.padding = (0,)
            fe[ii - 1] = torch.nn.ConstantPad1d((pad, pad), 0.0)
    return net


def _matmul_layers_only(net):
    """The network without batch normalisation, ReLU and dropout (for timing)."""
    net = copy.deepcopy(net)
    for seq in (net.feature_extractor, net.classifier):
        for ii, module in enumerate(seq):
            if isinstance(module, torch.nn.BatchNorm1d | torch.nn.ReLU |
                          torch.nn.Dropout):  # fmt: skip
                seq[ii] = torch.nn.Identity()
    return net


def _first_augmentation(x, epochs, aug, rng):
    """The per-window numpy augmentation of the first training code."""
    out = []
    for epoch in epochs:
        u = rng.uniform(-1, 1, size=4)
        scale = 1 + aug["amplitude"] * u[0]
        sign = -1.0 if rng.random() < aug["sign_flip"] else 1.0
        length = math.floor(_T * (1 + aug["warp"] * u[2]))
        start = epoch * 640 + 320 + math.floor(_T * aug["shift"] * u[3]) - length // 2
        seg = np.zeros((x.shape[0], length), np.float32)
        lo, hi = max(start, 0), min(start + length, x.shape[1])
        seg[:, lo - start : hi - start] = x[:, lo:hi]
        if length != _T:
            t_old, t_new = np.linspace(0, 1, length), np.linspace(0, 1, _T)
            seg = np.stack([np.interp(t_new, t_old, ch) for ch in seg])
        out.append((scale * sign * seg).astype(np.float32))
    return torch.from_numpy(np.stack(out))


def _rate(net, make_batch, dtype, device, n_windows, batch_size, rng):
    """Median training windows/s of steps on ``device`` (first step left out)."""
    net = net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    rates, prepare = [], []
    for _ in range(0, n_windows, batch_size):
        _sync(device)
        t0 = time.perf_counter()
        epochs = rng.integers(1, 598, size=batch_size)
        batch = make_batch(epochs).to(device)
        prepare.append(time.perf_counter() - t0)
        y = torch.from_numpy(rng.integers(0, 5, size=batch_size)).to(device)
        opt.zero_grad()
        with torch.autocast(torch.device(device).type, dtype=dtype,
                            enabled=dtype is not None):  # fmt: skip
            out = net(batch)
        loss = torch.nn.functional.nll_loss(out.float(), y)
        loss.backward()
        opt.step()
        _sync(device)
        rates.append(batch_size / (time.perf_counter() - t0))
    return float(np.median(rates[1:])), float(np.median(prepare[1:]))


def throughput(n_windows=1024, batch_size=256):
    """Training windows per second, before and after, CPU (and GPU)."""
    from mne_mousesleep._device import _native_bf16_cpu, _resolve_precision

    x = np.random.default_rng(0).standard_normal((1, 640 * 600)).astype(np.float32)
    rng = np.random.default_rng(1)
    aug = PAPER_AUGMENTATION

    def before(epochs):
        return _first_augmentation(x, epochs, aug, rng)

    def after_on(device):
        def make(epochs):
            return _augmented_windows([x] * len(epochs), epochs, aug, rng, device)

        return make

    def cpu_rate(network, make, dtype=None):
        """Windows/s of one run of steps on the CPU, and its augmentation time."""
        return _rate(copy.deepcopy(network), make, dtype, "cpu", n_windows,
                     batch_size, rng)  # fmt: skip

    peak = _gemm_gflops()
    print(f"CPU float32 matrix-product peak: {peak:.0f} GFLOPS")
    bf16 = _native_bf16_cpu()
    if bf16:
        print(f"CPU bfloat16 matrix-product peak: {_gemm_gflops(torch.bfloat16):.0f}")
    for name, cls in ARCHITECTURES.items():
        torch.manual_seed(0)
        net = cls(1, 5)
        flops = 3 * _flops_per_window(net)
        bound = peak * 1e9 / flops
        # Before and after in turn, twice, the best of each (noisy machines).
        old, new = 0.0, 0.0
        for _ in range(2):
            old = max(old, cpu_rate(_first_network(net), before)[0])
            rate, prep = cpu_rate(net, after_on("cpu"))
            new = max(new, rate)
        print(
            f"{name} CPU float32: before {old:.1f}, after {new:.1f} training "
            f"windows/s ({new / old:.2f}x; batch {batch_size}); float32 bound "
            f"{bound:.1f} windows/s ({flops / 1e9:.2f} GFLOP per window): before "
            f"{old / bound:.0%}, after {new / bound:.0%} of it; augmentation "
            f"{prep / batch_size * 1e6:.0f} us per window"
        )
        # What the convolutions and linear layers alone reach: the rest of the
        # bound goes to batch normalisation, ReLU and dropout (memory-bound).
        bare = max(cpu_rate(_matmul_layers_only(net), after_on("cpu"))[0]
                   for _ in range(2))  # fmt: skip
        print(
            f"  {name}, convolutions and linear layers alone: {bare:.1f} windows/s, "
            f"{bare / bound:.0%} of the bound; the recipe's other layers take "
            f"{1 - new / bare:.0%} of a step"
        )
        if bf16:
            mixed = max(cpu_rate(net, after_on("cpu"), torch.bfloat16)[0]
                        for _ in range(2))  # fmt: skip
            print(
                f"{name} CPU bfloat16 (precision='auto' here): {mixed:.1f} training "
                f"windows/s, {mixed / old:.2f}x before"
            )
    if not torch.cuda.is_available():
        print("No CUDA GPU here: no GPU figures.")
        return
    gpu = torch.device("cuda")
    print(f"GPU: {torch.cuda.get_device_name(gpu)}")
    gpu_peak = _gemm_gflops(device=gpu, n=8192)
    print(f"GPU float32 matrix-product peak: {gpu_peak:.0f} GFLOPS")
    mixed_dtype = _resolve_precision("auto", gpu)
    for name, cls in ARCHITECTURES.items():
        torch.manual_seed(0)
        net = cls(1, 5)
        flops = 3 * _flops_per_window(net)
        for dtype in (None, mixed_dtype):
            for bs in (batch_size, 1024):
                rate, prep = _rate(copy.deepcopy(net), after_on(gpu), dtype, gpu,
                                   max(n_windows, 8 * bs), bs, rng)  # fmt: skip
                label = "float32" if dtype is None else str(dtype).split(".")[-1]
                print(
                    f"{name} GPU {label}, batch {bs}: {rate:.0f} training windows/s "
                    f"({rate * flops / 1e12:.1f} TFLOPS); batch prepared in "
                    f"{prep * 1e3:.1f} ms"
                )


def _write_day(fname, sfreq=512.0):
    import mne

    raw = simulate_recording(86400.0, sfreq, seed=11, variability=0.2)
    mne.export.export_raw(fname, raw, fmt="edf", overwrite=True, verbose=False)


def _train_from_files(fname, n_mice):
    import mne

    from mne_mousesleep.training._data import _load_for_training
    from mne_mousesleep.training._train import _train, _TrainSettings

    mne.set_log_level("WARNING")  # no progress bar per file
    paths = [fname] * n_mice  # the day opened once per mouse, preload=False
    mice = [f"M{m:02d}" for m in range(n_mice)]
    t0 = time.perf_counter()
    data = _load_for_training(paths, ["EEG_PR", "EMG"], 5, mice, None, (128.0,))
    held = sum(a.nbytes for rec in data for a in rec.signals()) + sum(
        rec.labels.nbytes for rec in data
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{n_mice} mice x 24 h prepared in {time.perf_counter() - t0:.0f} s: "
        f"{held / 2**30:.2f} GiB of training data (64 Hz, float32, 2 channels, "
        f"+128-Hz versions); peak RSS {peak / 1024:.2f} GiB"
    )
    sys.stdout.flush()
    t0 = time.perf_counter()
    settings = dict(
        picks=["EEG_PR", "EMG"], n_classes=5, architecture="3conv_pool", split=None,
        init=None, freeze_features=False, balanced=True, class_weights=None,
        augmentation=None, batch_size=256, lr=None, warmup_epochs=1, lr_decay=0.06,
        weight_decay=1e-4, clip_norm=0.1, dropout=0.2, max_epochs=1, min_epochs=1,
        patience=1, windows_per_epoch=1024, seed=0, name="memory", adapt="gain",
        device="cpu", precision="float32", compile=False,
    )  # fmt: skip
    model = _train(data, _TrainSettings(**settings))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"one training epoch (1024 windows), validation on "
        f"{len(model.card.details['split']['validation'])} mice x 24 h and the test "
        f"in {time.perf_counter() - t0:.0f} s; peak RSS of the process "
        f"{peak / 1024:.2f} GiB (budget: 8 GiB)"
    )


def _step_memory(name, precision):
    """Peak memory of training steps alone (batch 256, EEG and EMG), one process."""
    dtype = None if precision == "float32" else torch.bfloat16
    net = ARCHITECTURES[name](2, 5).train()
    opt = torch.optim.Adam(net.parameters())
    x, y = torch.randn(256, 2, _T), torch.randint(0, 5, (256,))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(2):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            out = net(x)
        torch.nn.functional.nll_loss(out.float(), y).backward()
        opt.step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"  {name} {precision}: {peak / 1024 / 1024:.2f} GiB")


def memory(folder=None, n_mice=50):
    """50 mice x 24 h from EDF files: peak memory of preparing and training."""
    from mne_mousesleep._device import _native_bf16_cpu

    print("Training steps alone (batch 256; activations kept for the backward):")
    sys.stdout.flush()
    for name in ARCHITECTURES:
        for precision in ("float32", "bfloat16")[: 1 + _native_bf16_cpu()]:
            subprocess.run(
                [sys.executable, __file__, "--step-memory", name, precision],
                check=True,
            )
    folder = Path(folder or tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    fname = folder / "mouse_24h_512Hz.edf"
    if not fname.exists():
        subprocess.run([sys.executable, __file__, "--write", str(fname)], check=True)
    print(f"{fname.name}: {fname.stat().st_size / 2**20:.0f} MiB")
    sys.stdout.flush()
    subprocess.run(
        [sys.executable, __file__, "--train-files", str(fname), str(n_mice)],
        check=True,
    )


def compiled(n_windows=2048, batch_size=256):
    """torch.compile of the training step of both networks: cost and gain."""
    from mne_mousesleep._device import _native_bf16_cpu

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 640 * 600)).astype(np.float32)

    def make(epochs):
        return _augmented_windows([x] * len(epochs), epochs, PAPER_AUGMENTATION,
                                  rng, "cpu")  # fmt: skip

    modes = [None] + ([torch.bfloat16] if _native_bf16_cpu() else [])
    for name, cls in ARCHITECTURES.items():
        for dtype in modes:
            torch.manual_seed(0)
            net = cls(1, 5)
            eager, _ = _rate(copy.deepcopy(net), make, dtype, "cpu", n_windows,
                             batch_size, rng)  # fmt: skip
            t0 = time.perf_counter()
            fast = torch.compile(copy.deepcopy(net))
            _rate(fast, make, dtype, "cpu", 2 * batch_size, batch_size, rng)
            warm = time.perf_counter() - t0 - 2 * batch_size / eager
            rate, _ = _rate(fast, make, dtype, "cpu", n_windows, batch_size, rng)
            label = "float32" if dtype is None else "bfloat16"
            gain = 1 / eager - 1 / rate
            pays = f"after {warm / gain:.0f} windows" if gain > 0 else "never"
            print(
                f"{name} {label}: eager {eager:.1f}, compiled {rate:.1f} windows/s "
                f"({rate / eager:.2f}x); compiling takes {warm:.0f} s: pays for "
                f"itself {pays} (a training epoch of the paper's recipe on 10 mice "
                "x 24 h: 86,400 windows)"
            )


def precision(n_mice=6, hours=2.0, seeds=(0, 1)):
    """Both networks trained in float32 and in bfloat16: F1 and time per epoch."""
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
    for architecture in ("3conv_pool", "8conv_2fc"):
        for seed in seeds:
            f1 = {}
            for mode in ("float32", "bfloat16"):
                model = mms.train(
                    raws,
                    picks="EEG_PR",
                    n_classes=3,
                    architecture=architecture,
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
                f1[mode] = card.metrics["validation mean F1"]
                print(
                    f"{architecture} seed {seed} {mode}: validation mean F1 "
                    f"{card.metrics['validation mean F1']:.3f}, test mean F1 "
                    f"{card.metrics['test mean F1']:.3f}, "
                    f"{card.details['seconds_per_training_epoch']:.1f} s per "
                    "training epoch"
                )
            print(
                f"  validation mean F1, bfloat16 - float32: "
                f"{f1['bfloat16'] - f1['float32']:+.3f}"
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
        precision="float32",
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
        precision="float32",
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
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--train-files", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--step-memory", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step_memory:
        return _step_memory(*args.step_memory)
    if args.write:
        return _write_day(args.write)
    if args.train_files:
        return _train_from_files(args.train_files[0], int(args.train_files[1]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"Machine: {cpu_name()}")
    if args.part in ("all", "throughput"):
        throughput()
    if args.part == "memory":
        memory(args.dir)
    if args.part in ("all", "precision"):
        precision()
    if args.part in ("all", "compile"):
        compiled()
    if args.part in ("all", "finetune"):
        fine_tune()
    if args.part in ("all", "five"):
        five_classes()


if __name__ == "__main__":
    main()
