"""Live scoring: decision latency, compute, memory and drift; causal F1.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_live.py``
(``--hours`` of the timed day, default 24; ``--days`` of the memory run,
default 7; ``--train-mice``/``--train-hours``/``--max-epochs`` of the causal
model; ``--lab-hours``/``--seeds`` of the simulated labs; ``--figures DIR``
writes the docs' figures; ``--models DIR`` keeps the trained models for the
next run; about 45 min on 2 cores).

Without LSL: the samples of a simulated recording are given to
:class:`~mne_mousesleep.OnlineScorer` in chunks of ``--chunk`` samples (1/16 s
at 128 Hz, as an LSL inlet pulls them), each chunk at the time of its last
sample; the scorer's clock is that time plus the computer's time since the
chunk was given. So the latency is what a real-time stream would see: the
wait for the samples after the epoch (the low-pass filter's reach, the chunk;
for the published networks the next epoch too) plus the computation.

1. A simulated day (128 Hz, EEG and EMG), default steps: latency after the
   epoch's last sample (median, 95th percentile, largest) and compute per
   decision, for a causal model and for the published network (one epoch of
   delay). Targets: a causal decision within 1 epoch + 0.2 s; <= 20 ms.
2. ``--days`` days (the simulated day repeated, timestamps going on, each
   chunk's timestamps jittered by up to 2 ms as an LSL clock): the process's
   memory (RSS) every 6 h, and the largest distance of each decision's onset
   timestamp from ``t0 + 10 s x epoch`` in the first and the last day.
3. The simulated labs (``bench_cross_lab.py``'s, at 256 Hz): 5- and 3-stage
   mean F1 against the truth of the offline scoring (published network,
   default steps), the published network live (one epoch of delay), a
   centred and a causal model trained on the simulator with the same recipe
   (offline), and the causal model live. Target: causal live within 0.03 of
   offline.
"""

import argparse
import os
import time
import warnings

import numpy as np
import psutil
import torch

try:
    from _machine import cpu_name
    from bench_cross_lab import LABS as CROSS_LAB_LABS
except ImportError:  # run from elsewhere
    from benchmarks._machine import cpu_name
    from benchmarks.bench_cross_lab import LABS as CROSS_LAB_LABS

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

#: Simulated labs: those of bench_cross_lab.py that simulate_recording makes
#: alone (here at 256 Hz, the reference lab's rate).
LABS = {
    "reference": {},
    **{
        name: CROSS_LAB_LABS[name]
        for name in ("gain 0.3", "gain 3", "noise x2", "128 Hz", "EMG absent",
                     "theta-rich active Wake", "mostly Wake (dark phase)")
    },
}  # fmt: skip


class _Clock:
    """The stream's time: the last chunk's last sample, plus compute since."""

    def __init__(self):
        self.arrived, self.since = 0.0, time.perf_counter()

    def chunk(self, t_last):
        self.arrived, self.since = t_last, time.perf_counter()

    def __call__(self):
        return self.arrived + time.perf_counter() - self.since


def stream(scorer, clock, x, t, chunk):
    """Give ``x`` to ``scorer`` in chunks, at their time; return the decisions."""
    out = []
    for a in range(0, x.shape[1], chunk):
        clock.chunk(t[min(a + chunk, x.shape[1]) - 1])
        out += scorer.push(x[:, a : a + chunk], t[a : a + chunk])
    return out


def timed_day(model, raw, chunk, name):
    clock = _Clock()
    scorer = mms.OnlineScorer(model, raw.info, "EEG_PR", "EMG", clock=clock)
    x, t = raw.get_data(), 1e5 + raw.times
    started = time.perf_counter()
    decisions = stream(scorer, clock, x, t, chunk)
    wall = time.perf_counter() - started
    lat = np.array([d.latency for d in decisions if d.scored])
    comp = 1e3 * np.array([d.compute for d in decisions])
    print(
        f"| {name} | {scorer.delay_epochs} | {np.median(lat):.2f} | "
        f"{np.percentile(lat, 95):.2f} | {lat.max():.2f} | {np.median(comp):.1f} | "
        f"{np.percentile(comp, 95):.1f} | {np.percentile(comp, 99.9):.1f} | "
        f"{comp.max():.1f} | {(comp > 20).sum()} of {len(comp)} | "
        f"{len(decisions) / wall:.0f} |"
    )
    return lat, comp


