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
        # The symmetric zero padding of the second and third convolutions is
        # theirs (``padding=``): the same sums without a padded copy of the
        # activations (7 percent of a training step); the identities keep the
        # published module indices. ReLUs work in place (batch normalisation
        # follows each; no other layer needs their input).
        self.feature_extractor = nn.Sequential(
            nn.BatchNorm1d(n_channels),  # 0
            nn.ConstantPad1d((3, 4), 0.0),
            nn.Conv1d(n_channels, 128, 8),  # 2
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(128),  # 4
            nn.Identity(),  # zero padding (2, 2): the convolution's
            nn.Conv1d(128, 256, 5, padding=2),  # 6
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(256),  # 8
            nn.Identity(),  # zero padding (1, 1): the convolution's
            nn.Conv1d(256, 128, 3, padding=1),  # 10
            nn.ReLU(inplace=True),
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


#: Most epochs per chunk of the whole-recording pass: a few epochs keep the
#: activations in the cache (larger chunks are slower, not faster).
MAX_CHUNK_EPOCHS = 4


def recording_log_proba(
    net,
    x,
    *,
    epoch_samples=640,
    chunk_epochs=MAX_CHUNK_EPOCHS,
    precision="float32",
    n_context=1,
):
    """Log-probabilities of every epoch with full context, convolving once.

    The published network classifies each 30-s window separately, zero-padding
    its ends. Here the convolutions run once over the whole recording, one
    average is taken per epoch, and the few samples next to each window end,
    where the window's zero padding changes the features, are computed with
    the padding and swapped in (see
    :class:`~mne_mousesleep.models.grieger2021._fast.FastThreeConv`). The result equals
    the per-window computation up to float32 rounding of the Winograd
    transforms (at most a few 1e-5 in probability).

    Parameters
    ----------
    net : _ThreeConvPool
        The network, in evaluation mode.
    x : torch.Tensor, shape (n_channels, n_times)
        The signal, ``n_times`` a multiple of ``epoch_samples``.
    epoch_samples : int
        Samples per epoch.
    chunk_epochs : int
        Epochs per chunk of the whole-recording pass.
    precision : "float32" | "bfloat16"
        The arithmetic of the second and third convolutions (see
        :class:`~mne_mousesleep.models.grieger2021._fast.FastThreeConv`):
        float32 (the published numbers) or bfloat16, about twice as fast on
        CPUs that compute it natively (AVX-512 BF16, AMX), with probabilities
        within about 0.02 of float32.
    n_context : int
        Epochs of context on each side of the scored one (the card's).

    Returns
    -------
    log_proba : torch.Tensor, shape (n_epochs - 2 * n_context, n_classes)
        For epochs ``n_context`` to ``n_epochs - n_context - 1``.
    """
    evaluator = _fast_evaluator(net, precision, epoch_samples)
    features = evaluator.window_features(
        x, epoch_samples, chunk_epochs, n_context=n_context
    )
    return net.classifier(features)


def _tile(epoch_samples, precision="float32"):
    """Return the outputs per Winograd tile for epochs of ``epoch_samples``, or None.

    The tile must divide the epoch. float32: 10 (the published 640 samples),
    else 8, 5 or 4 (e.g. 256 samples: 4-s epochs at 64 Hz); bfloat16: 4 only.
    None when no tile fits (then each window is classified on its own).
    """
    from ._fast import BF16_TILE

    sizes = (BF16_TILE,) if precision == "bfloat16" else (10, 8, 5, BF16_TILE)
    return next((m for m in sizes if epoch_samples % m == 0), None)


def _fast_evaluator(net, precision="float32", epoch_samples=640):
    """Return the fast evaluator of ``net`` (:class:`._fast.FastThreeConv`).

    Building it (folding, transforms of the weights) takes about 25 ms, a
    sixth of scoring a 10-min recording; it is kept on the network and built
    again only when a parameter or buffer has changed (their version counters
    count in-place changes, as in training). Tensors created under
    :func:`torch.inference_mode` have no version counter: a network holding
    any gets a new evaluator at every call.
    """
    from ._fast import FastThreeConv

    m = _tile(epoch_samples, precision)
    if m is None:
        raise ValueError(f"No Winograd tile fits epochs of {epoch_samples} samples.")
    tensors = net.state_dict().values()
    if any(t.is_inference() for t in tensors):
        return FastThreeConv(net, m=m, precision=precision)
    key = tuple((t.data_ptr(), t._version) for t in tensors)
    cache = net.__dict__.setdefault("_fast_evaluators", {})
    cached = cache.get((precision, m))
    if cached is None or cached[0] != key:
        evaluator = FastThreeConv(net, m=m, precision=precision)
        cached = cache[(precision, m)] = (key, evaluator)
    return cached[1]


class _EightConvTwoFC(nn.Module):
    """The main network of Grieger et al. (2021), "8conv_2fc".

    Eight convolutions of 96 kernels of 5 samples without padding, stride 2 on
    layers 2, 4, 6 and 8, each followed by ReLU and batch normalisation, with
    dropout after every other one; input batch normalisation; then dropout,
    a fully connected layer of 80 units with ReLU, dropout and the output
    layer with log-softmax.

    Parameters
    ----------
    n_channels : int
        Number of input channels.
    n_classes : int
        Number of output classes.
    n_times : int
        Samples per input window (1920 = 30 s at 64 Hz gives 113 samples of 96
        features, 10848 in all, before the fully connected layers).
    dropout : float
        Dropout probability.
    """

    def __init__(self, n_channels, n_classes, n_times=1920, dropout=0.2):
        super().__init__()
        layers = [nn.BatchNorm1d(n_channels)]
        n_in, length = n_channels, n_times
        for ii in range(8):
            stride = 2 if ii % 2 else 1
            layers += [nn.Conv1d(n_in, 96, 5, stride=stride), nn.ReLU(inplace=True)]
            layers += [nn.BatchNorm1d(96)]
            if ii % 2:
                layers.append(nn.Dropout(dropout))
            n_in, length = 96, (length - 5) // stride + 1
        self.feature_extractor = nn.Sequential(*layers, nn.Flatten())
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(96 * length, 80),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(80, n_classes),
            nn.LogSoftmax(dim=-1),
        )

    def forward(self, x):
        return self.classifier(self.feature_extractor(x))


#: Architectures by name: class and the keyword arguments it takes.
ARCHITECTURES = {"3conv_pool": _ThreeConvPool, "8conv_2fc": _EightConvTwoFC}
