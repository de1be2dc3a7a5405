"""Training and fine-tuning scorers on scored recordings (Grieger et al. 2021)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import contextlib
import copy
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from mne.io import BaseRaw, read_raw
from mne.utils import (
    ProgressBar,
    _check_option,
    _validate_type,
    logger,
    use_log_level,
    verbose,
)
from sklearn.metrics import f1_score
from torch.nn import functional as F

from ._device import _resolve_device, _resolve_precision
from .adapt import BANDS, _check_adapt, _epoch_features, _log_gains, fit_gain_model
from .evaluation import _kappa
from .hypnogram import (
    ARTIFACT,
    NREM,
    PRE_REM,
    REM,
    WAKE,
    _annotations_to_stages,
    _seconds_from_first_sample,
)
from .models import ModelCard, MouseSleepModel, load_model
from .models._akada2021 import AKADA_ARCHITECTURES, EEG_CLASSES, EMG_CLASSES
from .models._architectures import ARCHITECTURES
from .models._registry import CITATION_GRIEGER2021
from .models._registry import CITATIONS as _CITATIONS
from .preprocessing import _preprocess

#: Target class frequencies of the paper's rebalanced training.
PAPER_CLASS_WEIGHTS = {WAKE: 0.30, REM: 0.18, NREM: 0.24, PRE_REM: 0.14, ARTIFACT: 0.14}
#: Augmentation of the paper's final configuration: amplitude scaling
#: ``1 + a u`` with a = 0.5, sign flip with probability 0.5, window warping by
#: up to 5 % and time shift by up to 6 % of the window.
PAPER_AUGMENTATION = {"amplitude": 0.5, "sign_flip": 0.5, "warp": 0.05, "shift": 0.06}
_CLASSES = {5: (WAKE, REM, NREM, PRE_REM, ARTIFACT), 3: (WAKE, REM, NREM)}
_EPOCH, _CONTEXT = 640, 1  # samples per 10-s epoch at 64 Hz; ±1 epoch
_T = (2 * _CONTEXT + 1) * _EPOCH


class _Recording:
    """A preprocessed recording: signal (64 Hz, mV) and per-epoch class index.

    ``gain`` (one factor per channel, or None) multiplies every window taken
    from it: the gain step scales windows, not copies of the recording.
    """

    def __init__(self, x, labels, mouse, name, versions=(), gain=None):
        self.x, self.labels, self.mouse, self.name = x, labels, mouse, name
        # The same signal preprocessed from lower sampling rates (training
        # windows are drawn from any version; see ``resample_rates``).
        self.versions = tuple(versions)
        self.gain = None if gain is None else np.asarray(gain, np.float32)

    def signals(self):
        """Return the signal of each version, the original first."""
        return (self.x, *(v for _, v in self.versions))

    def windows(self):
        """Epochs with full context and a label: (epoch indices, labels)."""
        k = np.arange(_CONTEXT, len(self.labels) - _CONTEXT)
        keep = self.labels[k] >= 0
        return k[keep], self.labels[k][keep]


def _mouse_of(raw, index):
    subject = raw.info.get("subject_info") or {}
    return str(subject.get("his_id") or subject.get("id") or f"mouse{index}")


def _labels(raw, classes, mapping, n_epochs):
    """Class index of each epoch of ``raw`` (-1: not used for training)."""
    # Annotations at another epoch length (or off the recording's grid) are cut
    # into the recording's 10-s epochs by the majority rule (to_epoch_length).
    stages = _annotations_to_stages(
        raw.annotations, mapping, 10.0, origin=float(raw.first_time)
    )
    rel = np.round(_seconds_from_first_sample(stages, raw) / 10.0).astype(int)
    values = stages.to_numpy(object)
    if len(classes) == 3:  # the paper's reduction: pre-REM is NREM, no artifact
        values = np.where(values == PRE_REM, NREM, values)
    index = {c: ii for ii, c in enumerate(classes)}
    labels = np.full(n_epochs, -1)
    ok = (rel >= 0) & (rel < n_epochs)
    labels[rel[ok]] = [index.get(v, -1) for v in values[ok]]
    return labels


def _read_at_rate(raw, idx, rate, chunk_duration=600.0):
    """Channels ``idx`` of ``raw`` resampled to ``rate``, read in chunks.

    :func:`scipy.signal.resample_poly` with the filter of
    :meth:`mne.io.Raw.resample` (``method="polyphase"``: Kaiser window, beta
    5, reflected ends) for the ratio of the two rates, ``chunk_duration``
    seconds at a time with overlaps beyond the filter's reach, so that only
    the output (at the low rate) is held whole: the samples of resampling the
    whole recording, with flat memory on ``preload=False`` files. Returns the
    data (volts) and the exact new rate (``sfreq * up / down``).
    """
    from fractions import Fraction

    from scipy.signal import resample_poly

    sfreq, n_times = raw.info["sfreq"], raw.n_times
    ratio = Fraction(rate).limit_denominator(1000) / Fraction(sfreq).limit_denominator(
        1000
    )
    up, down = ratio.numerator, ratio.denominator
    n_new = round(n_times * up / down)
    # Chunks start at multiples of ``down`` input samples (whole output samples).
    overlap = down * math.ceil(10 * sfreq / down)
    step = down * max(1, math.ceil(chunk_duration * sfreq / down))
    out = np.empty((len(idx), n_new))
    for s0 in range(0, n_times, step):
        s1 = min(s0 + step, n_times)
        lo, hi = max(s0 - overlap, 0), min(s1 + overlap, n_times)
        data = raw.get_data(picks=idx, start=lo, stop=hi, reject_by_annotation=None)
        # MNE's polyphase filter (Kaiser window, beta 5; reflected ends), with
        # the ratio of the rates rather than of this chunk's lengths.
        y = resample_poly(data, up, down, axis=-1, window=("kaiser", 5.0),
                          padtype="reflect")  # fmt: skip
        j0, j1 = s0 * up // down, (n_new if s1 == n_times else s1 * up // down)
        out[:, j0:j1] = y[:, j0 - lo * up // down : j1 - lo * up // down]
    return out, sfreq * up / down


def _lower_rate_versions(raw, ch_names, card, rates, n_samples):
    """Return ``(rate, 64-Hz signal)`` of ``ch_names`` after resampling ``raw``."""
    from mne import create_info
    from mne.io import RawArray

    out = []
    idx = [raw.ch_names.index(name) for name in ch_names]
    for rate in rates:
        if rate >= raw.info["sfreq"]:
            continue
        data, sfreq = _read_at_rate(raw, idx, rate)
        info = create_info(ch_names, sfreq, raw.get_channel_types(picks=idx))
        low = RawArray(data, info, verbose="error")
        del data
        with warnings.catch_warnings():
            # The low rate is made here on purpose: its warning is not the user's.
            warnings.filterwarnings(
                "ignore", "The sampling rate is", category=RuntimeWarning
            )
            x_low, _, _ = _preprocess(
                low, ch_names, card, np.float32, check_units=False
            )
        x = np.zeros((len(ch_names), n_samples), np.float32)
        n = min(n_samples, x_low.shape[1])
        x[:, :n] = x_low[:, :n]
        out.append((float(rate), x))
    return out


def _load(recordings, picks, mice, classes, mapping, card, rates=()):
    _validate_type(recordings, (list, tuple), "recordings")
    if mice is not None and len(mice) != len(recordings):
        raise ValueError(
            f"mice must name the mouse of each recording ({len(recordings)}), got "
            f"{len(mice)}."
        )
    out = []
    for ii, rec in enumerate(recordings):
        raw = rec
        if isinstance(rec, str | Path):
            raw = read_raw(rec, preload=False, verbose="error")
        _validate_type(raw, BaseRaw, f"recordings[{ii}]")
        if not len(raw.annotations):
            raise ValueError(f"recordings[{ii}] has no stage annotations.")
        # 64 Hz, float32, the picked channels only, read in chunks.
        data, ch_names, quality = _preprocess(raw, picks, card, np.float32)
        n_epochs = data.shape[1] // _EPOCH
        x = np.ascontiguousarray(data[:, : n_epochs * _EPOCH])
        del data
        versions = _lower_rate_versions(raw, ch_names, card, rates, x.shape[1])
        labels = _labels(raw, classes, mapping, n_epochs)
        # Epochs whose window touches bad data (NaN, flat, BAD_*) are not
        # learnt from.
        labels[list(quality["unscorable"])] = -1
        mouse = mice[ii] if mice is not None else _mouse_of(raw, ii)
        out.append(_Recording(x, labels, str(mouse), str(rec), versions))
    return out


def _split(recordings, split, seed):
    """Return {"train": [...], "validation": [...], "test": [...]} of recordings."""
    mice = sorted({r.mouse for r in recordings})
    if split is None:
        if len(mice) < 3:
            raise ValueError(
                f"Splitting by animal needs at least 3 mice, got {len(mice)}; pass "
                "split={'train': [...], 'validation': [...], 'test': [...]}."
            )
        order = np.random.default_rng(seed).permutation(mice)
        n_val = n_test = max(1, round(0.15 * len(mice)))
        split = {
            "test": list(order[:n_test]),
            "validation": list(order[n_test : n_test + n_val]),
            "train": list(order[n_test + n_val :]),
        }
    _validate_type(split, dict, "split")
    for key in ("train", "validation"):
        if not split.get(key):
            raise ValueError(f"split needs mice for {key!r}, got {split}.")
    split = {
        k: [str(m) for m in split.get(k, [])] for k in ("train", "validation", "test")
    }
    seen = {}
    for key, names in split.items():
        for mouse in names:
            if mouse in seen:
                raise ValueError(
                    f"Mouse {mouse!r} is in both {seen[mouse]!r} and {key!r}: the "
                    "split is by animal."
                )
            seen[mouse] = key
            if mouse not in mice:
                raise ValueError(f"Mouse {mouse!r} of split[{key!r}] has no recording.")
    return split, {
        key: [r for r in recordings if r.mouse in names] for key, names in split.items()
    }


def _index(recordings):
    """All training windows: (recording index, epoch index, label)."""
    parts = []
    for ii, rec in enumerate(recordings):
        k, y = rec.windows()
        parts.append(np.stack([np.full(len(k), ii), k, y], axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, 3), int)


def _augmented_windows(sources, epochs, aug, rng, device, gains=None):
    """Training windows with the paper's augmentations, in their order.

    Each window ``i`` is taken around epoch ``epochs[i]`` of ``sources[i]``
    (``(n_channels, n_times)`` arrays at 64 Hz) with its own random draws:
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
    n = len(epochs)
    u = rng.uniform(-1, 1, size=(n, 4))
    sign = np.where(rng.random(n) < aug["sign_flip"], -1.0, 1.0)
    scale = (1 + aug["amplitude"] * u[:, 0]) * sign
    length = np.floor(_T * (1 + aug["warp"] * u[:, 2])).astype(int)
    shift = np.floor(_T * aug["shift"] * u[:, 3]).astype(int)
    start = np.asarray(epochs) * _EPOCH + _EPOCH // 2 + shift - length // 2
    n_channels = sources[0].shape[0]
    seg = np.zeros((n, n_channels, length.max()), np.float32)
    for ii, x in enumerate(sources):
        lo, hi = max(start[ii], 0), min(start[ii] + length[ii], x.shape[1])
        if hi > lo:
            seg[ii, :, lo - start[ii] : hi - start[ii]] = x[:, lo:hi]
    seg = torch.from_numpy(seg).to(device)
    factor = scale[:, None] * (1.0 if gains is None else np.asarray(gains))
    factor = torch.from_numpy(factor.astype(np.float32)).to(device)[:, :, None]
    if (length == _T).all():
        return seg * factor
    # Sample j of the output is at position j (L - 1) / (T - 1) of a window
    # of L samples: its left neighbour and fraction, in integers (exact, and
    # no float64, which MPS lacks).
    n_minus_1 = torch.from_numpy(length - 1).to(device)[:, None]
    num = torch.arange(_T, device=device)[None] * n_minus_1
    left = torch.minimum(num // (_T - 1), n_minus_1 - 1)
    frac = ((num - left * (_T - 1)).float() / (_T - 1))[:, None]
    left = left[:, None].expand(-1, n_channels, -1)
    a, b = seg.gather(2, left), seg.gather(2, left + 1)
    return (a + frac * (b - a)) * factor


def _plain_windows(recordings, idx):
    """Windows ``idx`` (recording, epoch, label rows) as they are, gain applied."""
    windows = np.stack(
        [
            recordings[r].x[:, (k - _CONTEXT) * _EPOCH : (k + _CONTEXT + 1) * _EPOCH]
            for r, k, _ in idx
        ]
    )
    gains = [recordings[r].gain for r, _, _ in idx]
    if any(g is not None for g in gains):
        ones = np.ones(windows.shape[1], np.float32)
        windows *= np.stack([ones if g is None else g for g in gains])[:, :, None]
    return windows


def _predict(net, recordings, idx, batch=512):
    """Class index of each window ``idx``, a batch of windows at a time.

    On the CPU, the 3conv_pool network classifies whole recordings with the
    fast path of scoring (``recording_log_proba``, equal to the per-window
    computation up to float32 rounding).
    """
    from .models._grieger2021 import _ThreeConvPool, recording_log_proba

    net.eval()
    device = next(net.parameters()).device
    pred = np.zeros(len(idx), int)
    with torch.inference_mode():
        if device.type == "cpu" and type(net) is _ThreeConvPool:
            for r in np.unique(idx[:, 0]):
                rows = np.flatnonzero(idx[:, 0] == r)
                rec = recordings[r]
                x = torch.from_numpy(rec.x)
                if rec.gain is not None:
                    x = x * torch.from_numpy(rec.gain)[:, None]
                # Rows of epochs 1 to n - 2 (every labelled window has context);
                # no progress bar per validation recording.
                with use_log_level("WARNING"):
                    log_proba = recording_log_proba(net, x, epoch_samples=_EPOCH)
                pred[rows] = log_proba.argmax(1).numpy()[idx[rows, 1] - _CONTEXT]
            return pred
        for start in range(0, len(idx), batch):
            windows = _plain_windows(recordings, idx[start : start + batch])
            out = net(torch.from_numpy(windows).to(device)).argmax(1)
            pred[start : start + batch] = out.cpu().numpy()
    return pred


def _scores(net, recordings, idx, classes):
    """Per-class F1, mean F1, Cohen's kappa and accuracy of the windows ``idx``."""
    if not len(idx):
        return {}, float("nan"), float("nan"), float("nan")
    pred = _predict(net, recordings, idx)
    f1 = f1_score(idx[:, 2], pred, labels=range(len(classes)), average=None,
                  zero_division=0.0)  # fmt: skip
    # Classes absent from both the labels and the predictions have no F1.
    present = np.isin(np.arange(len(classes)), np.r_[idx[:, 2], pred])
    f1 = np.where(present, f1, np.nan)
    kappa = _kappa(idx[:, 2], pred, list(range(len(classes))))
    return (
        dict(zip(classes, map(float, f1))),
        float(np.nanmean(f1)),
        float(kappa),
        float(np.mean(idx[:, 2] == pred)),
    )


def _optimizer(net, lr, weight_decay, trainable):
    decay, no_decay = [], []
    for name, param in net.named_parameters():
        train_it = trainable(name)
        param.requires_grad_(train_it)
        if not train_it:
            continue
        # L2 on the weights of convolutions and linear layers, not on biases
        # nor on batch-normalisation parameters.
        (decay if name.endswith("weight") and param.ndim > 1 else no_decay).append(
            param
        )
    return torch.optim.Adam(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.999),
        eps=1e-8,
    )