def week(model, raw, days, chunk):
    """The day repeated ``days`` times: RSS every 6 h, onset drift per day."""
    rng = np.random.default_rng(0)
    process = psutil.Process()
    clock = _Clock()
    scorer = mms.OnlineScorer(model, raw.info, "EEG_PR", "EMG", clock=clock)
    x = raw.get_data()
    n, sfreq = x.shape[1], raw.info["sfreq"]
    t0 = 1e5
    per_day = {}
    rss = []
    every = int(min(6 * 3600, n / sfreq / 4) * sfreq)  # 6 h, or a quarter day
    for day in range(days):
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            g = day * n + a  # the sample's number in the stream
            t = t0 + (g + np.arange(b - a)) / sfreq + rng.uniform(-2e-3, 2e-3)
            clock.chunk(t[-1])
            for d in scorer.push(x[:, a:b], t):
                err = abs(d.timestamp - (t0 + 10.0 * d.epoch))
                per_day[day] = max(per_day.get(day, 0.0), err)
            if g // every != (g + b - a) // every:
                rss.append(process.memory_info().rss / 2**20)
    print(
        f"RSS (MB) every {every / sfreq / 3600:g} h over {days} days: "
        + ", ".join(f"{r:.0f}" for r in rss)
        + f"; growth from day 1's end to the last day's end: "
        f"{rss[-1] - rss[min(3, len(rss) - 1)]:+.1f} MB"
    )
    print(
        "Onset timestamp vs t0 + 10 s x epoch, largest per day (ms): "
        + ", ".join(f"{1e3 * per_day[d]:.2f}" for d in sorted(per_day))
        + f"; epochs decided {scorer.decisions} (expected {days * n // 1280})"
    )
    return rss


def make_lab(params, hours, seed):
    params = dict(params)
    resample = params.pop("resample", None)
    raw = simulate_recording(hours * 3600.0, 256.0, seed=seed, **params)
    truth = mms.to_stages(raw.annotations)
    if resample is not None:
        raw = raw.resample(resample, npad="auto", verbose="error")
    raw.set_annotations(None)
    return raw, truth


def live_frame(model, raw, offline, **kwargs):
    """The live decisions as a probability frame like ``offline``'s."""
    emg = "EMG" if "EMG" in raw.ch_names else None
    scorer = mms.OnlineScorer(model, raw.info, "EEG_PR", emg, **kwargs)
    x = raw.get_data()
    decisions = []
    for a in range(0, x.shape[1], 64):
        decisions += scorer.push(x[:, a : a + 64])
    decisions += scorer.flush()
    frame = offline.copy()
    values = np.full(frame.shape, np.nan)
    for d in decisions:
        if d.scored and d.epoch < len(values):
            values[d.epoch] = [d.proba[c] for c in frame.columns]
    frame.iloc[:, :] = values
    return frame, decisions


def f1s(truth, proba):
    five = mms.evaluate(truth, proba).mean_f1
    three = mms.evaluate(truth, proba, n_stages=3).mean_f1
    return five, three


def train_models(args):
    mice = [
        simulate_recording(
            args.train_hours * 3600, 128.0, seed=900 + m, variability=0.2
        )  # fmt: skip
        for m in range(args.train_mice)
    ]
    names = [f"S{m}" for m in range(args.train_mice)]
    split = dict(train=names[:-1], validation=names[-1:], test=[])
    models = {}
    for context in ("centred", "causal"):
        path = os.path.join(args.models or "", f"sim-{context}.pt")
        if args.models and os.path.exists(path):
            models[context] = mms.load_model(path)
            print(f"Loaded {path} (trained before with these settings)")
            continue
        started = time.perf_counter()
        models[context] = mms.train(
            mice,
            mice=names,
            split=split,
            context=context,
            picks="EEG_PR",
            max_epochs=args.max_epochs,
            min_epochs=min(args.max_epochs, 8),
            windows_per_epoch=args.windows,
            name=f"sim-{context}",
            verbose="warning",
        )
        print(
            f"Trained the {context} model in {time.perf_counter() - started:.0f} s "
            f"(validation {models[context].card.metrics})"
        )
        if args.models:
            models[context].save(path, overwrite=True)
    return models


