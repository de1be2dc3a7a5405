"""Training and fine-tuning scorers on scored recordings (Grieger et al. 2021)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import copy
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from mne.io import BaseRaw, read_raw
from mne.utils import ProgressBar, _check_option, _validate_type, logger, verbose
from sklearn.metrics import f1_score

from .hypnogram import (
    ARTIFACT,
    NREM,
    PRE_REM,
    REM,
    WAKE,
    _seconds_from_first_sample,
    to_stages,
)
from .models import ModelCard, MouseSleepModel, load_model
from .models._grieger2021 import ARCHITECTURES
from .models._registry import CITATION_GRIEGER2021
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
    """A preprocessed recording: signal (64 Hz, mV) and per-epoch class index."""

    def __init__(self, x, labels, mouse, name):
        self.x, self.labels, self.mouse, self.name = x, labels, mouse, name

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
    stages = to_stages(raw.annotations, mapping=mapping)
    rel = np.round(_seconds_from_first_sample(stages, raw) / 10.0).astype(int)
    values = stages.to_numpy(object)
    if len(classes) == 3:  # the paper's reduction: pre-REM is NREM, no artifact
        values = np.where(values == PRE_REM, NREM, values)
    index = {c: ii for ii, c in enumerate(classes)}
    labels = np.full(n_epochs, -1)
    ok = (rel >= 0) & (rel < n_epochs)
    labels[rel[ok]] = [index.get(v, -1) for v in values[ok]]
    return labels


def _load(recordings, picks, mice, classes, mapping, card):
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
        data, _ = _preprocess(raw, picks, card)
        n_epochs = data.shape[1] // _EPOCH
        x = np.ascontiguousarray(data[:, : n_epochs * _EPOCH], dtype=np.float32)
        labels = _labels(raw, classes, mapping, n_epochs)
        mouse = mice[ii] if mice is not None else _mouse_of(raw, ii)
        out.append(_Recording(x, labels, str(mouse), str(rec)))
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


def _segment(x, centre, length):
    """``length`` samples of ``x`` centred at ``centre``, zero-padded outside."""
    start = int(centre) - length // 2
    out = np.zeros((x.shape[0], length), np.float32)
    lo, hi = max(start, 0), min(start + length, x.shape[1])
    if hi > lo:
        out[:, lo - start : hi - start] = x[:, lo:hi]
    return out


def _augmented_window(x, epoch, aug, rng):
    """One training window with the paper's augmentations, in their order."""
    u = rng.uniform(-1, 1, size=4)
    scale = 1 + aug["amplitude"] * u[0]
    sign = -1.0 if rng.random() < aug["sign_flip"] else 1.0
    length = math.floor(_T * (1 + aug["warp"] * u[2]))
    shift = math.floor(_T * aug["shift"] * u[3])
    centre = epoch * _EPOCH + _EPOCH // 2 + shift
    seg = _segment(x, centre, length)
    if length != _T:  # stretch or contract to the window length
        t_old = np.linspace(0, 1, length)
        t_new = np.linspace(0, 1, _T)
        seg = np.stack([np.interp(t_new, t_old, ch) for ch in seg]).astype(np.float32)
    return (scale * sign * seg).astype(np.float32)


def _plain_windows(recordings, idx):
    return np.stack(
        [
            recordings[r].x[:, (k - _CONTEXT) * _EPOCH : (k + _CONTEXT + 1) * _EPOCH]
            for r, k, _ in idx
        ]
    )


def _predict(net, windows, batch=512):
    net.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(windows), batch):
            out.append(net(torch.from_numpy(windows[start : start + batch])).argmax(1))
    return torch.cat(out).numpy() if out else np.zeros(0, int)


def _scores(net, recordings, idx, classes):
    """Per-class F1 and mean F1 of the windows ``idx``."""
    if not len(idx):
        return {}, float("nan")
    pred = _predict(net, _plain_windows(recordings, idx))
    f1 = f1_score(idx[:, 2], pred, labels=range(len(classes)), average=None,
                  zero_division=0.0)  # fmt: skip
    # Classes absent from both the labels and the predictions have no F1.
    present = np.isin(np.arange(len(classes)), np.r_[idx[:, 2], pred])
    f1 = np.where(present, f1, np.nan)
    return dict(zip(classes, map(float, f1))), float(np.nanmean(f1))


def _optimizer(net, lr, weight_decay, freeze_features):
    decay, no_decay = [], []
    for name, param in net.named_parameters():
        if freeze_features and name.startswith("feature_extractor"):
            param.requires_grad_(False)
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


