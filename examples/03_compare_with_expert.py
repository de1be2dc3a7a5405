"""
.. _ex-compare-expert:

Compare with an expert scoring
==============================

Evaluate the automatic scoring against an expert's, epoch by epoch: confusion
matrices, per-class F1, mean F1 and Cohen's kappa, for 5 classes and for the
3-class reduction of Grieger et al. (2021). Then list the least confident
bouts for the expert to review.

Here the "expert" is the ground truth of a simulated recording, scored in
AccuSleep at 2.5-s epochs as many labs do, and read back from AccuSleep's
label file; our scores go back to the lab as a MiSleep file to correct (see
:ref:`scoring-formats` for every format).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt

import mne_mousesleep
from mne_mousesleep.datasets import simulate_recording

raw = simulate_recording(6 * 3600.0, 128.0, seed=3)

# %%
# An expert's scoring, saved by AccuSleep: one code per 2.5-s epoch (1 REM,
# 2 Wake, 3 NREM, 4 undefined). AccuSleep cannot hold pre-REM or artifact:
# writing the file warns and says what was merged.
truth = mne_mousesleep.to_stages(raw.annotations)
folder = Path(tempfile.mkdtemp())
fname = folder / "M03_labels.mat"
mne_mousesleep.write_scoring(truth, fname, epoch_length=2.5, verbose="error")
expert = mne_mousesleep.read_scoring(fname, format="accusleep", epoch_length=2.5)
print(expert.attrs["epoch_length"], "s,", len(expert), "epochs")
print(expert.value_counts())

# %%
# Score and compare. ``evaluate`` converts the 2.5-s reference to our 10-s
# epochs (each 10-s epoch takes the stage of most of its time), so the
# comparison is epoch by epoch at 10 s. The 5-class scores count the pre-REM
# and artifact epochs the AccuSleep file could not hold as errors; the
# 3-class reduction folds pre-REM into NREM, as the file does.
proba = mne_mousesleep.predict_proba(raw, picks="EEG_PR", verbose="error")
five = mne_mousesleep.evaluate(expert, proba)
three = mne_mousesleep.evaluate(expert, proba, n_stages=3)
print(five)
print(five.per_class.round(3))
print(three)

# %%
# Confusion matrices: rows are the expert, columns our scores.
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

# %%
# Send the scores back to the lab in its own tool, here MiSleep (per-second
# bouts from the acquisition time); ``mne-mousesleep convert`` does the same
# from a shell. MiSleep has no pre-REM: the writer warns and says what it
# merged (shown here).
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = mne_mousesleep.write_scoring(proba, folder / "M03.txt", format="misleep")
for w in caught:
    print("warning:", w.message)
print("\n".join(out.read_text().splitlines()[:10]))
