"""What the input checks cost: preprocessing with and without them.

Simulates a recording (default 24 h at 1 kHz, one parietal EEG channel) and
times, in the same process, the chunked read-filter-resample of the
published preprocessing without checks (the reference) and with the checks
that :func:`mne_mousesleep.predict_proba` runs (the amplitude probe and the
per-chunk search for NaN/infinite, extreme and flat stretches), on the clean
recording and on one with 1 % of its time in bad stretches. Prints seconds
and ratios to the reference (this machine's speed varies; ratios less so).

Run: ``python benchmarks/bench_quality.py [--hours 24] [--sfreq 1000]``
"""

import argparse
import platform
import time

import mne
import numpy as np
from _machine import cpu_name  # benchmarks/_machine.py

from mne_mousesleep.scoring.check import _ChunkChecker, _probe_scale
from mne_mousesleep.scoring.preprocessing import _read_lowpass_resample


def simulated(hours, sfreq, seed=0):
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * sfreq)
    # 1/f-like EEG of about 0.1 mV, quantised at 0.1 µV as in an EDF.
    x = np.cumsum(rng.standard_normal(n)) / np.sqrt(sfreq) * 2e-5
    x -= np.convolve(x, np.ones(int(sfreq)) / sfreq, mode="same")
    x += 5e-5 * rng.standard_normal(n)
    x = np.round(x / 1e-7) * 1e-7
    info = mne.create_info(["EEG_PR"], sfreq, "eeg")
    return mne.io.RawArray(x[None], info, verbose=False)


def damaged(raw, fraction, seed=1):
    """1 % of the time in 5-s stretches of NaN, flat signal or 1e200."""
    rng = np.random.default_rng(seed)
    raw = raw.copy()
    sfreq, n = raw.info["sfreq"], raw.n_times
    stretch = int(5 * sfreq)
    for ii, start in enumerate(
        rng.choice(n - stretch, int(fraction * n / stretch), replace=False)
    ):
        kind = ii % 3
        sl = slice(start, start + stretch)
        raw._data[0, sl] = (np.nan, 0.0, 1e200)[kind]
    return raw


def best_of(func, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--sfreq", type=float, default=1000.0)
    args = parser.parse_args()
    print(f"machine: {cpu_name()}, Python {platform.python_version()}")
    print(f"recording: {args.hours:g} h at {args.sfreq:g} Hz, 1 channel")
    raw = simulated(args.hours, args.sfreq)
    bad = damaged(raw, 0.01)

    def plain(r=raw):
        _read_lowpass_resample(r, [0], 64.0, dtype=np.float32)

    def checked(r):
        center, scale = _probe_scale(r, [0])
        checker = _ChunkChecker(["EEG_PR"], r.info["sfreq"], center, scale)
        _read_lowpass_resample(r, [0], 64.0, dtype=np.float32, check=checker)
        return checker

    with mne.utils.use_log_level("error"):  # no progress bars
        reference = best_of(plain)
        probe = best_of(lambda: _probe_scale(raw, [0]))
        clean = best_of(lambda: checked(raw))
        damaged_time = best_of(lambda: checked(bad))
        found = checked(bad).found
    print(f"preprocessing without checks (reference): {reference:.2f} s")
    print(f"amplitude probe:                          {probe:.3f} s")
    print(
        f"with checks, clean recording:             {clean:.2f} s "
        f"({clean / reference:.2f}x the reference)"
    )
    print(
        f"with checks, 1 % in bad stretches:        {damaged_time:.2f} s "
        f"({damaged_time / reference:.2f}x; {len(found)} stretches found)"
    )


if __name__ == "__main__":
    main()
