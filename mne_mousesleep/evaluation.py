"""Agreement between an automatic scoring and an expert's."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mne.utils import _check_option, logger
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from ._stages import _roles, _stage_of, _time_base
from .hypnogram import (
    ARTIFACT,
    NREM,
    PRE_REM,
    REM,
    UNSCORED,
    WAKE,
    to_epoch_length,
    to_stages,
)


@dataclass(frozen=True)
class Evaluation:
    """Epoch-by-epoch agreement of a predicted scoring with a reference.

    Returned by :func:`evaluate`; its fields are read-only.

    Parameters
    ----------
    classes : tuple of str
        The classes, in the order of rows and columns.
    confusion : pandas.DataFrame, shape (n_classes, n_classes)
        Counts; rows are the reference, columns the prediction.
    per_class : pandas.DataFrame, shape (n_classes, 4)
        ``precision``, ``recall``, ``f1`` and ``support`` (reference epochs).
    mean_f1 : float
        Unweighted mean of the per-class F1 scores, over the classes present
        in the reference or the prediction.
    accuracy : float
        Fraction of epochs scored alike.
    kappa : float
        Cohen's kappa (NaN when undefined, e.g. one class only in both).
    n_epochs : int
        Number of epochs compared.
    """

    classes: tuple
    confusion: pd.DataFrame
    per_class: pd.DataFrame
    mean_f1: float
    accuracy: float
    kappa: float
    n_epochs: int

    @property
    def confusion_recall(self):
        """Confusion matrix normalised by row (each row sums to 1: recall)."""
        return self.confusion.div(self.confusion.sum(axis=1), axis=0)

    @property
    def confusion_precision(self):
        """Confusion matrix normalised by column (each column sums to 1)."""
        return self.confusion.div(self.confusion.sum(axis=0), axis=1)

    def summary(self):
        """Return the overall scores as a Series.

        Returns
        -------
        summary : pandas.Series
            Mean F1, accuracy, kappa, the F1 of each class and the number of
            epochs.
        """
        out = {"mean F1": self.mean_f1, "accuracy": self.accuracy, "kappa": self.kappa}
        out.update({f"F1 {c}": f for c, f in self.per_class["f1"].items()})
        out["epochs"] = self.n_epochs
        return pd.Series(out)

    def __repr__(self):
        return (
            f"<Evaluation | {len(self.classes)} classes, {self.n_epochs} epochs, "
            f"mean F1 {self.mean_f1:.3f}, kappa {self.kappa:.3f}>"
        )


def _align(reference, predicted):
    """Return the common epochs of two stage sequences, by absolute time.

    Both are put on one clock when both have a measurement date (a scoring
    file read with its own start time and probabilities of the recording);
    otherwise onsets count from each one's first sample. A reference at
    another epoch length is converted to the prediction's epochs first.
    """
    pred = to_stages(predicted)
    # The prediction's own classes name the reference's (annotations, labels).
    ref = to_stages(reference, roles=_roles(pred))
    dates = [_time_base(s).meas_date for s in (ref, pred)]
    base = dates[1] if all(d is not None for d in dates) else None

    def offset(s):  # absolute time = index + offset
        time_base = _time_base(s)
        t = time_base.first_time
        if base is not None:
            t += (
                pd.Timestamp(time_base.meas_date) - pd.Timestamp(base)
            ).total_seconds()
        return t

    ref_length = _time_base(ref).epoch_length
    pred_length = _time_base(pred).epoch_length
    on_grid = np.isclose(
        ((offset(ref) + ref.index[0]) - (offset(pred) + pred.index[0]))
        / pred_length
        % 1.0,
        (0.0, 1.0),
        atol=1e-6,
    ).any()
    if ref_length != pred_length or not on_grid:
        origin = float(pred.index[0]) + offset(pred) - offset(ref)
        logger.info(
            f"Reference epochs of {ref_length:g} s converted to the prediction's "
            f"{pred_length:g}-s epochs (majority of time, see to_epoch_length)."
        )
        ref = to_epoch_length(ref, pred_length, origin=origin)

    def absolute(s):
        return np.round(s.index.to_numpy(float) + offset(s), 6)

    ref_t, pred_t = absolute(ref), absolute(pred)
    common, i_ref, i_pred = np.intersect1d(ref_t, pred_t, return_indices=True)
    if not len(common):
        raise ValueError(
            "The reference and the prediction share no epoch onset "
            f"(reference {ref_t[0]:g}–{ref_t[-1]:g} s, predicted "
            f"{pred_t[0]:g}–{pred_t[-1]:g} s)."
        )
    roles = {**_roles(ref), **_roles(pred)}
    return ref.to_numpy(object)[i_ref], pred.to_numpy(object)[i_pred], roles


def _kappa(ref, pred, labels):
    """Cohen's kappa, NaN when undefined (a single class in both scorings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return float(cohen_kappa_score(ref, pred, labels=labels))


