"""Loading scoring networks: registry names, local checkpoints, model objects."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import copy
import dataclasses
import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from mne.utils import logger

from .._fetch import _file_sha256 as _sha256
from .._fetch import fetch_file
from ._architectures import ARCHITECTURES, build_network
from ._card import CONTEXTS, ModelCard
from ._registry import (
    _CLASSES_3,
    _CLASSES_5,
    DEFAULT_MODEL,
    MODELS,
    get_model_card,
    list_models,
)
from .grieger2021 import MAX_CHUNK_EPOCHS, _ThreeConvPool, recording_log_proba

# The published checkpoints hold a numpy float64 (the validation score); these
# are the only non-torch globals that weights_only loading may build.
_SAFE_GLOBALS = [
    (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),
    np.dtype,
    np.dtypes.Float64DType,
]


class MouseSleepModel:
    """A sleep scoring network with its model card.

    Do not instantiate directly; use :func:`load_model` (or pass a name or a
    path as ``model=`` to :func:`score`).

    Parameters
    ----------
    network : torch.nn.Module
        The network, mapping ``(n_windows, n_channels, n_times)`` in the card's
        input unit to log-probabilities ``(n_windows, n_classes)``.
    card : ModelCard
        What the network expects and what is known about it.

    Attributes
    ----------
    card : ModelCard
        The model card.
    """

    def __init__(self, network, card):
        self._network = network.eval()
        self.card = card

    @property
    def name(self):
        """Name of the model (str)."""
        return self.card.name

    @property
    def classes(self):
        """Stage names in output order (tuple of str)."""
        return self.card.classes

    @property
    def n_channels(self):
        """Number of input channels (int)."""
        return self.card.n_channels

    @property
    def n_parameters(self):
        """Number of trainable parameters (int)."""
        return sum(p.numel() for p in self._network.parameters())

    @property
    def exit_threshold(self):
        """Exit threshold of a multi-exit network (float | None).

        Only for the ``"multiexit"`` architecture (None for the others): a
        window leaves at the first exit whose normalised entropy (entropy of
        its probabilities divided by log of the number of classes) is below
        the threshold, and the last exit takes the rest. 0 runs the whole
        network for every window; higher values trade accuracy for speed
        (see the accuracy-speed curve in the documentation). Saved with the
        model. Setting it raises ``ValueError`` for other architectures or
        outside [0, 1].
        """
        thr = getattr(self._network, "exit_threshold", None)
        return None if thr is None else float(thr)

    @exit_threshold.setter
    def exit_threshold(self, value):
        if getattr(self._network, "exit_threshold", None) is None:
            raise ValueError(
                f"exit_threshold applies to multi-exit networks; {self.name} is a "
                f"{self.card.architecture!r} network."
            )
        if not 0 <= float(value) <= 1:
            raise ValueError(f"exit_threshold must be in [0, 1], got {value}.")
        self._network.exit_threshold.fill_(float(value))

    def __repr__(self):
        return (
            f"<MouseSleepModel | {self.name}, {self.card.n_classes} classes, "
            f"{self.card.sfreq:g} Hz>"
        )

    def save(self, fname, *, overwrite=False):
        """Save the network and its model card to one file.

        Parameters
        ----------
        fname : path-like
            The file to write (``.pt`` by convention).
        overwrite : bool
            Replace an existing file.

        Raises
        ------
        FileExistsError
            If ``fname`` exists and ``overwrite`` is False.

        Notes
        -----
        The file holds only tensors, numbers and strings: :func:`load_model`
        reads it with ``torch.load(..., weights_only=True)`` and the loaded
        model gives exactly the same predictions.
        """
        fname = Path(fname)
        if fname.exists() and not overwrite:
            raise FileExistsError(f"{fname} exists; pass overwrite=True to replace it.")
        card = self.card.to_dict()
        card["sha256"] = None
        torch.save(
            {
                "format": _FORMAT,
                "architecture": self.card.architecture,
                "n_channels": self.card.n_channels,
                "n_classes": self.card.n_classes,
                "state_dict": self._network.state_dict(),
                "card": card,
            },
            fname,
        )

    def _network_on(self, device=None):
        """Return the network on ``device``: itself on the CPU, else a copy."""
        if device is None or torch.device(device).type == "cpu":
            return self._network
        return copy.deepcopy(self._network).to(device).eval()

    def _predict_windows(self, windows, exits=None, network=None, precision="float32"):
        """Probabilities of windows ``(n, n_channels, n_times)`` (float32 array).

        ``network`` is the network to use (default: the model's, on the CPU;
        see :meth:`_network_on`). For a multi-exit network, the exit of each
        window is appended to the list ``exits``. ``precision="bfloat16"``
        runs it under :func:`torch.autocast` in bfloat16.
        """
        network = self._network if network is None else network
        device = next(network.parameters()).device
        with (
            torch.inference_mode(),
            torch.autocast(
                device.type,
                dtype=torch.bfloat16,
                enabled=precision == "bfloat16",
            ),
        ):
            log_p = network(torch.from_numpy(windows).to(device)).float().cpu()
        if exits is not None and getattr(network, "last_exits", None) is not None:
            exits.append(network.last_exits.cpu().numpy())
        return log_p.exp().numpy()

    @property
    def _convolves_once(self):
        """Whether the whole-recording computation applies.

        For 3conv_pool networks of any context whose epochs a Winograd tile
        of both precisions divides (every epoch of a whole multiple of 1/16 s
        at 64 Hz).
        """
        n_epoch = round(self.card.epoch_length * self.card.sfreq)
        return isinstance(self._network, _ThreeConvPool) and n_epoch % 4 == 0

    def _predict_recording(self, data, chunk_epochs, precision="float32", device=None):
        """Probabilities of the epochs with full context of ``(n_channels, n_times)``.

        ``n_times`` is a multiple of the samples per epoch of the card;
        ``precision`` that of :func:`.grieger2021.recording_log_proba`. With a
        ``device`` (a GPU), the recording is convolved there in large chunks
        (:func:`.grieger2021._fast.direct_window_features`; bfloat16 by
        autocast).
        """
        n_epoch = round(self.card.epoch_length * self.card.sfreq)
        if device is not None:
            return self._predict_on_device(data, n_epoch, precision, device)
        with torch.inference_mode():
            log_p = recording_log_proba(
                self._network,
                torch.from_numpy(data),
                epoch_samples=n_epoch,
                chunk_epochs=min(chunk_epochs, MAX_CHUNK_EPOCHS),
                precision=precision,
                n_context=self.card.n_context,
            )
        return log_p.exp().numpy()

    def _predict_on_device(self, data, n_epoch, precision, device):
        from .grieger2021._fast import direct_window_features

        network = self._network_on(device)
        with (
            torch.inference_mode(),
            torch.autocast(
                torch.device(device).type,
                dtype=torch.bfloat16,
                enabled=precision == "bfloat16",
            ),
        ):
            x = torch.from_numpy(data).to(device)
            features = direct_window_features(
                network,
                x,
                n_epoch,
                chunk_epochs=DEVICE_CHUNK_EPOCHS,
                n_context=self.card.n_context,
            )
            log_p = network.classifier(features.float())
        return log_p.float().exp().cpu().numpy()


#: Epochs per chunk of the whole-recording path on a GPU (about 170 MB of
#: activations at 64 Hz).
DEVICE_CHUNK_EPOCHS = 256


def _class_problems(card):
    """Return what is wrong with a card's classes and their roles."""
    from .._stages import STAGES, _check_roles

    try:
        _check_roles(card.roles, "the card's roles")
    except (TypeError, ValueError) as err:
        return [str(err)]
    without = [c for c in card.classes if c not in STAGES and c not in card.roles]
    if without:
        return [f"the classes {without} have no role in the card's roles"]
    return []


