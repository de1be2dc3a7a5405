"""Teach a scorer from an expert's review: anchored fine-tuning on corrected epochs."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import copy
import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from mne.io import BaseRaw
from mne.utils import _validate_type, logger, verbose

from .._stages import CONFIRMED, CORRECTED, NREM, PRE_REM, PROVENANCE
from ..io._review import _check_review, _review_record
from ..models import MouseSleepModel, load_model
from ..scoring import ScoringOptions, predict_proba
from ..scoring.gain import _apply_gain
from ..scoring.preprocessing import _read_checked
from ._augment import _plain_windows
from ._data import _Geometry, _Recording
from ._fit import _scores

#: Provenances that make an epoch an expert label.
_EXPERT = (CONFIRMED, CORRECTED)
#: Most epochs not labelled by the expert kept for the output anchor.
ANCHOR_WINDOWS = 4096


@dataclasses.dataclass(frozen=True)
class FineTuning:
    """What :func:`~mne_mousesleep.fine_tune` did: the model and the evidence.

    Parameters
    ----------
    model : MouseSleepModel
        The fine-tuned model, or the starting one when fine-tuning did not
        beat it (``kept_start``).
    kept_start : bool
        The starting weights scored the held-out expert epochs at least as
        well as every training epoch.
    f1_start : float
        Mean F1 of the held-out expert epochs with the starting weights.
    f1_tuned : float
        The same with the best training epoch's weights.
    n_train : int
        Expert epochs trained on.
    n_holdout : int
        Expert epochs held out.
    n_changed : list of int
        Per recording, the epochs not labelled by the expert whose call
        changes with the new model (rescored with the default steps).
    history : pandas.DataFrame
        Per training epoch: the training loss (``loss``), the weight penalty
        (``anchor``), the output anchor's divergence (``drift``, nats) and
        the held-out mean F1 (``f1``).
    proba : list of DataFrame | None
        Per recording, the new model's probabilities (default steps, as
        :func:`~mne_mousesleep.predict_proba` gives them); None when the start
        was kept.
    """

    model: MouseSleepModel
    kept_start: bool
    f1_start: float
    f1_tuned: float
    n_train: int
    n_holdout: int
    n_changed: list
    history: pd.DataFrame
    proba: list | None = None


@verbose
def fine_tune(
    recordings,
    reviewed,
    *,
    model=None,
    picks=None,
    anchor=1.0,
    anchor_outputs=1.0,
    lr=1e-4,
    max_epochs=30,
    patience=4,
    holdout=0.25,
    batch_size=64,
    seed=0,
    verbose=None,
):
    """Fine-tune a scorer on the epochs an expert reviewed, anchored to its start.

    Starts from the scorer's weights and trains on the expert's labels only
    (epochs of provenance ``expert-confirmed`` or ``expert-corrected``): a
    share of them (``holdout``, stratified by stage) is held out to stop
    early and to compare with the start, and two penalties keep the scorer
    near its start: one pulls the weights toward the starting ones (L2-SP,
    Li et al. 2018), the other the probabilities of the epochs the expert
    did not label toward the starting network's (their Kullback-Leibler
    divergence, as in "Learning without Forgetting", Li & Hoiem 2017; these
    epochs give no label, only the start's own output). The expert reviews
    the least confident epochs first (the review queue), a sample of the
    recording that is not typical of it; the second penalty stops the
    corrections of those epochs from moving the calls of the typical ones.
    If no training epoch beats the start on the held-out epochs, the start
    is kept. Then each
    recording is rescored with both models, and the calls that change are
    counted, for the reviewer to keep or discard the new model.

    Parameters
    ----------
    recordings : list of Raw | list of path-like
        The reviewed recordings (volts).
    reviewed : list of DataFrame | list of path-like
        For each recording, its reviewed scoring: the table of
        :meth:`ReviewSession.to_frame <mne_mousesleep.gui.ReviewSession.to_frame>`
        or the ``<name>_reviewed.csv`` the review window saves (columns
        ``stage`` and ``provenance``, one row per epoch).
    model : str | path-like | MouseSleepModel | None
        The scorer to start from (default ``"grieger2021-5stage"``); a
        3conv_pool or 8conv_2fc network.
    picks : str | list of str | None
        Input channel(s), as for :func:`~mne_mousesleep.predict_proba`.
    anchor : float
        Weight of the penalty ``sum((w - w_start) ** 2)`` added to the loss.
    anchor_outputs : float
        Weight of the mean Kullback-Leibler divergence (nats) of the tuned
        network's probabilities from the starting network's, on a batch of
        epochs the expert did not label (at most 4,096 of them, drawn once),
        added to the loss; 0 trains on the expert epochs alone.
    lr : float
        Learning rate of Adam.
    max_epochs : int
        Most training epochs (passes over the expert epochs).
    patience : int
        Training epochs without a better held-out mean F1 before stopping.
    holdout : float
        Share of the expert epochs held out (at least one per stage that has
        two or more).
    batch_size : int
        Windows per step.
    seed : int
        Seed of the split, the order and dropout.
    %(verbose)s

    Returns
    -------
    result : FineTuning
        The model and the evidence (held-out F1 before and after, calls
        changed per recording, history).

    Raises
    ------
    ValueError
        If the lists differ in length, a reviewed table does not fit its
        recording, or fewer than 4 expert epochs with context are given.
    """
    _validate_type(recordings, (list, tuple), "recordings")
    _validate_type(reviewed, (list, tuple), "reviewed")
    if len(recordings) != len(reviewed):
        raise ValueError(
            f"reviewed must hold one table per recording ({len(recordings)}), got "
            f"{len(reviewed)}."
        )
    start = load_model(model)
    card = start.card
    raws = [_raw(rec, ii) for ii, rec in enumerate(recordings)]
    tables = [_table(rev, ii) for ii, rev in enumerate(reviewed)]
    recs = [
        _expert_recording(raw, table, card, picks, ii)
        for ii, (raw, table) in enumerate(zip(raws, tables))
    ]
    rows = np.array(
        [(r, k, y) for r, rec in enumerate(recs) for k, y in zip(*rec.windows())],
        dtype=int,
    ).reshape(-1, 3)
    if len(rows) < 4:
        raise ValueError(
            f"Only {len(rows)} expert epoch(s) with 30-s context: confirm or correct "
            "more epochs in the review window first."
        )
    rng = np.random.default_rng(seed)
    train_rows, hold_rows = _split_rows(rows, holdout, rng)
    net = copy.deepcopy(start._network).float()
    f1_start = _scores(net, recs, hold_rows, card.classes)[1]
    free = _anchor_targets(net, recs, rng) if anchor_outputs > 0 else None
    best, history = _train(
        net, recs, train_rows, hold_rows, card.classes, (anchor, anchor_outputs, free),
        lr, max_epochs, patience, batch_size, seed,
    )  # fmt: skip
    f1_tuned = best[0]
    kept = not f1_tuned > f1_start
    if kept:
        tuned = start
        logger.info(
            f"Fine-tuning kept the start: held-out mean F1 {f1_start:.3f}, best "
            f"training epoch {f1_tuned:.3f}"
        )
    else:
        net.load_state_dict(best[1])
        tuned_card = dataclasses.replace(
            card,
            name=f"{card.name}-reviewed",
            details={
                **card.details,
                "fine_tuned_from": card.name,
                "expert_epochs": int(len(rows)),
                "holdout_mean_f1": {"start": f1_start, "tuned": f1_tuned},
            },
        )
        tuned = MouseSleepModel(net.eval(), tuned_card)
        logger.info(
            f"Fine-tuned on {len(train_rows)} expert epochs: held-out mean F1 "
            f"{f1_start:.3f} -> {f1_tuned:.3f}"
        )
    rescored = [
        _changed_calls(raw, table, start, tuned, picks)
        for raw, table in zip(raws, tables)
    ]
    return FineTuning(
        model=tuned,
        kept_start=kept,
        f1_start=float(f1_start),
        f1_tuned=float(f1_tuned),
        n_train=len(train_rows),
        n_holdout=len(hold_rows),
        n_changed=[n for n, _ in rescored],
        history=history,
        proba=None if kept else [p for _, p in rescored],
    )


def _raw(rec, ii):
    if isinstance(rec, str | os.PathLike):
        from ..io import read_recording

        rec = read_recording(rec)[0]
    _validate_type(rec, BaseRaw, f"recordings[{ii}]")
    return rec


def _table(rev, ii):
    """Return the reviewed table ``reviewed[ii]`` (a path or a DataFrame), checked.

    A file is read by the one reader of reviews
    (:func:`~mne_mousesleep.io._review._review_record`), which names the line
    of a provenance that is not the package's (the stages are the model's
    classes, checked with it); a table's ``provenance`` values are checked
    the same way.
    """
    if isinstance(rev, str | os.PathLike):
        path = Path(rev)
        try:
            rev = _review_record(path, accepted=None)[0]
        except ValueError as err:
            raise ValueError(f"reviewed[{ii}]: {err}") from None
        rev.attrs["path"] = str(path)
    _validate_type(rev, pd.DataFrame, f"reviewed[{ii}]")
    missing = {"stage", "provenance"} - set(rev.columns)
    if missing:
        raise ValueError(
            f"reviewed[{ii}] lacks the column(s) {sorted(missing)}: give the table "
            "that the review window saves (<name>_reviewed.csv)."
        )
    unknown = sorted(set(rev["provenance"].astype(str)) - set(PROVENANCE))
    if unknown:
        raise ValueError(
            f"reviewed[{ii}]: its column 'provenance' holds {unknown}; it accepts "
            f"{list(PROVENANCE)} (the expert's epochs are {list(_EXPERT)})."
        )
    return rev.reset_index(drop=True)


def _expert_recording(raw, table, card, picks, ii):
    """Return the recording at the card's rate (gain applied), expert labels only."""
    signal = _read_checked(raw, picks, card, np.float32)
    geometry = _Geometry.of(card)
    n_epochs = signal.data.shape[1] // geometry.epoch_samples
    if abs(len(table) - n_epochs) > 1:
        raise ValueError(
            f"reviewed[{ii}] holds {len(table)} epochs, recordings[{ii}] {n_epochs}: "
            "it is not the review of this recording."
        )
    try:
        _check_review(
            table,
            table.attrs.get("path", f"reviewed[{ii}]"),
            recording=signal.quality["recording"],
            name=f"recordings[{ii}]",
        )
    except ValueError as err:
        raise ValueError(f"reviewed[{ii}]: {err}") from None
    x = signal.data[:, : n_epochs * geometry.epoch_samples]
    if card.details.get("gain_model"):
        x, _ = _apply_gain(x, card, signal.keep(card))
    stages = table["stage"].to_numpy(object)[:n_epochs]
    if len(card.classes) == 3:  # pre-REM is NREM, as the 3-class networks learn
        stages = np.where(stages == PRE_REM, NREM, stages)
    expert = table["provenance"].isin(_EXPERT).to_numpy()[:n_epochs]
    index = {c: jj for jj, c in enumerate(card.classes)}
    labels = np.array(
        [index.get(s, -1) if e else -1 for s, e in zip(stages, expert)], dtype=int
    )
    labels = np.r_[labels, np.full(n_epochs - len(labels), -1)]
    labels[list(signal.unscorable)] = -1
    x = np.ascontiguousarray(x, np.float32)
    return _Recording(x, labels, f"mouse{ii}", f"recordings[{ii}]", geometry)


