"""Training one network: settings, the network, the gain model, the card."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import copy
import dataclasses
from collections import Counter

import numpy as np
import pandas as pd
import torch
from mne.utils import _check_option, logger, verbose

from .._device import _resolve_device, _resolve_precision
from .._stages import _stage_of
from .._version import __version__
from ..models import ModelCard, MouseSleepModel, load_model
from ..models._akada2021 import AKADA_ARCHITECTURES
from ..models._architectures import ARCHITECTURES, build_network
from ..models._registry import CITATION_GRIEGER2021
from ..models._registry import CITATIONS as _CITATIONS
from ..scoring.gain import (
    BANDS,
    _check_adapt,
    _epoch_features,
    _log_gains,
    fit_gain_model,
)
from ._akada import _fit_akada
from ._augment import PAPER_AUGMENTATION
from ._data import _index, _load_for_training, _model_classes, _split
from ._fit import PAPER_CLASS_WEIGHTS, _deterministic, _fit, _FitConfig, _scores


@dataclasses.dataclass(frozen=True)
class _TrainSettings:
    """The settings of one training: the arguments of :func:`train` but its data.

    Made from :func:`train`'s arguments (:meth:`of`), so that its signature is
    the one place of their defaults; :func:`cross_validate` changes the
    split, the seed and the name per fold with :func:`dataclasses.replace`.
    """

    picks: object
    n_classes: int
    classes: object
    architecture: str | None
    split: dict | None
    init: object
    freeze_features: bool
    balanced: bool
    class_weights: dict | None
    augmentation: dict | None
    batch_size: int
    lr: float | None
    warmup_epochs: int
    lr_decay: float
    weight_decay: float
    clip_norm: float
    dropout: float
    max_epochs: int
    min_epochs: int
    patience: int
    windows_per_epoch: int | None
    seed: int
    name: str
    adapt: str | None
    device: str
    precision: str
    compile: bool

    @classmethod
    def of(cls, arguments):
        """Return the settings in ``arguments`` (a dict with every field)."""
        return cls(**{f.name: arguments[f.name] for f in dataclasses.fields(cls)})

    def fit_config(self, device, autocast):
        """Return the :class:`_FitConfig` of these settings."""
        aug = dict.fromkeys(PAPER_AUGMENTATION, 0.0)
        aug.update(
            PAPER_AUGMENTATION if self.augmentation is None else self.augmentation
        )
        return _FitConfig(
            aug=aug,
            balanced=self.balanced,
            batch_size=self.batch_size,
            lr=1e-6 * self.batch_size if self.lr is None else self.lr,
            warmup_epochs=self.warmup_epochs,
            lr_decay=self.lr_decay,
            weight_decay=self.weight_decay,
            clip_norm=self.clip_norm,
            max_epochs=self.max_epochs,
            min_epochs=self.min_epochs,
            patience=self.patience,
            windows_per_epoch=self.windows_per_epoch,
            device=device,
            autocast=autocast,
            compile=bool(self.compile),
        )


@verbose
def train(
    recordings,
    *,
    picks="EEG_PR",
    n_classes=5,
    classes=None,
    epoch_length=None,
    context=None,
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
    classes : list of str | dict | None
        The lab's own class set instead of ``n_classes``, in output order: a
        list of stages (``["Wake", "NREM", "REM"]``), or a dict giving each
        class its role, ``{"quiet Wake": "wake", "active Wake": "wake",
        "NREM": "NREM", "REM": "REM"}`` (roles ``"wake"``, ``"NREM"``,
        ``"pre-REM"``, ``"REM"``, ``"artifact"``, ``"other"``; a stage keeps
        its own). The card records the classes and roles; the EMG rules, the
        hidden Markov model, the trust verdict and the fold to YASA's stages
        and to the formats use the roles. Expert labels map to the classes
        through ``mapping`` (or the classes' names and their annotation
        descriptions, ``"Sleep stage active Wake"``); a label of a class the
        model does not have is refused, naming the recording and the label
        (map it to ``"unscored"`` to leave its epochs out).
        Without ``class_weights``, each class is drawn with its stage's
        weight, shared among the classes of one role.
    epoch_length : float | None
        Length of the scored epoch in seconds (a whole number of samples at
        64 Hz: 2.5, 4, 5, 8, 10, ...). None: 10 s, the published networks'
        (or ``init``'s). The window of context is the whole number of epochs
        on each side closest to the published 30 s (4 s: 3 on each side, a
        28-s window; 2.5 s: 5, 27.5 s; 5 s: 2, 25 s; 8 s: 1, 24 s), and the
        architecture is built for it (3conv_pool: one average per epoch, so
        its pooling follows the epoch; kernels stay in samples at 64 Hz).
        The card records both; scoring, statistics, formats and reports then
        work in the model's epochs. Expert labels on a coarser grid that the
        epoch length does not divide (10-s labels for a 4-s model) are
        refused: score the lab's recordings at the model's epoch.
    context : "centred" | "causal" | None
        Where the scored epoch lies in its window. ``"centred"`` (None, the
        default, or ``init``'s): as published, the window reaches
        ``n_context`` epochs into the future. ``"causal"``: the window ends
        with the scored epoch (the same length, every epoch of it in the
        past), so that the epoch is scored as soon as it ends: the models of
        live scoring (:class:`~mne_mousesleep.OnlineScorer`; the recipe is
        otherwise the same). Its card records it.
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
        (:mod:`mne_mousesleep.scoring.gain`) is learnt and applied here too, so the
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
    settings = _TrainSettings.of(locals())
    base = None if init is None else load_model(init)
    if base is not None and classes is None and base.card.roles:
        classes = base.card.class_roles  # the lab's classes of the model tuned
        settings = dataclasses.replace(settings, classes=classes)
    data = _load_for_training(
        recordings,
        picks,
        n_classes,
        mice,
        mapping,
        tuple(resample_rates),
        base,
        epoch_length,
        classes,
        context,
    )
    return _train(data, dataclasses.replace(settings, init=base))


def _new_network(settings, picks_list, classes, geometry):
    """Return the network to train, its architecture name and the init model."""
    architecture, dropout = settings.architecture, settings.dropout
    if architecture is not None:
        _check_option("architecture", architecture, tuple(ARCHITECTURES))

    def new(name):
        card = ModelCard(
            name="training",
            classes=classes,
            channels=tuple(picks_list),
            architecture=name,
            sfreq=geometry.sfreq,
            epoch_length=geometry.epoch_length,
            n_context=geometry.n_context,
            context=geometry.context,
        )
        return build_network(card, dropout=dropout)

    if settings.init is None:
        architecture = architecture or "3conv_pool"
        return new(architecture), architecture, None
    base = load_model(settings.init)
    if tuple(base.classes) != classes:
        raise ValueError(
            f"init has classes {base.classes}; n_classes={settings.n_classes} "
            f"trains {classes}."
        )
    if base.n_channels != len(picks_list):
        raise ValueError(
            f"init takes {base.n_channels} channel(s), picks gives {len(picks_list)}."
        )
    init_arch = base.card.architecture
    if architecture is None or architecture == init_arch:
        return copy.deepcopy(base._network), init_arch, base
    if not {architecture, init_arch} <= set(AKADA_ARCHITECTURES):
        raise ValueError(
            f"init is a {init_arch!r} model; it can start a {architecture!r} "
            "network only when both are Akada integrations (akada-*), which "
            "share their sub-networks. Leave architecture=None to fine-tune it."
        )
    net = new(architecture)
    net.eeg.load_state_dict(base._network.eeg.state_dict())
    net.emg.load_state_dict(base._network.emg.state_dict())
    return net, architecture, base


def _adapt_sets(sets, base, n_channels):
    """Apply the gain step to the training data: scaled copies and the gain model."""
    geometry = sets["train"][0].geometry
    rate, length = geometry.sfreq, geometry.epoch_length
    if base is not None:
        gain_model = base.card.details.get("gain_model")
        if not gain_model:
            logger.info(f"Gain step: {base.name} has no gain model; not applied")
            return sets, None
        source = f"that of {base.name}"
    else:
        channels = []
        for ch in range(n_channels):
            features = [_epoch_features(r.x[ch], rate, length) for r in sets["train"]]
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
            log_gain, _ = _log_gains(rec.x, rate, length, gain_model)
            gains = np.where(np.isfinite(log_gain), np.exp(log_gain), 1.0)
            out[key].append(rec.scaled(gains))
            shown.append(f"{rec.mouse} x{gains[0]:.3g}")
    logger.info(f"Gain step: gain model {source}; gains {', '.join(shown)}")
    return out, gain_model


def _train(data, settings):
    """:func:`train` on recordings already loaded (see :func:`._data._load`)."""
    s = settings
    classes, roles = _model_classes(s.classes, s.n_classes)
    picks_list = [s.picks] if isinstance(s.picks, str) else list(s.picks)
    device = _resolve_device(s.device)
    autocast = _resolve_precision(s.precision, device)
    torch.manual_seed(s.seed)
    geometry = data[0].geometry
    net, architecture, base = _new_network(s, picks_list, classes, geometry)
    if s.freeze_features and not hasattr(net, "feature_extractor"):
        raise ValueError(
            f"freeze_features=True needs a feature extractor and a classifier; the "
            f"{architecture!r} architecture has sub-networks instead."
        )
    split, sets = _split(data, s.split, s.seed)
    _check_adapt(s.adapt)
    gain_model = None
    if s.adapt == "gain":
        sets, gain_model = _adapt_sets(sets, base, len(picks_list))
    idx = {key: _index(recs) for key, recs in sets.items()}
    for key in ("train", "validation"):
        if not len(idx[key]):
            raise ValueError(f"No labelled window for {key!r}.")
    present = sorted(set(idx["train"][:, 2].tolist()))
    if len(present) < 2:
        only = classes[present[0]] if present else "none"
        raise ValueError(
            f"The training labels hold one class only ({only}, "
            f"{len(idx['train'])} windows): a network cannot learn to tell "
            f"{', '.join(classes)} apart from them. Check the annotations' "
            "descriptions (mapping=) and the split."
        )
    cfg = s.fit_config(device, autocast)
    rng = np.random.default_rng(s.seed)
    net.to(device)
    arithmetic = "float32" if autocast is None else str(autocast).split(".")[-1]
    logger.info(f"Training on {device}, {arithmetic}")
    with _deterministic(device):
        if architecture in AKADA_ARCHITECTURES:
            history = _fit_akada(net, sets, idx, cfg, rng, from_init=base is not None)
            best_epoch = None
        else:
            history, best_epoch = _fit(
                net,
                sets,
                idx,
                classes,
                cfg,
                rng,
                weights=_class_weights(classes, roles, s.class_weights),
                trainable=(
                    (lambda n: not n.startswith("feature_extractor"))
                    if s.freeze_features
                    else None
                ),
                frozen=(net.feature_extractor,) if s.freeze_features else (),
                keep_start=base is not None,
            )
    card = ModelCard(
        name=s.name,
        classes=classes,
        roles=roles,
        channels=tuple(picks_list),
        default_ch_names=tuple(picks_list),
        architecture=architecture,
        sfreq=geometry.sfreq,
        epoch_length=geometry.epoch_length,
        n_context=geometry.n_context,
        context=geometry.context,
        source=f"trained with mne-mousesleep {__version__}",
        citation=_CITATIONS.get(architecture, CITATION_GRIEGER2021),
        training=_training_text(split, idx, base),
        metrics=_metrics(net, sets, idx, classes),
        details=_details(s, split, sets, cfg, gain_model, best_epoch, history, net),
    )
    model = MouseSleepModel(net.cpu(), card)
    model.history = pd.DataFrame(history)
    return model


def _class_weights(classes, roles, given):
    """Target class frequencies: ``given``, else the paper's per stage.

    A stage's weight (Wake 0.30, REM 0.18, NREM 0.24, pre-REM 0.14, artifact
    0.14; a class of role other that of artifact) is shared equally among the
    classes of its role.
    """
    if given is not None:
        return given
    stage = {c: _stage_of(c, roles) for c in classes}
    n = Counter(stage.values())
    return {c: PAPER_CLASS_WEIGHTS[stage[c]] / n[stage[c]] for c in classes}


def _metrics(net, sets, idx, classes):
    """Return the validation and test metrics of the card (F1, kappa, accuracy)."""
    metrics = {}
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
    return metrics


def _training_text(split, idx, base):
    per_set = {
        key: f"{len(split[key])} {'mouse' if len(split[key]) == 1 else 'mice'}, "
        f"{len(idx[key])} windows"
        for key in ("train", "validation", "test")
    }
    return ("fine-tuned from " + base.name + "; " if base is not None else "") + (
        "; ".join(f"{k}: {v}" for k, v in per_set.items())
    )


def _details(s, split, sets, cfg, gain_model, best_epoch, history, net):
    """Return the card's details: version, seed, split, gain model, settings."""
    seconds = [row["seconds"] for row in history if "seconds" in row]
    precision = "float32" if cfg.autocast is None else str(cfg.autocast).split(".")[-1]
    return {
        "package_version": __version__,
        "seed": int(s.seed),
        "split": {k: list(v) for k, v in split.items()},
        **({} if gain_model is None else {"gain_model": gain_model}),
        **({} if best_epoch is None else {"best_training_epoch": int(best_epoch)}),
        "device": str(cfg.device),
        "precision": precision,
        "compiled": bool(s.compile) and not hasattr(net, "training_loss"),
        "seconds_per_training_epoch": round(float(np.mean(seconds)), 2)
        if seconds
        else None,
        "settings": {
            "balanced": bool(s.balanced),
            "augmentation": {k: float(v) for k, v in cfg.aug.items()},
            "batch_size": int(s.batch_size),
            "lr": float(cfg.lr),
            "weight_decay": float(s.weight_decay),
            "clip_norm": float(s.clip_norm),
            "freeze_features": bool(s.freeze_features),
            "resample_rates": sorted(
                {rate for rec in sets["train"] for rate, _ in rec.versions}
            ),
        },
    }
