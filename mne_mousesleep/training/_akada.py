"""The two-stage training of the Akada et al. (2021) integrations."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np

from .._stages import NREM, REM, WAKE
from ..models._akada2021 import EEG_CLASSES, EMG_CLASSES
from ._fit import PAPER_CLASS_WEIGHTS, _fit

_CLASSES_3 = (WAKE, REM, NREM)


def _relabel(idx, fun):
    """Apply ``fun`` to the labels of every set; rows where it gives -1 go."""
    out = {}
    for key, rows in idx.items():
        labels = fun(rows[:, 2])
        keep = labels >= 0
        out[key] = np.c_[rows[keep, :2], labels[keep]]
    return out


def _fit_akada(net, recs, idx, cfg, rng, from_init):
    """Train one Akada et al. (2021) integration, in its two stages.

    Stage 1 trains the EMG sub-network on Wake vs sleep and the EEG
    sub-network on REM vs NREM (sleep epochs only), each on its own; it is
    skipped when ``from_init`` gave trained sub-networks to a stacking or
    multimodal integration. Stage 2 trains the stacking classifier (the
    sub-networks frozen) or fine-tunes the multimodal network end to end; the
    rule has no stage 2.
    """
    history = []
    equal = dict.fromkeys(EMG_CLASSES + EEG_CLASSES, 1.0)
    if not from_init or net.integration == "rule":
        # Classes of the 3-class task: 0 Wake, 1 REM, 2 NREM.
        emg_idx = _relabel(idx, lambda y: (y != 0).astype(int))
        eeg_idx = _relabel(idx, lambda y: y - 1)
        for sub, sub_idx, classes, stage in (
            (net.emg, emg_idx, EMG_CLASSES, "EMG sub-network (Wake vs sleep)"),
            (net.eeg, eeg_idx, EEG_CLASSES, "EEG sub-network (REM vs NREM)"),
        ):
            if not len(sub_idx["train"]) or not len(sub_idx["validation"]):
                raise ValueError(f"No labelled window to train the {stage}.")
            history += _fit(
                sub, recs, sub_idx, classes, cfg, rng, weights=equal, stage=stage
            )[0]
    if net.integration == "stacking":
        history += _fit(
            net,
            recs,
            idx,
            _CLASSES_3,
            cfg,
            rng,
            weights=PAPER_CLASS_WEIGHTS,
            trainable=lambda name: name.startswith("stacker."),
            frozen=(net.eeg, net.emg),
            stage="stacking",
        )[0]
    elif net.integration == "multimodal":
        history += _fit(
            net, recs, idx, _CLASSES_3, cfg, rng, weights=PAPER_CLASS_WEIGHTS,
            stage="multimodal, end to end",
        )[0]  # fmt: skip
    return history
