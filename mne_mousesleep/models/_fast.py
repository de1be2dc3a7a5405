"""A fast, equivalent evaluation of the "3conv_pool" network over a recording.

The published network classifies each 30-s window separately. Over a whole
recording the same numbers follow from one pass of the convolutions (see
:func:`~mne_mousesleep.models._grieger2021.recording_log_proba`). This module
makes that pass cheaper without changing what is computed:

- the batch normalisations, which are affine in evaluation mode, are folded
  into the next convolution (or applied after the per-epoch average, which is
  linear), so the pass is convolution, ReLU, convolution, ReLU, convolution,
  ReLU, average;
- activations are kept channels-last, so every step is a matrix product;
- the two wide convolutions (128 -> 256 channels, 5 taps; 256 -> 128, 3 taps)
  use the minimal filtering algorithm of Winograd (Toom-Cook), which computes
  ``m`` outputs of an ``r``-tap filter with ``m + r - 1`` instead of ``m * r``
  channel-mixing products (Lavin & Gray, 2016). The transforms are exact in
  rational arithmetic; in float32 they add a relative error of about 1e-5 to
  the features, far below the tolerance of the scores (tested against the
  per-window computation).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from fractions import Fraction
from functools import lru_cache

import numpy as np
import torch

# Interpolation points of the Toom-Cook transforms (plus the point at
# infinity), small and symmetric to keep float32 rounding small.
_POINTS = (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2), 3, -3)
_POINTS += (Fraction(1, 3), Fraction(-1, 3), 4, -4, Fraction(1, 4), Fraction(-1, 4))


@lru_cache
def winograd_matrices(m, r):
    """Return the transforms of the 1-D minimal filtering algorithm F(m, r).

    For an input tile ``d`` of ``n = m + r - 1`` samples and a filter ``g`` of
    ``r`` taps, ``A_T @ ((G @ g) * (B_T @ d))`` equals the correlation
    ``y[i] = sum_k d[i + k] g[k]``, ``i < m``.

    Parameters
    ----------
    m : int
        Outputs per tile.
    r : int
        Filter taps.

    Returns
    -------
    A_T : array, shape (m, n)
    G : array, shape (n, r)
    B_T : array, shape (n, n)
    """
    n = m + r - 1
    if n - 1 > len(_POINTS):
        raise ValueError(f"F({m}, {r}) needs more interpolation points.")
    pts = [Fraction(p) for p in _POINTS[: n - 1]]
    a_t = [[p**i for p in pts] + [Fraction(int(i == m - 1))] for i in range(m)]
    g = []
    for j, a in enumerate(pts):
        norm = Fraction(1)
        for b in pts[:j] + pts[j + 1 :]:
            norm *= a - b
        g.append([a**k / norm for k in range(r)])
    g.append([Fraction(int(k == r - 1)) for k in range(r)])
    a_t, g = np.array(a_t, float), np.array(g, float)
    # B_T solves sum_j A_T[i, j] G[j, k] B_T[j, l] = [l == i + k].
    lhs = np.einsum("ij,jk->ikj", a_t, g).reshape(m * r, n)
    rhs = np.zeros((m * r, n))
    for i in range(m):
        for k in range(r):
            rhs[i * r + k, i + k] = 1.0
    b_t = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    assert np.abs(lhs @ b_t - rhs).max() < 1e-9
    return a_t, g, b_t


class _WinogradConv:
    """A channels-last 1-D convolution (no padding) by F(m, r)."""

    def __init__(self, weight, bias, m):
        n_out, _, r = weight.shape
        a_t, g, b_t = winograd_matrices(m, r)
        self.m, self.r, self.n = m, r, m + r - 1
        # U[j] = (G @ w) as (n_in, n_out) matrices, one per transform point.
        u = np.einsum("jk,ock->jco", g, weight.double().numpy())
        self.u = torch.from_numpy(u).float().contiguous()
        self.a_t = torch.from_numpy(a_t).float()
        self.b_t = torch.from_numpy(b_t).float()
        self.bias = bias.float()

    def __call__(self, h, n_out, work):
        """Convolve ``h`` (n_times, n_in) into ``n_out`` samples (ReLU applied).

        ``h`` must hold at least ``ceil(n_out / m) * m + r - 1`` samples.
        ``work`` holds the workspaces, reused from chunk to chunk (fresh large
        allocations in every chunk cost page faults and fragment the heap).
        """
        n_tiles = -(-n_out // self.m)
        tiles = h.unfold(0, self.n, self.m)[:n_tiles].transpose(1, 2)
        n_in, n_o = tiles.shape[2], self.u.shape[2]
        v = work.get("v", (n_tiles, self.n, n_in))
        torch.matmul(self.b_t, tiles, out=v)
        prod = work.get("prod", (self.n, n_tiles, n_o))
        torch.bmm(v.transpose(0, 1), self.u, out=prod)
        y = work.get("y", (n_tiles, self.m, n_o))
        torch.matmul(self.a_t, prod.transpose(0, 1), out=y)
        y = y.view(n_tiles * self.m, n_o)[:n_out]
        return y.add_(self.bias).relu_()


class _Workspace:
    """Named buffers, allocated once per shape."""

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape):
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape:
            buf = self._buffers[name] = torch.empty(shape)
        return buf


def _affine(bn):
    """Scale and offset of a batch normalisation in evaluation mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale.double(), (bn.bias - bn.running_mean * scale).double()


