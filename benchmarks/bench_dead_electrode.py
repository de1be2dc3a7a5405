"""A dead electrode: the sweep of the last 20-80 % at the amplifier's floor.

Simulates an hour (``simulate_recording(3600, 500, seed=21)``), scores it
clean, then replaces the last 20, 50 or 80 % of its EEG with zeros or noise
of 0.01, 0.3 or 1 µV, kept in memory (RawArray) or written to and read back
from an EDF, and scores each with the default steps. Prints one row per
case: the outcome (scored, or refused and why), the share of the good part
(windows clear of the dead stretch) with the same call as the clean
recording, the share of the dead part unscored with a dead/flat reason, the
gain of the gain step against the clean recording's, and the trust verdict.

Run: ``python benchmarks/bench_dead_electrode.py [--duration 3600]``
"""

import argparse
import platform
import tempfile
import warnings
from pathlib import Path

import mne
import numpy as np
from _machine import cpu_name  # benchmarks/_machine.py

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

LEVELS = {"zeros": 0.0, "0.01 µV": 0.01e-6, "0.3 µV": 0.3e-6, "1 µV": 1e-6}
REASONS = ("dead or disconnected electrode", "flat or clipped signal")


def calls(proba):
    values = proba.to_numpy()
    best = np.array(proba.columns)[np.nan_to_num(values, nan=-1).argmax(axis=1)]
    return np.where(np.isnan(values).any(axis=1), "?", best)


def kill(raw, onset, level, container, folder):
    dead = raw.copy().load_data()
    i0 = int(onset * dead.info["sfreq"])
    noise = np.random.default_rng(0).standard_normal(dead.n_times - i0)
    dead._data[dead.ch_names.index("EEG_PR"), i0:] = level * noise
    if container == "EDF":
        fname = Path(folder) / "dead.edf"
        mne.export.export_raw(fname, dead, overwrite=True, verbose="error")
        dead = mne.io.read_raw_edf(fname, verbose="error")
    return dead


def row(proba, clean, onset):
    got, truth = calls(proba), calls(clean)
    good = (proba.index + 20 <= onset - 1) & (truth != "?")
    inside = proba.index - 10 >= onset + 1
    reasons = dict(proba.attrs["quality"]["unscored_epochs"])
    dead_ok = [
        any(r in reasons.get(t, "") for r in REASONS) for t in proba.index[inside]
    ]
    gain = proba.attrs["adapt"]["gain"]["parietal EEG"]
    clean_gain = clean.attrs["adapt"]["gain"]["parietal EEG"]
    return (
        f"{'scored':<32} {np.mean(got[good] == truth[good]):>9.1%} "
        f"{np.mean(dead_ok):>9.1%} {gain / clean_gain:>9.3f}  "
        f"{proba.attrs['trust']['verdict']}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3600.0)
    args = parser.parse_args()
    mne.set_log_level("error")
    warnings.simplefilter("ignore")
    print(f"machine: {cpu_name()}, {platform.python_version()}")
    raw = simulate_recording(args.duration, 500.0, seed=21)
    clean = mms.predict_proba(raw)
    print(
        f"{'dead':>4} {'level':>8} {'input':>8}  {'outcome':<32} {'good same':>9} "
        f"{'dead why':>9} {'gain/clean':>9}  trust"
    )
    with tempfile.TemporaryDirectory() as folder:
        for fraction in (0.2, 0.5, 0.8):
            onset = args.duration * (1 - fraction)
            for name, level in LEVELS.items():
                for container in ("RawArray", "EDF"):
                    dead = kill(raw, onset, level, container, folder)
                    try:
                        text = row(mms.predict_proba(dead), clean, onset)
                    except ValueError as err:
                        text = f"refused: {str(err)[:60]}"
                    print(f"{fraction:>4.0%} {name:>8} {container:>8}  {text}")


if __name__ == "__main__":
    main()