def _card_without_weights(model):
    """Return the model card of ``model`` (as :func:`load_model` takes it).

    A registry name (or None) gives its card without downloading the weights;
    a file is read.
    """
    if model is None:
        return get_model_card(DEFAULT_MODEL)
    if isinstance(model, str) and model in MODELS:
        return get_model_card(model)
    if isinstance(model, MouseSleepModel):
        return model.card
    return load_model(model).card


_FORMAT = "mne-mousesleep/1"


def _incompatible(path, reason):
    return ValueError(f"{str(path)!r} is not a compatible checkpoint: {reason}.")


def _first_line(err):
    """Return the first line of an exception's message (torch's run long)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _read_checkpoint(path):
    """Read a checkpoint safely: (state dict, saved model or None)."""
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise _incompatible(path, "the file is empty")
    try:
        with torch.serialization.safe_globals(_SAFE_GLOBALS):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "unsupported global" not in str(err).lower():  # not objects: junk
            raise _incompatible(path, "not a readable torch file") from None
        # torch's message suggests weights_only=False, which would run any code
        # the file holds: not an option for a downloaded or shared file.
        raise _incompatible(
            path,
            "it holds Python objects other than tensors, numbers and strings, "
            "which are refused because loading them can run code",
        ) from None
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 (torch raises many kinds on junk)
        raise _incompatible(
            path, f"not a readable torch file ({_first_line(err)})"
        ) from None
    if isinstance(ckpt, dict) and ckpt.get("format") == _FORMAT:
        return ckpt.get("state_dict"), ckpt
    if isinstance(ckpt, dict) and str(ckpt.get("format", "")).startswith("mne-"):
        raise _incompatible(
            path, f"unknown format {ckpt['format']!r} (this version reads {_FORMAT})"
        )
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    required = ("feature_extractor.0.weight", "classifier.1.weight")
    if not isinstance(state, dict) or not all(k in state for k in required):
        raise _incompatible(
            path,
            f"not an {_FORMAT} file, nor a 3conv_pool state_dict with keys {required}",
        )
    return state, None


def _published_network(state, card, path):
    """Build the architecture ``card`` names and load a published state dict."""
    network = build_network(card)
    try:
        network.load_state_dict(state)
    except RuntimeError as err:
        raise _incompatible(
            path,
            f"the weights do not fit the {card.architecture} architecture "
            f"({_first_line(err)})",
        ) from None
    return network


def _from_saved(saved, path):
    """Build the model of an ``mne-mousesleep/1`` file, checking every part."""
    missing = [
        k
        for k in ("architecture", "n_channels", "n_classes", "state_dict", "card")
        if k not in saved
    ]
    if missing:
        raise _incompatible(path, f"missing {', '.join(missing)}")
    arch, card = saved["architecture"], saved["card"]
    if arch not in ARCHITECTURES:
        raise _incompatible(
            path, f"unknown architecture {arch!r} (known: {', '.join(ARCHITECTURES)})"
        )
    if not isinstance(card, dict) or not isinstance(saved["state_dict"], dict):
        raise _incompatible(path, "the card and the state_dict must be dicts")
    known = {f.name for f in dataclasses.fields(ModelCard)}
    unknown = sorted(set(card) - known)
    if unknown:
        raise _incompatible(path, f"unknown model card field(s) {unknown}")
    fields = dict(card)
    try:
        for key in ("classes", "channels", "default_ch_names"):
            fields[key] = tuple(fields.get(key, ()))
        fields["sha256"] = _sha256(path)
        card = ModelCard(**fields)
    except TypeError as err:
        raise _incompatible(path, f"invalid model card ({err})") from None
    n_channels, n_classes = saved["n_channels"], saved["n_classes"]
    problems = []
    if card.n_classes != n_classes:
        problems.append(
            f"the card names {card.n_classes} classes for a {n_classes}-class head"
        )
    if card.n_channels != n_channels:
        problems.append(
            f"the card names {card.n_channels} channels for {n_channels} inputs"
        )
    for key in ("sfreq", "epoch_length"):
        value = getattr(card, key)
        if not isinstance(value, int | float) or not value > 0:
            problems.append(f"{key} must be a positive number, got {value!r}")
    if not isinstance(card.n_context, int) or card.n_context < 0:
        problems.append(f"n_context must be >= 0, got {card.n_context!r}")
    if card.context not in CONTEXTS:
        problems.append(f"context must be one of {CONTEXTS}, got {card.context!r}")
    problems += _class_problems(card)
    if problems:
        raise _incompatible(path, "; ".join(problems))
    try:
        network = build_network(card)
        network.load_state_dict(saved["state_dict"])
    except (RuntimeError, TypeError, ValueError) as err:
        raise _incompatible(
            path, f"the weights do not fit a {arch} network ({_first_line(err)})"
        ) from None
    return MouseSleepModel(network, card)


def _card_for_state(path, state, digest):
    """Return the card of a bare 3conv_pool state dict (published or made up)."""
    for entry in MODELS.values():
        if entry.card.sha256 == digest:
            logger.info(f"{path} is the published model {entry.card.name}.")
            return replace(entry.card, source=str(path))
    n_channels = state["feature_extractor.0.weight"].shape[0]
    n_classes = state["classifier.1.weight"].shape[0]
    classes = {5: _CLASSES_5, 3: _CLASSES_3}.get(n_classes)
    if classes is None:
        raise ValueError(
            f"{str(path)!r} has {n_classes} output classes; a checkpoint without "
            "a model card must have 3 (Wake, REM, NREM) or 5 (Wake, REM, NREM, "
            "pre-REM, artifact)."
        )
    channels = (
        ("parietal EEG",)
        if n_channels == 1
        else tuple(f"input {ii + 1}" for ii in range(n_channels))
    )
    return ModelCard(
        name=Path(path).name, classes=classes, channels=channels, sha256=digest
    )


def load_model(model=None):
    """Load a scoring network.

    Parameters
    ----------
    model : str | path-like | MouseSleepModel | None
        A registry name (see :func:`list_models`), the path of a local
        checkpoint, or a model (returned as it is). ``None`` loads
        ``"grieger2021-5stage"``. Registry weights are downloaded with pooch
        into the cache (``MNE_MOUSESLEEP_DATA``, or the mirror
        ``MNE_MOUSESLEEP_MIRROR``) and verified by sha256; a local path never
        touches the network.

    Returns
    -------
    model : MouseSleepModel
        The network in evaluation mode, with its model card.

    Raises
    ------
    ValueError
        If the name is unknown, the file is not a compatible checkpoint, or a
        download does not have the registered sha256.
    TypeError
        If ``model`` has another type.

    Notes
    -----
    Checkpoints are read with ``torch.load(..., weights_only=True)`` and
    ``map_location="cpu"``; only the numpy scalar and dtype globals found in
    the published files are allowed.
    """
    if model is None:
        model = DEFAULT_MODEL
    if isinstance(model, MouseSleepModel):
        return model
    if not isinstance(model, str | os.PathLike):
        raise TypeError(
            "model must be a model name, a path or a MouseSleepModel, got "
            f"{type(model).__name__}."
        )
    if isinstance(model, str) and model in MODELS:
        entry = MODELS[model]
        path = fetch_file(entry.weights)
        state = _read_checkpoint(path)[0]
        return MouseSleepModel(_published_network(state, entry.card, path), entry.card)
    path = Path(model).expanduser()
    if not path.is_file():
        raise ValueError(
            f"model must be one of {list_models()} or the path of a checkpoint "
            f"file, got {str(model)!r} (no such file)."
        )
    state, saved = _read_checkpoint(path)
    if saved is not None:  # saved by MouseSleepModel.save
        return _from_saved(saved, path)
    card = _card_for_state(path, state, _sha256(path))
    return MouseSleepModel(_published_network(state, card, path), card)
