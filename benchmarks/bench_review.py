"""Speed and memory of the review window on a week-long 1-kHz EDF (offscreen).

Run: ``python benchmarks/bench_review.py`` (``--dir`` keeps the EDF file,
about 0.7 GB; ``--days`` the length, default 7).

1. Writes a 24-h EDF at 1 kHz with four channels (as ``bench_memory.py``),
   in a child process, and opens it ``--days`` times concatenated with
   ``preload=False``.
2. Gives it probabilities of the right length (a simulated hypnogram with
   confidences between 0.5 and 1, not a scoring: the window is measured, not
   the scorer) and opens :func:`mne_mousesleep.review` offscreen
   (``QT_QPA_PLATFORM=offscreen``).
3. Prints the time to the first screen (from the call to a drawn window,
   ``grab()``), the median and 95th percentile of moving one epoch (key
   right, drawn; with the display filter off and on), jumping through the
   review queue (each jump reads a new block: traces, spectrogram and power
   strip), labelling one epoch, and the peak RSS of the process, against the
   targets of the issue (3 s, 50 ms, 1 GB).
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import mne  # noqa: E402
import numpy as np  # noqa: E402
from _machine import cpu_name  # noqa: E402

import mne_mousesleep as mms  # noqa: E402


def fake_result(raw):
    """Probabilities of every epoch of ``raw`` from a simulated hypnogram."""
    n = int(raw.n_times // round(10 * raw.info["sfreq"]))
    stages = mms.datasets.simulate_hypnogram(n * 10.0, seed=1)
    classes = ("Wake", "REM", "NREM", "pre-REM", "artifact")
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(5) * 0.3, size=n) * 0.5
    top = np.array([classes.index(s) for s in stages.astype(str)])
    proba[np.arange(n), top] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    proba[[0, -1]] = np.nan
    return mms.ScoringResult(
        proba=proba,
        classes=classes,
        epoch_length=10.0,
        meas_date=raw.info["meas_date"],
        first_time=raw.first_time,
        sfreq=raw.info["sfreq"],
        ch_names=("EEG_PR",),
        model="grieger2021-5stage",
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {cpu_name()}; Qt platform {os.environ['QT_QPA_PLATFORM']}")
    folder = args.dir or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    fname = folder / "mouse_24h_1kHz_4ch.edf"
    if not fname.exists():
        here = Path(__file__).parent
        code = f"import bench_memory; bench_memory.write_day({str(fname)!r})"
        subprocess.run([sys.executable, "-c", code], cwd=here, check=True)
    raws = [
        mne.io.read_raw_edf(fname, preload=False, verbose=False)
        for _ in range(args.days)
    ]
    raw = mne.concatenate_raws(raws, verbose=False)
    result = fake_result(raw)
    print(
        f"recording: {raw.n_times / raw.info['sfreq'] / 3600:g} h, "
        f"{len(raw.ch_names)} channels at {raw.info['sfreq']:g} Hz, "
        f"preload={raw.preload}; {result.n_epochs} epochs"
    )
    t0 = time.perf_counter()
    win = mms.review(raw, result, block=False, show=False)
    win.resize(1200, 920)
    win.grab()
    first = time.perf_counter() - t0
    print(f"first screen: {first:.2f} s (target <= 3 s)")
    from qtpy import QtCore
    from qtpy.QtTest import QTest

    def keys(key, n, start):
        """Key ``key`` pressed ``n`` times from epoch ``start``: drawn, in ms."""
        win.go_to(start)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            QTest.keyClick(win, key)
            win.grab()
            times.append(time.perf_counter() - t0)
        return np.array(times) * 1e3

    for label, on in (("", False), (", display filter on", True)):
        if win.display_filter != on:
            win.toggle_filter()
        times = keys(QtCore.Qt.Key_Right, 60, 1000 + 5000 * on)[10:]
        print(
            f"move one epoch (key, drawn{label}): median {np.median(times):.0f} ms, "
            f"95th percentile {np.percentile(times, 95):.0f} ms, largest "
            f"{times.max():.0f} ms (target <= 50 ms)"
        )
    win.toggle_filter()
    times = keys(QtCore.Qt.Key_Tab, 20, 20000)  # far jumps: a new block each
    print(
        f"next in the review queue (key, drawn): median {np.median(times):.0f} ms, "
        f"largest {times.max():.0f} ms"
    )
    times = keys(QtCore.Qt.Key_N, 10, 30000)
    print(f"label one epoch (key, drawn): median {np.median(times):.0f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB (target <= 1 GB)")
    win.session.dirty = False
    win.close()


if __name__ == "__main__":
    main()
