"""Speed of scoring a 24-h recording: published path, default path and YASA.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_scoring.py``
(``--hours`` changes the length, ``--rates`` the sampling rates; about
15 min on 2 cores for the defaults, 24 h at 128 Hz, 512 Hz and 1 kHz).

For each rate, one simulated mouse (parietal EEG and EMG, from
:func:`mne_mousesleep.datasets.simulate_recording`, one hour at a time with
the stages of its ZT) is scored in memory, in one process, in turn:

- the published path (:meth:`ScoringOptions.published`: float32, no gain
  step, no EMG rules, no HMM);
- the default path (gain step, EMG rules, HMM, trust verdict; ``precision``
  ``"auto"``: bfloat16 where the CPU computes it natively);
- the default path in float32 (``precision="float32"``);
- YASA's :class:`yasa.SleepStaging` on the same Raw (EEG and EMG), the
  peer users compare us with (its first call, which loads its classifier,
  is made on a 1-h recording and not counted).

Each is run three times (YASA twice) and the median is printed: wall time,
CPU time of the process (all threads), CPU/wall, and the peak resident
memory above that before the call (sampled every 5 ms). Then the time of
each step of the default path (median of its runs), and the default path's
costs as ratios against the published path of the same run.

Then the precision check: on the simulated labs of ``bench_cross_lab.py``
(1 h each at 1 kHz, or resampled) and the MiSleep example, the bfloat16
network against float32: the largest probability difference before and
after the close calls are computed again in float32, the share of identical
network calls, and of identical final calls of the default path.

With ``--per-window``, the network's fast path (float32) is also compared
with classifying every 30-s window separately, as the published code does
(its evaluation script feeds batches of 512 windows,
``experiment.evaluation.batch_size`` in ``config/standard_config.yml`` of
github.com/dslaborg/sleep-mice-tuebingen; 32 are the fastest here): wall and
CPU time, their ratio, the largest probability difference and whether the
argmax is identical.

The first line names the machine (processor, AVX-512 BF16 / AMX flags,
threads).
"""

import argparse
import functools
import resource
import threading
import time
import warnings

import mne
import numpy as np
import psutil
import torch
from _machine import cpu_name  # benchmarks/_machine.py

import mne_mousesleep as mms
import mne_mousesleep.scoring as scoring
from mne_mousesleep._device import _native_bf16_cpu
from mne_mousesleep.scoring import ScoringOptions, _per_window_proba, _window_proba
from mne_mousesleep.scoring.network import _recheck

#: The steps of the default path, timed by wrapping them in the pipeline.
STEPS = (
    "_check_input",
    "_preprocess_checked",
    "_finish",
    "_gain_step",
    "_network_step",
    "_emg_step",
    "_apply_hmm",
    "judge",
)


def machine():
    flags = open("/proc/cpuinfo").read().split("flags", 1)[-1].split("\n", 1)[0]
    have = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return (
        f"{cpu_name()}, {psutil.cpu_count()} CPUs, flags {' '.join(have)}; "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads); "
        f"native bfloat16: {_native_bf16_cpu()}"
    )


def simulated_raw(hours, sfreq, seed=0):
    """Parietal EEG and EMG (volts) of a simulated mouse, from 07:00 (ZT0)."""
    pieces = []
    for hour in range(int(np.ceil(hours))):
        start = f"2024-01-01 {(7 + hour) % 24:02d}:00:00"
        duration = min(3600.0, hours * 3600 - hour * 3600)
        piece = mms.datasets.simulate_recording(
            duration, sfreq, start=start, seed=seed + hour
        )
        pieces.append(piece.get_data())
    info = mne.create_info(["EEG_PR", "EMG"], sfreq, ["eeg", "emg"])
    return mne.io.RawArray(np.concatenate(pieces, axis=1), info, verbose=False)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class PeakMemory:
    """Peak RSS (MB) above the RSS at the start, sampled in a thread."""

    def __enter__(self):
        self._proc = psutil.Process()
        self._base = self._proc.memory_info().rss
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._proc.memory_info().rss - self._base)

    def __exit__(self, *args):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss - self._base) / 1e6


def measure(func):
    """Wall s, CPU s and peak MB of ``func()``."""
    with PeakMemory() as mem:
        c0, t0 = cpu_seconds(), time.perf_counter()
        func()
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return wall, cpu, mem.peak


def step_timer(timings):
    """Wrap the pipeline's steps so that their wall time adds to ``timings``."""
    originals = {name: getattr(scoring, name) for name in STEPS}

    def wrap(name, func):
        @functools.wraps(func)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0

        return timed

    for name, func in originals.items():
        setattr(scoring, name, wrap(name, func))
    return originals


def yasa_staging(raw):
    import yasa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yasa.SleepStaging(raw, eeg_name="EEG_PR", emg_name="EMG").predict()