def learning_rate(epoch, *, peak, warmup_epochs=12, decay=0.06):
    """Learning rate of a training epoch: linear warm-up, then exponential decay.

    Parameters
    ----------
    epoch : int
        Training epoch, from 0.
    peak : float
        Learning rate at the end of the warm-up (the paper: ``1e-6 * batch_size``).
    warmup_epochs : int
        Training epochs of warm-up, from ``peak / 10``.
    decay : float
        Rate of the exponential decay after the warm-up.

    Returns
    -------
    lr : float
        The learning rate.
    """
    if epoch < warmup_epochs:
        start = peak / 10
        return start + (peak - start) * epoch / warmup_epochs
    return peak * math.exp(-decay * (epoch - warmup_epochs))


def _fit(net, recs, idx, classes, cfg, rng, *, weights, trainable=None, frozen=(),
         stage=None, keep_start=False):  # fmt: skip
    """Train ``net`` in place on ``idx["train"]``, keep the best by validation.

    ``net`` maps windows to log-probabilities of ``classes``; ``idx`` holds
    (recording, epoch, class index) rows per set; ``trainable`` tells which
    parameters are trained (by name), ``frozen`` modules stay in evaluation
    mode (their batch-normalisation statistics too). With ``keep_start``
    (fine-tuning), the starting weights compete too (training epoch 0): a
    fine-tuning that never beats them on the validation mice keeps them.
    Returns the history rows and the best training epoch; ``net`` ends with
    the best weights, in evaluation mode.
    """
    trainable = trainable or (lambda name: True)
    labels = idx["train"][:, 2]
    n_classes = len(classes)
    if cfg["balanced"]:
        target = np.array([weights.get(c, 0.0) for c in classes], float)
        counts = np.bincount(labels, minlength=n_classes).astype(float)
        target[counts == 0] = 0
        p = (target / target.sum())[labels] / np.maximum(counts[labels], 1)
        p /= p.sum()
    else:
        p = None
    n_draw = cfg["windows_per_epoch"] or len(labels)
    batch_size = cfg["batch_size"]
    device = torch.device(cfg.get("device", "cpu"))
    autocast = cfg.get("autocast")
    scaler = torch.amp.GradScaler("cuda") if autocast == torch.float16 else None
    opt = _optimizer(net, cfg["lr"], cfg["weight_decay"], trainable)
    loss_of = getattr(net, "training_loss", None)
    # torch.compile: the training forward only (validation is eager), and not
    # for a network with its own loss (multiexit).
    compiled = bool(cfg.get("compile")) and loss_of is None
    if loss_of is None:
        forward = torch.compile(net, dynamic=False) if compiled else net

        def loss_of(x, y):
            return F.nll_loss(forward(x), y)

    first_step = compiled  # a failure there is torch.compile's
    best = (-1.0, None, -1)
    history = []
    if keep_start:
        _, start_f1, _, _ = _scores(net, recs["validation"], idx["validation"], classes)
        best = (start_f1, copy.deepcopy(net.state_dict()), 0)
        logger.info(f"starting weights: validation mean F1 {start_f1:.3f}")
    signals_of = [rec.signals() for rec in recs["train"]]
    n_channels = recs["train"][0].x.shape[0]
    gains = np.stack(
        [
            np.ones(n_channels, np.float32) if rec.gain is None else rec.gain
            for rec in recs["train"]
        ]
    )
    n_steps = math.ceil(n_draw / batch_size)
    prefix = f"{stage}: " if stage else ""
    try:
        for epoch in range(cfg["max_epochs"]):
            for group in opt.param_groups:
                group["lr"] = learning_rate(
                    epoch,
                    peak=cfg["lr"],
                    warmup_epochs=cfg["warmup_epochs"],
                    decay=cfg["lr_decay"],
                )
            t_epoch = time.perf_counter()
            draw = rng.choice(len(labels), size=n_draw, replace=True, p=p)
            # The version (sampling rate) of each window, at random.
            pick = rng.random(n_draw)
            net.train()
            for module in frozen:
                module.eval()
            total = torch.zeros((), device=device)
            bar = ProgressBar(n_steps, mesg=f"{prefix}training epoch {epoch + 1}")
            for step in range(n_steps):
                part = slice(step * batch_size, (step + 1) * batch_size)
                batch = idx["train"][draw[part]]
                sources = []
                for (r, _, _), q in zip(batch, pick[part]):
                    signals = signals_of[r]
                    sources.append(signals[int(q * len(signals))])
                x = _augmented_windows(
                    sources, batch[:, 1], cfg["aug"], rng, device, gains[batch[:, 0]]
                )
                y = torch.from_numpy(batch[:, 2]).to(device)
                opt.zero_grad()
                try:
                    with torch.autocast(
                        device.type, dtype=autocast, enabled=autocast is not None
                    ):
                        loss = loss_of(x, y)
                except Exception as err:
                    if not first_step:
                        raise
                    raise RuntimeError(
                        f"compile=True: torch.compile failed on this machine "
                        f"({type(err).__name__}: {str(err)[:300]}); it needs a "
                        "working C++ compiler. Train with compile=False."
                    ) from err
                first_step = False
                loss = loss.float()
                if scaler is not None:  # float16 on CUDA: loss scaling
                    scaler.scale(loss).backward()
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(net.parameters(), cfg["clip_norm"])
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), cfg["clip_norm"])
                    opt.step()
                # Summed on the device: no wait for the GPU at each step.
                total += loss.detach() * len(batch)
                bar.update(step + 1)
            total = float(total)
            per_class, mean_f1, _, _ = _scores(
                net, recs["validation"], idx["validation"], classes
            )
            elapsed = time.perf_counter() - t_epoch
            history.append(
                {
                    **({"stage": stage} if stage else {}),
                    "epoch": epoch + 1,
                    "seconds": round(elapsed, 3),
                    "lr": opt.param_groups[0]["lr"],
                    "loss": total / n_draw,
                    "validation mean F1": mean_f1,
                    **{f"validation F1 {c}": v for c, v in per_class.items()},
                }
            )
            left = (cfg["max_epochs"] - epoch - 1) * np.mean(
                [row["seconds"] for row in history if row.get("stage") == stage]
            )
            logger.info(
                f"{prefix}training epoch {epoch + 1}: loss {total / n_draw:.4f}, "
                f"validation mean F1 {mean_f1:.3f} ("
                + ", ".join(f"{c} {v:.3f}" for c, v in per_class.items())
                + f"); {elapsed:.0f} s, at most {left / 60:.0f} min left"
            )
            if mean_f1 > best[0]:
                best = (mean_f1, copy.deepcopy(net.state_dict()), epoch + 1)
            if (
                epoch + 1 >= cfg["min_epochs"]
                and epoch + 1 - best[2] >= cfg["patience"]
            ):
                logger.info(f"{prefix}early stopping: best training epoch {best[2]}")
                break
    except KeyboardInterrupt:
        logger.info("Interrupted: keeping the best model so far.")
        if best[1] is None:
            raise RuntimeError(
                "Training was interrupted before one training epoch ended."
            ) from None
    finally:
        for param in net.parameters():
            param.requires_grad_(True)
    net.load_state_dict(best[1])
    net.eval()
    return history, best[2]


