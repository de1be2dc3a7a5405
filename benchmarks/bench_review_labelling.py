"""The labelling curve of a review: F1 against corrected epochs, queue vs random.

A lab reviews one recording of a new mouse in the review window and teaches
the scorer (:func:`mne_mousesleep.fine_tune`) from its review. How many
epochs must its expert check, and does the review queue (the least
confident epochs first) beat checking epochs at random?

For each simulated lab (``--labs``, separated by ``;``: those of
``bench_cross_lab.py`` where the default scorer does worst), one mouse is
"reviewed" (``--hours``) and another is the test mouse (``--test-hours``), at
1 kHz or the lab's rate. The reviewed mouse is scored with the defaults; the
expert's labels are the simulated truth of ``B`` epochs (``--budgets``)
chosen

- by the queue: the ``B`` least confident scored epochs;
- at random: ``B`` scored epochs drawn uniformly (``--repeats`` draws; the
  queue's epochs are fine-tuned with as many seeds);

and, as the ceiling, every epoch of the reviewed mouse. For each, the scorer
is fine-tuned (anchored, early stopping on held-out expert epochs) and the
test mouse is scored with the defaults; printed: the test mouse's mean F1
(5 stages) and 3-stage F1, the F1 of the start, whether fine-tuning kept the
start, and the time. Run:
``MNE_MOUSESLEEP_MIRROR=../shared python benchmarks/bench_review_labelling.py``
(about 1 h on 2 cores with the defaults).
"""

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from _machine import cpu_name  # benchmarks/_machine.py
from bench_cross_lab import LABS, make_lab

import mne_mousesleep as mms

#: The simulated labs where the default scorer does worst (bench_cross_lab):
#: extra broadband noise, and theta-rich active Wake without an EMG (which the
#: EEG-only network calls REM, with no EMG rule to catch it).
LABS = {
    **LABS,
    "theta-rich active Wake, no EMG": dict(active_theta=70.0, ch_names=("EEG_PR",)),
}
DEFAULT_LABS = "noise x2;theta-rich active Wake, no EMG"


def reviewed_table(proba, truth, chosen):
    """The review: the scorer's stages, the truth on the chosen epochs."""
    scorer = np.asarray(mms.to_stages(proba).to_numpy(), dtype=object)
    stages = scorer.copy()
    provenance = np.full(len(scorer), "scorer", dtype=object)
    stages[chosen] = truth[chosen]
    provenance[chosen] = np.where(
        truth[chosen] == scorer[chosen], "expert-confirmed", "expert-corrected"
    )
    return pd.DataFrame(dict(stage=stages, provenance=provenance, scorer=scorer))


def f1s(model, raw, truth):
    proba = mms.predict_proba(raw, picks="EEG_PR", model=model, verbose="error")
    calls = mms.to_stages(proba)
    five = mms.evaluate(truth, calls).mean_f1
    three = mms.evaluate(truth, calls, n_stages=3).mean_f1
    return five, three


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--labs", default=DEFAULT_LABS)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--test-hours", type=float, default=4.0)
    parser.add_argument("--budgets", default="50,100,300")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--anchor-outputs", type=float, default=1.0)
    args = parser.parse_args()
    print(f"machine: {cpu_name()}")
    budgets = [int(b) for b in args.budgets.split(",")]
    rows = []
    for lab in args.labs.split(";"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw, truth = make_lab(LABS[lab], args.hours, seed=200)
            test, test_truth = make_lab(LABS[lab], args.test_hours, seed=300)
            proba = mms.predict_proba(raw, picks="EEG_PR", verbose="error")
        truth_values = np.asarray(truth.to_numpy(), dtype=object)[: len(proba)]
        scored = np.flatnonzero(~np.isnan(proba.to_numpy()).any(axis=1))
        top = proba.to_numpy()[scored].max(axis=1)
        start = f1s("grieger2021-5stage", test, test_truth)
        print(f"\n## {lab}: test mouse with the published network: mean F1 "
              f"{start[0]:.3f} (3 stages {start[1]:.3f})")  # fmt: skip
        rng = np.random.default_rng(0)
        plans = [("every label", len(scored), 0, scored)]
        for budget in budgets:
            queue = scored[np.argsort(top, kind="stable")[:budget]]
            for rep in range(args.repeats):  # the queue's epochs, other seeds
                plans.append(("queue", budget, rep, queue))
                plans.append(
                    ("random", budget, rep, rng.choice(scored, budget, replace=False))
                )
        for how, budget, rep, chosen in plans:
            table = reviewed_table(proba, truth_values, chosen)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = mms.fine_tune(
                    [raw],
                    [table],
                    picks="EEG_PR",
                    max_epochs=args.max_epochs,
                    anchor_outputs=args.anchor_outputs,
                    seed=rep,
                    verbose="error",
                )
                five, three = f1s(result.model, test, test_truth)
            seconds = time.perf_counter() - t0
            n_corrected = int((table["provenance"] == "expert-corrected").sum())
            rows.append(
                dict(lab=lab, how=how, epochs=budget, repeat=rep, corrected=n_corrected,
                     f1=five, f1_3=three, start=start[0], kept=result.kept_start,
                     seconds=seconds)
            )  # fmt: skip
            print(
                f"{how:12s} {budget:5d} epochs ({n_corrected:4d} corrected): test mean "
                f"F1 {five:.3f} (3 stages {three:.3f}); kept start "
                f"{result.kept_start}; {seconds:.0f} s"
            )
    summarise(pd.DataFrame(rows))


def summarise(table):
    """Print the curve per lab and over the labs, and whether the target is met."""
    print("\n## Mean test F1 by budget (mean over the repeats)")
    ceiling = table[table["how"] == "every label"].groupby("lab")["f1"].mean()
    table = table[table["how"] != "every label"]
    summary = table.groupby(["lab", "how", "epochs"])["f1"].mean().unstack("how")
    labs = summary.index.get_level_values("lab")
    summary["every label"] = ceiling.reindex(labs).to_numpy()
    print(summary.round(3).to_string())
    over_labs = summary.groupby(level="epochs").mean()
    print("\n## Mean over the labs")
    print(over_labs.round(3).to_string())
    for name, part in [*summary.groupby(level="lab"), ("mean of the labs", over_labs)]:
        gap = part["every label"] - part["queue"]
        budgets = list(gap[gap <= 0.02].index.get_level_values(-1))
        ahead = bool((part["queue"] > part["random"]).all())
        print(
            f"{name}: queue within 0.02 of every label at {budgets} epochs; "
            f"queue beats random at every budget: {ahead}"
        )


if __name__ == "__main__":
    main()
