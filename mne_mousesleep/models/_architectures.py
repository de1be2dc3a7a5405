"""All trainable architectures, by name, and the one way to build them."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._akada2021 import AKADA_ARCHITECTURES
from ._multiexit import _MultiExit
from ._resnet import _ResNet
from .grieger2021 import _EightConvTwoFC, _ThreeConvPool

#: Architectures by name; each class takes ``(n_channels, n_classes, dropout)``.
ARCHITECTURES = {
    "3conv_pool": _ThreeConvPool,
    "8conv_2fc": _EightConvTwoFC,
    **AKADA_ARCHITECTURES,
    "resnet": _ResNet,
    "multiexit": _MultiExit,
}


def build_network(card, *, dropout=0.2):
    """Return a new network of the architecture a model card names.

    The window size comes from the card (samples per epoch at its sampling
    rate, ``2 * n_context + 1`` epochs): the Grieger et al. (2021) networks
    are built for it; the others pool per epoch of any window size.
    """
    cls = ARCHITECTURES[card.architecture]
    epoch_samples = round(card.epoch_length * card.sfreq)
    n_epochs = 2 * card.n_context + 1
    if cls is _ThreeConvPool:
        return cls(
            card.n_channels,
            card.n_classes,
            epoch_samples=epoch_samples,
            n_epochs=n_epochs,
            dropout=dropout,
        )
    if cls is _EightConvTwoFC:
        return cls(
            card.n_channels,
            card.n_classes,
            n_times=epoch_samples * n_epochs,
            dropout=dropout,
        )
    return cls(card.n_channels, card.n_classes, dropout=dropout)
