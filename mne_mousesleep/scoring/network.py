"""Step 4: the network, every epoch's probabilities from its window.

On the CPU, the 3conv_pool networks convolve once over the whole recording
(the fast path, :func:`~mne_mousesleep.models.grieger2021.recording_log_proba`);
other networks and other devices classify each window, as the published code
does.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.utils import logger

from .check import _no_context


def _epochs_and_signal(model, data):
    card = model.card
    n_epoch = round(card.epoch_length * card.sfreq)
    n_epochs = data.shape[1] // n_epoch
    x = data[:, : n_epochs * n_epoch].astype(np.float32, copy=False)
    return n_epoch, n_epochs, np.ascontiguousarray(x)


def _window_proba(model, data, batch_size, exits=None):
    """Probabilities of every epoch of a preprocessed signal.

    ``data`` is ``(n_channels, n_times)`` at the model's rate. Returns
    ``(n_epochs, n_classes)``, NaN for epochs without full context. The
    convolutions run once over the recording, in chunks of at most
    ``batch_size`` epochs (see
    :func:`~mne_mousesleep.models.grieger2021.recording_log_proba`).
    """
    if not model._convolves_once:
        return _per_window_proba(model, data, batch_size, exits)
    _, n_epochs, x = _epochs_and_signal(model, data)
    n_ctx = model.card.n_context
    proba = np.full((n_epochs, model.card.n_classes), np.nan)
    proba[n_ctx : n_epochs - n_ctx] = model._predict_recording(x, batch_size)
    return proba


def _per_window_proba(model, data, batch_size, exits=None, device=None):
    """Like :func:`_window_proba`, classifying each window separately.

    This is how the published code computes it (each window convolved on its
    own; its evaluation script uses batches of 512 windows, 32 are about twice
    as fast on a 2-core CPU); kept as the reference for tests and benchmarks.
    For a multi-exit network, the exit of each window is appended to the list
    ``exits``.
    """
    n_epoch, n_epochs, x = _epochs_and_signal(model, data)
    n_ctx = model.card.n_context
    n_window = (2 * n_ctx + 1) * n_epoch
    # (n_channels, n_epochs - 2 * n_ctx, n_window): window of epoch k starts
    # at epoch k - n_ctx.
    windows = np.lib.stride_tricks.sliding_window_view(x, n_window, axis=-1)[
        :, ::n_epoch
    ]
    proba = np.full((n_epochs, model.card.n_classes), np.nan)
    network = model._network_on(device)
    for start in range(0, windows.shape[1], batch_size):
        batch = np.ascontiguousarray(
            windows[:, start : start + batch_size].transpose(1, 0, 2)
        )
        proba[n_ctx + start : n_ctx + start + len(batch)] = model._predict_windows(
            batch, exits, network=network
        )
    return proba


def _network_step(model, data, signal, batch_size, device):
    """Step 4 of the pipeline: the network's probabilities of every epoch.

    ``data`` is the signal to classify (after the gain step), ``signal`` the
    preprocessed recording (its unscorable epochs and quality record).
    Returns the probabilities ``(n_epochs, n_classes)`` (NaN where
    unscored), the quality record with every unscored epoch (bad data, and
    the epochs without full context at the ends) and, for a multi-exit
    network, the share of epochs that left at each exit (None for others).
    """
    card = model.card
    exits = []
    if device.type == "cpu":
        proba = _window_proba(model, data, batch_size, exits)
    else:  # each window on the device (the fast path is for CPUs)
        proba = _per_window_proba(model, data, batch_size, exits, device=device)
    proba[sorted(signal.unscorable)] = np.nan
    reasons = {k: set(v) for k, v in signal.unscorable.items()}
    n_ctx, n = card.n_context, len(proba)
    for k in (*range(n_ctx), *range(n - n_ctx, n)):
        reasons.setdefault(k, set()).add(_no_context(card))
    quality = _unscored_record(signal.quality, reasons, n, card)
    _log_scored(quality, card)
    fractions = None
    if exits:  # a multi-exit network: the share of epochs leaving at each exit
        counts = np.bincount(np.concatenate(exits), minlength=3)
        fractions = [float(c) for c in counts / counts.sum()]
        shares = ", ".join(f"{f:.1%}" for f in fractions)
        logger.info(f"Exits 1, 2, 3 (threshold {model.exit_threshold:g}): {shares}")
    return proba, quality, fractions


def _unscored_record(quality, reasons, n_epochs, card):
    """Return the quality record with the unscored epochs (counts, reasons)."""
    unscored = [
        [float(k * card.epoch_length), "; ".join(sorted(reasons[k]))]
        for k in sorted(reasons)
    ]
    counts = {}
    for k in sorted(reasons):
        for reason in sorted(reasons[k]):
            counts[reason] = counts.get(reason, 0) + 1
    return dict(
        quality,
        n_epochs=n_epochs,
        n_unscored=len(unscored),
        unscored_reasons=counts,
        unscored_epochs=unscored,
    )


def _log_scored(quality, card):
    n_epochs, n_unscored = quality["n_epochs"], quality["n_unscored"]
    logger.info(f"Scored {n_epochs - n_unscored} of {n_epochs} epochs with {card.name}")
    no_context = _no_context(card)
    bad = {r: n for r, n in quality["unscored_reasons"].items() if r != no_context}
    if bad:
        logger.warning(
            "Unscored epochs (bad data): "
            + "; ".join(f"{r}: {n}" for r, n in bad.items())
        )
