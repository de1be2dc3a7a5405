"""Fitting a network: the paper's training epochs, early stopping, metrics."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import contextlib
import copy
import dataclasses
import math
import time

import numpy as np
import torch
from mne.utils import logger, use_log_level
from sklearn.metrics import f1_score
from torch.nn import functional as F

from .._progress import _progress
from .._stages import ARTIFACT, NREM, PRE_REM, REM, WAKE
from ..evaluation import _kappa
from ..models.grieger2021 import _ThreeConvPool, recording_log_proba
from ._augment import _augmented_windows, _plain_windows

#: Target class frequencies of the paper's rebalanced training.
PAPER_CLASS_WEIGHTS = {WAKE: 0.30, REM: 0.18, NREM: 0.24, PRE_REM: 0.14, ARTIFACT: 0.14}


@dataclasses.dataclass(frozen=True)
class _FitConfig:
    """How :func:`_fit` trains: the recipe's numbers, the device, the arithmetic."""

    aug: dict  # augmentation: amplitude, sign_flip, warp, shift
    balanced: bool
    batch_size: int
    lr: float  # peak learning rate
    warmup_epochs: int
    lr_decay: float
    weight_decay: float
    clip_norm: float
    max_epochs: int
    min_epochs: int
    patience: int
    windows_per_epoch: int | None
    device: object = None  # torch.device; None: the CPU
    autocast: object = None  # torch dtype of autocast; None: float32
    compile: bool = False


def _predict(net, recordings, idx, batch=512):
    """Class index of each window ``idx``, a batch of windows at a time.

    On the CPU, the 3conv_pool network classifies whole recordings with the
    fast path of scoring (``recording_log_proba``, equal to the per-window
    computation up to float32 rounding).
    """
    net.eval()
    device = next(net.parameters()).device
    pred = np.zeros(len(idx), int)
    with torch.inference_mode():
        fast = recordings[0].geometry.epoch_samples % 4 == 0  # a tile fits
        if device.type == "cpu" and type(net) is _ThreeConvPool and fast:
            for r in np.unique(idx[:, 0]):
                rows = np.flatnonzero(idx[:, 0] == r)
                rec = recordings[r]
                x = torch.from_numpy(rec.x)
                if rec.gain is not None:
                    x = x * torch.from_numpy(rec.gain)[:, None]
                # Rows of the epochs with context (every labelled window has
                # it); no progress bar per validation recording.
                geometry = rec.geometry
                with use_log_level("WARNING"):
                    log_proba = recording_log_proba(
                        net,
                        x,
                        epoch_samples=geometry.epoch_samples,
                        n_context=geometry.n_context,
                    )
                first = geometry.n_context
                pred[rows] = log_proba.argmax(1).numpy()[idx[rows, 1] - first]
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


def _draw_probabilities(labels, classes, weights, balanced):
    """Probability of drawing each training window (None: uniform)."""
    if not balanced:
        return None
    target = np.array([weights.get(c, 0.0) for c in classes], float)
    counts = np.bincount(labels, minlength=len(classes)).astype(float)
    target[counts == 0] = 0
    p = (target / target.sum())[labels] / np.maximum(counts[labels], 1)
    return p / p.sum()


class _Trainer:
    """One training step of a network: optimizer, loss, gradient clipping.

    ``trainable`` tells which parameters are trained (by name). With
    ``cfg.compile`` the training forward runs through :func:`torch.compile`
    (not for a network with its own loss, multiexit); a failure at its first
    step is said to be torch.compile's.
    """

    def __init__(self, net, cfg, trainable):
        self.net, self.cfg = net, cfg
        self.device = torch.device(cfg.device or "cpu")
        self.scaler = (
            torch.amp.GradScaler("cuda") if cfg.autocast == torch.float16 else None
        )
        self.opt = _optimizer(net, cfg.lr, cfg.weight_decay, trainable)
        self.loss_of = getattr(net, "training_loss", None)
        self.compiled = bool(cfg.compile) and self.loss_of is None
        if self.loss_of is None:
            forward = torch.compile(net, dynamic=False) if self.compiled else net
            self.loss_of = lambda x, y: F.nll_loss(forward(x), y)
        self.first_step = self.compiled

    def set_lr(self, epoch):
        cfg = self.cfg
        for group in self.opt.param_groups:
            group["lr"] = learning_rate(
                epoch, peak=cfg.lr, warmup_epochs=cfg.warmup_epochs, decay=cfg.lr_decay
            )

    def _loss(self, x, y):
        autocast = self.cfg.autocast
        try:
            with torch.autocast(
                self.device.type, dtype=autocast, enabled=autocast is not None
            ):
                return self.loss_of(x, y).float()
        except Exception as err:
            if not self.first_step:
                raise
            raise RuntimeError(
                f"compile=True: torch.compile failed on this machine "
                f"({type(err).__name__}: {str(err)[:300]}); it needs a "
                "working C++ compiler. Train with compile=False."
            ) from err
        finally:
            self.first_step = False

    def step(self, x, y):
        """Take one step on windows ``x``, labels ``y``; return the loss (tensor)."""
        opt, clip = self.opt, self.cfg.clip_norm
        opt.zero_grad()
        loss = self._loss(x, y)
        if self.scaler is not None:  # float16 on CUDA: loss scaling
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), clip)
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), clip)
            opt.step()
        return loss.detach()