def _relabel(idx, fun):
    """Apply ``fun`` to the labels of every set; rows where it gives -1 go."""
    out = {}
    for key, rows in idx.items():
        labels = fun(rows[:, 2])
        keep = labels >= 0
        out[key] = np.c_[rows[keep, :2], labels[keep]]
    return out


def _fit_akada(net, recs, idx, cfg, rng, from_init):
    """Train one Akada et al. (2021) integration, in its two stages.

    Stage 1 trains the EMG sub-network on Wake vs sleep and the EEG
    sub-network on REM vs NREM (sleep epochs only), each on its own; it is
    skipped when ``from_init`` gave trained sub-networks to a stacking or
    multimodal integration. Stage 2 trains the stacking classifier (the
    sub-networks frozen) or fine-tunes the multimodal network end to end; the
    rule has no stage 2.
    """
    history = []
    equal = dict.fromkeys(EMG_CLASSES + EEG_CLASSES, 1.0)
    if not from_init or net.integration == "rule":
        # Classes of the 3-class task: 0 Wake, 1 REM, 2 NREM.
        emg_idx = _relabel(idx, lambda y: (y != 0).astype(int))
        eeg_idx = _relabel(idx, lambda y: y - 1)
        for sub, sub_idx, classes, stage in (
            (net.emg, emg_idx, EMG_CLASSES, "EMG sub-network (Wake vs sleep)"),
            (net.eeg, eeg_idx, EEG_CLASSES, "EEG sub-network (REM vs NREM)"),
        ):
            if not len(sub_idx["train"]) or not len(sub_idx["validation"]):
                raise ValueError(f"No labelled window to train the {stage}.")
            history += _fit(
                sub, recs, sub_idx, classes, cfg, rng, weights=equal, stage=stage
            )[0]
    if net.integration == "stacking":
        history += _fit(
            net,
            recs,
            idx,
            _CLASSES[3],
            cfg,
            rng,
            weights=PAPER_CLASS_WEIGHTS,
            trainable=lambda name: name.startswith("stacker."),
            frozen=(net.eeg, net.emg),
            stage="stacking",
        )[0]
    elif net.integration == "multimodal":
        history += _fit(
            net, recs, idx, _CLASSES[3], cfg, rng, weights=PAPER_CLASS_WEIGHTS,
            stage="multimodal, end to end",
        )[0]  # fmt: skip
    return history