def speed(hours, sfreq, model):
    raw = simulated_raw(hours, sfreq)
    print(f"\n## {hours:g} h at {sfreq:g} Hz (EEG_PR + EMG, in memory)")
    configs = {
        "published (float32)": ScoringOptions.published(model=model, picks="EEG_PR"),
        "default (auto)": ScoringOptions(model=model, picks="EEG_PR"),
        "default, float32": ScoringOptions(
            model=model, picks="EEG_PR", precision="float32"
        ),
    }
    rows, steps = {}, {}
    for _ in range(3):  # in turn, so that drifts of the machine hit each alike
        for label, opts in configs.items():
            timings = {}
            originals = step_timer(timings)
            try:
                figures = measure(
                    lambda o=opts: mms.predict_proba(raw, options=o, verbose=False)
                )
            finally:
                for name, func in originals.items():
                    setattr(scoring, name, func)
            rows.setdefault(label, []).append(figures)
            steps.setdefault(label, []).append(timings)
    rows["YASA SleepStaging"] = [measure(lambda: yasa_staging(raw)) for _ in range(2)]
    print(f"{'':24s} {'wall s':>7s} {'CPU s':>7s} {'CPU/wall':>8s} {'peak MB':>8s}")
    medians = {}
    for label, runs in rows.items():
        wall, cpu, peak = np.median(np.array(runs), axis=0)
        medians[label] = (wall, cpu)
        print(f"{label:24s} {wall:7.2f} {cpu:7.2f} {cpu / wall:8.2f} {peak:8.0f}")
    pub_wall, pub_cpu = medians["published (float32)"]
    for label in ("default (auto)", "default, float32"):
        wall, cpu = medians[label]
        print(
            f"{label} / published: wall x{wall / pub_wall:.2f}, "
            f"CPU x{cpu / pub_cpu:.2f}"
        )
    wall, cpu = medians["default (auto)"]
    y_wall, y_cpu = medians["YASA SleepStaging"]
    print(f"default (auto) / YASA: wall x{wall / y_wall:.2f}, CPU x{cpu / y_cpu:.2f}")
    print("wall s of each step (median of 3):")
    labels = list(configs)
    print(f"  {'step':20s}" + "".join(f"{label:>22s}" for label in labels))
    for name in STEPS:
        values = [np.median([t.get(name, 0.0) for t in steps[lb]]) for lb in labels]
        print(f"  {name.strip('_'):20s}" + "".join(f"{v:22.2f}" for v in values))
    # The default steps' own cost: everything but the network.
    rest = {
        lb: np.median([sum(t.values()) - t["_network_step"] for t in steps[lb]])
        for lb in labels
    }
    print(
        "  all but the network: default float32 - published = "
        f"{rest['default, float32'] - rest['published (float32)']:.2f} s "
        f"({(rest['default, float32'] - rest['published (float32)']) / pub_wall:.1%}"
        " of the published path)"
    )


def precision_check(model, hours):
    from bench_cross_lab import LABS, make_lab

    print("\n## Precision check: bfloat16 network against float32")
    print(
        f"{'recording':28s} {'epochs':>6s} {'max|dp| bf16':>12s} "
        f"{'rechecked':>9s} {'max|dp| after':>13s} {'same network calls':>18s} "
        f"{'same final calls':>16s}"
    )
    recordings = {
        "MiSleep example (305 Hz)": (mms.datasets.fetch_misleep_example(), None)
    }
    for ii, (lab, params) in enumerate(LABS.items()):
        raw, _ = make_lab(params, hours, seed=100 + ii)
        recordings[lab] = (raw, "EEG_PR")
    totals = np.zeros(3)
    for name, (raw, picks) in recordings.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = mms.preprocess(raw, picks=picks, model=model, verbose="error")
            p32 = _window_proba(model, data, 32)
            p16 = _window_proba(model, data, 32, precision="bfloat16")
            before = np.nanmax(np.abs(p16 - p32))
            n_rechecked = _recheck(model, data, p16, 32)
            after = np.nanmax(np.abs(p16 - p32))
            scored = ~np.isnan(p32[:, 0])
            same = (p16[scored].argmax(1) == p32[scored].argmax(1)).mean()
            final = [
                mms.to_stages(
                    mms.predict_proba(
                        raw, picks=picks, model=model, precision=p, verbose="error"
                    )
                )
                for p in ("float32", "bfloat16")
            ]
        same_final = (final[0] == final[1]).mean()
        totals += [scored.sum(), same * scored.sum(), same_final * len(final[0])]
        print(
            f"{name:28s} {scored.sum():6d} {before:12.4f} {n_rechecked:9d} "
            f"{after:13.2e} {same:18.2%} {same_final:16.2%}"
        )
    print(
        f"{'all':28s} {int(totals[0]):6d} {'':12s} {'':9s} {'':13s} "
        f"{totals[1] / totals[0]:18.2%}"
    )


def per_window(hours, model):
    raw = simulated_raw(hours, 1000.0)
    print(f"\n## The network: fast path against every window ({hours:g} h, 1 kHz)")
    data = mms.preprocess(raw, picks="EEG_PR", model=model, verbose=False)
    fast = None
    for label, func in (
        ("fast path, float32", lambda: _window_proba(model, data, 32)),
        (
            "fast path, bfloat16",
            lambda: _window_proba(model, data, 32, None, "bfloat16"),
        ),
        ("every window, batches of 512", lambda: _per_window_proba(model, data, 512)),
        ("every window, batches of 32", lambda: _per_window_proba(model, data, 32)),
    ):
        c0, t0 = cpu_seconds(), time.perf_counter()
        proba = func()
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        fast = (proba, wall) if fast is None else fast
        scored = ~np.isnan(proba[:, 0])
        diff = np.abs(proba - fast[0])[scored].max()
        same = (proba[scored].argmax(1) == fast[0][scored].argmax(1)).mean()
        print(
            f"{label:30s} {wall:7.2f} s wall {cpu:7.2f} s CPU  x{wall / fast[1]:5.1f}"
            f"  max|dp| {diff:.1e}, same argmax {same:.2%}"
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rates", default="128,512,1000")
    parser.add_argument("--check-hours", type=float, default=1.0)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--per-window", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    model = mms.load_model()  # the download outside the timing
    # YASA's first call loads its classifier (and numba compiles): not timed.
    yasa_staging(simulated_raw(1, 128.0))
    for sfreq in (float(r) for r in args.rates.split(",")):
        speed(args.hours, sfreq, model)
    if not args.no_check:
        precision_check(model, args.check_hours)
    if args.per_window:
        per_window(args.hours, model)


if __name__ == "__main__":
    main()
