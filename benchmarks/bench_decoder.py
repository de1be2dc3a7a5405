"""The decoders' cost: the hidden semi-Markov model against the HMM.

Prints, in one process (ratios against the HMM), the time to decode
(forward-backward and Viterbi, :func:`mne_mousesleep.scoring.hmm._apply_hmm`)
a week of 4-s epochs (151,200; the 5-stage classes) and a day of 10-s
epochs (8,640), with ``smooth="hmm"`` and ``smooth="hsmm"``, and the time to
score a simulated 24-h recording at 128 Hz with the defaults and each
decoder (best of 3). The semi-Markov model's sub-states: 87 at 4 s, 38 at
10 s.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_decoder.py``
"""

import time

import mne
import numpy as np
from _machine import cpu_name  # benchmarks/_machine.py

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.scoring.hmm import _apply_hmm, _check_smooth

CLASSES = ["Wake", "REM", "NREM", "pre-REM", "artifact"]


def best_of(func, n=3):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    mne.set_log_level("error")
    print(f"machine: {cpu_name()}")
    rng = np.random.default_rng(0)
    for label, n, length in (("a week, 4-s epochs", 151_200, 4.0),
                             ("a day, 10-s epochs", 8_640, 10.0)):  # fmt: skip
        values = rng.dirichlet(np.full(5, 0.3), size=n)
        times = {}
        for smooth in ("hmm", "hsmm"):
            chain = _check_smooth(smooth, CLASSES, length)
            times[smooth] = best_of(lambda c=chain, v=values: _apply_hmm(v, CLASSES, c))
            print(f"{label}: {smooth:4s} {len(chain.owner):3d} states "
                  f"{times[smooth]:6.2f} s")  # fmt: skip
        print(f"{label}: hsmm / hmm {times['hsmm'] / times['hmm']:.2f}")
    raw = simulate_recording(24 * 3600.0, 128.0, seed=0, lab="pooled")
    raw.load_data()
    mms.predict_proba(raw)  # weights, caches
    cost = {s: best_of(lambda s=s: mms.predict_proba(raw, smooth=s)) for s in
            ("hmm", "hsmm")}  # fmt: skip
    print(f"24 h at 128 Hz, defaults: hmm {cost['hmm']:.2f} s, hsmm "
          f"{cost['hsmm']:.2f} s (x{cost['hsmm'] / cost['hmm']:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
