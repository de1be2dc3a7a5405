"""A dead electrode: the sweep of the last 20-80 % at the amplifier's floor.

Simulates an hour (``simulate_recording(3600, 500, seed=21)``), scores it
clean, then replaces the last 20, 50 or 80 % of its EEG with zeros or noise
of 0.01, 0.3 or 1 µV, kept in memory (RawArray) or written to and read back
from an EDF, and scores each with the default steps. Prints one row per
case: the outcome (scored, or refused and why), the share of the good part
(windows clear of the dead stretch) with the same call as the clean
recording, the share of the dead part unscored with a dead/flat reason, the
gain of the gain step against the clean recording's, and the trust verdict.

Then (``--part emg``, or ``all``, the default) the quiet-EMG sweep: ten
minutes of a simulated mouse with a frontal, two parietal EEG and an EMG
channel (the inputs of ``grieger2021-3stage-eeg3-emg``) whose EMG is, for
three minutes, muscle atonia (broadband muscle noise, 10 Hz to 0.45 x the
rate, of 0.7-12 µV) or a disconnected input (zeros, 0.01-0.3 µV of white
amplifier noise), at 128, 256, 500 and 1000 Hz. For each entry point that
reads an EMG it prints the share of the quiet epochs taken for a dead (or
flat) electrode: the 4-channel network's input offline
(:func:`~mne_mousesleep.predict_proba`, unscored), the EMG step
(:func:`~mne_mousesleep.emg_power`, NaN; the review window's power strip
reads the EMG through the same function) and live scoring
(:class:`~mne_mousesleep.OnlineScorer`, unscored). Atonia should read 0 %,
a disconnected input 100 %. Only public functions are called, so the same
script measures an earlier version ("before").

Run: ``python benchmarks/bench_dead_electrode.py [--duration 3600] [--part
eeg|emg|all]``
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


FOUR = "grieger2021-3stage-eeg3-emg"
CHANNELS = ["EEG_FR", "EEG_PR", "EEG_PL", "EMG"]
QUIET = (300.0, 480.0)  # s of the ten minutes
EMG_CASES = {
    "atonia 0.7 µV": ("atonia", 0.7e-6),
    "atonia 1 µV": ("atonia", 1e-6),
    "atonia 2 µV": ("atonia", 2e-6),
    "atonia 5 µV": ("atonia", 5e-6),
    "atonia 12 µV": ("atonia", 12e-6),
    "zeros": ("noise", 0.0),
    "noise 0.01 µV": ("noise", 0.01e-6),
    "noise 0.1 µV": ("noise", 0.1e-6),
    "noise 0.3 µV": ("noise", 0.3e-6),
}


def quiet_emg(sfreq, kind, level):
    from scipy.signal import butter, sosfiltfilt

    raw = simulate_recording(600.0, sfreq, ch_names=CHANNELS, seed=43)
    raw.load_data()
    i0, i1 = (int(t * sfreq) for t in QUIET)
    x = np.random.default_rng(0).standard_normal(i1 - i0)
    if kind == "atonia":
        band = [10.0, min(100.0, 0.45 * sfreq)]
        x = sosfiltfilt(butter(2, band, "bandpass", fs=sfreq, output="sos"), x)
        x /= x.std()
    raw._data[raw.ch_names.index("EMG"), i0:i1] = level * x
    return raw


def share_dead(reasons, epochs):
    hits = [any(r in reasons.get(k, "") for r in REASONS) for k in epochs]
    return f"{np.mean(hits):>7.0%}"


def emg_sweep():
    inner = range(int(QUIET[0] // 10) + 1, int(QUIET[1] // 10) - 1)
    print(
        "\nQuiet EMG: share of the quiet epochs taken for a dead electrode "
        "(atonia: 0 % is right; a disconnected input: 100 %)"
    )
    print(f"{'EMG':<14} {'rate':>6} {'network':>7} {'EMG step':>8} {'live':>7}")
    for name, (kind, level) in EMG_CASES.items():
        for sfreq in (128.0, 256.0, 500.0, 1000.0):
            raw = quiet_emg(sfreq, kind, level)
            proba = mms.predict_proba(raw, CHANNELS, model=FOUR, emg="EMG")
            reasons = {
                round(t / 10): r for t, r in proba.attrs["quality"]["unscored_epochs"]
            }
            power = mms.emg_power(raw, "EMG")
            step = f"{np.mean(~np.isfinite(power[list(inner)])):>8.0%}"
            scorer = mms.OnlineScorer(FOUR, raw.info, CHANNELS, emg=None, adapt=None)
            x = raw.get_data()
            t = np.arange(x.shape[1]) / sfreq
            decisions = []
            for a in range(0, x.shape[1], 512):
                decisions += scorer.push(x[:, a : a + 512], t[a : a + 512])
            decisions += scorer.flush()
            live = {d.epoch: d.reason or "" for d in decisions}
            print(
                f"{name:<14} {sfreq:>6g} {share_dead(reasons, inner)} {step} "
                f"{share_dead(live, inner)}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3600.0)
    parser.add_argument("--part", choices=["eeg", "emg", "all"], default="all")
    args = parser.parse_args()
    mne.set_log_level("error")
    warnings.simplefilter("ignore")
    print(f"machine: {cpu_name()}, {platform.python_version()}")
    if args.part != "eeg":
        emg_sweep()
    if args.part == "emg":
        return
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