def _new_network(architecture, init, picks_list, n_classes, classes, dropout):
    """Return the network to train, its architecture name and the init model."""
    if architecture is not None:
        _check_option("architecture", architecture, tuple(ARCHITECTURES))
    base = None
    if init is not None:
        base = load_model(init)
        if tuple(base.classes) != classes:
            raise ValueError(
                f"init has classes {base.classes}; n_classes={n_classes} trains "
                f"{classes}."
            )
        if base.n_channels != len(picks_list):
            raise ValueError(
                f"init takes {base.n_channels} channel(s), picks gives "
                f"{len(picks_list)}."
            )
        init_arch = base.card.architecture
        if architecture is None or architecture == init_arch:
            return copy.deepcopy(base._network), init_arch, base
        both_akada = {architecture, init_arch} <= set(AKADA_ARCHITECTURES)
        if not both_akada:
            raise ValueError(
                f"init is a {init_arch!r} model; it can start a {architecture!r} "
                "network only when both are Akada integrations (akada-*), which "
                "share their sub-networks. Leave architecture=None to fine-tune it."
            )
        net = ARCHITECTURES[architecture](len(picks_list), n_classes, dropout=dropout)
        net.eeg.load_state_dict(base._network.eeg.state_dict())
        net.emg.load_state_dict(base._network.emg.state_dict())
        return net, architecture, base
    architecture = architecture or "3conv_pool"
    net = ARCHITECTURES[architecture](len(picks_list), n_classes, dropout=dropout)
    return net, architecture, None


