"""The "3conv_pool" network of Grieger et al. (2021)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from torch import nn


class _ThreeConvPool(nn.Module):
    """Three 1-D convolutions, then one average per 10-s epoch, then a linear layer.

    The module indices of ``feature_extractor`` and ``classifier`` are those of
    the published checkpoints (``feature_extractor.{0,2,4,6,8,10,12}``,
    ``classifier.1``), so their ``state_dict`` loads as it is.

    Parameters
    ----------
    n_channels : int
        Number of input channels.
    n_classes : int
        Number of output classes.
    epoch_samples : int
        Samples per epoch at the network's sampling rate (640 = 10 s at 64 Hz).
    n_epochs : int
        Epochs per input window (3: the epoch and one neighbour on each side).
    dropout : float
        Dropout probability before the linear layer.

    Notes
    -----
    Input shape ``(n_windows, n_channels, n_epochs * epoch_samples)`` in
    millivolts; output shape ``(n_windows, n_classes)``, log-probabilities.
    """

    def __init__(
        self, n_channels, n_classes, epoch_samples=640, n_epochs=3, dropout=0.2
    ):
        super().__init__()
        self.feature_extractor = nn.Sequential(
            nn.BatchNorm1d(n_channels),  # 0
            nn.ConstantPad1d((3, 4), 0.0),
            nn.Conv1d(n_channels, 128, 8),  # 2
            nn.ReLU(),
            nn.BatchNorm1d(128),  # 4
            nn.ConstantPad1d((2, 2), 0.0),
            nn.Conv1d(128, 256, 5),  # 6
            nn.ReLU(),
            nn.BatchNorm1d(256),  # 8
            nn.ConstantPad1d((1, 1), 0.0),
            nn.Conv1d(256, 128, 3),  # 10
            nn.ReLU(),
            nn.BatchNorm1d(128),  # 12
            nn.AvgPool1d(epoch_samples, epoch_samples),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(128 * n_epochs, n_classes),  # 1
            nn.LogSoftmax(dim=-1),
        )

    def forward(self, x):
        return self.classifier(self.feature_extractor(x))
