"""Time and size of the sleep report of a 24-h recording, against scoring it.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_report.py``
(``--hours`` and ``--sfreq`` change the simulated recording, parietal EEG and
EMG from :func:`mne_mousesleep.datasets.simulate_recording`, written to EDF
and read back with ``preload=False`` as a lab's file would be).

Prints the machine, the wall time of scoring (:func:`predict_proba`, default
steps) and of the report (:func:`mne_mousesleep.report` with ``lights_on``,
then ``Report.save``) in the same process, their ratio, the report's size and
the peak RSS. The target of the report: at most 20 s beyond the scoring for
24 h on 2 cores.
"""

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import mne

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

try:
    from _machine import cpu_name
except ImportError:  # run from elsewhere
    from benchmarks._machine import cpu_name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--sfreq", type=float, default=1000.0)
    args = parser.parse_args()
    print(f"Machine: {cpu_name()}, {os.cpu_count()} CPUs")
    folder = Path(tempfile.mkdtemp())
    fname = folder / "M01.edf"
    raw = simulate_recording(args.hours * 3600.0, args.sfreq, seed=0)
    mne.export.export_raw(fname, raw, verbose="error")
    del raw
    raw = mne.io.read_raw_edf(fname, preload=False, verbose="error")
    print(
        f"Recording: {args.hours:g} h at {args.sfreq:g} Hz, EDF read with preload=False"
    )
    t0 = time.perf_counter()
    proba = mms.predict_proba(raw, picks="EEG_PR", verbose="error")
    scoring = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = mms.report(raw, proba, lights_on="07:00", verbose="error")
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = folder / "M01_report.html"
    rep.save(out, open_browser=False, verbose="error")
    save = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Scoring: {scoring:.1f} s")
    print(
        f"Report: {build:.1f} s to build + {save:.1f} s to save = {build + save:.1f} s"
    )
    print(f"Report / scoring time: {(build + save) / scoring:.2f}")
    print(f"Report file: {out.stat().st_size / 1e6:.2f} MB")
    print(f"Peak RSS of the process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
