"""Step 4: the network, every epoch's probabilities from its window.

On the CPU, the 3conv_pool networks convolve once over the whole recording
(the fast path, :func:`~mne_mousesleep.models.grieger2021.recording_log_proba`);
on a GPU they convolve once too, in large chunks of plain convolutions
(:func:`~mne_mousesleep.models.grieger2021._fast.direct_window_features`);
other networks classify each window, as the published code does. In
bfloat16 (``precision``), the epochs whose two most probable classes are
within :data:`RECHECK_MARGIN` are computed again in float32, so the
network's calls are those of float32.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
from mne.utils import logger

from .check import _no_context

#: Epochs whose two most probable classes are closer than this in bfloat16
#: are computed again in float32. The largest difference between the
#: bfloat16 and float32 probabilities measured on the simulated labs (their
#: amplitudes 0.3 to 3 times the training data's) and the MiSleep example is
#: 0.021 (``benchmarks/bench_scoring.py``): a call can differ from float32
#: only where the two classes move by 0.05 together. About 1 % of the epochs
#: of a simulated day at 128 Hz (67 of 8,638).
RECHECK_MARGIN = 0.05
#: Windows per batch of that second look: as fast per window as 32 here, with
#: a quarter of the memory (the activations of 32 windows take about 150 MB).
RECHECK_BATCH = 8


def _epochs_and_signal(model, data):
    card = model.card
    n_epoch = round(card.epoch_length * card.sfreq)
    n_epochs = data.shape[1] // n_epoch
    x = data[:, : n_epochs * n_epoch].astype(np.float32, copy=False)
    return n_epoch, n_epochs, np.ascontiguousarray(x)


def _window_proba(
    model, data, batch_size, exits=None, precision="float32", device=None
):
    """Probabilities of every epoch of a preprocessed signal.

    ``data`` is ``(n_channels, n_times)`` at the model's rate. Returns
    ``(n_epochs, n_classes)``, NaN for epochs without full context. The
    convolutions run once over the recording, in chunks of at most
    ``batch_size`` epochs (see
    :func:`~mne_mousesleep.models.grieger2021.recording_log_proba`), in
    ``precision``; with a ``device`` (a GPU), there, in large chunks.
    """
    if not model._convolves_once:
        return _per_window_proba(
            model, data, batch_size, exits, device=device, precision=precision
        )
    _, n_epochs, x = _epochs_and_signal(model, data)
    n_ctx = model.card.n_context
    proba = np.full((n_epochs, model.card.n_classes), np.nan)
    proba[n_ctx : n_epochs - n_ctx] = model._predict_recording(
        x, batch_size, precision, device
    )
    return proba


def _close_calls(proba):
    """Return the epochs whose two best classes are within the margin."""
    scored = np.flatnonzero(~np.isnan(proba[:, 0]))
    top2 = np.sort(proba[scored], axis=1)[:, -2:]
    return scored[top2[:, 1] - top2[:, 0] < RECHECK_MARGIN]


def _recheck(model, data, proba, batch_size, device=None):
    """Compute the close calls of a bfloat16 ``proba`` again in float32.

    Changes ``proba`` in place; returns the number of epochs computed again.
    Each is classified from its own window, as the published code does, in
    batches of at most ``batch_size`` and :data:`RECHECK_BATCH` windows.
    """
    batch_size = min(batch_size, RECHECK_BATCH)
    epochs = _close_calls(proba)
    if not len(epochs):
        return 0
    n_epoch, _, x = _epochs_and_signal(model, data)
    n_ctx = model.card.n_context
    network = model._network_on(device)
    for start in range(0, len(epochs), batch_size):
        batch = epochs[start : start + batch_size]
        windows = np.stack(
            [x[:, (k - n_ctx) * n_epoch : (k + n_ctx + 1) * n_epoch] for k in batch]
        )
        proba[batch] = model._predict_windows(windows, network=network)
    return len(epochs)


def _per_window_proba(
    model, data, batch_size, exits=None, device=None, precision="float32"
):
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
            batch, exits, network=network, precision=precision
        )
    return proba


def _network_step(model, data, signal, batch_size, device, precision="float32"):
    """Step 4 of the pipeline: the network's probabilities of every epoch.

    ``data`` is the signal to classify (after the gain step), ``signal`` the
    preprocessed recording (its unscorable epochs and quality record),
    ``precision`` the resolved arithmetic (``"float32"`` or ``"bfloat16"``).
    Returns the probabilities ``(n_epochs, n_classes)`` (NaN where
    unscored), the quality record with every unscored epoch (bad data, and
    the epochs without full context at the ends), the network's record
    (``"precision"`` and, in bfloat16, ``"rechecked"``: the close calls
    computed again in float32) and, for a multi-exit network, the share of
    epochs that left at each exit (None for others).
    """
    card = model.card
    exits = []
    on_device = None if device.type == "cpu" else device  # a GPU: convolve there
    proba = _window_proba(model, data, batch_size, exits, precision, on_device)
    record = {"precision": precision}
    if precision != "float32" and not exits:  # multi-exit: exits are its own
        # (by window centre, before unscorable epochs are blanked)
        unscorable = _by_window_centre(signal.unscorable, card)
        proba[unscorable] = np.nan
        record["rechecked"] = _recheck(model, data, proba, batch_size, device)
        logger.info(
            f"Network in {precision}; {record['rechecked']} close call(s) "
            "computed again in float32"
        )
    proba = _by_scored_epoch(proba, card)
    proba[sorted(signal.unscorable)] = np.nan
    reasons = {k: set(v) for k, v in signal.unscorable.items()}
    n, after = len(proba), card.lookahead
    for k in (*range(2 * card.n_context - after), *range(n - after, n)):
        reasons.setdefault(k, set()).add(_no_context(card))
    quality = _unscored_record(signal.quality, reasons, n, card)
    _log_scored(quality, card)
    fractions = None
    if exits:  # a multi-exit network: the share of epochs leaving at each exit
        counts = np.bincount(np.concatenate(exits), minlength=3)
        fractions = [float(c) for c in counts / counts.sum()]
        shares = ", ".join(f"{f:.1%}" for f in fractions)
        logger.info(f"Exits 1, 2, 3 (threshold {model.exit_threshold:g}): {shares}")
    return proba, quality, record, fractions


def _by_scored_epoch(proba, card):
    """Move the rows of ``proba`` from their window's centre to the epoch scored.

    The network's outputs are computed per window, indexed by its centre
    epoch; a causal model (``card.context == "causal"``) scores the last
    epoch of its window, ``n_context`` epochs later. Unchanged for centred
    models.
    """
    shift = card.n_context - card.lookahead
    if not shift:
        return proba
    out = np.full_like(proba, np.nan)
    out[shift:] = proba[: len(proba) - shift]
    return out


def _by_window_centre(epochs, card):
    """Return the window centres of the scored ``epochs``.

    The inverse of :func:`_by_scored_epoch`.
    """
    shift = card.n_context - card.lookahead
    return sorted(k - shift for k in epochs if k >= shift)


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
