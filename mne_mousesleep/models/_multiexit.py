"""A multi-exit network with adaptive inference, after DynamicSleepNet."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._layers import EpochHead, conv_block


def normalised_entropy(log_proba):
    """Entropy of each row of probabilities divided by its maximum, log(C).

    Parameters
    ----------
    log_proba : torch.Tensor, shape (n, n_classes)
        Log-probabilities.

    Returns
    -------
    entropy : torch.Tensor, shape (n,)
        In [0, 1]: 0 for a certain prediction, 1 for the uniform one.
    """
    return torch.special.entr(log_proba.exp()).sum(-1) / math.log(log_proba.shape[-1])


class _MultiExit(nn.Module):
    """Three feature-extraction stages, each with its own exit ("multiexit").

    Stage 1: input batch normalisation, convolution blocks of 7 samples with
    16 maps (stride 2) and 16 maps, max-pooling by 2; stage 2: 32 maps
    (stride 2) and 32, max-pooling by 2; stage 3: 64 and 64 maps, max-pooling
    by 2. Each stage is followed by an exit,
    :class:`~mne_mousesleep.models._layers.EpochHead`. The stages cost about
    1.8, 2.6 and 5.2 million multiply-adds per 30-s window.

    In training mode the output is the last exit's; :meth:`training_loss`
    trains all exits jointly (mean of their negative log-likelihoods). In
    evaluation mode each window leaves at the first exit whose normalised
    entropy is below ``exit_threshold`` (a buffer, saved with the weights),
    the last exit taking the rest, and only the windows still undecided go
    through the next stage; ``last_exits`` then holds the exit (0, 1, 2) of
    each window. ``exit_threshold = 0`` runs the whole network for every
    window.

    After DynamicSleepNet (Wang et al. 2023): multi-exit, joint training,
    exit on the entropy of each exit's prediction; the layer sizes are ours.

    Parameters
    ----------
    n_channels : int
        Input channels.
    n_classes : int
        Output classes.
    dropout : float
        Dropout probability before each exit's linear layer.
    """

    def __init__(self, n_channels, n_classes, dropout=0.2):
        super().__init__()
        self.feature_extractor = nn.ModuleList(
            [
                nn.Sequential(
                    nn.BatchNorm1d(n_channels),
                    *conv_block(n_channels, 16, 7, stride=2),
                    *conv_block(16, 16, 7),
                    nn.MaxPool1d(2),
                ),
                nn.Sequential(
                    *conv_block(16, 32, 7, stride=2),
                    *conv_block(32, 32, 7),
                    nn.MaxPool1d(2),
                ),
                nn.Sequential(
                    *conv_block(32, 64, 7), *conv_block(64, 64, 7), nn.MaxPool1d(2)
                ),
            ]
        )
        self.classifier = nn.ModuleList(
            [EpochHead(w, n_classes, dropout=dropout) for w in (16, 32, 64)]
        )
        self.register_buffer("exit_threshold", torch.tensor(0.0))
        self.last_exits = None

    def forward_exits(self, x):
        """Log-probabilities of every exit for every window (list of 3 tensors)."""
        out = []
        for stage, head in zip(self.feature_extractor, self.classifier):
            x = stage(x)
            out.append(head(x))
        return out

    def training_loss(self, x, y):
        """Mean negative log-likelihood of the three exits (joint training)."""
        return sum(F.nll_loss(lp, y) for lp in self.forward_exits(x)) / 3

    def forward(self, x):
        if self.training:
            return self.forward_exits(x)[-1]
        n_exits = len(self.classifier)
        out, exits = None, torch.full((len(x),), n_exits - 1)
        active = torch.arange(len(x))
        stages = zip(self.feature_extractor, self.classifier)
        for ii, (stage, head) in enumerate(stages):
            x = stage(x)
            log_p = head(x)
            if out is None:
                out = torch.empty(len(active), log_p.shape[1], dtype=log_p.dtype)
            if ii == n_exits - 1:
                done = torch.ones(len(active), dtype=torch.bool)
            else:
                done = normalised_entropy(log_p) < self.exit_threshold
            out[active[done]] = log_p[done]
            exits[active[done]] = ii
            active, x = active[~done], x[~done]
            if not len(active):
                break
        self.last_exits = exits
        return out
