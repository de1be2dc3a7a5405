"""Speed of scoring a 24-h recording, against classifying every window.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_scoring.py``
(``--hours`` and ``--sfreq`` change the simulated recording: one parietal
EEG channel from :func:`mne_mousesleep.datasets.simulate_recording`).

Prints the recording length and sampling rate; the wall time from the
``mne.io.Raw`` (in memory) to annotations with :func:`mne_mousesleep.score`
(first call of the process, three later calls and their median) and the
peak RSS of the process up to then; in the same run, the wall and CPU time of
the network part done by the fast path (convolving once, Winograd, one part of
the recording per thread) and done by classifying every 30-s window separately,
the reference of the speed target, twice: as the published code runs it (its
evaluation script feeds the network batches of 512 windows,
``experiment.evaluation.batch_size`` in ``config/standard_config.yml`` of
github.com/dslaborg/sleep-mice-tuebingen) and in batches of 32 windows, the
fastest batch size on this machine; the ratios to the fast path (network, and
end to end with the preprocessing added to the per-window time); the largest
probability difference between the fast path and each and whether the argmax
is identical. It starts with the rate of a large single-threaded float32
matrix product, a gauge of the machine's speed at the time (shared virtual
machines drift by several %). Memory with ``preload=False`` is measured by
``bench_memory.py``.
"""

import argparse
import resource
import time

import mne
import numpy as np
import torch
from threadpoolctl import threadpool_limits

import mne_mousesleep as mms
from mne_mousesleep.scoring import _per_window_proba, _window_proba


def simulated_raw(hours, sfreq, seed=0):
    """One parietal EEG channel (volts) of a simulated mouse, from 07:00 (ZT0).

    Made by :func:`mne_mousesleep.datasets.simulate_recording` one hour at a
    time (to bound the memory of the simulation), each hour with the stages of
    its ZT.
    """
    pieces = []
    for hour in range(int(np.ceil(hours))):
        start = f"2024-01-01 {(7 + hour) % 24:02d}:00:00"
        duration = min(3600.0, hours * 3600 - hour * 3600)
        piece = mms.datasets.simulate_recording(
            duration, sfreq, ch_names=("EEG_PR",), start=start, seed=seed + hour
        )
        pieces.append(piece.get_data())
    info = mne.create_info(["EEG_PR"], sfreq, "eeg")
    return mne.io.RawArray(np.concatenate(pieces, axis=1), info, verbose=False)


def timed(func):
    t0 = time.perf_counter()
    out = func()
    return out, time.perf_counter() - t0


def cpu_seconds():
    """User and system CPU time of the process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb():
    """Peak resident memory of the process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_cpu(func):
    """``func()``, its wall time and its CPU time, in seconds."""
    c0 = cpu_seconds()
    out, wall = timed(func)
    return out, wall, cpu_seconds() - c0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--sfreq", type=float, default=1000.0)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    # The speed of this (shared, virtual) machine at the time of the run: the
    # rate of a large single-threaded float32 matrix product, median of five
    # rounds of ten (the first round after start-up is often slower).
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    with threadpool_limits(1, user_api="blas"):
        a @ a
        durations = [timed(lambda: [a @ a for _ in range(10)])[1] for _ in range(5)]
    rates = 20 * 1024**3 / np.array(durations) / 1e9
    print(
        f"machine: single-thread float32 matrix product {np.median(rates):.0f} "
        f"GFLOPS (median of 5; range {min(rates):.0f}-{max(rates):.0f})"
    )
    model = mms.load_model(args.model)  # download outside the timing
    raw = mms.datasets.fetch_misleep_example(verbose=False)
    _, dt = timed(lambda: mms.score(raw, model=model, verbose=False))
    print(f"MiSleep example (600 s, 305 Hz): score {dt:.2f} s wall")

    raw = simulated_raw(args.hours, args.sfreq)
    print(
        f"recording: {raw.times[-1] / 3600 + 1 / raw.info['sfreq'] / 3600:g} h, "
        f"1 channel at {raw.info['sfreq']:g} Hz ({raw.n_times} samples), "
        "simulated mouse EEG (simulate_recording)"
    )
    # The first long recording of a process also pays for fresh memory (page
    # faults, allocator growth); later ones, as in a batch, do not. Timings on
    # a shared machine vary by a few %: the later calls are summarised by
    # their median.
    times = []
    for call in ("first", "second", "third", "fourth"):
        annot, t_total = timed(
            lambda: mms.score(raw, picks="EEG_PR", model=model, verbose=False)
        )
        times.append(t_total)
        print(
            f"score, Raw -> annotations, {call} call: {t_total:.2f} s wall "
            f"({len(annot)} epochs)"
        )
    t_total = float(np.median(times[1:]))
    print(f"score, median of the later calls: {t_total:.2f} s wall")
    # The cross-lab steps (gain step, HMM; this Raw has no EMG channel) against
    # the published path, in the same process.
    published = dict(adapt=None, emg=None, smooth=None)
    t_pub = float(
        np.median(
            [
                timed(
                    lambda: mms.score(
                        raw, picks="EEG_PR", model=model, verbose=False, **published
                    )
                )[1]
                for _ in range(3)
            ]
        )
    )
    print(
        f"score, published path (adapt=None, emg=None, smooth=None): {t_pub:.2f} s "
        f"wall; the default steps cost x{t_total / t_pub:.2f}"
    )
    _, t_emg = timed(lambda: mms.emg_power(raw, "EEG_PR", verbose=False))
    print(
        f"EMG step's power per epoch on a channel of the same length: {t_emg:.2f} s "
        f"(x{(t_total + t_emg) / t_pub:.2f} of the published path with an EMG)"
    )
    size = raw._data.nbytes / 1e6
    print(
        f"peak RSS up to here: {peak_rss_mb():.0f} MB "
        f"(the in-memory Raw: {size:.0f} MB)"
    )
    data, t_pre = timed(
        lambda: mms.preprocess(raw, picks="EEG_PR", model=model, verbose=False)
    )
    print(f"  of which preprocessing (read, filter, 64 Hz): {t_pre:.2f} s")
    fast, t_fast, c_fast = timed_cpu(lambda: _window_proba(model, data, 32))
    print(f"  of which network, fast path: {t_fast:.2f} s wall, {c_fast:.1f} s CPU")
    references = (
        ("as the published code runs it, batches of 512 windows", 512),
        ("batches of 32 windows, the fastest here", 32),
    )
    for label, batch_size in references:
        slow, t_slow, c_slow = timed_cpu(
            lambda bs=batch_size: _per_window_proba(model, data, bs)
        )
        print(
            f"network, every 30-s window separately ({label}; same run): "
            f"{t_slow:.2f} s wall, {c_slow:.1f} s CPU"
        )
        print(f"  ratio per-window / fast, network: {t_slow / t_fast:.1f}x")
        ratio = (t_pre + t_slow) / t_total
        print(f"  ratio (preprocessing + per-window) / score: {ratio:.1f}x")
        scored = ~np.isnan(slow[:, 0])
        diff = np.abs(fast - slow)[scored].max()
        print(f"  max |dp| fast vs per-window: {diff:.2e}")
        same = (fast[scored].argmax(1) == slow[scored].argmax(1)).all()
        print(f"  identical argmax on {scored.sum()} epochs: {same}")
    print(f"peak RSS with the per-window runs: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
