"""Every choice of a scoring in one frozen object."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import dataclasses
import functools
import inspect
import json
import os
from typing import TYPE_CHECKING

import pandas as pd
from mne.utils import _check_option, _validate_type

from .._device import _check_device_name, _check_scoring_precision
from .gain import ADAPT_OPTIONS
from .hmm import _check_smooth_value

if TYPE_CHECKING:  # the types of the fields, for the reader
    import pandas

    from ..models import MouseSleepModel


@dataclasses.dataclass(frozen=True, eq=False)
class ScoringOptions:
    """The options of a scoring, in one object.

    :func:`~mne_mousesleep.score`, :func:`~mne_mousesleep.predict_proba`,
    :func:`~mne_mousesleep.score_files` and :func:`~mne_mousesleep.report`
    take it as ``options=`` (their keyword arguments of the same names,
    when given, override its fields); the command line builds one from its
    flags. Options are checked when the object is made. Change one with
    :meth:`replace`; :meth:`published` is the published method of Grieger et
    al. (2021).

    Parameters
    ----------
    model : str | path-like | MouseSleepModel | None
        The scoring network (see :func:`~mne_mousesleep.load_model`); None is
        ``"grieger2021-5stage"``.
    picks : str | list of str | list of int | None
        The channel(s) given to the network (see
        :func:`~mne_mousesleep.predict_proba`).
    adapt : "gain" | None
        The gain step (:mod:`mne_mousesleep.scoring.gain`); None: the input
        scale as recorded.
    emg : str | None
        The EMG channel of the EMG rules, ``"auto"`` (default) to find it, or
        None.
    smooth : "hmm" | "hsmm" | pandas.DataFrame | dict | None
        The hidden Markov model with the mouse prior, the hidden semi-Markov
        model with the five labs' architecture prior (or with one lab's, a
        dict of :func:`~mne_mousesleep.architecture_prior`), a lab's own
        transition matrix, or None.
    merge_bouts : bool
        One annotation per bout instead of one per epoch.
    reject_by_annotation : bool
        Leave epochs under ``BAD_*`` annotations unscored.
    check_units : bool
        Refuse amplitudes that look like a unit error.
    allow_truncated : bool
        Score EDF/BDF files shorter than their header says (files read by the
        batch and the command line).
    batch_size : int
        Epochs per chunk of computation.
    device : str
        Where the network runs: ``"auto"``, ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``.
    precision : "auto" | "float32" | "bfloat16"
        The network's arithmetic (see :func:`~mne_mousesleep.predict_proba`):
        ``"auto"`` is bfloat16 on CPUs that compute it natively, float32
        elsewhere; :meth:`published` is float32.

    Notes
    -----
    ``batch_size`` and ``device`` say how the network is computed, not what:
    the probabilities agree within float32 rounding. So they are not part of
    the key that tells a batch whether its outputs are up to date
    (:attr:`COMPUTE_ONLY`); every other option is.

    Examples
    --------
    >>> opts = ScoringOptions(emg="EMG_R", smooth=None)  # doctest: +SKIP
    >>> score(raw, options=opts)  # doctest: +SKIP
    >>> score(raw, options=ScoringOptions.published())  # doctest: +SKIP
    """

    model: "str | os.PathLike | MouseSleepModel | None" = None
    picks: "str | list | None" = None
    adapt: str | None = "gain"
    emg: str | None = "auto"
    smooth: "str | pandas.DataFrame | dict | None" = "hsmm"
    merge_bouts: bool = False
    reject_by_annotation: bool = True
    check_units: bool = True
    allow_truncated: bool = False
    batch_size: int = 32
    device: str = "auto"
    precision: str = "auto"

    #: The options that change how the network is computed, not what.
    COMPUTE_ONLY = ("batch_size", "device")

    def __post_init__(self):
        _check_model(self.model)
        if isinstance(self.picks, list):  # a copy: the caller's list may change
            object.__setattr__(self, "picks", list(self.picks))
        _check_option("adapt", self.adapt, ADAPT_OPTIONS)
        _validate_type(self.emg, (str, None), "emg", "'auto', a channel name or None")
        _check_smooth_value(self.smooth)
        if isinstance(self.smooth, pd.DataFrame):
            object.__setattr__(self, "smooth", self.smooth.copy())
        for name in (
            "merge_bouts",
            "reject_by_annotation",
            "check_units",
            "allow_truncated",
        ):
            _validate_type(getattr(self, name), bool, name)
        _validate_type(self.batch_size, "int", "batch_size")
        if self.batch_size < 1:
            raise ValueError(
                f"batch_size must be a positive integer, got {self.batch_size}."
            )
        object.__setattr__(self, "device", _check_device_name(self.device))
        _check_scoring_precision(self.precision)

    @classmethod
    def published(cls, **changes):
        """Return the options of the published method (Grieger et al. 2021).

        No gain step, no EMG rules, no smoothing, float32: the network's own
        probabilities, bit-identical to the published code's reference.

        Parameters
        ----------
        **changes
            Other options (``model``, ``picks``, ...).

        Returns
        -------
        options : ScoringOptions
            ``adapt=None, emg=None, smooth=None, precision="float32"`` and
            ``changes``.
        """
        published = dict(adapt=None, emg=None, smooth=None, precision="float32")
        return cls(**{**published, **changes})

    def replace(self, **changes):
        """Return a copy with some options changed (and checked).

        Parameters
        ----------
        **changes
            Options by name.

        Returns
        -------
        options : ScoringOptions
            The new options.
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """Return the options as plain values (JSON-ready).

        A model object is given by its name, a path as a string, a
        transition matrix as ``{"transition_matrix": {from: {to: p}}}``.

        Returns
        -------
        options : dict
            One entry per option.
        """
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "model":
                value = _model_label(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, pd.DataFrame):  # a lab's transition matrix
                value = {"transition_matrix": value.round(8).to_dict()}
            out[field.name] = value
        return out

    def _key(self):
        values = self.to_dict()
        if self.model is not None and not isinstance(self.model, str | os.PathLike):
            values["model"] = f"{values['model']} (object {id(self.model)})"
        return json.dumps(values, sort_keys=True, default=str)

    def __eq__(self, other):
        if not isinstance(other, ScoringOptions):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        default = ScoringOptions()
        changed = [
            f"{f.name}={_model_label(v) if f.name == 'model' else v!r}"
            for f in dataclasses.fields(self)
            if not _same(v := getattr(self, f.name), getattr(default, f.name))
        ]
        return f"ScoringOptions({', '.join(changed)})"


