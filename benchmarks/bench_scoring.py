"""Wall time of scoring the 10-min MiSleep example and a 24-h synthetic recording.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_scoring.py``
(``--hours`` and ``--sfreq`` change the synthetic recording).
"""

import argparse
import resource
import time

import mne
import numpy as np
import torch

import mne_mousesleep as mms
from mne_mousesleep.scoring import _per_window_proba, _window_proba


def synthetic_raw(hours, sfreq, seed=0):
    """One parietal EEG channel (volts): noise with alternating delta/theta bouts."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * sfreq)
    t = np.arange(n) / sfreq
    bout = (t // 300).astype(int) % 2  # 5-min bouts
    freq = np.where(bout, 7.0, 2.0)
    data = 60e-6 * np.sin(2 * np.pi * freq * t) + 40e-6 * rng.standard_normal(n)
    info = mne.create_info(["EEG_PR"], sfreq, "eeg")
    return mne.io.RawArray(data[np.newaxis], info, verbose=False)


def timed(label, func):
    t0 = time.perf_counter()
    out = func()
    print(f"{label}: {time.perf_counter() - t0:.2f} s wall")
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--sfreq", type=float, default=1000.0)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    mms.load_model()  # download outside the timing
    raw = mms.datasets.fetch_misleep_example(verbose=False)
    timed(
        "MiSleep example (600 s, 305 Hz), score", lambda: mms.score(raw, verbose=False)
    )
    raw = synthetic_raw(args.hours, args.sfreq)
    annot = timed(
        f"synthetic {args.hours:g} h at {args.sfreq:g} Hz, score",
        lambda: mms.score(raw, picks="EEG_PR", verbose=False),
    )
    print(f"  {len(annot)} epochs")
    # The network part alone: convolving once vs classifying each window.
    model = mms.load_model()
    data = mms.preprocess(raw, picks="EEG_PR", verbose=False)
    fast = timed("  network, convolving once", lambda: _window_proba(model, data, 16))
    slow = timed("  network, per window", lambda: _per_window_proba(model, data, 16))
    print(f"  max |dp| {np.nanmax(np.abs(fast - slow)):.2e}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