def _fold(conv, scale, offset):
    """Weights and bias of ``conv`` applied after ``x * scale + offset``."""
    w = conv.weight.double()
    bias = conv.bias.double() + (w * offset[None, :, None]).sum((1, 2))
    return w * scale[None, :, None], bias


class FastThreeConv:
    """Per-epoch features of a ``_ThreeConvPool`` over a recording, fast.

    Parameters
    ----------
    net : _ThreeConvPool
        The network (its weights are copied; evaluation-mode statistics).
    tiles : tuple of int
        Outputs per Winograd tile of the second and third convolutions.
    """

    def __init__(self, net, tiles=(8, 8)):
        fe = net.feature_extractor
        with torch.no_grad():
            w1, b1 = _fold(fe[2], *_affine(fe[0]))
            w2, b2 = _fold(fe[6], *_affine(fe[4]))
            w3, b3 = _fold(fe[10], *_affine(fe[8]))
            self.out_scale, self.out_offset = (v.float() for v in _affine(fe[12]))
        self.n_channels, self.k1 = w1.shape[1], w1.shape[2]
        # First convolution as one matrix product over unfolded samples.
        self.w1 = w1.permute(1, 2, 0).reshape(-1, w1.shape[0]).float()
        self.b1 = b1.float()
        self.conv2 = _WinogradConv(w2, b2, tiles[0])
        self.conv3 = _WinogradConv(w3, b3, tiles[1])
        # Samples of context the three layers need on each side of an output.
        self.left = 6
        self.right = 7

    def _features(self, x, n_out, work):
        """Post-ReLU features of the last convolution, (n_out, 128).

        ``x`` is channels-last ``(n_times, n_channels)`` and starts ``left``
        samples before the first output; ``work`` is a ``_Workspace``.
        """
        c2, c3 = self.conv2, self.conv3
        n_h2 = -(-n_out // c3.m) * c3.m + c3.r - 1
        n_h1 = -(-n_h2 // c2.m) * c2.m + c2.r - 1
        # x[t - 3: t + 5] feeds h1[t]; h1 starts 3 samples before the outputs.
        seg = x[: n_h1 + self.k1 - 1].unfold(0, self.k1, 1)  # (n_h1, ch, k1)
        cols = work[0].get("cols", (n_h1, self.n_channels * self.k1))
        cols.view(n_h1, self.n_channels, self.k1).copy_(seg)
        h1 = work[0].get("h1", (n_h1, self.w1.shape[1]))
        torch.addmm(self.b1, cols, self.w1, out=h1).relu_()
        h2 = c2(h1, n_h2, work[1])
        return c3(h2, n_out, work[2])

    def epoch_sums(self, x, epoch_samples, chunk_epochs=16):
        """Per-epoch mean and edge sums of the pooled features.

        Parameters
        ----------
        x : torch.Tensor, shape (n_channels, n_times)
            The signal, ``n_times`` a multiple of ``epoch_samples``.
        epoch_samples : int
            Samples per epoch.
        chunk_epochs : int
            Epochs per chunk.

        Returns
        -------
        mean, first, last : torch.Tensor, shape (n_epochs, 128)
            Per epoch, the mean of the features after the last batch
            normalisation, and the sums of its first 6 and last 7 samples.
            Samples within 6 (7) samples of the recording start (end) see
            zeros beyond the recording.
        """
        n_ch, n_times = x.shape
        n_epochs = n_times // epoch_samples
        # Each chunk reads from `left` samples before its first output, with
        # zeros beyond the recording ends and spare samples for tile rounding.
        # All buffers are allocated once: fresh allocations in every chunk,
        # interleaved with the kept results, fragment the heap (memory grows
        # with the recording length).
        spare = 64
        n_feat = self.conv3.u.shape[2]
        mean, first, last = (torch.empty(n_epochs, n_feat) for _ in range(3))
        work = [_Workspace() for _ in range(3)]
        for e0 in range(0, n_epochs, chunk_epochs):
            e1 = min(e0 + chunk_epochs, n_epochs)
            a, n_out = e0 * epoch_samples, (e1 - e0) * epoch_samples
            lo, hi = a - self.left, a + n_out + self.right + spare
            seg = work[0].get("x", (hi - lo, n_ch)).zero_()
            seg[max(-lo, 0) : min(hi, n_times) - lo] = x[:, max(lo, 0) : hi].T
            h = self._features(seg, n_out, work)
            h = h.view(e1 - e0, epoch_samples, n_feat)
            torch.mean(h, 1, out=mean[e0:e1])
            torch.sum(h[:, : self.left], 1, out=first[e0:e1])
            torch.sum(h[:, -self.right :], 1, out=last[e0:e1])
        s, o = self.out_scale, self.out_offset
        return (mean * s + o, first * s + self.left * o, last * s + self.right * o)
