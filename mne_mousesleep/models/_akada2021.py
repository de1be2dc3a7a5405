"""Multimodal EEG + EMG scorers after Akada et al. (2021).

Two sub-networks, each trained first on its own task, then integrated in one
of the three ways the paper compares (see :func:`mne_mousesleep.train`).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import torch
from torch import nn

from ._layers import EpochHead, conv_block

#: Classes of the two sub-networks, in output order.
EMG_CLASSES = ("Wake", "sleep")
EEG_CLASSES = ("REM", "NREM")


class _SubNetwork(nn.Module):
    """A compact CNN on some of the input channels, for a two-class task.

    Input batch normalisation, three convolution blocks of 7 samples (16, 32
    and 32 feature maps; stride 2 on the first, max-pooling by 2 after the
    first two), then :class:`~mne_mousesleep.models._layers.EpochHead`.

    Parameters
    ----------
    start, stop : int
        The channels ``x[:, start:stop]`` of the window it reads.
    n_classes : int
        Output classes.
    dropout : float
        Dropout probability before the linear layer.
    width : int
        Feature maps of the first block (the others have twice as many).
    """

    def __init__(self, start, stop, n_classes=2, dropout=0.2, width=16):
        super().__init__()
        self.start, self.stop = start, stop
        self.feature_extractor = nn.Sequential(
            nn.BatchNorm1d(stop - start),
            *conv_block(stop - start, width, 7, stride=2),
            nn.MaxPool1d(2),
            *conv_block(width, 2 * width, 7),
            nn.MaxPool1d(2),
            *conv_block(2 * width, 2 * width, 7),
        )
        self.n_features = 2 * width
        self.classifier = EpochHead(self.n_features, n_classes, dropout=dropout)

    def features(self, x):
        """Feature maps of the window ``x``, shape (n, n_features, n_times / 8)."""
        return self.feature_extractor(x[:, self.start : self.stop])

    def forward(self, x):
        return self.classifier(self.features(x))


class _Akada(nn.Module):
    """EEG and EMG sub-networks and one way of integrating them (3 classes).

    The last input channel is the EMG, the others are EEG. ``self.emg``
    classifies Wake vs sleep from the EMG, ``self.eeg`` REM vs NREM from the
    EEG. Output: log-probabilities of Wake, REM, NREM.

    Parameters
    ----------
    n_channels : int
        Input channels (at least 2: EEG channel(s), then the EMG).
    n_classes : int
        Must be 3 (Wake, REM, NREM).
    dropout : float
        Dropout probability.

    Raises
    ------
    ValueError
        If ``n_classes`` is not 3 or ``n_channels`` is below 2.
    """

    integration = None

    def __init__(self, n_channels, n_classes=3, dropout=0.2):
        super().__init__()
        if n_classes != 3:
            raise ValueError(
                f"The Akada et al. (2021) networks score 3 classes (Wake, REM, NREM), "
                f"got n_classes={n_classes}."
            )
        if n_channels < 2:
            raise ValueError(
                "The Akada et al. (2021) networks need EEG channel(s) and an EMG "
                f"channel last, got {n_channels} channel(s)."
            )
        self.eeg = _SubNetwork(0, n_channels - 1, dropout=dropout)
        self.emg = _SubNetwork(n_channels - 1, n_channels, dropout=dropout)


class _AkadaRule(_Akada):
    """Rule-based integration: the EMG decides Wake vs sleep, the EEG REM vs NREM.

    In probabilities: ``P(Wake) = P_EMG(Wake)``, ``P(REM) = P_EMG(sleep)
    P_EEG(REM)``, ``P(NREM) = P_EMG(sleep) P_EEG(NREM)``. Nothing is trained
    beyond the two sub-networks.
    """

    integration = "rule"

    def forward(self, x):
        eeg, emg = self.eeg(x), self.emg(x)
        return torch.stack([emg[:, 0], emg[:, 1] + eeg[:, 0], emg[:, 1] + eeg[:, 1]], 1)


class _AkadaStacking(_Akada):
    """Ensemble stacking: a small classifier on both sub-networks' outputs.

    The four log-probabilities of the sub-networks go through a linear layer
    of 16 units, ReLU and a linear layer to the 3 classes; only this
    classifier (``self.stacker``) is trained in the integration stage.
    """

    integration = "stacking"

    def __init__(self, n_channels, n_classes=3, dropout=0.2):
        super().__init__(n_channels, n_classes, dropout)
        self.stacker = nn.Sequential(
            nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3), nn.LogSoftmax(dim=-1)
        )

    def forward(self, x):
        return self.stacker(torch.cat([self.eeg(x), self.emg(x)], 1))


class _AkadaMultimodal(_Akada):
    """Multimodal network: both feature extractors joined, fine-tuned end to end.

    The feature maps of the EEG and EMG sub-networks are concatenated and
    classified by a new :class:`~mne_mousesleep.models._layers.EpochHead`
    (``self.joint``); in the integration stage every parameter is trained,
    starting from the sub-networks trained on their own tasks.
    """

    integration = "multimodal"

    def __init__(self, n_channels, n_classes=3, dropout=0.2):
        super().__init__(n_channels, n_classes, dropout)
        self.joint = EpochHead(
            self.eeg.n_features + self.emg.n_features, 3, dropout=dropout
        )

    def forward(self, x):
        return self.joint(torch.cat([self.eeg.features(x), self.emg.features(x)], 1))


#: Architecture names of the three integrations.
AKADA_ARCHITECTURES = {
    "akada-rule": _AkadaRule,
    "akada-stacking": _AkadaStacking,
    "akada-multimodal": _AkadaMultimodal,
}