def _load_for_training(recordings, picks, n_classes, mice, mapping, rates=()):
    _check_option("n_classes", n_classes, (3, 5))
    picks_list = [picks] if isinstance(picks, str) else list(picks)
    card = ModelCard(
        name="loading",
        classes=_CLASSES[n_classes],
        channels=tuple(picks_list),
        default_ch_names=tuple(picks_list),
    )
    return _load(recordings, picks, mice, _CLASSES[n_classes], mapping, card, rates)


@verbose
def train(
    recordings,
    *,
    picks="EEG_PR",
    n_classes=5,
    architecture=None,
    mice=None,
    split=None,
    mapping=None,
    init=None,
    freeze_features=False,
    balanced=True,
    class_weights=None,
    augmentation=None,
    batch_size=256,
    lr=None,
    warmup_epochs=12,
    lr_decay=0.06,
    weight_decay=1e-4,
    clip_norm=0.1,
    dropout=0.2,
    max_epochs=50,
    min_epochs=12,
    patience=5,
    windows_per_epoch=None,
    seed=0,
    name="trained",
    adapt="gain",
    resample_rates=(128.0,),
    device="auto",
    precision="auto",
    compile=False,  # noqa: A002 (torch's word)
    verbose=None,
):
    """Train (or fine-tune) a scorer on expert-scored recordings.

    The recipe of Grieger et al. (2021) [1]_: each training epoch draws windows
    with replacement to target class frequencies (rebalancing), augments each
    with fresh random draws (amplitude scaling, sign flip, window warping, time
    shift, in this order), and takes Adam steps with L2 regularisation on the
    weights, dropout and gradient-norm clipping; the learning rate warms up
    linearly and then decays exponentially; training stops early on the mean
    F1 of the validation mice and restores the best weights. Press Ctrl-C to
    stop: the best model so far is kept.

    The same recipe trains every architecture; the Akada et al. (2021) [2]_
    integrations train in two stages, see Notes.

    Parameters
    ----------
    recordings : list of Raw | list of path-like
        Scored recordings (in volts), whose annotations give the stages (see
        :func:`mne_mousesleep.to_stages`; ``mapping`` for expert descriptions).
    picks : str | list of str
        Input channel(s), in the network's input order. For the ``akada-*``
        architectures: the EEG channel(s), then the EMG channel last.
    n_classes : 5 | 3
        5: Wake, REM, NREM, pre-REM, artifact. 3: Wake, REM, NREM (pre-REM
        counts as NREM, artifact epochs are not used), as the paper's
        3-class models. The ``akada-*`` architectures need 3.
    architecture : str | None
        The network (see :ref:`models-related`):

        - ``"3conv_pool"`` (default) and ``"8conv_2fc"``: Grieger et al.
          (2021) [1]_.
        - ``"akada-rule"``, ``"akada-stacking"``, ``"akada-multimodal"``: EEG
          and EMG sub-networks integrated as in Akada et al. (2021) [2]_.
        - ``"resnet"``: a 1-D residual network after SlumberNet (Jha et al.
          2024) [3]_.
        - ``"multiexit"``: three stages with an exit each, after
          DynamicSleepNet (Wang et al. 2023) [4]_; all exits trained jointly
          (see :attr:`MouseSleepModel.exit_threshold`).

        With ``init``: None fine-tunes ``init`` as it is; an ``akada-*`` name
        with an ``akada-*`` init builds that integration on init's trained
        sub-networks.
    mice : list of str | None
        The mouse of each recording; default: ``raw.info["subject_info"]``
        (``his_id``), else one mouse per recording.
    split : dict | None
        ``{"train": [...], "validation": [...], "test": [...]}`` lists of mice;
        no mouse may be in two sets. Default: a seeded split by animal with
        15 percent of the mice (at least one) for validation and for test.
    mapping : dict | None
        Annotation descriptions to stages, for expert annotations.
    init : str | path-like | MouseSleepModel | None
        Fine-tune this model (a registry name, a saved file, a model) instead
        of starting from scratch; its classes and input channels must match.
        Its own weights compete with those of every training epoch on the
        validation mice: if no training epoch beats them, they are kept
        (``card.details["best_training_epoch"]`` is 0), so a fine-tuning on
        few labels cannot make the model worse on the validation mice.
    freeze_features : bool
        With ``init``: train only the classifier (the feature extractor, its
        batch-normalisation statistics included, stays as it is). Not for the
        ``akada-*`` architectures.
    balanced : bool
        Rebalance the classes in each training epoch.
    class_weights : dict | None
        Target class frequencies (default: the paper's, Wake 0.30, REM 0.18,
        NREM 0.24, pre-REM 0.14, artifact 0.14; renormalised over the classes).
        The Akada sub-networks balance their two classes equally.
    augmentation : dict | None
        ``amplitude``, ``sign_flip``, ``warp``, ``shift`` (see
        ``mne_mousesleep.training.PAPER_AUGMENTATION``, the default: 0.5, 0.5,
        0.05, 0.06 as in the authors' configuration); ``{}`` or zeros disable.
    batch_size : int
        Windows per step.
    lr : float | None
        Peak learning rate (default ``1e-6 * batch_size``, the paper's); lower
        it for fine-tuning.
    warmup_epochs : int
        Training epochs of linear warm-up from ``lr / 10``.
    lr_decay : float
        Rate of the exponential decay after the warm-up.
    weight_decay : float
        L2 regularisation of the weights (not the biases).
    clip_norm : float
        Maximum gradient norm.
    dropout : float
        Dropout probability.
    max_epochs, min_epochs, patience : int
        Early stopping: at most ``max_epochs`` training epochs, at least
        ``min_epochs``; stop after ``patience`` training epochs without a better
        validation mean F1 (for each stage of the Akada integrations).
    windows_per_epoch : int | None
        Windows drawn per training epoch (default: as many as training
        windows).
    seed : int
        Seed of the split, the initialisation, the sampling and the
        augmentation. On the CPU the same seed gives the same model on the
        same machine with the same number of threads (other CPUs round
        differently). On CUDA GPUs training uses cuDNN's deterministic
        convolutions (its autotuner off), so the same seed on the same GPU and
        library versions should repeat; this is not checked here (no GPU in
        the tests), and PyTorch does not promise it for every kernel. Apple's
        MPS has no deterministic mode. See :ref:`training-scale`.
    name : str
        Name of the model (in its card).
    adapt : "gain" | None
        ``"gain"`` (default): the gain step of scoring
        (:mod:`mne_mousesleep.adapt`) is learnt and applied here too, so the
        model does not depend on the amplifier of each training recording or
        of the recordings it scores. From scratch, the gain model is fitted on
        the training recordings without labels (one gain per recording, the
        spectral shape terms shared) and each training recording is brought to
        their median scale; validation and test recordings are scaled as
        scoring would scale them. With ``init``, the gain model of ``init`` is
        used for every recording. The gain model is stored in the card
        (``card.details["gain_model"]``). ``None``: the recordings as they
        are (the published recipe).
    resample_rates : tuple of float
        Sampling-rate augmentation: each training recording is also resampled
        to each of these rates (Hz) below its own
        (:meth:`mne.io.Raw.resample`, polyphase) and preprocessed, and every
        training window is drawn from one of the versions at random. The
        published preprocessing lets content above 32 Hz fold into the
        network input at high rates, content a 128-Hz recording does not
        have; a model that has seen both scores both alike. Default
        ``(128.0,)``; ``()`` for the published recipe. Validation and test
        use the recordings as they are.
    device : str
        Where the network trains: ``"auto"`` (default) picks a CUDA GPU, then
        Apple's MPS, then the CPU; or ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
        ``"mps"`` (a :class:`ValueError` if this machine has no such device).
        The augmentation's arithmetic runs there too, a batch at a time. The
        model returned is on the CPU. The device and the mean time per
        training epoch are in ``card.details``.
    precision : "auto" | "float32" | "bfloat16" | "float16"
        Arithmetic of the training steps (:func:`torch.autocast`; the weights,
        the loss and the validation stay float32). ``"auto"`` (default):
        bfloat16 on a CPU that computes it natively (AVX-512 BF16 or AMX) and
        on CUDA GPUs that have it (else float16 with loss scaling), float32
        elsewhere; on the simulated benchmark bfloat16 gives the validation
        F1 of float32 (within 0.001 for both published networks, two seeds
        each) in half the time. ``"float32"`` everywhere for results that do
        not depend on the CPU's bfloat16 support; ``"float16"`` is for CUDA
        GPUs only. The card records what was used.
    compile : bool
        Run the training steps through :func:`torch.compile` (not the
        ``multiexit`` network, which has its own loss): on 2 CPU cores
        3conv_pool trains 1.19x faster in float32 and 1.18x in bfloat16,
        8conv_2fc 1.15x in float32 and not faster in bfloat16; compiling takes
        10-20 s the first time on a machine (then cached by PyTorch), so it
        pays for itself within the first tenth of a training epoch over 10
        mice x 24 h. It needs a C++ compiler (a :class:`RuntimeError` says so
        at the first step); each Dask worker compiles on its own.
    %(verbose)s

    Returns
    -------
    model : MouseSleepModel
        The best model (by validation mean F1), with a model card holding the
        training data summary, the validation and test metrics (per-class and
        mean F1, Cohen's kappa, accuracy), the settings, the package version
        and the seed; ``model.history`` has one row per training epoch (with a
        ``stage`` column for the Akada integrations). Use it with
        ``score(raw, model=model)`` and ``model.save(fname)``.

    Raises
    ------
    ValueError
        For inconsistent inputs (split, mice, classes, channels of ``init``,
        an architecture that does not fit ``n_classes`` or ``picks``).

    See Also
    --------
    cross_validate : Cross-validation over animals, k folds.

    Notes
    -----
    The ``akada-*`` architectures train in two stages [2]_. Stage 1 trains
    the EMG sub-network on Wake vs sleep (REM and NREM) and the EEG
    sub-network on REM vs NREM (sleep epochs only), each on its own task.
    Stage 2 depends on the integration: none for ``"akada-rule"`` (the EMG
    decides Wake vs sleep, the EEG REM vs NREM); for ``"akada-stacking"``
    a small classifier learns the 3 classes from the four sub-network
    outputs, the sub-networks frozen; for ``"akada-multimodal"`` both feature
    extractors feed a new classifier and everything is fine-tuned end to end.
    With an ``akada-*`` ``init`` the sub-networks are taken from it and
    stage 1 is skipped (except for the rule, which then fine-tunes them).

    References
    ----------
    .. [1] Grieger N, Schwabedal JTC, Wendel S, Ritze Y, Bialonski S (2021).
           Automated scoring of pre-REM sleep in mice with deep learning.
           Scientific Reports 11, 12245. doi:10.1038/s41598-021-91286-0
    .. [2] Akada K, Yagi T, Miura Y, Beuckmann CT, Koyama N, Aoshima K (2021).
           A deep learning algorithm for sleep stage scoring in mice based on
           a multimodal network with fine-tuning technique. Neuroscience
           Research 173, 99-105. doi:10.1016/j.neures.2021.07.003
    .. [3] Jha PK, Valekunja UK, Reddy AB (2024). SlumberNet: deep learning
           classification of sleep stages using residual neural networks.
           Scientific Reports 14, 4797. doi:10.1038/s41598-024-54727-0
    .. [4] Wang W, Xiao Q, Xue J, Hu Z (2023). DynamicSleepNet: a
           multi-exit neural network with adaptive inference time for sleep
           stage classification. Frontiers in Physiology 14, 1171467.
           doi:10.3389/fphys.2023.1171467
    """
    _resolve_precision(precision, _resolve_device(device))  # before reading
    settings = {
        key: value
        for key, value in locals().items()
        if key not in ("recordings", "mice", "mapping", "verbose", "resample_rates")
    }
    data = _load_for_training(
        recordings, picks, n_classes, mice, mapping, tuple(resample_rates)
    )
    return _train(data, **settings)


