"""
.. _ex-spindles:

Spindles in NREM sleep with YASA
================================

Score a recording, then detect sleep spindles with
:func:`yasa.spindles_detect` only in the epochs scored NREM, with parameters
for mouse EEG (sigma band 10–15 Hz after Uygun et al. 2019; 0.5–3 s).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
import matplotlib.pyplot as plt

import mne_mousesleep
from mne_mousesleep.datasets import simulate_recording

raw = simulate_recording(3 * 3600.0, 128.0, seed=2)
proba = mne_mousesleep.predict_proba(raw, picks="EEG_PR", verbose="error")

# %%
# Detect spindles in NREM (add ``"pre-REM"`` to ``stages`` to include the
# transition to REM, which is rich in spindles in mice).
spindles = mne_mousesleep.detect_spindles(raw, proba, picks="EEG_PR")
summary = spindles.summary()
print(f"{len(summary)} spindles in NREM")
print(summary[["Start", "Duration", "Amplitude", "Frequency"]].describe().round(2))

# %%
# Spindle density per stage, including pre-REM.
both = mne_mousesleep.detect_spindles(
    raw, proba, picks="EEG_PR", stages=("NREM", "pre-REM")
)
stages = mne_mousesleep.to_stages(proba)
for code, name in ((1, "NREM"), (2, "pre-REM")):
    n = (both.summary()["Stage"] == code).sum()
    minutes = (stages == name).sum() / 6
    print(f"{name}: {n} spindles in {minutes:.0f} min ({n / minutes:.1f} per min)")

# %%
# The average spindle, time-locked to its peak.
ax = both.plot_average(center="Peak", time_before=1, time_after=1)
plt.gcf().tight_layout()