def _training_epoch(trainer, recs, rows, p, rng, frozen, label):
    """One training epoch: windows drawn, augmented and stepped on; mean loss."""
    cfg, net = trainer.cfg, trainer.net
    n_draw = cfg.windows_per_epoch or len(rows)
    draw = rng.choice(len(rows), size=n_draw, replace=True, p=p)
    # The version (sampling rate) of each window, at random.
    pick = rng.random(n_draw)
    signals_of = [rec.signals() for rec in recs]
    n_channels = recs[0].x.shape[0]
    gains = np.stack(
        [np.ones(n_channels, np.float32) if r.gain is None else r.gain for r in recs]
    )
    net.train()
    for module in frozen:
        module.eval()
    total = torch.zeros((), device=trainer.device)
    n_steps = math.ceil(n_draw / cfg.batch_size)
    bar = _progress(n_steps, mesg=label)
    for step in range(n_steps):
        part = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
        batch = rows[draw[part]]
        sources = []
        for (r, _, _), q in zip(batch, pick[part]):
            signals = signals_of[r]
            sources.append(signals[int(q * len(signals))])
        x = _augmented_windows(
            sources,
            batch[:, 1],
            cfg.aug,
            rng,
            trainer.device,
            recs[0].geometry,
            gains[batch[:, 0]],
        )
        y = torch.from_numpy(batch[:, 2]).to(trainer.device)
        # Summed on the device: no wait for the GPU at each step.
        total += trainer.step(x, y) * len(batch)
        bar.update(step + 1)
    return float(total) / n_draw


def _fit(net, recs, idx, classes, cfg, rng, *, weights, trainable=None, frozen=(),
         stage=None, keep_start=False):  # fmt: skip
    """Train ``net`` in place on ``idx["train"]``, keep the best by validation.

    ``net`` maps windows to log-probabilities of ``classes``; ``idx`` holds
    (recording, epoch, class index) rows per set; ``cfg`` is a
    :class:`_FitConfig`; ``trainable`` tells which parameters are trained (by
    name), ``frozen`` modules stay in evaluation mode (their
    batch-normalisation statistics too). With ``keep_start`` (fine-tuning),
    the starting weights compete too (training epoch 0): a fine-tuning that
    never beats them on the validation mice keeps them. Returns the history
    rows and the best training epoch; ``net`` ends with the best weights, in
    evaluation mode.
    """
    trainer = _Trainer(net, cfg, trainable or (lambda name: True))
    p = _draw_probabilities(idx["train"][:, 2], classes, weights, cfg.balanced)
    best = (-1.0, None, -1)
    history = []
    if keep_start:
        _, start_f1, _, _ = _scores(net, recs["validation"], idx["validation"], classes)
        best = (start_f1, copy.deepcopy(net.state_dict()), 0)
        logger.info(f"starting weights: validation mean F1 {start_f1:.3f}")
    prefix = f"{stage}: " if stage else ""
    try:
        for epoch in range(cfg.max_epochs):
            trainer.set_lr(epoch)
            t_epoch = time.perf_counter()
            loss = _training_epoch(
                trainer,
                recs["train"],
                idx["train"],
                p,
                rng,
                frozen,
                f"{prefix}training epoch {epoch + 1}",
            )
            per_class, mean_f1, _, _ = _scores(
                net, recs["validation"], idx["validation"], classes
            )
            row = {
                **({"stage": stage} if stage else {}),
                "epoch": epoch + 1,
                "seconds": round(time.perf_counter() - t_epoch, 3),
                "lr": trainer.opt.param_groups[0]["lr"],
                "loss": loss,
                "validation mean F1": mean_f1,
                **{f"validation F1 {c}": v for c, v in per_class.items()},
            }
            history.append(row)
            _log_epoch(history, row, per_class, cfg, prefix)
            if mean_f1 > best[0]:
                best = (mean_f1, copy.deepcopy(net.state_dict()), epoch + 1)
            if epoch + 1 >= cfg.min_epochs and epoch + 1 - best[2] >= cfg.patience:
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


def _log_epoch(history, row, per_class, cfg, prefix):
    stage = row.get("stage")
    left = (cfg.max_epochs - row["epoch"]) * np.mean(
        [r["seconds"] for r in history if r.get("stage") == stage]
    )
    logger.info(
        f"{prefix}training epoch {row['epoch']}: loss {row['loss']:.4f}, "
        f"validation mean F1 {row['validation mean F1']:.3f} ("
        + ", ".join(f"{c} {v:.3f}" for c, v in per_class.items())
        + f"); {row['seconds']:.0f} s, at most {left / 60:.0f} min left"
    )


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