def _split_rows(rows, holdout, rng):
    """Hold out ``holdout`` of each stage's expert epochs (one if it has two)."""
    hold = []
    for label in np.unique(rows[:, 2]):
        which = rng.permutation(np.flatnonzero(rows[:, 2] == label))
        n = int(round(holdout * len(which)))
        n = min(max(n, 1 if len(which) >= 2 else 0), len(which) - 1)
        hold.extend(which[:n])
    mask = np.zeros(len(rows), bool)
    mask[hold] = True
    return rows[~mask], rows[mask]


def _anchor_targets(net, recs, rng):
    """Return the epochs without an expert label and the start's log-probabilities.

    Returns ``(rows, log_proba)``: rows (recording, epoch, -1) of at most
    :data:`ANCHOR_WINDOWS` epochs with full context and no expert label, and
    the starting network's log-probabilities of them (tensor), or None when
    every epoch is labelled.
    """
    rows = []
    for r, rec in enumerate(recs):
        rows.extend((r, kk, -1) for kk in rec.windows(unlabelled=True)[0])
    if not rows:
        return None
    rows = np.array(rows, dtype=int)
    if len(rows) > ANCHOR_WINDOWS:
        rows = rows[np.sort(rng.choice(len(rows), ANCHOR_WINDOWS, replace=False))]
    net.eval()
    with torch.inference_mode():
        out = [
            net(torch.from_numpy(_plain_windows(recs, rows[b0 : b0 + 512])))
            for b0 in range(0, len(rows), 512)
        ]
    return rows, torch.cat(out)


