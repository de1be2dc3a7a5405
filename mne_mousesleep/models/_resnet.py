"""A 1-D residual network on EEG + EMG, after SlumberNet (Jha et al. 2024)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from torch import nn

from ._layers import EpochHead, conv_block


class _ResidualBlock(nn.Module):
    """Two convolutions with batch normalisation and a skip connection.

    ``ReLU(BN(conv(ReLU(BN(conv(x))))) + skip(x))``; the skip is the identity,
    or a 1-sample convolution with batch normalisation where the number of
    feature maps or the stride changes.
    """

    def __init__(self, n_in, n_out, kernel=7, stride=1):
        super().__init__()
        self.body = nn.Sequential(
            *conv_block(n_in, n_out, kernel, stride),
            nn.Conv1d(n_out, n_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(n_out),
        )
        self.skip = (
            nn.Identity()
            if n_in == n_out and stride == 1
            else nn.Sequential(
                nn.Conv1d(n_in, n_out, 1, stride=stride, bias=False),
                nn.BatchNorm1d(n_out),
            )
        )
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.skip(x))


class _ResNet(nn.Module):
    """A 1-D ResNet scorer ("resnet").

    Input batch normalisation; a stem convolution block (16 maps, 7 samples,
    stride 2) and max-pooling by 2; six residual blocks of 7-sample
    convolutions with 16, 16, 32, 32, 64, 64 feature maps (stride 2 entering
    32 and 64); then :class:`~mne_mousesleep.models._layers.EpochHead`. A 30-s
    window at 64 Hz (1920 samples) becomes 64 maps of 120 samples. 137,481
    parameters for 2 channels and 5 classes.

    SlumberNet (Jha et al. 2024) stacks residual blocks of convolutions with
    batch normalisation and skip connections on EEG + EMG epochs; the depth
    and widths here are ours, sized for 2 CPU cores and the 30-s windows of
    this package.

    Parameters
    ----------
    n_channels : int
        Input channels (e.g. parietal EEG and EMG).
    n_classes : int
        Output classes.
    dropout : float
        Dropout probability before the linear layer.
    """

    def __init__(self, n_channels, n_classes, dropout=0.2):
        super().__init__()
        widths, strides = (16, 16, 32, 32, 64, 64), (1, 1, 2, 1, 2, 1)
        blocks, n_in = [], 16
        for width, stride in zip(widths, strides):
            blocks.append(_ResidualBlock(n_in, width, 7, stride))
            n_in = width
        self.feature_extractor = nn.Sequential(
            nn.BatchNorm1d(n_channels),
            *conv_block(n_channels, 16, 7, stride=2),
            nn.MaxPool1d(2),
            *blocks,
        )
        self.classifier = EpochHead(n_in, n_classes, dropout=dropout)

    def forward(self, x):
        return self.classifier(self.feature_extractor(x))
