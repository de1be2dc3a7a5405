"""
.. _ex-compare-expert:

Compare with an expert scoring
==============================

Evaluate the automatic scoring against an expert's, epoch by epoch: confusion
matrices, per-class F1, mean F1 and Cohen's kappa, for 5 classes and for the
3-class reduction of Grieger et al. (2021). Then list the least confident
bouts for the expert to review.

Here the "expert" is the ground truth of a simulated recording, written to and
read back from a CSV file as a lab would export it.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import mne_mousesleep
from mne_mousesleep.datasets import simulate_recording

raw = simulate_recording(6 * 3600.0, 128.0, seed=3)

# %%
# An expert's scoring, exported as a table with one row per epoch.
truth = mne_mousesleep.to_stages(raw.annotations)
fname = Path(tempfile.mkdtemp()) / "expert_scoring.csv"
truth.astype(str).rename("stage").reset_index().to_csv(fname, index=False)
print(fname.read_text()[:80])
expert = mne_mousesleep.read_scoring(fname)

# %%
# Score and compare.
proba = mne_mousesleep.predict_proba(raw, picks="EEG_PR", verbose="error")
five = mne_mousesleep.evaluate(expert, proba)
three = mne_mousesleep.evaluate(expert, proba, n_stages=3)
print(five)
print(five.per_class.round(3))
print(three)

# %%
# The published EEG-only network takes theta-rich active wake for REM: see the
# Wake row. (An EMG-aware step is planned for this.)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
mne_mousesleep.plot_confusion_matrix(five, ax=axes[0])
mne_mousesleep.plot_confusion_matrix(three, ax=axes[1])

# %%
# Review the least confident 5 % of the recording.
review = mne_mousesleep.review_list(proba, fraction=0.05)
print(review.head(10).round(2))
first_hour = proba.iloc[:360]
first_hour.attrs = proba.attrs
fig = mne_mousesleep.plot_hypnogram(first_hour, review=review[review["onset"] < 3600])
