"""A fast, equivalent evaluation of the "3conv_pool" network over a recording.

The published network classifies each 30-s window separately, zero-padding
the window ends at every layer. Over a recording the same numbers follow from
one pass of the convolutions over the whole signal: the average of an epoch
inside a window differs from the whole-recording average only in the 6 first
and 7 last samples of the window, where the window's padding reaches; those
are computed separately, with the window's padding, and swapped in. This
module makes both parts cheap without changing what is computed:

- the batch normalisations, which are affine in evaluation mode, are folded
  into the next convolution of the whole-recording pass (or applied after the
  per-epoch average, which is linear), so that pass is convolution, ReLU,
  convolution, ReLU, convolution, ReLU, average;
- the two wide convolutions (128 -> 256 channels, 5 taps; 256 -> 128, 3 taps)
  use the minimal filtering algorithm of Winograd (Toom-Cook), which computes
  ``m`` outputs of an ``r``-tap filter with ``m + r - 1`` instead of ``m * r``
  channel-mixing products (Lavin & Gray, 2016). The transforms are exact in
  rational arithmetic; with the interpolation points below (small, and
  reciprocal pairs such as 3/2 and 2/3) their float32 rounding changes the
  probabilities by at most a few 1e-5, far below the tolerance of the scores
  (tested against the per-window computation);
- activations are stored as tiles, phase-major: row ``i`` of tile column
  ``t`` is sample ``t * m + i`` (an array ``(m + r - 1, n_tiles,
  n_channels)``, the last ``r - 1`` rows repeating the first rows of the next
  tile, copied rather than computed again). The input transform, the
  channel mixing and the output transform are then plain matrix products
  over whole arrays (the bias is added to the products of the point 1,
  which every output reads with weight 1), and each layer writes the tiles
  of the next;
- the recording is split into contiguous parts that the threads take in
  turn, each computed with single-threaded operations (no synchronisation
  between the many small matrix products), in chunks of a few epochs that
  stay in the cache;
- the window edges (a few samples per window, with the window's padding) run
  the same layers on many windows at once, the two wide convolutions as one
  Winograd tile per window.

In bfloat16 (``precision="bfloat16"``, for CPUs that compute it natively),
the two wide convolutions use tiles of 4 outputs, whose transforms are exact
in bfloat16 (:class:`_BF16WinogradLayer`); the first convolution, the window
edges and the averages stay float32. On a 2-core AMD EPYC (Zen 5, AVX-512
BF16, no AMX) this halves the time of the network (24 h: about 7.5 instead
of 14.5 CPU-s); the matrix products then run at about 420 GFLOPS per core
and take half of it, the transforms (memory-bound, small matrices) most of
the rest.

On a 2-core AVX2 CPU the channel-mixing products (about 0.94 TFLOP per 24 h
at 64 Hz with ``m = 10``, against 2.9 TFLOP for direct convolutions) take
about 70 % of the time, at about 90 % of the peak rate of the matrix product
(numpy's BLAS, OpenBLAS in its wheels, is a few % faster than torch's for
these shapes); the transforms take most of the rest.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import threading
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from functools import lru_cache

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..._progress import _progress

# Interpolation points of the Toom-Cook transforms (plus the point at
# infinity): small, symmetric, and in reciprocal pairs, to keep the float32
# rounding of the transforms small.
_POINTS = (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2))
_POINTS += (Fraction(3, 2), Fraction(-3, 2), Fraction(2, 3), Fraction(-2, 3))
_POINTS += (3, -3, Fraction(1, 3), Fraction(-1, 3), Fraction(3, 4), Fraction(-3, 4))
_POINTS += (Fraction(4, 3), Fraction(-4, 3))

# Zero padding of the three layers at the start ("left") and end ("right") of a
# window.
_EDGE_PADS = {"left": (3, 2, 1), "right": (4, 2, 1)}
#: Samples of context the three layers need on each side of an output (their
#: zero padding): 6 to the left and 7 to the right.
LEFT, RIGHT = sum(_EDGE_PADS["left"]), sum(_EDGE_PADS["right"])
#: Epochs per part of the recording given to a thread: small enough that the
#: threads finish within about 20 ms of each other (about 0.1 s with 256).
PART_EPOCHS = 64
#: Recordings of at least an hour at 64 Hz show a progress bar.
_PROGRESS_SAMPLES = 3600 * 64


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


class _Workspace:
    """Named buffers, allocated once per shape, and storages used in turn.

    Fresh large allocations in every chunk cost page faults and, interleaved
    with the kept results, fragment the heap. The activations live in two
    storages used in turn: each step (the first convolution, then the input
    transform, the products and the output transform of each layer) reads one
    and writes the other. A chunk then touches about 40 % of the memory that
    separate buffers would, with fewer cache misses (about 5 % faster on two
    threads).
    """

    def __init__(self):
        self._buffers, self._storages = {}, {}

    def get(self, name, shape, init=None, dtype=torch.float32):
        """Return the buffer ``name`` of ``shape``; ``init(buf)`` when new."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[name] = torch.empty(shape, dtype=dtype)
            if init is not None:
                init(buf)
        return buf

    def storage(self, name, shape, dtype=torch.float32):
        """Return a view of ``shape`` on the storage ``name`` (grown as needed).

        A storage holds one dtype: a float32 view and a bfloat16 view of the
        same name are two storages.
        """
        numel = int(np.prod(shape))
        key = (name, dtype)
        buf = self._storages.get(key)
        if buf is None or buf.numel() < numel:
            buf = self._storages[key] = torch.empty(numel, dtype=dtype)
        return buf[:numel].view(shape)


