"""Building blocks shared by the networks of the related papers."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from torch import nn


def conv_block(n_in, n_out, kernel, stride=1):
    """Convolution ("same" padding, no bias), batch normalisation, ReLU.

    Parameters
    ----------
    n_in, n_out : int
        Input and output feature maps.
    kernel : int
        Kernel length in samples (odd).
    stride : int
        Stride of the convolution.

    Returns
    -------
    layers : list of torch.nn.Module
        The three layers, to be unpacked into a :class:`torch.nn.Sequential`.
    """
    return [
        nn.Conv1d(n_in, n_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(n_out),
        nn.ReLU(),
    ]


class EpochHead(nn.Sequential):
    """One average per 10-s epoch of the window, then a linear layer.

    As the pooling of Grieger et al. (2021): a window of three epochs gives
    three averages per feature map, so the classifier knows which features
    come from the scored epoch and which from its neighbours.

    Parameters
    ----------
    n_features : int
        Feature maps of the input, shape ``(n_windows, n_features, n_times)``
        with ``n_times`` a multiple of ``n_epochs``.
    n_classes : int
        Output classes.
    n_epochs : int
        Epochs per window.
    dropout : float
        Dropout probability before the linear layer.

    Notes
    -----
    Output: log-probabilities, shape ``(n_windows, n_classes)``.
    """

    def __init__(self, n_features, n_classes, n_epochs=3, dropout=0.2):
        super().__init__(
            nn.AdaptiveAvgPool1d(n_epochs),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(n_features * n_epochs, n_classes),
            nn.LogSoftmax(dim=-1),
        )
