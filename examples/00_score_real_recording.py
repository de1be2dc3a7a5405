"""
.. _ex-score-real-recording:

Score a real mouse recording
============================

Load a real 10-min mouse recording (parietal EEG and EMG, from the MiSleep
project), score it in 10-s epochs with the network published by Grieger et
al. (2021), and look at the annotations, the per-epoch probabilities and the
YASA hypnogram.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
import matplotlib.pyplot as plt

import mne_mousesleep

raw = mne_mousesleep.datasets.fetch_misleep_example()
print(raw)

# %%
# The model card says what the network expects and what it was trained on.
print(mne_mousesleep.get_model_card("grieger2021-5stage"))

# %%
# Score the recording. ``score`` returns a new :class:`mne.Annotations`; add
# them to the Raw with ``set_annotations`` (MNE has no setter for
# ``raw.annotations``). The first and last epochs have no neighbour and stay
# unscored (``Sleep stage ?``).
annot = mne_mousesleep.score(raw, picks="EEG_P")
raw.set_annotations(raw.annotations + annot)
print(raw.annotations)

# %%
# The probability of each stage for every epoch (the hypnodensity). This
# recording is theta-rich with an active EMG: the network scores it Wake.
proba = mne_mousesleep.predict_proba(raw, picks="EEG_P")
print(proba.head())

# %%
# A 3-stage :class:`yasa.Hypnogram` (pre-REM folded into NREM, artifact into
# ART) with the folded probabilities, ready for YASA's statistics and plots.
hyp = mne_mousesleep.to_hypnogram(proba)
print(hyp.sleep_statistics())

fig, (ax_hyp, ax_proba) = plt.subplots(2, 1, figsize=(8, 5), sharex=False)
hyp.plot_hypnogram(ax=ax_hyp)
proba.plot(kind="area", ax=ax_proba, stacked=True, linewidth=0)
ax_proba.set(xlabel="Time (s)", ylabel="Probability", ylim=(0, 1))
fig.tight_layout()
