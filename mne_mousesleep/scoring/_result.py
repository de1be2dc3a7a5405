"""The scoring of one recording, typed: probabilities, time base, step records."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import dataclasses
import json
from datetime import datetime

import numpy as np
import pandas as pd
from mne.utils import _validate_type

from .._stages import UNSCORED, _time_base
from ..models import ModelCard, get_model_card
from ..models._registry import MODELS

#: Format tag of :meth:`ScoringResult.to_json`.
RESULT_FORMAT = "mne-mousesleep-result/1"
#: The ``attrs`` of :func:`~mne_mousesleep.predict_proba`'s DataFrame that hold
#: the records of the steps, by field of :class:`ScoringResult`.
_RECORDS = {
    "quality": "quality",
    "network": "network",
    "gain": "adapt",
    "emg": "emg_atonia",
    "hmm": "hmm",
    "trust": "trust",
    "exit_fractions": "exit_fractions",
}


@dataclasses.dataclass(frozen=True, eq=False)
class ScoringResult:
    """The scoring of one recording: probabilities, time base and the steps' records.

    What :func:`~mne_mousesleep.predict_proba` computes, typed. Its
    :meth:`to_frame` is the DataFrame that ``predict_proba`` returns (with
    the same ``attrs``), :meth:`from_frame` the way back; :meth:`to_json`
    and :meth:`from_json` are an exact round trip (the sidecar of a batch
    holds one, which :func:`~mne_mousesleep.report` and
    :func:`~mne_mousesleep.study_report` read back).

    Parameters
    ----------
    proba : array of float, shape (n_epochs, n_classes)
        The probability of each class per epoch after every step; NaN rows
        for unscored epochs.
    classes : tuple of str
        The classes of the columns, in the network's output order.
    epoch_length : float
        Epoch length in seconds.
    onset : float
        Onset of the first epoch, in seconds from the first sample (0).
    meas_date : datetime.datetime | None
        The recording's measurement date.
    first_time : float
        Time of the first sample from ``meas_date``, in seconds.
    sfreq : float
        Sampling rate of the recording, in Hz.
    ch_names : tuple of str
        The channels the network read, in its input order.
    model : str
        The name of the model.
    card : ModelCard | None
        Its model card (None when read back from a DataFrame of a model that
        is not in the registry).
    quality : dict
        Step 1, the input-quality record (see
        :func:`~mne_mousesleep.predict_proba`).
    network : dict
        Step 4, the network's record: ``"precision"`` (``"float32"`` or
        ``"bfloat16"``, as resolved from the option) and, in bfloat16,
        ``"rechecked"`` (the epochs whose call was close, computed again in
        float32).
    gain : dict
        Step 3, the gain step's record (``proba.attrs["adapt"]``).
    emg : dict
        Step 5, the EMG step's record (``proba.attrs["emg_atonia"]``).
    hmm : dict | None
        Step 6, the hidden Markov model's record: ``"n_changed"``,
        ``"transition"`` and the Viterbi ``"path"`` (None without
        smoothing).
    trust : dict
        Step 7, the trust verdict and its reasons, notes and indicators.
    exit_fractions : list of float | None
        Step 4, for a multi-exit network: the share of epochs per exit.
    options : dict | None
        The options of the scoring (:meth:`ScoringOptions.to_dict
        <mne_mousesleep.ScoringOptions.to_dict>`).
    roles : dict
        The role of each of the model's own classes (its card's ``roles``),
        ``{name: role}``; empty for the published classes.
    """

    proba: np.ndarray
    classes: tuple
    epoch_length: float
    onset: float = 0.0
    meas_date: datetime | None = None
    first_time: float = 0.0
    sfreq: float | None = None
    ch_names: tuple = ()
    model: str | None = None
    card: ModelCard | None = None
    quality: dict = dataclasses.field(default_factory=dict)
    network: dict = dataclasses.field(default_factory=dict)
    gain: dict = dataclasses.field(default_factory=dict)
    emg: dict = dataclasses.field(default_factory=dict)
    hmm: dict | None = None
    trust: dict = dataclasses.field(default_factory=dict)
    exit_fractions: list | None = None
    options: dict | None = None
    roles: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        proba = np.array(self.proba, dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(self.classes):
            raise ValueError(
                f"proba must have shape (n_epochs, {len(self.classes)}) for the "
                f"classes {list(self.classes)}, got {proba.shape}."
            )
        proba.flags.writeable = False  # a result does not change
        object.__setattr__(self, "proba", proba)
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "ch_names", tuple(self.ch_names))
        object.__setattr__(self, "epoch_length", float(self.epoch_length))

    # --- what a result holds -----------------------------------------------------

    @property
    def n_epochs(self):
        """Number of epochs (int)."""
        return len(self.proba)

    @property
    def onsets(self):
        """Epoch onsets in s from the first sample, ``(n_epochs,)``."""
        return self.onset + np.arange(self.n_epochs) * self.epoch_length

    @property
    def scored(self):
        """Mask of the scored epochs, ``(n_epochs,)``."""
        return ~np.isnan(self.proba).any(axis=1)

    def stages(self):
        """Return the stage of each epoch (the Viterbi path after smoothing).

        Returns
        -------
        stages : pandas.Series, shape (n_epochs,)
            As :func:`~mne_mousesleep.proba_to_stages` of :meth:`to_frame`.
        """
        from ..hypnogram import proba_to_stages

        return proba_to_stages(self.to_frame())

    def __repr__(self):
        verdict = (self.trust or {}).get("verdict", "no verdict")
        return (
            f"<ScoringResult | {self.model}, {self.n_epochs} epochs of "
            f"{self.epoch_length:g} s, {int(self.scored.sum())} scored, trust "
            f"{verdict}>"
        )

    def __eq__(self, other):
        if not isinstance(other, ScoringResult):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None

    # --- as the DataFrame of predict_proba ---------------------------------------

    def to_frame(self):
        """Return the probabilities as :func:`~mne_mousesleep.predict_proba` does.

        Returns
        -------
        proba : pandas.DataFrame, shape (n_epochs, n_classes)
            Indexed by ``"onset"`` (s from the first sample), one column per
            class; ``attrs`` hold the time base and the records (see
            :func:`~mne_mousesleep.predict_proba`).
        """
        df = pd.DataFrame(
            np.array(self.proba),
            columns=list(self.classes),
            index=pd.Index(self.onsets, name="onset"),
        )
        attrs = dict(
            model=self.model,
            meas_date=self.meas_date,
            first_time=self.first_time,
            epoch_length=self.epoch_length,
            ch_names=list(self.ch_names),
            sfreq=self.sfreq,
            quality=self.quality,
            network=self.network,
            adapt=self.gain,
            emg_atonia=self.emg,
            trust=self.trust,
        )
        if self.exit_fractions is not None:
            attrs["exit_fractions"] = list(self.exit_fractions)
        if self.roles:
            attrs["roles"] = dict(self.roles)
        if self.hmm is not None:
            attrs["hmm"] = dict(
                decoder=self.hmm.get("decoder", "hmm"),
                n_changed=self.hmm["n_changed"],
                transition=self.hmm["transition"],
                onsets=[float(o) for o in self.onsets],
                path=list(self.hmm["path"]),
            )
            if "rem_refused" in self.hmm:
                attrs["hmm"]["rem_refused"] = self.hmm["rem_refused"]
        df.attrs = attrs
        return df

    @classmethod
    def from_frame(cls, proba):
        """Return the result behind a DataFrame of :func:`.predict_proba`.

        Parameters
        ----------
        proba : pandas.DataFrame, shape (n_epochs, n_classes)
            Probabilities with the ``attrs`` that ``predict_proba`` sets (a
            DataFrame without them gives empty records and the default time
            base).

        Returns
        -------
        result : ScoringResult
            The typed result; ``card`` is the registry's card of the model, or
            None for a model outside the registry.

        Raises
        ------
        TypeError
            If ``proba`` is not a DataFrame.
        ValueError
            If the HMM path does not fit the epochs.
        """
        _validate_type(proba, pd.DataFrame, "proba")
        attrs = proba.attrs
        base = _time_base(proba)
        onsets = proba.index.to_numpy(float)
        hmm = attrs.get("hmm")
        if hmm is not None:
            path = dict(zip(hmm.get("onsets", onsets), hmm.get("path", [])))
            extra = {k: hmm[k] for k in ("rem_refused",) if k in hmm}
            hmm = dict(
                decoder=hmm.get("decoder", "hmm"),
                n_changed=hmm.get("n_changed", 0),
                transition=hmm.get("transition"),
                path=[path.get(float(o)) for o in onsets] if path else [],
                **extra,
            )
        model = attrs.get("model")
        return cls(
            proba=proba.to_numpy(float),
            classes=tuple(proba.columns),
            epoch_length=base.epoch_length,
            onset=float(onsets[0]) if len(onsets) else 0.0,
            meas_date=base.meas_date,
            first_time=base.first_time,
            sfreq=attrs.get("sfreq"),
            ch_names=tuple(attrs.get("ch_names") or ()),
            model=model,
            card=get_model_card(model) if model in MODELS else None,
            quality=attrs.get("quality") or {},
            network=attrs.get("network") or {},
            gain=attrs.get("adapt") or {},
            emg=attrs.get("emg_atonia") or {},
            hmm=hmm,
            trust=attrs.get("trust") or {},
            exit_fractions=attrs.get("exit_fractions"),
            roles=dict(attrs.get("roles") or {}),
        )

    # --- as JSON -------------------------------------------------------------------

    def to_dict(self):
        """Return the result as plain values (JSON-ready).

        Returns
        -------
        result : dict
            Every field; ``proba`` as lists of numbers (None for NaN),
            ``meas_date`` in ISO format, ``card`` as
            :meth:`ModelCard.to_dict <mne_mousesleep.ModelCard.to_dict>`.
        """
        out = {"format": RESULT_FORMAT}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "proba":
                value = [
                    [None if np.isnan(v) else float(v) for v in row] for row in value
                ]
            elif field.name == "meas_date":
                value = None if value is None else value.isoformat()
            elif field.name == "card":
                value = None if value is None else value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        return out

    @classmethod
    def from_dict(cls, values):
        """Return the result of :meth:`to_dict` (exactly).

        Parameters
        ----------
        values : dict
            As :meth:`to_dict` returns it.

        Returns
        -------
        result : ScoringResult
            The result.

        Raises
        ------
        ValueError
            If ``values`` is not a scoring result of this format.
        """
        if not isinstance(values, dict) or values.get("format") != RESULT_FORMAT:
            found = values.get("format") if isinstance(values, dict) else values
            raise ValueError(
                f"Not a scoring result of format {RESULT_FORMAT!r} (got format "
                f"{found!r}); score the recording again with this version."
            )
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted({"proba", "classes", "epoch_length"} - set(values))
        if missing:
            raise ValueError(f"The scoring result lacks {', '.join(missing)}.")
        fields = {k: v for k, v in values.items() if k in names}
        fields["proba"] = np.array(
            [[np.nan if v is None else v for v in row] for row in values["proba"]],
            dtype=float,
        ).reshape(-1, len(values["classes"]))
        if fields.get("meas_date") is not None:
            fields["meas_date"] = datetime.fromisoformat(fields["meas_date"])
        if fields.get("card") is not None:
            card = dict(fields["card"])
            for key in ("classes", "channels", "default_ch_names"):
                card[key] = tuple(card.get(key, ()))
            fields["card"] = ModelCard(**card)
        return cls(**fields)

    def to_json(self):
        """Return the result as JSON text (an exact round trip).

        Returns
        -------
        text : str
            The JSON of :meth:`to_dict`.
        """
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text):
        """Return the result of :meth:`to_json`.

        Parameters
        ----------
        text : str
            JSON text.

        Returns
        -------
        result : ScoringResult
            The result, equal to the one that was written.

        Raises
        ------
        ValueError
            If the text is not a scoring result of this format.
        """
        return cls.from_dict(json.loads(text))


def _most_probable(values, classes):
    """Return the most probable class of each epoch (``"unscored"``: NaN)."""
    labels = np.full(len(values), UNSCORED, dtype=object)
    scored = ~np.isnan(values).any(axis=1)
    labels[scored] = np.asarray(classes, dtype=object)[values[scored].argmax(axis=1)]
    return labels
