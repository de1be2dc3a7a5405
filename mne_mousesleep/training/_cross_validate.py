"""k-fold cross-validation over animals (as SlumberNet), here or on Dask."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import dataclasses
import inspect

import numpy as np
from mne.utils import _validate_type, logger, verbose

from ..models import load_model
from ._data import _CLASSES, _load_for_training
from ._train import _train, _TrainSettings, train

_FIELDS = tuple(f.name for f in dataclasses.fields(_TrainSettings))


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
    import pandas as pd

    allowed = set(_FIELDS) - {"picks", "n_classes", "split", "seed"}
    allowed |= {"resample_rates", "epoch_length", "context"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"cross_validate got keyword arguments that train does not take (or "
            f"that the folds set): {unknown}."
        )
    _validate_type(n_folds, "int", "n_folds")
    rates = tuple(kwargs.pop("resample_rates", (128.0,)))
    epoch_length = kwargs.pop("epoch_length", None)
    context = kwargs.pop("context", None)
    base = _fold_settings(picks=picks, n_classes=n_classes, seed=seed, **kwargs)
    init = None if base.init is None else load_model(base.init)
    data = _load_for_training(
        recordings,
        picks,
        n_classes,
        mice,
        mapping,
        rates,
        init,
        epoch_length,
        base.classes,
        context,
    )
    ids = sorted({r.mouse for r in data})
    if n_folds < 2 or len(ids) < n_folds + 2:
        raise ValueError(
            f"n_folds must be at least 2 and leave 2 mice (train, validation) "
            f"outside each test fold; got n_folds={n_folds} for {len(ids)} mice."
        )
    order = list(np.random.default_rng(seed).permutation(ids))
    folds = np.array_split(np.array(order, dtype=object), n_folds)
    splits, settings = [], []
    for ii, test in enumerate(folds):
        rest = [m for m in order if m not in set(test)]
        n_val = max(1, round(0.15 * len(rest)))
        split = {"train": rest[n_val:], "validation": rest[:n_val], "test": list(test)}
        splits.append(split)
        settings.append(
            dataclasses.replace(base, split=split, name=f"{base.name}-fold{ii + 1}")
        )
    outcomes = _run_folds(data, settings, client)
    rows, models = [], []
    for ii, (split, (model, error)) in enumerate(zip(splits, outcomes)):
        rows.append(_fold_row(ii, split, model, error, data, n_classes))
        models.append(model)
    results = pd.DataFrame(rows).set_index("fold").astype({"test windows": float})
    numeric = results.select_dtypes("number")
    results.loc["mean"] = numeric.mean()
    results.loc["std"] = numeric.std()
    results.loc[["mean", "std"], "error"] = ""
    return results, models


def _fold_settings(**kwargs):
    """Return the settings of :func:`train` for ``kwargs`` (its defaults else)."""
    defaults = {
        name: param.default
        for name, param in inspect.signature(train).parameters.items()
    }
    return _TrainSettings.of({**defaults, **kwargs})


def _fold_row(ii, split, model, error, data, n_classes):
    """One fold's row of the results: its mice and its test metrics."""
    test = split["test"]
    metrics = model.card.metrics if model is not None else {}
    n_test = sum(len(r.windows()[0]) for r in data if r.mouse in set(test))
    return {
        "fold": ii + 1,
        "test mice": ", ".join(test),
        "validation mice": ", ".join(split["validation"]),
        "test windows": n_test,
        "mean F1": metrics.get("test mean F1", np.nan),
        **{f"F1 {c}": metrics.get(f"test F1 {c}", np.nan) for c in _CLASSES[n_classes]},
        "kappa": metrics.get("test kappa", np.nan),
        "accuracy": metrics.get("test accuracy", np.nan),
        "error": error,
    }


def _one_fold(data, settings):
    """Train one fold; return ``(model, "")`` or ``(None, why it failed)``."""
    name = settings.name
    logger.info(f"{name}: test mice {', '.join(settings.split['test'])}")
    try:
        return _train(data, settings), ""
    except Exception as err:  # noqa: BLE001 (a failed fold does not stop the others)
        logger.warning(f"{name} failed: {type(err).__name__}: {err}")
        return None, f"{type(err).__name__}: {err}"


def _run_folds(data, settings, client):
    """Train every fold, here one after the other or on a Dask cluster."""
    if client is None:
        return [_one_fold(data, fold) for fold in settings]
    from .._dask import _dask_client

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