def _same(a, b):
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return a is b
    return a == b


def _model_label(model):
    """Return a model as plain text: its name, or the path of its file."""
    if model is None or isinstance(model, str):
        return model
    if isinstance(model, os.PathLike):
        return os.fspath(model)
    return model.name


def _check_model(model):
    if model is None or isinstance(model, str | os.PathLike):
        return
    from ..models import MouseSleepModel

    _validate_type(
        model,
        (MouseSleepModel,),
        "model",
        "a registry name, the path of a checkpoint, a MouseSleepModel or None",
    )


_FIELDS = tuple(f.name for f in dataclasses.fields(ScoringOptions))


def _takes_options(func):
    """Let ``func`` take ``options=`` and keyword arguments of the same names.

    ``func`` has keyword parameters named like fields of
    :class:`ScoringOptions` and ``options=None``. The wrapper builds one
    :class:`ScoringOptions` from ``options`` (or the defaults) and the
    arguments the caller gave (which win), and calls ``func`` with
    ``options`` only: the body reads its options from one object. The
    signature and the documentation stay those of ``func``. Put it above
    MNE's ``@verbose``, which passes every argument on.
    """
    signature = inspect.signature(func)
    own = [name for name in signature.parameters if name in _FIELDS]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        given = {k: bound.arguments.pop(k) for k in own if k in bound.arguments}
        options = bound.arguments.pop("options", None)
        if options is None:
            options = ScoringOptions(**given)
        else:
            _validate_type(options, ScoringOptions, "options")
            options = options.replace(**given) if given else options
        return func(*bound.args, **bound.kwargs, options=options)

    return wrapper