@verbose
def train(
    recordings,
    *,
    picks="EEG_PR",
    n_classes=5,
    architecture="3conv_pool",
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
    verbose=None,
):
    """Train (or fine-tune) a scorer on expert-scored recordings.

    The recipe of Grieger et al. (2021): each training epoch draws windows
    with replacement to target class frequencies (rebalancing), augments each
    with fresh random draws (amplitude scaling, sign flip, window warping, time
    shift, in this order), and takes Adam steps with L2 regularisation on the
    weights, dropout and gradient-norm clipping; the learning rate warms up
    linearly and then decays exponentially; training stops early on the mean
    F1 of the validation mice and restores the best weights. Press Ctrl-C to
    stop: the best model so far is kept.

    Parameters
    ----------
    recordings : list of Raw | list of path-like
        Scored recordings (in volts), whose annotations give the stages (see
        :func:`mne_mousesleep.to_stages`; ``mapping`` for expert descriptions).
    picks : str | list of str
        Input channel(s), in the network's input order.
    n_classes : 5 | 3
        5: Wake, REM, NREM, pre-REM, artifact. 3: Wake, REM, NREM (pre-REM
        counts as NREM, artifact epochs are not used), as the paper's
        3-class models.
    architecture : "3conv_pool" | "8conv_2fc"
        The network (ignored with ``init``).
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
    freeze_features : bool
        With ``init``: train only the classifier (the feature extractor, its
        batch-normalisation statistics included, stays as it is).
    balanced : bool
        Rebalance the classes in each training epoch.
    class_weights : dict | None
        Target class frequencies (default: the paper's, Wake 0.30, REM 0.18,
        NREM 0.24, pre-REM 0.14, artifact 0.14; renormalised over the classes).
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
        validation mean F1.
    windows_per_epoch : int | None
        Windows drawn per training epoch (default: as many as training
        windows).
    seed : int
        Seed of the split, the initialisation, the sampling and the
        augmentation; training on CPU with the same seed is deterministic.
    name : str
        Name of the model (in its card).
    %(verbose)s

    Returns
    -------
    model : MouseSleepModel
        The best model (by validation mean F1), with a model card holding the
        training data summary, the validation and test metrics, the settings,
        the package version and the seed; ``model.history`` has one row per
        training epoch. Use it with ``score(raw, model=model)`` and
        ``model.save(fname)``.

    Raises
    ------
    ValueError
        For inconsistent inputs (split, mice, classes, channels of ``init``).

    References
    ----------
    .. [1] Grieger N, Schwabedal JTC, Wendel S, Ritze Y, Bialonski S (2021).
           Automated scoring of pre-REM sleep in mice with deep learning.
           Scientific Reports 11, 12245. doi:10.1038/s41598-021-91286-0
    """
    import pandas as pd

    from . import __version__

    _check_option("n_classes", n_classes, (3, 5))
    classes = _CLASSES[n_classes]
    picks_list = [picks] if isinstance(picks, str) else list(picks)
    torch.manual_seed(seed)
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
        net = copy.deepcopy(base._network)
        architecture = base.card.architecture
    else:
        _check_option("architecture", architecture, tuple(ARCHITECTURES))
        net = ARCHITECTURES[architecture](len(picks_list), n_classes, dropout=dropout)
    card = ModelCard(
        name=name,
        classes=classes,
        channels=tuple(picks_list),
        default_ch_names=tuple(picks_list),
        architecture=architecture,
    )
    data = _load(recordings, picks, mice, classes, mapping, card)
    split, sets = _split(data, split, seed)
    idx = {key: _index(recs) for key, recs in sets.items()}
    for key in ("train", "validation"):
        if not len(idx[key]):
            raise ValueError(f"No labelled window for {key!r}.")
    rng = np.random.default_rng(seed)
    aug = dict.fromkeys(PAPER_AUGMENTATION, 0.0)
    aug.update(PAPER_AUGMENTATION if augmentation is None else augmentation)
    weights = PAPER_CLASS_WEIGHTS if class_weights is None else class_weights
    labels = idx["train"][:, 2]
    if balanced:
        target = np.array([weights.get(c, 0.0) for c in classes], float)
        counts = np.bincount(labels, minlength=n_classes).astype(float)
        target[counts == 0] = 0
        p = (target / target.sum())[labels] / np.maximum(counts[labels], 1)
        p /= p.sum()
    else:
        p = None
    n_draw = windows_per_epoch or len(labels)
    peak = 1e-6 * batch_size if lr is None else lr
    opt = _optimizer(net, peak, weight_decay, freeze_features)
    loss_fn = torch.nn.NLLLoss()
    best = (-1.0, None, -1)
    history = []
    train_recs = sets["train"]
    n_steps = math.ceil(n_draw / batch_size)
    try:
        for epoch in range(max_epochs):
            for group in opt.param_groups:
                group["lr"] = learning_rate(
                    epoch, peak=peak, warmup_epochs=warmup_epochs, decay=lr_decay
                )
            draw = rng.choice(len(labels), size=n_draw, replace=True, p=p)
            net.train()
            if freeze_features:  # frozen layers keep their normalisation too
                net.feature_extractor.eval()
            total = 0.0
            bar = ProgressBar(
                n_steps,
                mesg=f"training epoch {epoch + 1}",
            )
            for step in range(n_steps):
                batch = idx["train"][draw[step * batch_size : (step + 1) * batch_size]]
                x = np.stack(
                    [
                        _augmented_window(train_recs[r].x, k, aug, rng)
                        for r, k, _ in batch
                    ]
                )
                y = torch.from_numpy(batch[:, 2])
                opt.zero_grad()
                loss = loss_fn(net(torch.from_numpy(x)), y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip_norm)
                opt.step()
                total += loss.item() * len(batch)
                bar.update(step + 1)
            per_class, mean_f1 = _scores(
                net, sets["validation"], idx["validation"], classes
            )
            history.append(
                {
                    "epoch": epoch + 1,
                    "lr": opt.param_groups[0]["lr"],
                    "loss": total / n_draw,
                    "validation mean F1": mean_f1,
                    **{f"validation F1 {c}": v for c, v in per_class.items()},
                }
            )
            logger.info(
                f"training epoch {epoch + 1}: loss {total / n_draw:.4f}, validation "
                f"mean F1 {mean_f1:.3f} ("
                + ", ".join(f"{c} {v:.3f}" for c, v in per_class.items())
                + ")"
            )
            if mean_f1 > best[0]:
                best = (mean_f1, copy.deepcopy(net.state_dict()), epoch + 1)
            if epoch + 1 >= min_epochs and epoch + 1 - best[2] >= patience:
                logger.info(f"Early stopping: best training epoch {best[2]}")
                break
    except KeyboardInterrupt:
        logger.info("Interrupted: keeping the best model so far.")
    if best[1] is None:
        raise RuntimeError("Training was interrupted before one training epoch ended.")
    net.load_state_dict(best[1])
    net.eval()
    test_per_class, test_mean = _scores(net, sets["test"], idx["test"], classes)
    val_per_class, val_mean = _scores(
        net, sets["validation"], idx["validation"], classes
    )
    metrics = {"validation mean F1": round(val_mean, 4)}
    # Classes absent from a set (no F1) are left out of the card.
    metrics.update(
        {f"validation F1 {c}": round(v, 4) for c, v in val_per_class.items() if v == v}
    )
    if len(idx["test"]):
        metrics["test mean F1"] = round(test_mean, 4)
        metrics.update(
            {f"test F1 {c}": round(v, 4) for c, v in test_per_class.items() if v == v}
        )
    per_set = {
        key: f"{len(split[key])} {'mouse' if len(split[key]) == 1 else 'mice'}, "
        f"{len(idx[key])} windows"
        for key in ("train", "validation", "test")
    }
    card = replace(
        card,
        source=f"trained with mne-mousesleep {__version__}",
        citation=CITATION_GRIEGER2021,
        training=(
            ("fine-tuned from " + base.name + "; " if init is not None else "")
            + "; ".join(f"{k}: {v}" for k, v in per_set.items())
        ),
        metrics=metrics,
        details={
            "package_version": __version__,
            "seed": int(seed),
            "split": {k: list(v) for k, v in split.items()},
            "best_training_epoch": int(best[2]),
            "settings": {
                "balanced": bool(balanced),
                "augmentation": {k: float(v) for k, v in aug.items()},
                "batch_size": int(batch_size),
                "lr": float(peak),
                "weight_decay": float(weight_decay),
                "clip_norm": float(clip_norm),
                "freeze_features": bool(freeze_features),
            },
        },
    )
    model = MouseSleepModel(net, card)
    model.history = pd.DataFrame(history)
    return model
