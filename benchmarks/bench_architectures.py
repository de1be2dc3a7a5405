"""Every scorer of the package on one simulated multi-mouse dataset, split by animal.

Trains 3conv_pool, 8conv_2fc, the three Akada et al. (2021) integrations, the
ResNet and the multi-exit network with the same recipe and budget, scores the
test mice through ``mne_mousesleep.predict_proba``, and prints:

- the comparison table: mean F1 and per-class F1, Cohen's kappa, parameters,
  training time and scoring time per 24 h (the published 4-channel model
  ``grieger2021-3stage-eeg3-emg`` is added, as published, without training);
- the accuracy-speed curve of the multi-exit network over exit thresholds
  (share of epochs per exit, wall time per 24 h), also plotted;
- k-fold cross-validation over animals of the ResNet (per fold and mean).

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_architectures.py
--out doc/_static/comparison`` (about 25 min on 2 cores). With ``--out`` the
tables (CSV) and the figure (PNG) that the documentation shows are written
there.
"""

import argparse
import time
from pathlib import Path

import matplotlib
import mne
import numpy as np
import pandas as pd
import torch

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

#: The networks are compared as they are: no cross-lab step.
_PUBLISHED = dict(adapt=None, emg=None, smooth=None, precision="float32")

N_MICE, HOURS, SFREQ = 8, 2.0, 128.0
CHANNELS = ("EEG_FR", "EEG_PR", "EEG_PL", "EMG")  # those of the published 4-ch model
PICKS = ["EEG_PR", "EMG"]  # every trained scorer: parietal EEG, then EMG
MICE = [f"M{m}" for m in range(N_MICE)]
SPLIT = {"train": MICE[:5], "validation": MICE[5:6], "test": MICE[6:]}
# Much harder than the default simulation (on which every scorer is at
# ceiling): large differences between mice, 8 times the background noise, and
# theta-rich active wake, which an EEG alone confuses with REM.
SIMULATION = dict(variability=0.8, noise=8.0, active_theta=100.0)
TRAINING = dict(
    batch_size=32,
    lr=2e-3,
    warmup_epochs=1,
    max_epochs=8,
    min_epochs=4,
    patience=3,
    windows_per_epoch=1024,
    seed=0,
    precision="float32",  # the documented figures: the same on every CPU
    verbose="error",
)
THRESHOLDS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8)
TABLE_THRESHOLDS = (0.1, 0.3)


def pooled(confusions):
    """Per-class F1, mean F1 and Cohen's kappa of summed confusion matrices."""
    c = sum(confusions)
    tp = np.diag(c.to_numpy()).astype(float)
    rows, cols = c.sum(axis=1).to_numpy(), c.sum(axis=0).to_numpy()
    present = (rows + cols) > 0
    f1 = np.where(present, 2 * tp / np.maximum(rows + cols, 1), np.nan)
    n = c.to_numpy().sum()
    p_o, p_e = tp.sum() / n, (rows * cols).sum() / n**2
    return dict(zip(c.index, f1)), float(np.nanmean(f1)), float((p_o - p_e) / (1 - p_e))


def test_metrics(model, raws, picks):
    """3-stage and (for 5-class models) 5-stage metrics over the test mice."""
    out = {}
    conf = {3: [], 5: []}
    for raw in raws:
        proba = mms.predict_proba(raw, picks, model=model, **_PUBLISHED)
        truth = mms.to_stages(raw.annotations)
        for n in (3, 5) if model.card.n_classes == 5 else (3,):
            conf[n].append(mms.evaluate(truth, proba, n_stages=n).confusion)
    f1, mean, kappa = pooled(conf[3])
    out.update({"mean F1 (3 stages)": mean, "kappa (3 stages)": kappa})
    out.update({f"F1 {c}": v for c, v in f1.items()})
    if conf[5]:
        f1_5, mean_5, kappa_5 = pooled(conf[5])
        out.update(
            {
                "F1 pre-REM": f1_5["pre-REM"],
                "F1 artifact": f1_5["artifact"],
                "mean F1 (5 stages)": mean_5,
                "kappa (5 stages)": kappa_5,
            }
        )
    return out