def labs(args, models, figures):
    rows = {}
    names = [
        "offline, published",
        "live, published (delay 1)",
        "offline, sim centred",
        "offline, sim causal",
        "live, sim causal",
    ]
    for lab, params in LABS.items():
        for seed in range(args.seeds):
            raw, truth = make_lab(params, args.lab_hours, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                off_pub = mms.predict_proba(raw, "EEG_PR", verbose="error")
                off_cen = mms.predict_proba(raw, "EEG_PR", model=models["centred"],
                                            verbose="error")  # fmt: skip
                off_cau = mms.predict_proba(raw, "EEG_PR", model=models["causal"],
                                            verbose="error")  # fmt: skip
            live_pub, _ = live_frame(None, raw, off_pub, verbose="error")
            live_cau, _ = live_frame(models["causal"], raw, off_cau, verbose="error")
            frames = [off_pub, live_pub, off_cen, off_cau, live_cau]
            for name, frame in zip(names, frames):
                rows.setdefault(lab, {}).setdefault(name, []).append(f1s(truth, frame))
    print("| lab | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    means = {n: [] for n in names}
    for lab, per in rows.items():
        cells = []
        for n in names:
            five, three = np.mean(per[n], axis=0)
            means[n].append((five, three))
            cells.append(f"{five:.3f} / {three:.3f}")
        print(f"| {lab} | " + " | ".join(cells) + " |")
    cells = [" / ".join(f"{v:.3f}" for v in np.mean(means[n], axis=0)) for n in names]
    print("| mean | " + " | ".join(cells) + " |")
    (f5, f3), (c5, c3) = np.mean(means[names[0]], 0), np.mean(means[names[4]], 0)
    (g5, g3) = np.mean(means[names[2]], 0)
    print(
        f"Causal live - offline published: {c5 - f5:+.3f} (5 stages), "
        f"{c3 - f3:+.3f} (3 stages); causal live - offline sim centred: "
        f"{c5 - g5:+.3f}, {c3 - g3:+.3f}"
    )


def replay_figure(models, folder, hours=2.0):
    """The reference lab's first hours: truth, offline and live, REM triggers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mne_mousesleep.live._stream import _rem_onsets, _triggers

    raw, truth = make_lab({}, hours, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        offline = mms.predict_proba(raw, "EEG_PR", verbose="error")
        off_cau = mms.predict_proba(raw, "EEG_PR", model=models["causal"],
                                    verbose="error")  # fmt: skip
    live_pub, _ = live_frame(None, raw, offline, verbose="error")
    live_cau, _ = live_frame(models["causal"], raw, off_cau, verbose="error")
    order = ["Wake", "NREM", "pre-REM", "REM", "artifact"]
    true = truth.astype(str).to_numpy()
    rows = [
        ("truth (simulated)", true, None),
        ("offline, published", _stages(offline), None),
        ("live, published (decided 1 epoch later)", _stages(live_pub), 1),
        ("live, causal model (decided as the epoch ends)", _stages(live_cau), 0),
    ]
    fig, axes = plt.subplots(4, 1, figsize=(10, 6.8), sharex=True)
    minutes = np.arange(len(true)) * 10 / 60
    rem = true == "REM"
    for ax, (title, stages, delay) in zip(axes, rows):
        y = np.array([order.index(s) if s in order else np.nan for s in stages])
        n = min(len(y), len(minutes))
        ax.fill_between(minutes[:n], -0.5, 4.5, where=rem[:n], step="post",
                        color="tab:red", alpha=0.18, lw=0)  # fmt: skip
        ax.step(minutes[:n], y[:n], where="post", lw=0.9, color="k")
        if delay is not None:
            out = _rem_onsets(true, stages, 10.0, delay_epochs=delay)
            when = (np.array(_triggers(stages, "REM")) + 1 + delay) * 10 / 60
            ax.plot(when, np.full(len(when), -0.2), "v", color="tab:red", ms=6)
            title += (
                f": REM onsets {out['rem_sensitivity']:.0%} found, precision "
                f"{out['rem_precision']:.0%}, median delay "
                f"{out['rem_delay_median_s']:.0f} s"
            )
        ax.set_yticks(range(len(order)), order)
        ax.set_ylim(4.5, -0.5)
        ax.set_title(title, loc="left", fontsize=9)
    axes[0].text(1.0, 1.02, "shaded: true REM; ▼: live REM trigger (when decided)",
                 transform=axes[0].transAxes, ha="right", fontsize=8)  # fmt: skip
    axes[-1].set_xlabel("time (min); the first 5 min are the gain step's warm-up")
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "live_replay.png"), dpi=110)
    plt.close(fig)


def _stages(proba):
    return mms.proba_to_stages(proba).astype(str).to_numpy()


def _latency_figure(results, folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = ("tab:blue", "tab:orange")
    lat_bins = np.arange(0.0, 11.0, 0.1)
    top = max(max(c.max() for _, c in results.values()) * 1.05, 22.0)
    comp_bins = np.linspace(0.0, top, 60)
    for (name, (lat, comp)), color in zip(results.items(), colors):
        a1.hist(lat, bins=lat_bins, color=color, label=f"{name}: median "
                f"{np.median(lat):.2f} s")  # fmt: skip
        a2.hist(comp, bins=comp_bins, color=color, alpha=0.6, label=f"{name}: "
                f"median {np.median(comp):.1f} ms")  # fmt: skip
    a1.axvline(10.2, color="k", ls="--", lw=1)
    a1.text(10.1, 0.5, "1 epoch + 0.2 s", rotation=90, fontsize=8, ha="right",
            va="center", transform=a1.get_xaxis_transform())  # fmt: skip
    a1.set_xlabel("decision after the epoch's last sample (s)")
    a1.set_ylabel("epochs")
    a2.axvline(20, color="k", ls="--", lw=1)
    a2.set_yscale("log")
    a2.set_xlabel("compute per decision (ms)")
    a2.set_ylabel("epochs (log)")
    a1.legend(fontsize=8, loc="upper center")
    a2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "live_latency.png"), dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=8)
    parser.add_argument("--train-mice", type=int, default=6)
    parser.add_argument("--train-hours", type=float, default=2.0)
    parser.add_argument("--max-epochs", type=int, default=12)
    parser.add_argument("--windows", type=int, default=3000)
    parser.add_argument("--lab-hours", type=float, default=6.0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--figures", default=None)
    parser.add_argument(
        "--models", default=None, help="a folder to keep the trained models in"
    )
    parser.add_argument("--skip", default="", help="parts to skip: day,week,labs")
    args = parser.parse_args()
    print(f"Machine: {cpu_name()}; torch threads {torch.get_num_threads()}")
    models = train_models(args)
    day = simulate_recording(args.hours * 3600, 128.0, seed=5, variability=0.2)
    if "day" not in args.skip:
        print(f"\n1. A simulated day ({args.hours:g} h, 128 Hz, EEG + EMG), chunks "
              f"of {args.chunk} samples, default steps")  # fmt: skip
        print("| model | delay (epochs) | latency median (s) | p95 | max | "
              "compute median (ms) | p95 | p99.9 | max | > 20 ms | "
              "decisions/s |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        results = {
            "causal (sim)": timed_day(
                models["causal"], day, args.chunk, "causal (sim)"
            ),
            "published": timed_day(None, day, args.chunk, "grieger2021-5stage"),
        }
        if args.figures:
            _latency_figure(results, args.figures)
    if "week" not in args.skip:
        print(f"\n2. {args.days} days (the day repeated), causal model")
        week(models["causal"], day, args.days, 64)
    if args.figures:
        replay_figure(models, args.figures)
    if "labs" not in args.skip:
        print(f"\n3. Simulated labs ({args.lab_hours:g} h x {args.seeds} seeds, "
              "256 Hz): 5-stage / 3-stage mean F1 against the truth")  # fmt: skip
        labs(args, models, args.figures)


if __name__ == "__main__":
    main()