def evaluate(reference, predicted, *, n_stages=5):
    """Compare a predicted scoring with a reference (expert) scoring.

    Parameters
    ----------
    reference : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        The reference scoring; anything :func:`mne_mousesleep.to_stages`
        accepts.
    predicted : pandas.Series | pandas.DataFrame | mne.Annotations | yasa.Hypnogram
        The scoring to evaluate. Epochs are matched by onset (absolute time
        from the first sample); only common epochs are compared.
    n_stages : 5 | 3
        5: Wake, NREM, pre-REM, REM, artifact, and a lab's own classes (of
        either scoring's ``attrs["roles"]``; annotations of the reference are
        read with the prediction's). 3: Wake, NREM, REM with the
        reduction of Grieger et al. (2021): the lab's classes count as the
        stages of their roles, pre-REM counts as NREM and epochs that are
        artifact (or of role other) in the reference or the prediction are
        dropped. Unscored epochs are always dropped.

    Returns
    -------
    evaluation : Evaluation
        Confusion matrix (counts, and normalised by recall or precision),
        per-class precision, recall and F1, mean F1, accuracy and Cohen's kappa.

    Raises
    ------
    ValueError
        If no epoch is in common.

    Notes
    -----
    A reference scored at another epoch length (AccuSleep's 2.5 or 4 s,
    FASTER2's 8 s, a Weber-lab ``remidx`` file's 2.5 s...) or off the
    prediction's epoch grid is first converted to the prediction's epochs
    with the majority rule of :func:`~mne_mousesleep.to_epoch_length`. When
    both scorings carry a measurement date (e.g. a FASTER2 or MiSleep file
    with its start time, and probabilities of a recording), epochs are matched
    by clock time.
    """
    _check_option("n_stages", n_stages, (3, 5))
    ref, pred, roles = _align(reference, predicted)
    keep = (ref != UNSCORED) & (pred != UNSCORED)
    if n_stages == 3:  # a lab's own classes by their role
        ref = np.array([_stage_of(v, roles) for v in ref], dtype=object)
        pred = np.array([_stage_of(v, roles) for v in pred], dtype=object)
        keep &= (ref != ARTIFACT) & (pred != ARTIFACT)
        ref = np.where(ref == PRE_REM, NREM, ref)
        pred = np.where(pred == PRE_REM, NREM, pred)
        classes = (WAKE, NREM, REM)
    else:
        classes = (WAKE, NREM, PRE_REM, REM, ARTIFACT) + tuple(roles)
    ref, pred = ref[keep].astype(str), pred[keep].astype(str)
    if not len(ref):
        raise ValueError("No scored epoch in common to compare.")
    labels = list(classes)
    counts = confusion_matrix(ref, pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        ref, pred, labels=labels, zero_division=0.0
    )
    # Classes absent from both scorings do not count in the mean F1.
    present = (support > 0) | (counts.sum(axis=0) > 0)
    per_class = pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support},
        index=pd.Index(labels, name="stage"),
    )
    confusion = pd.DataFrame(
        counts,
        index=pd.Index(labels, name="reference"),
        columns=pd.Index(labels, name="predicted"),
    )
    return Evaluation(
        classes=classes,
        confusion=confusion,
        per_class=per_class,
        mean_f1=float(np.mean(f1[present])),
        accuracy=float(accuracy_score(ref, pred)),
        kappa=_kappa(ref, pred, labels),
        n_epochs=int(len(ref)),
    )
