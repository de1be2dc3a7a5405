"""Peak memory of scoring long EDF recordings opened with ``preload=False``.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_memory.py``
(``--dir`` keeps the EDF files, about 0.7 GB per day; ``--days`` sets the
length of the long recording, default 7).

1. Writes a 24-h EDF at 1 kHz with four channels (frontal, parietal-right and
   parietal-left EEG, EMG), in a child process.
2. Scores it in a fresh child process (``preload=False``, parietal-right EEG)
   and prints wall time and that process's peak RSS.
3. Scores a week-long recording in a fresh child process: the day file opened
   ``--days`` times and concatenated with :func:`mne.concatenate_raws`
   (``preload=False``), 7 days at 1 kHz.
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHANNELS = ["EEG_FR", "EEG_PR", "EEG_PL", "EMG"]


def write_day(fname, sfreq=1000.0, seed=0):
    import mne
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(24 * 3600 * sfreq)
    t = np.arange(n) / sfreq
    freq = np.where((t // 300).astype(int) % 2, 7.0, 2.0)  # 5-min bouts
    rhythm = 60e-6 * np.sin(2 * np.pi * freq * t)
    del t, freq
    data = np.empty((4, n))
    for ii in range(3):
        data[ii] = rhythm + 40e-6 * rng.standard_normal(n)
    data[3] = 20e-6 * rng.standard_normal(n)
    info = mne.create_info(CHANNELS, sfreq, ["eeg", "eeg", "eeg", "emg"])
    raw = mne.io.RawArray(data, info, verbose=False)
    mne.export.export_raw(fname, raw, fmt="edf", overwrite=True, verbose=False)


def score(fnames):
    import mne

    import mne_mousesleep as mms

    mms.load_model()  # outside the timing
    t0 = time.perf_counter()
    raws = [mne.io.read_raw_edf(f, preload=False, verbose=False) for f in fnames]
    raw = mne.concatenate_raws(raws, verbose=False) if len(raws) > 1 else raws[0]
    hours = raw.n_times / raw.info["sfreq"] / 3600
    annot = mms.score(raw, picks="EEG_PR", verbose=False)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{hours:g} h, {len(raw.ch_names)} channels at {raw.info['sfreq']:g} Hz, "
        f"preload={raw.preload}: {len(annot)} epochs in {wall:.1f} s wall, "
        f"peak RSS {peak:.0f} MB"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--score", type=Path, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        return write_day(args.write)
    if args.score:
        return score(args.score)
    folder = args.dir or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    fname = folder / "mouse_24h_1kHz_4ch.edf"
    if not fname.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--write", str(fname)], check=True)
        size = fname.stat().st_size / 1e9
        print(f"wrote {fname} ({size:.2f} GB) in {time.perf_counter() - t0:.0f} s")
    print("24-h recording:")
    subprocess.run([sys.executable, __file__, "--score", str(fname)], check=True)
    print(f"{args.days}-day recording (the day file concatenated {args.days} times):")
    files = [str(fname)] * args.days
    subprocess.run([sys.executable, __file__, "--score", *files], check=True)


if __name__ == "__main__":
    main()
