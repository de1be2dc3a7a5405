"""A lab's own class: active Wake scored apart from quiet Wake.

Run: ``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_lab_classes.py``
(``--mice``, ``--hours``, ``--max-epochs``; about 5 min on 2 cores).

Simulated mice whose experts score Wake with activity (theta-rich EEG, high
EMG: 40 % of Wake epochs) as ``"active Wake"`` (role wake), pre-REM as NREM
and artifact not at all. A 3conv_pool model learns Wake, active Wake, NREM
and REM (``train(classes={...})``), split by animal. On the test mice it
prints: the per-class F1 against the experts (network alone and with the
default steps, which run on the roles), the statistics the class gets, the
3-stage YASA hypnogram against the experts' (the fold by role), and what a
FASTER2 file (Wake, NREM, REM only) holds of it.
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

try:
    from _machine import cpu_name
except ImportError:  # run from elsewhere
    from benchmarks._machine import cpu_name

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording

CLASSES = {"Wake": "wake", "active Wake": "wake", "NREM": "NREM", "REM": "REM"}
MAPPING = {
    "Sleep stage W": "Wake",
    "Sleep stage active Wake": "active Wake",
    "Sleep stage NREM": "NREM",
    "Sleep stage pre-REM": "NREM",
    "Sleep stage R": "REM",
    "BAD_artifact": "unscored",
}
ROLES = {"active Wake": "wake"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mice", type=int, default=8)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--max-epochs", type=int, default=12)
    args = parser.parse_args()
    print(f"Machine: {cpu_name()}; torch threads {torch.get_num_threads()}")
    mice = [
        simulate_recording(
            args.hours * 3600,
            128.0,
            seed=700 + m,
            variability=0.2,
            label_active_wake=True,
        )  # fmt: skip
        for m in range(args.mice)
    ]
    ids = [f"M{m}" for m in range(args.mice)]
    split = {"train": ids[:-3], "validation": ids[-3:-2], "test": ids[-2:]}
    t0 = time.perf_counter()
    model = mms.train(
        mice, mice=ids, split=split, picks="EEG_PR", classes=CLASSES,
        mapping=MAPPING, max_epochs=args.max_epochs, seed=0, name="lab-active-wake",
        verbose="error",
    )  # fmt: skip
    print(
        f"Trained in {time.perf_counter() - t0:.0f} s on {len(split['train'])} mice "
        f"x {args.hours:g} h; card classes: "
        + ", ".join(f"{c} ({r})" for c, r in model.card.class_roles.items())
    )
    test = [mice[ids.index(m)] for m in split["test"]]
    rows = []
    for label, options in (
        ("network only", mms.ScoringOptions.published(model=model)),
        ("default steps", mms.ScoringOptions(model=model)),
    ):
        evs, yasa_agree = [], []
        for raw in test:
            proba = mms.predict_proba(raw, options=options, verbose="error")
            truth = mms.to_stages(raw.annotations, mapping=MAPPING, roles=ROLES)
            evs.append(mms.evaluate(truth, proba))
            hyp = mms.to_hypnogram(proba).hypno.to_numpy()
            ref = mms.to_hypnogram(truth).hypno.to_numpy()
            n = min(len(hyp), len(ref))
            keep = (hyp[:n] != "UNS") & (ref[:n] != "UNS")
            yasa_agree.append((hyp[:n][keep] == ref[:n][keep]).mean())
        f1 = pd.concat([ev.per_class["f1"] for ev in evs], axis=1).mean(axis=1)
        rows.append(
            {
                "scoring": label,
                "mean F1": np.mean([ev.mean_f1 for ev in evs]),
                **{f"F1 {c}": f1[c] for c in CLASSES},
                "YASA 3-stage agreement": np.mean(yasa_agree),
            }
        )
    print("\nTest mice against the experts (mean of 2):")
    print(pd.DataFrame(rows).round(3).to_string(index=False))
    raw = test[0]
    proba = mms.predict_proba(raw, model=model, verbose="error")
    stats = mms.sleep_statistics(proba)
    truth = mms.sleep_statistics(
        mms.to_stages(raw.annotations, mapping=MAPPING, roles=ROLES)
    )
    keys = [
        f"{s} {k}"
        for s in ("Wake", "active Wake", "NREM", "REM")
        for k in ("min", "%", "bouts")
    ]
    print("\nStatistics of the first test mouse (scored / experts):")
    print(pd.DataFrame({"scored": stats[keys], "experts": truth[keys]}).round(1))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "M.faster2.stage.csv"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mms.write_scoring(proba, path, format="faster2")
        back = mms.read_scoring(path, format="faster2", verbose="error")
    said = [str(w.message) for w in caught if "cannot hold" in str(w.message)]
    print("\nFASTER2 file (holds Wake, NREM, REM):", " ".join(said) or "no warning")
    print(back.astype(str).value_counts().to_string())


if __name__ == "__main__":
    main()
