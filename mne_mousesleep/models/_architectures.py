"""All trainable architectures, by name."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._akada2021 import AKADA_ARCHITECTURES
from ._grieger2021 import _EightConvTwoFC, _ThreeConvPool
from ._multiexit import _MultiExit
from ._resnet import _ResNet

#: Architectures by name; each class takes ``(n_channels, n_classes, dropout)``.
ARCHITECTURES = {
    "3conv_pool": _ThreeConvPool,
    "8conv_2fc": _EightConvTwoFC,
    **AKADA_ARCHITECTURES,
    "resnet": _ResNet,
    "multiexit": _MultiExit,
}