def _repeat_next_tile(tiles, m):
    """Copy the first rows of each tile into rows ``m`` and after of the previous.

    ``tiles`` is ``(n_rows, n_tiles, n_channels)``, phase-major; rows ``m``
    and after of the last tile stay as they are (undefined).
    """
    tiles[m:, :-1] = tiles[: len(tiles) - m, 1:]


class _WinogradLayer:
    """A 1-D convolution (no padding) and ReLU by F(m, r), phase-major.

    Parameters
    ----------
    weight, bias : torch.Tensor
        Of the convolution, ``(n_out, n_in, r)`` and ``(n_out,)``.
    m : int
        Outputs per tile.
    n_rows_out : int
        Rows of the output: ``m``, plus ``r' - 1`` repeated rows when the
        next layer has ``r'`` taps (see ``__call__``).
    """

    def __init__(self, weight, bias, m, n_rows_out):
        _, _, r = weight.shape
        a_t, g, b_t = winograd_matrices(m, r)
        self.m, self.n, self.n_rows_out = m, m + r - 1, n_rows_out
        # U[j] = (G @ w) as (n_in, n_out) matrices, one per transform point.
        u = np.einsum("jk,ock->jco", g, weight.double().numpy())
        self.u = np.ascontiguousarray(u, np.float32)
        self.b_t = torch.from_numpy(b_t).float()
        self.a_t = torch.from_numpy(a_t).float()
        # Every output reads the products of the point 1 with weight 1: the
        # bias is added to them.
        assert (a_t[:, 1] == 1).all()
        self.bias = bias.float()

    def __call__(self, h, n_tiles, work, storages):
        """ReLU of the convolution of ``h``: ``(n_rows_out, n_tiles, n_out)``.

        ``h`` is ``(m + r - 1, n_tiles, n_in)``, the tiles of the input: row
        ``i`` of tile ``t`` is sample ``t * m + i`` (rows ``m`` and after
        repeat the first rows of tile ``t + 1``). Output row ``i < m`` of tile
        ``t`` is output sample ``t * m + i``, which reads samples ``t * m + i``
        to ``t * m + i + r - 1``; the rows after ``m`` repeat the first rows
        of tile ``t + 1`` (undefined in the last tile).

        ``storages`` names two storages of ``work``: the transformed input and
        the output go to the first (which must not hold ``h``), the products
        to the second. ``h`` may have more tiles than ``n_tiles`` (the first
        ``n_tiles`` are used).
        """
        m, n = self.m, self.n
        n_in, n_o = h.shape[2], self.u.shape[2]
        v = work.storage(storages[0], (n, n_tiles, n_in))
        torch.mm(self.b_t, h[:, :n_tiles].view(n, -1), out=v.view(n, -1))
        prod = work.storage(storages[1], (n, n_tiles, n_o))
        # The channel mixing, n products (n_tiles, n_in) @ (n_in, n_out): the
        # BLAS of numpy (OpenBLAS in its wheels) is a few % faster here than
        # torch.bmm and releases the GIL.
        np.matmul(v.numpy(), self.u, out=prod.numpy())
        prod[1].add_(self.bias)
        y = work.storage(storages[0], (self.n_rows_out, n_tiles, n_o))
        torch.mm(self.a_t, prod.view(n, -1), out=y[:m].view(m, -1))
        y[:m].clamp_min_(0.0)
        _repeat_next_tile(y, m)
        return y