def _train(net, recs, train_rows, hold_rows, classes, anchors, lr, max_epochs,
           patience, batch_size, seed):  # fmt: skip
    """Adam with the two anchors; the best held-out state and the history.

    ``anchors`` is (weight of L2-SP, weight of the output anchor, its targets
    from :func:`_anchor_targets` or None).
    """
    anchor, anchor_outputs, free = anchors
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + 1)
    start = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best = (-np.inf, copy.deepcopy(net.state_dict()))
    rows, waited = [], 0
    for epoch in range(1, max_epochs + 1):
        net.train()
        losses, penalties, drifts = [], [], []
        order = rng.permutation(len(train_rows))
        for b0 in range(0, len(order), batch_size):
            batch = train_rows[order[b0 : b0 + batch_size]]
            x = torch.from_numpy(_plain_windows(recs, batch))
            y = torch.from_numpy(batch[:, 2])
            loss = torch.nn.functional.nll_loss(net(x), y)
            penalty = sum(
                ((p - start[n]) ** 2).sum() for n, p in net.named_parameters()
            )
            total = loss + anchor * penalty
            if free is not None:
                pick = rng.choice(len(free[0]), min(batch_size, len(free[0])))
                x_free = torch.from_numpy(_plain_windows(recs, free[0][pick]))
                drift = torch.nn.functional.kl_div(
                    net(x_free), free[1][pick], reduction="batchmean", log_target=True
                )
                total = total + anchor_outputs * drift
                drifts.append(drift.detach().item())
            opt.zero_grad()
            total.backward()
            opt.step()
            losses.append(loss.detach().item())
            penalties.append(penalty.detach().item())
        f1 = _scores(net, recs, hold_rows, classes)[1]
        rows.append(
            dict(
                epoch=epoch,
                loss=np.mean(losses),
                anchor=np.mean(penalties),
                drift=np.mean(drifts) if drifts else 0.0,
                f1=f1,
            )
        )
        if f1 > best[0]:
            best, waited = (f1, copy.deepcopy(net.state_dict())), 0
        else:
            waited += 1
            if waited >= patience:
                break
    net.eval()
    return best, pd.DataFrame(rows).set_index("epoch")


def _changed_calls(raw, table, start, tuned, picks):
    """Count the calls of the epochs the expert did not label that change.

    Returns the count and the new model's probabilities (None: no new model).
    """
    if tuned is start:
        return 0, None
    opts = ScoringOptions(picks=picks, precision="float32")
    before = predict_proba(raw, options=opts.replace(model=start), verbose="error")
    after = predict_proba(raw, options=opts.replace(model=tuned), verbose="error")
    a, b = before.to_numpy(), after.to_numpy()
    scored = ~np.isnan(a).any(axis=1) & ~np.isnan(b).any(axis=1)
    expert = np.zeros(len(a), bool)
    prov = table["provenance"].isin(_EXPERT).to_numpy()[: len(a)]
    expert[: len(prov)] = prov
    differ = scored & ~expert
    differ[differ] = a[differ].argmax(axis=1) != b[differ].argmax(axis=1)
    return int(differ.sum()), after
