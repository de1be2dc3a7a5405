"""Training and fine-tuning scorers on scored recordings (Grieger et al. 2021).

``_data``: recordings read through the scoring's steps 1-2 at the model
card's rate, labels, the split by animal; ``_augment``: the paper's
augmentations, a batch at a time on the device; ``_fit``: training epochs,
early stopping and metrics; ``_akada``: the two-stage training of the Akada
et al. (2021) integrations; ``_train``: :func:`train` (settings, network,
gain model, card); ``_cross_validate``: :func:`cross_validate`;
``_fine_tune``: :func:`fine_tune` (an expert's review taught to a scorer).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._augment import PAPER_AUGMENTATION
from ._cross_validate import cross_validate
from ._fine_tune import FineTuning, fine_tune
from ._fit import PAPER_CLASS_WEIGHTS, learning_rate
from ._train import train

__all__ = [
    "PAPER_AUGMENTATION",
    "PAPER_CLASS_WEIGHTS",
    "FineTuning",
    "cross_validate",
    "fine_tune",
    "learning_rate",
    "train",
]