#: Outputs per tile of the bfloat16 layers: with ``m = 4`` the interpolation
#: points are 0, ±1, ±2 and ±1/2, so that every entry of the input and output
#: transforms has few significant bits and is exact in bfloat16.
BF16_TILE = 4


def _exact_in_bf16(matrix, name):
    """Return ``matrix`` rounded to 1/64 (its exact rational values) as bfloat16.

    The least-squares solution of :func:`winograd_matrices` carries rounding
    noise of about 1e-14; the exact transforms of small tiles are multiples
    of 1/64 with few significant bits. Raises if they are not exact in
    bfloat16 (a tile size that this path does not support).
    """
    exact = np.round(matrix * 64) / 64
    as_bf16 = torch.from_numpy(exact).to(torch.bfloat16)
    if np.abs(exact - matrix).max() > 1e-9 or not np.array_equal(
        as_bf16.double().numpy(), exact
    ):
        raise ValueError(f"The {name} transform is not exact in bfloat16.")
    return as_bf16


class _BF16WinogradLayer:
    """:class:`_WinogradLayer` in bfloat16, on tiles of :data:`BF16_TILE` outputs.

    The transforms are exact in bfloat16 (see :func:`_exact_in_bf16`); what
    is rounded to bfloat16 is the weights (``G @ w``, once), and the
    transformed input, the products (summed in float32 inside the matrix
    product) and the output, once each. Large tiles, as in the float32 path,
    would amplify these roundings by the transform's coefficients (up to
    3^9 for ``m = 10``); tiles of 4 amplify them at most 8 times and still
    need 2.5 (5 taps) and 2 (3 taps) times fewer products than the direct
    convolution.
    """

    def __init__(self, weight, bias, m, n_rows_out):
        _, _, r = weight.shape
        a_t, g, b_t = winograd_matrices(m, r)
        self.m, self.n, self.n_rows_out = m, m + r - 1, n_rows_out
        u = np.einsum("jk,ock->jco", g, weight.double().numpy())
        self.u = torch.from_numpy(u).to(torch.bfloat16).contiguous()
        self.b_t = _exact_in_bf16(b_t, "input")
        self.a_t = _exact_in_bf16(a_t, "output")
        assert (a_t[:, 1] == 1).all()
        self.bias = bias.to(torch.bfloat16)

    def __call__(self, h, n_tiles, work, storages):
        """As :meth:`_WinogradLayer.__call__`, ``h`` and the output bfloat16."""
        m, n = self.m, self.n
        n_in, n_o = h.shape[2], self.u.shape[2]
        bf16 = torch.bfloat16
        v = work.storage(storages[0], (n, n_tiles, n_in), bf16)
        torch.mm(self.b_t, h[:, :n_tiles].view(n, -1), out=v.view(n, -1))
        prod = work.storage(storages[1], (n, n_tiles, n_o), bf16)
        torch.bmm(v, self.u, out=prod)
        prod[1].add_(self.bias)
        y = work.storage(storages[0], (self.n_rows_out, n_tiles, n_o), bf16)
        torch.mm(self.a_t, prod.view(n, -1), out=y[:m].view(m, -1))
        y[:m].clamp_min_(0.0)
        _repeat_next_tile(y, m)
        return y