def _scaled(rec, gains):
    """Return the recording with a gain per channel (its signals shared)."""
    return _Recording(rec.x, rec.labels, rec.mouse, rec.name, rec.versions, gains)


def _adapt_sets(sets, base, n_channels):
    """Apply the gain step to the training data: scaled copies and the gain model."""
    if base is not None:
        gain_model = base.card.details.get("gain_model")
        if not gain_model:
            logger.info(f"Gain step: {base.name} has no gain model; not applied")
            return sets, None
        source = f"that of {base.name}"
    else:
        channels = []
        for ch in range(n_channels):
            features = [_epoch_features(rec.x[ch], 64.0, 10.0) for rec in sets["train"]]
            fit = fit_gain_model(features)
            channels.append(dict(coef=fit["coef"], intercept=fit["intercept"]))
        gain_model = dict(
            bands=[list(b) for b in BANDS],
            channels=channels,
            reference="the median scale of the training recordings",
        )
        source = "fitted on the training recordings"
    out, shown = {}, []
    for key, recs in sets.items():
        out[key] = []
        for rec in recs:
            log_gain, _ = _log_gains(rec.x, 64.0, 10.0, gain_model)
            gains = np.where(np.isfinite(log_gain), np.exp(log_gain), 1.0)
            out[key].append(_scaled(rec, gains))
            shown.append(f"{rec.mouse} x{gains[0]:.3g}")
    logger.info(f"Gain step: gain model {source}; gains {', '.join(shown)}")
    return out, gain_model


