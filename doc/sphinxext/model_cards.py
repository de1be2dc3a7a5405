"""Write one documentation page per model family from the model registry."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from pathlib import Path

from mne_mousesleep import get_model_card, list_models

_FAMILIES = {
    "grieger2021": {
        "title": "Grieger et al. (2021): 3conv_pool",
        "intro": """\
The networks published with *Automated scoring of pre-REM sleep in mice with
deep learning* (Grieger, Schwabedal, Wendel, Ritze, Bialonski; Scientific
Reports 11, 12245, 2021). They score 10-s epochs from one parietal EEG channel
(one model also uses frontal EEG, the left parietal EEG and EMG), low-passed
(Butterworth order 2, 25.6 Hz, forward-backward) and resampled to 64 Hz. Each
epoch is classified from a 30-s window: the epoch and one neighbour on each
side, so the first and last epoch of a recording are left unscored.

Architecture "3conv_pool": input batch normalisation, three 1-D convolutions
(128 kernels of 8 samples, 256 of 5, 128 of 3; zero padding keeps the length),
each followed by ReLU and batch normalisation, an average over each 10-s epoch
of the window (three 128-vectors), dropout 0.2 and a linear layer with
log-softmax. About 266,000 parameters.

The 5-class models score Wake, REM, NREM, pre-REM (the NREM-to-REM transition)
and artifact; for the 3-class models the authors relabelled pre-REM as NREM
and dropped artifact epochs. "Balanced" models were trained with class
rebalancing. Weights: Apache-2.0, from
https://github.com/dslaborg/sleep-mice-tuebingen.
""",
    },
}


def _card_table(card):
    rows = [
        ("Classes (output order)", ", ".join(card.classes)),
        ("Input channels", ", ".join(card.channels)),
        ("Channel names of the training data", ", ".join(card.default_ch_names)),
        ("Sampling rate", f"{card.sfreq:g} Hz"),
        ("Epoch", f"{card.epoch_length:g} s, ±{card.n_context} epoch of context"),
        ("Input unit", card.input_unit),
        ("Architecture", card.architecture),
        ("Training data", card.training),
        (
            "Published metrics",
            "; ".join(f"{k}: {v}" for k, v in card.metrics.items()) or "none",
        ),
        ("License", card.license),
        ("Source", f"`{card.source} <{card.source}>`__"),
        ("sha256", f"``{card.sha256}``"),
        ("Citation", card.citation),
    ]
    lines = [".. list-table::", "   :widths: 25 75", ""]
    for key, value in rows:
        lines += [f"   * - {key}", f"     - {value}"]
    return "\n".join(lines)


def write_model_pages(out_dir):
    """Write ``<family>.rst`` files into ``out_dir`` (only when changed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(exist_ok=True)
    for family, meta in _FAMILIES.items():
        title = meta["title"]
        parts = [title, "=" * len(title), "", meta["intro"]]
        for name in (n for n in list_models() if n.startswith(family)):
            card = get_model_card(name)
            heading = f"``{name}``"
            parts += [
                heading,
                "-" * len(heading),
                "",
                _card_table(card),
                "",
                ".. code-block:: python",
                "",
                f'    annot = mne_mousesleep.score(raw, model="{name}")',
                "",
            ]
        text = "\n".join(parts)
        path = out_dir / f"{family}.rst"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
