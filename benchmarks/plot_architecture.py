"""The architecture prior's figure: five labs' REM, NREM and Wake bouts.

For each stage, the share of bouts longer than a duration (survival, log
axes) in the expert scorings of the five MSSV labs
(:func:`mne_mousesleep.architecture_prior`), beside the package's scorings of
simulated recordings (truth drawn from the labs' scorings): theta-rich active
Wake without an EMG channel, decoded with the hidden Markov model and with
the hidden semi-Markov model (``smooth="hsmm"``), and the truth. Writes
``doc/_static/architecture_prior.png``.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/plot_architecture.py
[--hours 6] [--seeds 3]``
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mne  # noqa: E402
import numpy as np  # noqa: E402

import mne_mousesleep as mms  # noqa: E402
from mne_mousesleep.datasets import simulate_recording  # noqa: E402

OUT = Path(__file__).parents[1] / "doc" / "_static" / "architecture_prior.png"
STAGES = ("REM", "NREM", "Wake")


def survival_of_prior(prior, stage):
    counts = np.asarray(prior["bouts"][stage], float)
    edges = np.asarray(prior["bout_edges_s"], float)
    return edges, 1 - np.r_[0, np.cumsum(counts)[:-1]] / counts.sum()


def bouts(stages, stage):
    values = np.asarray(stages.astype(str), dtype=object)
    length = float(stages.attrs.get("epoch_length", 10.0))
    change = np.r_[True, values[1:] != values[:-1]]
    starts = np.flatnonzero(change)
    lengths = np.diff(np.r_[starts, len(values)]) * length
    return lengths[values[starts] == stage]


def survival(durations, grid):
    durations = np.sort(durations)
    return 1 - np.searchsorted(durations, grid, side="left") / max(len(durations), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    mne.set_log_level("error")
    scored = {"truth": [], "HMM": [], "HSMM": []}
    for seed in range(args.seeds):
        raw = simulate_recording(
            args.hours * 3600.0, 256.0, seed=seed, lab="pooled",
            active_theta=100.0, ch_names=("EEG_PR",),
        )  # fmt: skip
        scored["truth"].append(mms.to_stages(raw.annotations))
        for name, smooth in (("HMM", "hmm"), ("HSMM", "hsmm")):
            proba = mms.predict_proba(raw, smooth=smooth)
            scored[name].append(mms.proba_to_stages(proba))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    grid = np.geomspace(10, 4000, 200)
    for ax, stage in zip(axes, STAGES):
        for k in range(1, 6):
            edges, surv = survival_of_prior(mms.architecture_prior(f"lab_{k}"), stage)
            ax.step(edges, surv, where="post", color="0.6", lw=1,
                    label="MSSV labs (experts)" if k == 1 else None)  # fmt: skip
        styles = {
            "truth": ("k", "--"),
            "HMM": ("tab:red", "-"),
            "HSMM": ("tab:blue", "-"),
        }
        for name, calls in scored.items():
            durations = np.concatenate([bouts(c, stage) for c in calls])
            color, ls = styles[name]
            label = {"truth": "simulated truth", "HMM": "package, HMM",
                     "HSMM": "package, HSMM"}[name]  # fmt: skip
            ax.plot(grid, survival(durations, grid), color=color, ls=ls, lw=1.6,
                    label=f"{label} ({len(durations)} bouts)")  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="bout duration (s)",
               title=f"{stage} bouts", ylim=(1e-3, 1.05), xlim=(3, 2e4))  # fmt: skip
        if stage == "REM":
            ax.axvline(304, color="0.3", lw=0.8, ls=":")
            ax.text(340, 0.02, "longest REM\nof the experts\n(304 s)", fontsize=7)
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("share of bouts longer")
    fig.suptitle(
        "Bout durations: five labs' experts (MSSV) and the package on simulated "
        "theta-rich active Wake without EMG",
        fontsize=10,
    )
    fig.savefig(OUT, dpi=110)
    print(f"Wrote {OUT}")
    for name, calls in scored.items():
        rem = np.concatenate([bouts(c, "REM") for c in calls])
        print(f"{name:6s} REM bouts {len(rem):4d}, longest {rem.max():5.0f} s, "
              f"median {np.median(rem):4.0f} s")  # fmt: skip
    print("\nPer recording (theta-rich active Wake, no EMG): REM false-positive "
          "epochs, REM recall, epoch accuracy")  # fmt: skip
    for seed, truth in enumerate(scored["truth"]):
        t = np.asarray(truth.astype(str), dtype=object)
        row = []
        for name in ("HMM", "HSMM"):
            c = np.asarray(scored[name][seed].astype(str), dtype=object)
            n = min(len(c), len(t))
            c, tt = c[:n], t[:n]
            keep = (tt != "unscored") & (c != "unscored")
            fp = int(((c == "REM") & (tt != "REM")).sum())
            recall = ((c == "REM") & (tt == "REM")).sum() / max((tt == "REM").sum(), 1)
            acc = (c[keep] == tt[keep]).mean()
            row.append(f"{name} {fp:4d} {recall:.2f} {acc:.3f}")
        print(f"seed {seed}: " + "; ".join(row))


if __name__ == "__main__":
    main()