@contextlib.contextmanager
def _deterministic(device):
    """Use cuDNN's deterministic convolutions while training on a CUDA GPU.

    Its autotuner (``benchmark``) picks algorithms by timing, some of them
    not deterministic: off during training, restored afterwards. Nothing to
    do on the CPU (deterministic for a given machine and thread count); MPS
    has no such switch.
    """
    if device.type != "cuda":
        yield
        return
    cudnn = torch.backends.cudnn
    before = cudnn.deterministic, cudnn.benchmark
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = before


def _train(
    data,
    *,
    picks,
    n_classes,
    architecture,
    split,
    init,
    freeze_features,
    balanced,
    class_weights,
    augmentation,
    batch_size,
    lr,
    warmup_epochs,
    lr_decay,
    weight_decay,
    clip_norm,
    dropout,
    max_epochs,
    min_epochs,
    patience,
    windows_per_epoch,
    seed,
    name,
    adapt="gain",
    device="auto",
    precision="auto",
    compile=False,
):  # noqa: A002
    """:func:`train` on recordings already loaded (see :func:`_load`)."""
    import pandas as pd

    from . import __version__

    classes = _CLASSES[n_classes]
    picks_list = [picks] if isinstance(picks, str) else list(picks)
    device = _resolve_device(device)
    autocast = _resolve_precision(precision, device)
    torch.manual_seed(seed)
    net, architecture, base = _new_network(
        architecture, init, picks_list, n_classes, classes, dropout
    )
    akada = architecture in AKADA_ARCHITECTURES
    if freeze_features and not hasattr(net, "feature_extractor"):
        raise ValueError(
            f"freeze_features=True needs a feature extractor and a classifier; the "
            f"{architecture!r} architecture has sub-networks instead."
        )
    split, sets = _split(data, split, seed)
    _check_adapt(adapt)
    gain_model = None
    if adapt == "gain":
        sets, gain_model = _adapt_sets(sets, base, len(picks_list))
    idx = {key: _index(recs) for key, recs in sets.items()}
    for key in ("train", "validation"):
        if not len(idx[key]):
            raise ValueError(f"No labelled window for {key!r}.")
    aug = dict.fromkeys(PAPER_AUGMENTATION, 0.0)
    aug.update(PAPER_AUGMENTATION if augmentation is None else augmentation)
    peak = 1e-6 * batch_size if lr is None else lr
    cfg = dict(
        aug=aug, balanced=balanced, batch_size=batch_size, lr=peak,
        warmup_epochs=warmup_epochs, lr_decay=lr_decay, weight_decay=weight_decay,
        clip_norm=clip_norm, max_epochs=max_epochs, min_epochs=min_epochs,
        patience=patience, windows_per_epoch=windows_per_epoch, device=device,
        autocast=autocast, compile=bool(compile),
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    net.to(device)
    arithmetic = "float32" if autocast is None else str(autocast).split(".")[-1]
    logger.info(f"Training on {device}, {arithmetic}")
    with _deterministic(device):
        if akada:
            history = _fit_akada(net, sets, idx, cfg, rng, from_init=base is not None)
            best_epoch = None
        else:
            frozen = (net.feature_extractor,) if freeze_features else ()
            history, best_epoch = _fit(
                net,
                sets,
                idx,
                classes,
                cfg,
                rng,
                weights=PAPER_CLASS_WEIGHTS if class_weights is None else class_weights,
                trainable=(
                    (lambda n: not n.startswith("feature_extractor"))
                    if freeze_features
                    else None
                ),
                frozen=frozen,
                keep_start=base is not None,
            )
    metrics = {}
    seconds = [row["seconds"] for row in history if "seconds" in row]
    for key in ("validation", "test"):
        if not len(idx[key]):
            continue
        per_class, mean_f1, kappa, accuracy = _scores(net, sets[key], idx[key], classes)
        metrics[f"{key} mean F1"] = round(mean_f1, 4)
        # Classes absent from a set (no F1) are left out of the card.
        metrics.update(
            {f"{key} F1 {c}": round(v, 4) for c, v in per_class.items() if v == v}
        )
        metrics[f"{key} kappa"] = round(kappa, 4)
        metrics[f"{key} accuracy"] = round(accuracy, 4)
    per_set = {
        key: f"{len(split[key])} {'mouse' if len(split[key]) == 1 else 'mice'}, "
        f"{len(idx[key])} windows"
        for key in ("train", "validation", "test")
    }
    card = ModelCard(
        name=name,
        classes=classes,
        channels=tuple(picks_list),
        default_ch_names=tuple(picks_list),
        architecture=architecture,
        source=f"trained with mne-mousesleep {__version__}",
        citation=_CITATIONS.get(architecture, CITATION_GRIEGER2021),
        training=(
            ("fine-tuned from " + base.name + "; " if base is not None else "")
            + "; ".join(f"{k}: {v}" for k, v in per_set.items())
        ),
        metrics=metrics,
        details={
            "package_version": __version__,
            "seed": int(seed),
            "split": {k: list(v) for k, v in split.items()},
            **({} if gain_model is None else {"gain_model": gain_model}),
            **({} if best_epoch is None else {"best_training_epoch": int(best_epoch)}),
            "device": str(device),
            "precision": arithmetic,
            "compiled": bool(compile) and not hasattr(net, "training_loss"),
            "seconds_per_training_epoch": round(float(np.mean(seconds)), 2)
            if seconds
            else None,
            "settings": {
                "balanced": bool(balanced),
                "augmentation": {k: float(v) for k, v in aug.items()},
                "batch_size": int(batch_size),
                "lr": float(peak),
                "weight_decay": float(weight_decay),
                "clip_norm": float(clip_norm),
                "freeze_features": bool(freeze_features),
                "resample_rates": sorted(
                    {rate for rec in sets["train"] for rate, _ in rec.versions}
                ),
            },
        },
    )
    model = MouseSleepModel(net.cpu(), card)
    model.history = pd.DataFrame(history)
    return model


@verbose
def cross_validate(
    recordings,
    *,
    n_folds=5,
    picks="EEG_PR",
    n_classes=5,
    mice=None,
    mapping=None,
    seed=0,
    client=None,
    verbose=None,
    **kwargs,
):
    """Train and test a scorer with k-fold cross-validation over animals.

    The mice are shuffled (seeded) and dealt into ``n_folds`` folds. Each
    fold in turn is the test set; of the other mice, 15 percent (at least
    one) validate (early stopping) and the rest train, with :func:`train`
    and its augmentation. No mouse is ever in two sets of a fold, so every
    figure is on animals the network has not seen, as in SlumberNet (Jha et
    al. 2024) [1]_.

    Parameters
    ----------
    recordings : list of Raw | list of path-like
        Scored recordings, in volts (see :func:`train`).
    n_folds : int
        Number of folds, at least 2 and at most the number of mice minus 2.
    picks : str | list of str
        Input channel(s), in the network's input order.
    n_classes : 5 | 3
        Classes (see :func:`train`).
    mice : list of str | None
        The mouse of each recording (see :func:`train`).
    mapping : dict | None
        Annotation descriptions to stages.
    seed : int
        Seed of the folds and of each training.
    client : distributed.Client | str | None
        Train the folds in parallel on a Dask cluster: a client, or the
        address of a scheduler (``"tcp://host:8786"``), as for
        :func:`score_files`; the prepared recordings are sent to the workers
        once. ``None`` (default): one fold after the other, here. Each fold
        gives the same model as here when the workers are processes (torch's
        random state is per process; threads of one worker share it).
    %(verbose)s
    **kwargs
        Further keyword arguments of :func:`train` (``architecture``,
        ``augmentation``, ``max_epochs``, ...), except ``split``.

    Returns
    -------
    results : pandas.DataFrame
        One row per fold (index ``fold``, 1 to ``n_folds``), then rows
        ``"mean"`` and ``"std"`` over folds: ``test mice``, ``validation
        mice``, ``test windows``, ``mean F1``, ``F1 <class>`` per class,
        ``kappa`` (Cohen's) and ``accuracy``, on the test mice of each fold,
        and ``error`` (empty, or why the fold failed: its metrics are NaN and
        the other folds are kept).
    models : list of MouseSleepModel | None
        The model of each fold (None for a fold that failed).

    Raises
    ------
    ValueError
        If there are too few mice for ``n_folds``.
    TypeError
        For a keyword argument that :func:`train` does not take.

    References
    ----------
    .. [1] Jha PK, Valekunja UK, Reddy AB (2024). SlumberNet: deep learning
           classification of sleep stages using residual neural networks.
           Scientific Reports 14, 4797. doi:10.1038/s41598-024-54727-0
    """
    import inspect

    import pandas as pd

    allowed = set(inspect.signature(train).parameters) - {
        "recordings", "picks", "n_classes", "mice", "mapping", "split", "seed",
        "verbose",
    }  # fmt: skip
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"cross_validate got keyword arguments that train does not take (or "
            f"that the folds set): {unknown}."
        )
    _validate_type(n_folds, "int", "n_folds")
    rates = tuple(kwargs.pop("resample_rates", (128.0,)))
    data = _load_for_training(recordings, picks, n_classes, mice, mapping, rates)
    ids = sorted({r.mouse for r in data})
    if n_folds < 2 or len(ids) < n_folds + 2:
        raise ValueError(
            f"n_folds must be at least 2 and leave 2 mice (train, validation) "
            f"outside each test fold; got n_folds={n_folds} for {len(ids)} mice."
        )
    order = list(np.random.default_rng(seed).permutation(ids))
    folds = np.array_split(np.array(order, dtype=object), n_folds)
    defaults = {
        key: param.default
        for key, param in inspect.signature(train).parameters.items()
        if key in allowed - {"resample_rates"}
    }
    splits, settings = [], []
    for ii, test in enumerate(folds):
        rest = [m for m in order if m not in set(test)]
        n_val = max(1, round(0.15 * len(rest)))
        split = {"train": rest[n_val:], "validation": rest[:n_val], "test": list(test)}
        fold = {**defaults, **kwargs, "split": split, "seed": seed}
        fold.update(
            picks=picks, n_classes=n_classes, name=f"{fold['name']}-fold{ii + 1}"
        )
        splits.append(split)
        settings.append(fold)
    outcomes = _run_folds(data, settings, client)
    rows, models = [], []
    for ii, (split, (model, error)) in enumerate(zip(splits, outcomes)):
        test = split["test"]
        metrics = model.card.metrics if model is not None else {}
        n_test = sum(len(r.windows()[0]) for r in data if r.mouse in set(test))
        rows.append(
            {
                "fold": ii + 1,
                "test mice": ", ".join(test),
                "validation mice": ", ".join(split["validation"]),
                "test windows": n_test,
                "mean F1": metrics.get("test mean F1", np.nan),
                **{
                    f"F1 {c}": metrics.get(f"test F1 {c}", np.nan)
                    for c in _CLASSES[n_classes]
                },
                "kappa": metrics.get("test kappa", np.nan),
                "accuracy": metrics.get("test accuracy", np.nan),
                "error": error,
            }
        )
        models.append(model)
    results = pd.DataFrame(rows).set_index("fold").astype({"test windows": float})
    numeric = results.select_dtypes("number")
    results.loc["mean"] = numeric.mean()
    results.loc["std"] = numeric.std()
    results.loc[["mean", "std"], "error"] = ""
    return results, models


def _one_fold(data, settings):
    """Train one fold; return ``(model, "")`` or ``(None, why it failed)``."""
    name = settings["name"]
    logger.info(f"{name}: test mice {', '.join(settings['split']['test'])}")
    try:
        return _train(data, **settings), ""
    except Exception as err:  # noqa: BLE001 (a failed fold does not stop the others)
        logger.warning(f"{name} failed: {type(err).__name__}: {err}")
        return None, f"{type(err).__name__}: {err}"


def _run_folds(data, settings, client):
    """Train every fold, here one after the other or on a Dask cluster."""
    if client is None:
        return [_one_fold(data, fold) for fold in settings]
    from ._dask import _dask_client

    with _dask_client(client, "Cross-validation") as client:
        shared = client.scatter(data, broadcast=True)
        futures = [
            client.submit(_one_fold, shared, fold, pure=False, key=f"fold-{ii}")
            for ii, fold in enumerate(settings)
        ]
        out = []
        for future in futures:
            try:
                out.append(future.result())
            except Exception as err:  # noqa: BLE001 (a lost worker, for one)
                out.append((None, f"{type(err).__name__}: {err}"))
        return out
