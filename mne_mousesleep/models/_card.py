"""Model cards: what a scorer expects and what is known about it."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from dataclasses import asdict, dataclass, field

from .._stages import STAGE_ROLES

#: Where a model's scored epoch lies in its window (:attr:`ModelCard.context`).
CONTEXTS = ("centred", "causal")


@dataclass(frozen=True)
class ModelCard:
    """Facts about a sleep scoring network.

    Parameters
    ----------
    name : str
        Registry name (e.g. ``"grieger2021-5stage"``) or a file name.
    classes : tuple of str
        Stage names in the order of the network's output units.
    channels : tuple of str
        The input channels, in input order (descriptions such as
        ``"parietal EEG"``).
    default_ch_names : tuple of str
        Channel names of the training data, used to pick channels by name.
    sfreq : float
        Sampling rate the network expects, in Hz.
    epoch_length : float
        Length of one scored epoch, in seconds.
    n_context : int
        Neighbouring epochs given to the network on each side of the scored
        one: the window holds ``2 * n_context + 1`` epochs.
    context : str
        Where the scored epoch lies in its window: ``"centred"`` (the
        published networks: ``n_context`` epochs before and after it) or
        ``"causal"`` (the window ends with it: ``2 * n_context`` epochs
        before, none after; for live scoring, see
        :class:`~mne_mousesleep.OnlineScorer`).
    input_unit : str
        Unit of the network input (``"mV"``).
    architecture : str
        Architecture name (``"3conv_pool"``).
    source : str
        Where the weights come from (URL pinned to a commit).
    license : str
        License of the weights.
    citation : str
        The publication to cite.
    training : str
        A summary of the training data and recipe.
    metrics : dict
        Published (or, for trained models, measured) metrics, e.g.
        ``{"test mean F1": 0.779}``.
    sha256 : str | None
        Hash of the checkpoint file.
    details : dict
        Further facts, e.g. for trained models the package version, the seed,
        the split by animal and the training settings.
    roles : dict
        The role of each of the lab's own classes (those of ``classes`` that
        are not stages of :data:`~mne_mousesleep.STAGES`), ``{name: role}``
        with roles among ``"wake"``, ``"NREM"``, ``"pre-REM"``, ``"REM"``,
        ``"artifact"``, ``"other"``: what the EMG rules, the hidden Markov
        model, the trust verdict and the fold to YASA's stages use.
    """

    name: str
    classes: tuple
    channels: tuple
    default_ch_names: tuple = ()
    sfreq: float = 64.0
    epoch_length: float = 10.0
    n_context: int = 1
    context: str = "centred"
    input_unit: str = "mV"
    architecture: str = "3conv_pool"
    source: str = ""
    license: str = ""
    citation: str = ""
    training: str = ""
    metrics: dict = field(default_factory=dict)
    sha256: str | None = None
    details: dict = field(default_factory=dict)
    roles: dict = field(default_factory=dict)

    @property
    def n_classes(self):
        """Number of output classes."""
        return len(self.classes)

    @property
    def class_roles(self):
        """The role of every class, ``{name: role}`` (the stages' own too)."""
        return {c: self.roles.get(c) or STAGE_ROLES[c] for c in self.classes}

    @property
    def lookahead(self):
        """Epochs of the window after the scored one (0 for a causal model)."""
        return 0 if self.context == "causal" else self.n_context

    @property
    def n_channels(self):
        """Number of input channels."""
        return len(self.channels)

    def to_dict(self):
        """Return the card as a dict (JSON-serialisable)."""
        out = asdict(self)
        out["classes"] = list(self.classes)
        out["channels"] = list(self.channels)
        out["default_ch_names"] = list(self.default_ch_names)
        return out

    def __repr__(self):
        return (
            f"<ModelCard | {self.name}, {self.n_classes} classes, "
            f"{self.n_channels} channel{'s' if self.n_channels > 1 else ''}, "
            f"{self.sfreq:g} Hz>"
        )

    def __str__(self):
        rows = [
            ("Model", self.name),
            ("Architecture", self.architecture),
            (
                "Classes (output order)",
                ", ".join(
                    f"{c} ({self.roles[c]})" if c in self.roles else c
                    for c in self.classes
                ),
            ),
            ("Input channels", ", ".join(self.channels)),
            ("Sampling rate", f"{self.sfreq:g} Hz"),
            ("Epoch", f"{self.epoch_length:g} s, {_describe_context(self)}"),
            ("Input unit", self.input_unit),
            ("Training", self.training),
            (
                "Metrics",
                ", ".join(f"{k} {v}" for k, v in self.metrics.items()) or "none",
            ),
            ("Source", self.source),
            ("License", self.license),
            ("Citation", self.citation),
            ("sha256", self.sha256 or "unknown"),
            *(
                (k.replace("_", " ").capitalize(), _describe_detail(k, v))
                for k, v in self.details.items()
            ),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}} : {v}" for k, v in rows)


def _describe_context(card):
    """Say where a card's window lies around the scored epoch."""
    ctx = card.n_context
    window = card.epoch_length * (2 * ctx + 1)
    if card.context == "causal":
        return (
            f"causal context: the {window:g}-s window ends with it ({2 * ctx} before)"
        )
    return f"context ±{ctx} epoch ({window:g}-s window)"


def _describe_detail(key, value):
    """Say a detail of a card in a line (the gain model as what it is)."""
    if key == "gain_model" and isinstance(value, dict):
        bands = value.get("bands") or []
        span = f"{bands[0][0]:g}-{bands[-1][1]:g} Hz" if bands else "no bands"
        n = len(value.get("channels", []))
        where = value.get("reference", "")
        return (
            f"predicts the EEG power from its spectral shape ({len(bands)} bands, "
            f"{span}; {n} channel{'s' if n != 1 else ''})"
            + (f", fitted on {where}" if where else "")
        )
    return value
