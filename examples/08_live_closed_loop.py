"""
.. _ex-live-closed-loop:

Score a stream live for a closed loop
=====================================

A closed-loop experiment acts while the mouse is in a stage: a laser during
REM, a tone during NREM. Here a simulated 20-min recording is scored epoch by
epoch as its samples arrive, first given chunk by chunk in Python (no
streaming library), then streamed over Lab Streaming Layer with MNE-LSL's
``PlayerLSL`` and scored from the stream, as ``mne-mousesleep live`` does.

The published network looks one epoch ahead, so each epoch is decided when
the next one has ended (``delay_epochs=1``); a causal model
(``train(..., context="causal")``) decides each epoch as soon as it ends.
See :ref:`live-scoring`.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
import matplotlib.pyplot as plt
import numpy as np

import mne_mousesleep
from mne_mousesleep.datasets import simulate_recording

raw = simulate_recording(1200.0, 256.0, seed=14)
truth = mne_mousesleep.to_stages(raw.annotations)
raw.set_annotations(None)  # the scorer does not see the truth

# %%
# The scorer takes the stream's :class:`mne.Info` and the channels to use. A
# callback drives the experiment: here it records when REM starts and ends
# (``debounce=2``: a stage must hold for two epochs before it is announced),
# where a lab would switch a laser through a serial port or a TTL line.
laser = []


def on_stage_change(decision, before):
    """Switch the laser on when REM starts, off when it ends."""
    if decision.stage == "REM" or before == "REM":
        laser.append((decision.onset, "on" if decision.stage == "REM" else "off"))


scorer = mne_mousesleep.OnlineScorer(
    info=raw.info,
    picks="EEG_PR",
    emg="EMG",
    on_stage_change=on_stage_change,
    debounce=2,
    verbose="error",
)
print(scorer)

# %%
# Give it the samples as an acquisition loop would, a quarter of a second at
# a time. Each :meth:`~mne_mousesleep.OnlineScorer.push` returns the epochs it
# completed. A live stream gives each chunk's timestamps too
# (``scorer.push(data, timestamps)``): gaps are then seen, and each decision's
# latency is measured on the stream's clock (here, a file read faster than
# real time, there is none: latency is NaN).
data = raw.get_data()
decisions = []
for start in range(0, data.shape[1], 64):
    decisions += scorer.push(data[:, start : start + 64])
decisions += scorer.flush()  # the end of the recording
print(decisions[50])
print("laser:", laser)

# %%
# The first five minutes are the gain step's warm-up; after it, the live
# stages follow the offline scoring of the whole recording.
offline = mne_mousesleep.proba_to_stages(
    mne_mousesleep.predict_proba(raw, verbose="error")
)
order = ["Wake", "NREM", "pre-REM", "REM", "artifact"]
fig, ax = plt.subplots(figsize=(9, 3.2))
for label, stages, offset in (
    ("truth", truth.astype(str), -0.2),
    ("offline", offline.astype(str), 0.0),
    ("live (from 5 min)", [d.stage for d in decisions], 0.2),
):
    y = [order.index(s) + offset if s in order else np.nan for s in stages]
    ax.step(np.arange(len(y)) * 10 / 60, y, where="post", label=label, lw=1.2)
ax.set_yticks(range(len(order)), order)
ax.invert_yaxis()
ax.set_xlabel("time (min)")
ax.set_title("Stages drawn 0.2 apart; the live stages follow the offline ones",
             fontsize=9)  # fmt: skip
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()

# %%
# Over Lab Streaming Layer: :func:`mne_mousesleep.live.replay` streams the
# recording with ``PlayerLSL`` (here 40 times faster than real time), scores
# the stream with ``StreamLSL`` and compares with the offline scoring. This is
# ``mne-mousesleep live --replay FILE --speed 40``; a real acquisition is
# ``mne-mousesleep live --stream NAME --out live.csv --markers stages``.
decisions, summary = mne_mousesleep.live.replay(
    raw, speed=40, picks="EEG_PR", echo=None, verbose="error"
)
for key, value in summary.items():
    print(f"{key}: {value}")
