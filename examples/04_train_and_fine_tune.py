"""
.. _ex-train:

Train and fine-tune on your own scored recordings
=================================================

Labs record with their own electrodes, amplifiers and scorers. Here we train
the 3conv_pool network of Grieger et al. (2021) from scratch on scored
recordings of several mice (split by animal), then adapt a published network
to a "new lab" with a little scored data (fine-tuning, as in Akada et al.
2021). Settings are small so that this runs in about a minute; for real data
keep the defaults (the paper's recipe).

The recordings are simulated (:func:`mne_mousesleep.datasets.simulate_recording`,
a test bed, not physiology); with your files, pass their paths instead: their
annotations give the expert's stages.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
import mne_mousesleep
from mne_mousesleep.datasets import simulate_recording

raws = [
    simulate_recording(1800.0, 128.0, seed=100 + m, variability=0.2) for m in range(6)
]
mice = [f"M{m}" for m in range(6)]

# %%
# Train on four mice, choose the training epoch on a fifth (early stopping on
# the validation mean F1) and test on a sixth. Each training epoch rebalances
# the classes and augments the windows as in the paper.
model = mne_mousesleep.train(
    raws,
    picks=["EEG_PR", "EMG"],
    n_classes=3,
    mice=mice,
    split={"train": mice[:4], "validation": ["M4"], "test": ["M5"]},
    batch_size=32,
    lr=2e-3,
    warmup_epochs=1,
    max_epochs=5,
    min_epochs=1,
    windows_per_epoch=384,
    verbose="error",
)
print(model.history[["epoch", "loss", "validation mean F1"]])
print(model.card)

# %%
# The trained model scores like a published one, and saves to one file with
# its model card.
annot = mne_mousesleep.score(raws[5], picks=["EEG_PR", "EMG"], model=model)
print(mne_mousesleep.evaluate(raws[5].annotations, annot, n_stages=3))

# %%
# Fine-tuning: a new lab with a different gain, noise and spectral tilt. The
# published 3-class network as published (``adapt=None, emg=None,
# smooth=None``) follows the new lab's amplifier; with the package's default
# steps (gain step, EMG rules, HMM; see :doc:`/cross_lab`) it comes most of the
# way back. Then the same network is fine-tuned on the scored recording of one
# mouse of that lab (its classifier only); a fine-tuning that does not beat the
# starting weights on the validation mouse keeps them.
lab = dict(gain=1.8, noise=1.6, tilt=0.4)
new = [simulate_recording(1800.0, 128.0, seed=300 + m, **lab) for m in range(3)]
published = mne_mousesleep.evaluate(
    new[2].annotations,
    mne_mousesleep.predict_proba(
        new[2],
        picks="EEG_PR",
        model="grieger2021-3stage",
        adapt=None,
        emg=None,
        smooth=None,
        verbose="error",
    ),
    n_stages=3,
)
before = mne_mousesleep.evaluate(
    new[2].annotations,
    mne_mousesleep.predict_proba(
        new[2], picks="EEG_PR", model="grieger2021-3stage", verbose="error"
    ),
    n_stages=3,
)
tuned = mne_mousesleep.train(
    new[:2],
    picks="EEG_PR",
    n_classes=3,
    init="grieger2021-3stage",
    freeze_features=True,
    mice=["L0", "L1"],
    split={"train": ["L0"], "validation": ["L1"]},
    lr=1e-3,
    batch_size=32,
    warmup_epochs=1,
    max_epochs=3,
    min_epochs=1,
    windows_per_epoch=256,
    verbose="error",
)
after = mne_mousesleep.evaluate(
    new[2].annotations,
    mne_mousesleep.predict_proba(new[2], picks="EEG_PR", model=tuned, verbose="error"),
    n_stages=3,
)
print(
    f"new lab, held-out mouse: mean F1 {published.mean_f1:.3f} (published), "
    f"{before.mean_f1:.3f} (default steps), {after.mean_f1:.3f} (fine-tuned)"
)
fig = mne_mousesleep.plot_confusion_matrix(after)