def seconds_per_day(model, raw, picks, repeat=1):
    """Wall time of predict_proba on the 24-h recording (best of ``repeat``)."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        proba = mms.predict_proba(raw, picks, model=model, **_PUBLISHED)
        best = min(best, time.perf_counter() - t0)
    return best, proba


def main(out_dir):
    mne.set_log_level("error")
    torch.set_num_threads(2)
    t_start = time.perf_counter()
    raws = [
        simulate_recording(
            HOURS * 3600, SFREQ, ch_names=CHANNELS, seed=400 + m, **SIMULATION
        )  # fmt: skip
        for m in range(N_MICE)
    ]
    test_raws = raws[6:]
    day = simulate_recording(86400.0, SFREQ, ch_names=CHANNELS, seed=499, **SIMULATION)
    print(
        f"dataset: {N_MICE} simulated mice x {HOURS:g} h at {SFREQ:g} Hz "
        f"({', '.join(CHANNELS)}), {SIMULATION}; split by animal {SPLIT}"
    )
    print(f"training settings (every scorer): {TRAINING}")
    print("scoring time: predict_proba on a simulated 24-h recording, 2 threads")

    models, train_s = {}, {}

    def fit(label, **kwargs):
        t0 = time.perf_counter()
        models[label] = mms.train(
            raws, picks=PICKS, mice=MICE, split=SPLIT, name=label,
            **{**TRAINING, **kwargs},
        )  # fmt: skip
        train_s[label] = time.perf_counter() - t0
        print(f"  trained {label} in {train_s[label]:.0f} s", flush=True)

    fit("3conv_pool", architecture="3conv_pool", n_classes=5)
    fit("8conv_2fc", architecture="8conv_2fc", n_classes=5)
    fit("akada-rule", architecture="akada-rule", n_classes=3)
    # The other two integrations start from the rule's trained sub-networks,
    # as in the paper (the same sub-networks, integrated three ways).
    fit("akada-stacking", architecture="akada-stacking", n_classes=3,
        init=models["akada-rule"])  # fmt: skip
    fit("akada-multimodal", architecture="akada-multimodal", n_classes=3,
        init=models["akada-rule"])  # fmt: skip
    for label in ("akada-stacking", "akada-multimodal"):
        train_s[label] += train_s["akada-rule"]  # stage 1 included
    fit("resnet", architecture="resnet", n_classes=5)
    fit("multiexit", architecture="multiexit", n_classes=5)

    rows = []

    def add_row(label, model, picks, trained=True):
        seconds, _ = seconds_per_day(model, day, picks)
        rows.append(
            {
                "scorer": label,
                "classes": model.card.n_classes,
                **test_metrics(model, test_raws, picks),
                "parameters": model.n_parameters,
                "training (s)": train_s.get(label, np.nan) if trained else np.nan,
                "scoring (s per 24 h)": seconds,
            }
        )

    for label in ("3conv_pool", "8conv_2fc", "akada-rule", "akada-stacking",
                  "akada-multimodal", "resnet"):  # fmt: skip
        add_row(label, models[label], PICKS)
    multi = models["multiexit"]
    curve = []
    for thr in THRESHOLDS:
        multi.exit_threshold = thr
        seconds, proba = seconds_per_day(multi, day, PICKS)
        metrics = test_metrics(multi, test_raws, PICKS)
        shares = proba.attrs["exit_fractions"]
        curve.append(
            {
                "threshold": thr,
                "mean F1 (5 stages)": metrics["mean F1 (5 stages)"],
                "mean F1 (3 stages)": metrics["mean F1 (3 stages)"],
                "kappa (3 stages)": metrics["kappa (3 stages)"],
                "exit 1": shares[0],
                "exit 2": shares[1],
                "exit 3": shares[2],
                "scoring (s per 24 h)": seconds,
            }
        )
        if thr in TABLE_THRESHOLDS:
            add_row(f"multiexit (threshold {thr:g})", multi, PICKS)
            rows[-1]["training (s)"] = train_s["multiexit"]
    published = mms.load_model("grieger2021-3stage-eeg3-emg")
    add_row("grieger2021-3stage-eeg3-emg (published, not retrained)", published,
            list(CHANNELS), trained=False)  # fmt: skip

    table = pd.DataFrame(rows).set_index("scorer")
    curve = pd.DataFrame(curve).set_index("threshold")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print("\nComparison on the test mice", SPLIT["test"])
        print(table.round(3).to_string())
        print("\nMulti-exit network: accuracy-speed curve (test mice; time on 24 h)")
        print(curve.round(3).to_string())

    # k-fold cross-validation over animals, SlumberNet-style (ResNet).
    t0 = time.perf_counter()
    folds, _ = mms.cross_validate(
        raws, n_folds=4, picks=PICKS, n_classes=5, mice=MICE,
        architecture="resnet", **{k: v for k, v in TRAINING.items() if k != "seed"},
    )  # fmt: skip
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(f"\nResNet, 4-fold cross-validation over animals "
              f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
        print(folds.round(3).to_string())
    print(f"\ntotal: {time.perf_counter() - t_start:.0f} s")

    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        table.round(3).to_csv(out_dir / "scorers.csv")
        curve.round(3).to_csv(out_dir / "multiexit_curve.csv")
        folds.round(3).to_csv(out_dir / "resnet_folds.csv")
        plot_curve(curve, out_dir / "multiexit_curve.png")
        print(f"written to {out_dir}")


def plot_curve(curve, fname):
    """Mean F1 against scoring time and share of epochs per exit."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    ax1.plot(curve["scoring (s per 24 h)"], curve["mean F1 (5 stages)"], "o-")
    for thr, row in curve.iterrows():
        xy = (row["scoring (s per 24 h)"], row["mean F1 (5 stages)"])
        ax1.annotate(f"{thr:g}", xy, textcoords="offset points", xytext=(4, 4),
                     fontsize=8)  # fmt: skip
    ax1.set(xlabel="Scoring time per 24 h (s)", ylabel="Mean F1 (5 stages)",
            title="Accuracy vs speed (labels: threshold)")  # fmt: skip
    bottom = np.zeros(len(curve))
    x = np.arange(len(curve))
    for ii in (1, 2, 3):
        share = curve[f"exit {ii}"].to_numpy()
        ax2.bar(x, share, bottom=bottom, label=f"exit {ii}")
        bottom += share
    ax2.set_xticks(x, [f"{t:g}" for t in curve.index])
    ax2.set(xlabel="Exit threshold (normalised entropy)", ylabel="Share of epochs",
            title="Where epochs leave")  # fmt: skip
    ax2.legend(loc="lower right", fontsize=8)
    fig.savefig(fname, dpi=100)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="folder for the CSV and PNG")
    main(parser.parse_args().out)
