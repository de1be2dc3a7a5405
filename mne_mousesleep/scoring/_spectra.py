"""Welch's power spectral density of every epoch at once (the EMG and gain steps)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import scipy.fft
from scipy.signal import get_window

#: Samples of segments transformed at once.
BLOCK_SAMPLES = 2**15


def _welch_epochs(epochs, sfreq, n_fft, *, window, overlap, detrend, bins):
    """One-sided power spectral density (unit²/Hz) of each epoch, by Welch's method.

    Parameters
    ----------
    epochs : array, shape (n_epochs, n_epoch)
        The epochs, finite.
    sfreq : float
        Sampling rate (Hz).
    n_fft : int
        Samples per segment (and points of the transform).
    window : str
        The segments' window (:func:`scipy.signal.get_window`, periodic).
    overlap : int
        Samples shared by consecutive segments; the samples after the last
        whole segment are not used.
    detrend : bool
        Subtract each segment's mean first.
    bins : array of int
        The frequency bins to return (``bins * sfreq / n_fft`` Hz),
        consecutive.

    Returns
    -------
    psd : array, shape (n_epochs, len(bins))
        The densities, averaged over the segments of each epoch.

    Notes
    -----
    The computation of :func:`scipy.signal.welch` and
    :func:`mne.time_frequency.psd_array_welch` (density scaling, twice the
    power at every bin but 0 Hz and Nyquist, the mean over segments), for
    all epochs in one transform and only the bins asked for; equal to theirs
    within float64 rounding (tested against both).
    """
    step = n_fft - overlap
    all_segments = np.lib.stride_tricks.sliding_window_view(epochs, n_fft, axis=1)
    all_segments = all_segments[:, ::step]
    n_epochs, n_seg = all_segments.shape[:2]
    win = get_window(window, n_fft)
    scale = np.full(len(bins), 2.0)
    scale[(bins == 0) | ((bins == n_fft // 2) & (n_fft % 2 == 0))] = 1.0
    scale /= sfreq * (win**2).sum()
    out = np.empty((n_epochs, len(bins)))
    # Blocks of about BLOCK_SAMPLES: the temporary arrays stay small and in
    # the cache (one transform of the whole recording is slower).
    per_block = max(1, BLOCK_SAMPLES // (n_seg * n_fft))
    for e0 in range(0, n_epochs, per_block):
        segments = all_segments[e0 : e0 + per_block].reshape(-1, n_fft)
        if detrend:
            segments = segments - segments.mean(axis=1, keepdims=True)
            segments *= win  # in place: a new array already
        else:
            segments = segments * win
        spec = scipy.fft.rfft(segments, axis=1)[:, bins[0] : bins[-1] + 1]
        psd = spec.real**2 + spec.imag**2
        psd *= scale
        out[e0 : e0 + per_block] = psd.reshape(-1, n_seg, len(bins)).mean(axis=1)
    return out
