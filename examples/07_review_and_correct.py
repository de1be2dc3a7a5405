"""
.. _ex-review:

Review and correct the scores
=============================

Open the real MiSleep example recording with its scores in the review window,
go to the first epoch of the review queue, correct it with a key, and save a
screenshot. On a desktop, drop the ``QT_QPA_PLATFORM`` line and the window
opens on screen; :func:`mne_mousesleep.review` then waits until it is closed
and returns the reviewed stages (``block=False`` returns the window at once,
as ``raw.plot(block=False)`` in IPython). See the docs page "Review and
correct" for the keys.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
import os

# No display here (the documentation is built on a server): Qt draws offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

import mne_mousesleep  # noqa: E402

raw = mne_mousesleep.datasets.fetch_misleep_example(verbose="error")
proba = mne_mousesleep.predict_proba(raw, verbose="error")
result = mne_mousesleep.ScoringResult.from_frame(proba)

# %%
# Open the window without blocking, with a file for ctrl+s (here a temporary
# folder; the command line saves ``<name>_reviewed.csv`` beside the outputs).
folder = Path(tempfile.mkdtemp())
window = mne_mousesleep.review(
    raw, result, path=folder / "misleep_reviewed.csv", block=False, show=False
)
window.resize(1200, 920)
session = window.session
print(f"{len(session.queue)} epochs in the review queue")
for epoch, reason in list(session.queue_reasons().items())[:5]:
    print(f"  epoch {epoch}: {reason}")

# %%
# Go to the first scored epoch of the queue and label it as the expert would
# (here: confirm the scorer's stage with the space key's method), then save.
first = next(
    (k for k in session.queue if session.scorer[k] != "unscored"),
    int(session.queue[0]),
)
window.go_to(first)
session.confirm(first)
window._after_change(first)
print(window.status.text())
path = window.save()
print(f"saved {path.name}:")
print(session.to_frame().iloc[first - 1 : first + 2])

# %%
# The window as it looks (a screenshot of the offscreen window).
shot = folder / "review.png"
window.grab().save(str(shot))
fig, ax = plt.subplots(figsize=(12, 9.2), layout="constrained")
ax.imshow(plt.imread(shot))
ax.set_axis_off()
window.close()