def _affine(bn):
    """Scale and offset of a batch normalisation in evaluation mode (float64)."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    return scale, bn.bias.double() - bn.running_mean.double() * scale


def _fold(conv, scale, offset):
    """Weights and bias of ``conv`` applied after ``x * scale + offset``."""
    w = conv.weight.double()
    bias = conv.bias.double() + (w * offset[None, :, None]).sum((1, 2))
    return w * scale[None, :, None], bias


def _as_matrix(conv):
    """Weights of ``conv`` as ``(n_in * taps, n_out)`` for unfolded inputs."""
    w = conv.weight.detach().float()
    return w.reshape(w.shape[0], -1).T.contiguous(), conv.bias.detach().float()


class FastThreeConv:
    """Pooled features of every 30-s window of a ``_ThreeConvPool``, fast.

    Parameters
    ----------
    net : _ThreeConvPool
        The network (its weights are copied; evaluation-mode statistics).
    m : int | None
        Outputs per Winograd tile of the second and third convolutions; must
        divide the samples per epoch. None: 10 in float32, :data:`BF16_TILE`
        in bfloat16 (the only size of that path).
    precision : "float32" | "bfloat16"
        The arithmetic of the second and third convolutions (the first, the
        window edges and the classifier are always float32).
    """

    def __init__(self, net, m=None, precision="float32"):
        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"Unknown precision {precision!r}.")
        bf16 = precision == "bfloat16"
        if m is None:
            m = BF16_TILE if bf16 else 10
        if bf16 and m != BF16_TILE:
            raise ValueError(f"The bfloat16 path uses tiles of {BF16_TILE}, not {m}.")
        layer = _BF16WinogradLayer if bf16 else _WinogradLayer
        fe = net.feature_extractor
        with torch.no_grad():
            bns = [_affine(fe[ii]) for ii in (0, 4, 8, 12)]
            w1, b1 = _fold(fe[2], *bns[0])
            w2, b2 = _fold(fe[6], *bns[1])
            w3, b3 = _fold(fe[10], *bns[2])
            self.n_channels, self.k1 = w1.shape[1], w1.shape[2]
            # First convolution as one matrix product over unfolded samples
            # and a column of ones (for the bias).
            w1 = w1.reshape(w1.shape[0], -1).T
            self.w1 = torch.cat([w1, b1[None]]).float().contiguous()
            # conv2 writes the tiles of conv3 (m + 2 rows); conv3 m rows.
            self.conv2 = layer(w2, b2, m, m + w3.shape[2] - 1)
            self.conv3 = layer(w3, b3, m, m)
            # The window edges run the layers as published (zero padding
            # after each batch normalisation): the first convolution as a
            # matrix product, the next two as one Winograd tile per window.
            self.bn = [tuple(v.float() for v in bn) for bn in bns]
            self.edge_conv1 = _as_matrix(fe[2])
            self.edge_layers = {}
            for side, pads in _EDGE_PADS.items():
                n_pos, layers = LEFT + RIGHT + pads[0] - self.k1 + 1, []
                for conv, pad in zip((fe[6], fe[10]), pads[1:]):
                    n_pos += pad - conv.weight.shape[2] + 1
                    weight, bias = conv.weight.double(), conv.bias.double()
                    layers.append(_WinogradLayer(weight, bias, n_pos, n_pos))
                self.edge_layers[side] = layers
        self.m, self.precision = m, precision
        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.n_features = w3.shape[0]

    def _bulk(self, x, e0, e1, epoch_samples, chunk_epochs, out, work):
        """Whole-recording features of epochs ``e0`` to ``e1``.

        Writes per epoch the mean of the features (before the last batch
        normalisation) and the sums of its first ``LEFT`` and last ``RIGHT``
        samples into ``out`` (three arrays, ``(n_epochs, n_features)``).
        Samples beyond the recording are zeros.
        """
        m, k1, n_ch = self.m, self.k1, self.n_channels
        tiles_per_epoch = epoch_samples // m
        n_times = x.shape[1]
        mean, first, last = out
        for c0 in range(e0, e1, chunk_epochs):
            c1 = min(c0 + chunk_epochs, e1)
            n_tiles = (c1 - c0) * tiles_per_epoch
            # Output t * m + i (from sample a) reads conv3 inputs from a - 1,
            # conv2 inputs from a - 3 and samples from a - 6 (the padding).
            a = c0 * epoch_samples
            lo, n_x = a - LEFT, (n_tiles + 2) * m + k1 - 1
            seg = work.get("x", (n_ch, n_x))
            s0, s1 = max(lo, 0), min(lo + n_x, n_times)
            seg[:, : s0 - lo] = 0.0
            seg[:, s0 - lo : s1 - lo] = x[:, s0:s1]
            seg[:, s1 - lo :] = 0.0
            # cols[i, t, c, k] = seg[c, t * m + i + k], i < m, then a column
            # of ones: the first convolution at the m samples of n_tiles + 2
            # tiles.
            n_cols = n_ch * k1 + 1
            cols = work.get(
                "cols",
                (m, n_tiles + 2, n_cols),
                init=lambda buf: buf[..., -1].fill_(1.0),
            )
            taps = cols[..., :-1].unflatten(-1, (n_ch, k1))
            taps.copy_(seg.as_strided(taps.shape, (1, m, seg.stride(0), 1)))
            # The activations in two storages in turn: h1 in P, conv2's
            # transformed input and output (h2) in Q, its products in P, ...
            n_rows, n_c1 = self.conv2.n, self.w1.shape[1]
            h1 = work.storage("P", (n_rows, n_tiles + 2, n_c1))
            torch.mm(cols.view(-1, n_cols), self.w1, out=h1[:m].view(-1, n_c1))
            h1[:m].clamp_min_(0.0)
            if self.dtype != torch.float32:  # conv2 and conv3 in bfloat16
                h1_32, h1 = h1, work.storage("P", h1.shape, self.dtype)
                h1[:m].copy_(h1_32[:m])
            _repeat_next_tile(h1, m)  # the tiles of conv2
            h2 = self.conv2(h1, n_tiles + 1, work, ("Q", "P"))
            h3 = self.conv3(h2, n_tiles, work, ("P", "Q"))
            if self.dtype != torch.float32:
                h3 = work.storage("Q", h3.shape).copy_(h3)
            # Per-epoch mean: the m rows summed by a matrix product (a strided
            # reduction over two axes is several times slower), then the tiles.
            rows = work.get("ones", (1, m), init=lambda buf: buf.fill_(1.0))
            tiles = work.get("tiles", (1, n_tiles * self.n_features))
            torch.mm(rows, h3.view(m, -1), out=tiles)
            tiles = tiles.view(c1 - c0, tiles_per_epoch, self.n_features)
            torch.sum(tiles, 1, out=mean[c0:c1]).div_(epoch_samples)
            h3 = h3.view(m, c1 - c0, tiles_per_epoch, self.n_features)
            if m >= RIGHT:  # the first and last samples in one tile each
                torch.sum(h3[:LEFT, :, 0], 0, out=first[c0:c1])
                torch.sum(h3[m - RIGHT :, :, -1], 0, out=last[c0:c1])
            else:  # over the first / last tiles, as (epoch, sample, feature)
                n_head, n_tail = -(-LEFT // m), -(-RIGHT // m)
                head = h3[:, :, :n_head].permute(1, 2, 0, 3).flatten(1, 2)
                torch.sum(head[:, :LEFT], 1, out=first[c0:c1])
                tail = h3[:, :, -n_tail:].permute(1, 2, 0, 3).flatten(1, 2)
                torch.sum(tail[:, -RIGHT:], 1, out=last[c0:c1])

    def _edge_sums(self, segments, side, work):
        """Feature sums of the first ``LEFT`` or last ``RIGHT`` samples of windows.

        ``segments`` is ``(LEFT + RIGHT, n, n_channels)``, the first (``side``
        "left") or last ("right") samples of ``n`` windows; the layers pad
        them with zeros on that side after each batch normalisation, as the
        published network does at the ends of its input.
        """
        h = segments
        for ii, pad in enumerate(_EDGE_PADS[side]):
            scale, offset = self.bn[ii]
            h = h * scale + offset
            zeros = h.new_zeros(pad, *h.shape[1:])
            h = torch.cat([zeros, h] if side == "left" else [h, zeros])
            if ii == 0:
                w, b = self.edge_conv1
                cols = h.unfold(0, self.k1, 1)  # (positions, n, channels, taps)
                h = torch.addmm(b, cols.reshape(-1, w.shape[0]), w)
                h = h.view(cols.shape[0], cols.shape[1], -1).clamp_min_(0.0)
            else:
                # The two storages in turn: the input of the second layer is
                # the output of the first.
                storages = ("EA", "EB") if ii == 1 else ("EB", "EA")
                h = self.edge_layers[side][ii - 1](h, h.shape[1], work, storages)
        h = h[:LEFT] if side == "left" else h[-RIGHT:]
        scale, offset = self.bn[3]
        return h.sum(0).mul_(scale).add_(len(h) * offset)

    def _edges(self, x, e0, e1, epoch_samples, out, work, batch=256):
        """Left and right edge sums of windows starting / ending at epochs e0..e1."""
        n_seg = LEFT + RIGHT
        left, right = out
        for b0 in range(e0, e1, batch):
            b1 = min(b0 + batch, e1)
            starts = x[:, b0 * epoch_samples : (b1 - 1) * epoch_samples + n_seg]
            ends = x[:, (b0 + 1) * epoch_samples - n_seg : b1 * epoch_samples]
            seg = starts.unfold(1, n_seg, epoch_samples).permute(2, 1, 0)
            left[b0:b1] = self._edge_sums(seg, "left", work)
            seg = ends.unfold(1, n_seg, epoch_samples).permute(2, 1, 0)
            right[b0:b1] = self._edge_sums(seg, "right", work)

    def window_features(
        self, x, epoch_samples=640, chunk_epochs=4, n_threads=None, n_context=1
    ):
        """Pooled features of every window with full context.

        Parameters
        ----------
        x : torch.Tensor, shape (n_channels, n_times)
            The signal, ``n_times`` a multiple of ``epoch_samples``, float32.
        epoch_samples : int
            Samples per epoch.
        chunk_epochs : int
            Epochs per chunk of the whole-recording pass.
        n_threads : int | None
            Threads (parts of the recording computed in parallel); ``None``
            uses :func:`torch.get_num_threads`.
        n_context : int
            Epochs of context on each side of the scored one (a window holds
            ``2 * n_context + 1`` epochs; 1 for the published networks).

        Returns
        -------
        features : torch.Tensor, shape (n_windows, n_features * n_window)
            The input of the linear layer for the windows (of ``n_window =
            2 * n_context + 1`` epochs) centred on epochs ``n_context`` to
            ``n_epochs - n_context - 1``, as the network computes them window
            by window.
        """
        if epoch_samples % self.m:
            raise ValueError(f"Tiles of {self.m} do not fit {epoch_samples} samples.")
        n_epochs = x.shape[1] // epoch_samples
        x = x[:, : n_epochs * epoch_samples].float().contiguous()
        n_feat = self.n_features
        bulk = [torch.empty(n_epochs, n_feat) for _ in range(3)]
        edges = [torch.empty(n_epochs, n_feat) for _ in range(2)]
        n_threads = n_threads or torch.get_num_threads()
        # Parts of about PART_EPOCHS epochs, taken by the threads as they
        # become free (a thread slowed down by other work takes fewer).
        n_parts = max(n_threads, round(n_epochs / PART_EPOCHS))
        bounds = np.linspace(0, n_epochs, n_parts + 1).round().astype(int)
        local = threading.local()

        def part(e0, e1):
            if not hasattr(local, "work"):
                local.work = _Workspace()
            work = local.work
            self._bulk(x, e0, e1, epoch_samples, chunk_epochs, bulk, work)
            self._edges(x, e0, e1, epoch_samples, edges, work)

        # Each part runs single-threaded operations (torch and BLAS); the
        # thread settings are process-wide, so they are restored afterwards.
        n_intra = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with (
                threadpool_limits(1, user_api="blas"),
                ThreadPoolExecutor(n_threads) as pool,
            ):
                futures = [
                    pool.submit(_inference(part), int(e0), int(e1))
                    for e0, e1 in zip(bounds[:-1], bounds[1:])
                    if e1 > e0
                ]
                if n_epochs * epoch_samples >= _PROGRESS_SAMPLES:
                    futures = _progress(futures, mesg="Classifying epochs")
                for future in futures:
                    future.result()
        finally:
            torch.set_num_threads(n_intra)
        scale, offset = self.bn[3]
        mean, first, last = bulk
        left, right = edges
        mean.mul_(scale).add_(offset)
        # Window k (centred on epoch k + 1) starts at epoch k and ends with
        # epoch k + 2: swap its first / last samples for the padded ones.
        left.sub_(first.mul_(scale).add_(LEFT * offset)).div_(epoch_samples)
        right.sub_(last.mul_(scale).add_(RIGHT * offset)).div_(epoch_samples)
        return _assemble(mean, left, right, n_context)


def _assemble(mean, left, right, n_context):
    """Return the features of every window from the epoch means and edge terms.

    Window ``k`` holds epochs ``k`` to ``k + 2 * n_context``: their means,
    the first with the swap of its first samples (``left``) and the last
    with that of its last samples (``right``), where the window's zero
    padding changes them. Returns ``(n_windows, n_features * n_window)``
    in the order of the network's flattening (feature-major).
    """
    n_window = 2 * n_context + 1
    n_windows, n_feat = mean.shape[0] - n_window + 1, mean.shape[1]
    features = mean.new_empty(n_windows, n_feat, n_window)
    for jj in range(n_window):
        features[:, :, jj] = mean[jj : jj + n_windows]
    features[:, :, 0] += left[:n_windows]
    features[:, :, -1] += right[n_window - 1 :]
    return features.view(n_windows, -1)


def _inference(func):
    """``func`` run under :func:`torch.inference_mode` (which is per thread)."""

    def wrapper(*args):
        with torch.inference_mode():
            return func(*args)

    return wrapper


def direct_window_features(net, x, epoch_samples=640, chunk_epochs=256, n_context=1):
    """Pooled features of every window with full context, on ``x``'s device.

    The whole-recording computation of :class:`FastThreeConv` with plain
    convolutions (:func:`torch.nn.functional.conv1d`, cuDNN on a GPU)
    instead of Winograd tiles and CPU threads: the batch normalisations are
    folded into the convolutions, each chunk of ``chunk_epochs`` epochs is
    convolved once (with the 6 samples before and 7 after it), and the few
    samples of each window that its zero padding changes are computed by the
    network's own layers on the window's first and last ``LEFT + RIGHT``
    samples and swapped in. Any device; the network must be on it, in
    evaluation mode.

    Parameters
    ----------
    net : _ThreeConvPool
        The network.
    x : torch.Tensor, shape (n_channels, n_times)
        The signal, on the network's device; ``n_times`` a multiple of
        ``epoch_samples``.
    epoch_samples : int
        Samples per epoch.
    chunk_epochs : int
        Epochs per chunk (large on a GPU: one chunk of 256 epochs at 64 Hz
        holds about 170 MB of activations).
    n_context : int
        Epochs of context on each side of the scored one.

    Returns
    -------
    features : torch.Tensor, shape (n_windows, n_features * n_window)
        As :meth:`FastThreeConv.window_features`.
    """
    fe = net.feature_extractor
    bns = [_affine(fe[ii]) for ii in (0, 4, 8, 12)]
    dtype = x.dtype
    convs = []
    for conv, bn in zip((fe[2], fe[6], fe[10]), bns[:3]):
        w, b = _fold(conv, *bn)
        convs.append((w.to(dtype), b.to(dtype)))
    scale, offset = (v.to(dtype) for v in bns[3])
    n_epochs = x.shape[1] // epoch_samples
    n_times = n_epochs * epoch_samples
    n_feat = convs[-1][0].shape[0]
    mean = x.new_empty(n_epochs, n_feat)
    first, last = x.new_empty(n_epochs, n_feat), x.new_empty(n_epochs, n_feat)
    for c0 in range(0, n_epochs, chunk_epochs):
        c1 = min(c0 + chunk_epochs, n_epochs)
        a, b = c0 * epoch_samples, c1 * epoch_samples
        lo, hi = max(a - LEFT, 0), min(b + RIGHT, n_times)
        h = torch.nn.functional.pad(x[None, :, lo:hi], (lo - a + LEFT, b + RIGHT - hi))
        for w, bias in convs:
            h = torch.nn.functional.conv1d(h, w, bias).clamp_min_(0.0)
        h = h[0].view(n_feat, c1 - c0, epoch_samples)
        mean[c0:c1] = h.mean(-1).T
        first[c0:c1] = h[:, :, :LEFT].sum(-1).T
        last[c0:c1] = h[:, :, -RIGHT:].sum(-1).T
    mean = mean * scale + offset
    # The windows' own ends, through the published layers (zero padding).
    n_seg, span = LEFT + RIGHT, 2 * n_context
    window = (span + 1) * epoch_samples
    starts = x[:, : n_times - span * epoch_samples].unfold(1, n_seg, epoch_samples)
    ends = x[:, window - n_seg : n_times].unfold(1, n_seg, epoch_samples)
    layers = fe[:-2]  # without the average and the flattening
    left = layers(starts.permute(1, 0, 2).contiguous())[:, :, :LEFT].sum(-1)
    right = layers(ends.permute(1, 0, 2).contiguous())[:, :, -RIGHT:].sum(-1)
    # Window k starts with epoch k and ends with epoch k + span.
    left = (left - first[: n_epochs - span] * scale - LEFT * offset) / epoch_samples
    right = (right - last[span:] * scale - RIGHT * offset) / epoch_samples
    pad = mean.new_zeros(span, n_feat)  # the edge terms of no window
    return _assemble(mean, torch.cat([left, pad]), torch.cat([pad, right]), n_context)
