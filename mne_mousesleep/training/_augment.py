"""Training windows: the paper's augmentations, a batch at a time on the device."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import torch

#: Augmentation of the paper's final configuration: amplitude scaling
#: ``1 + a u`` with a = 0.5, sign flip with probability 0.5, window warping by
#: up to 5 % and time shift by up to 6 % of the window.
PAPER_AUGMENTATION = {"amplitude": 0.5, "sign_flip": 0.5, "warp": 0.05, "shift": 0.06}


def _augmented_windows(sources, epochs, aug, rng, device, geometry, gains=None):
    """Training windows with the paper's augmentations, in their order.

    Each window ``i`` is taken around epoch ``epochs[i]`` of ``sources[i]``
    (``(n_channels, n_times)`` arrays at the card's rate; ``geometry`` gives
    the samples per epoch ``E`` and per window ``T``) with its own random draws:
    amplitude scaling ``1 + a u``, a sign flip, a warped length
    ``floor(T (1 + w u))`` samples (zeros outside the recording) shifted by
    ``floor(T s u)`` samples, stretched or contracted back to ``T`` samples by
    linear interpolation (:func:`numpy.interp` on the same grids). The
    samples are gathered here (one slice per window); the interpolation and
    the scaling run on ``device``, a batch at a time, so a GPU is fed without
    a per-window Python step. ``gains`` (n_windows, n_channels) multiplies
    the windows too. Returns a float32 tensor ``(n_windows, n_channels, T)``
    on ``device``.
    """
    n, n_window, n_epoch = len(epochs), geometry.window, geometry.epoch_samples
    u = rng.uniform(-1, 1, size=(n, 4))
    sign = np.where(rng.random(n) < aug["sign_flip"], -1.0, 1.0)
    scale = (1 + aug["amplitude"] * u[:, 0]) * sign
    length = np.floor(n_window * (1 + aug["warp"] * u[:, 2])).astype(int)
    shift = np.floor(n_window * aug["shift"] * u[:, 3]).astype(int)
    start = np.asarray(epochs) * n_epoch + n_epoch // 2 + shift - length // 2
    n_channels = sources[0].shape[0]
    seg = np.zeros((n, n_channels, length.max()), np.float32)
    for ii, x in enumerate(sources):
        lo, hi = max(start[ii], 0), min(start[ii] + length[ii], x.shape[1])
        if hi > lo:
            seg[ii, :, lo - start[ii] : hi - start[ii]] = x[:, lo:hi]
    seg = torch.from_numpy(seg).to(device)
    factor = scale[:, None] * (1.0 if gains is None else np.asarray(gains))
    factor = torch.from_numpy(factor.astype(np.float32)).to(device)[:, :, None]
    if (length == n_window).all():
        return seg * factor
    # Sample j of the output is at position j (L - 1) / (T - 1) of a window
    # of L samples: its left neighbour and fraction, in integers (exact, and
    # no float64, which MPS lacks).
    n_minus_1 = torch.from_numpy(length - 1).to(device)[:, None]
    num = torch.arange(n_window, device=device)[None] * n_minus_1
    left = torch.minimum(num // (n_window - 1), n_minus_1 - 1)
    frac = ((num - left * (n_window - 1)).float() / (n_window - 1))[:, None]
    left = left[:, None].expand(-1, n_channels, -1)
    a, b = seg.gather(2, left), seg.gather(2, left + 1)
    return (a + frac * (b - a)) * factor


def _plain_windows(recordings, idx):
    """Windows ``idx`` (recording, epoch, label rows) as they are, gain applied."""
    geometry = recordings[0].geometry
    n_ctx, n_epoch = geometry.n_context, geometry.epoch_samples
    windows = np.stack(
        [
            recordings[r].x[:, (k - n_ctx) * n_epoch : (k + n_ctx + 1) * n_epoch]
            for r, k, _ in idx
        ]
    )
    gains = [recordings[r].gain for r, _, _ in idx]
    if any(g is not None for g in gains):
        ones = np.ones(windows.shape[1], np.float32)
        windows *= np.stack([ones if g is None else g for g in gains])[:, :, None]
    return windows
