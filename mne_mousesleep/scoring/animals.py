"""Several animals in one recording: their channels, and one scoring per animal.

High-throughput rigs record several mice into one file, each with its own EEG
and EMG channels (``EEG09``/``EMG09``, ``M1_EEG``/``M1_EMG``, ``Mouse 3
EEG``). :func:`find_animals` proposes which channels belong to which animal
from their names; :func:`score_animals` scores each animal on its own
channels, as if it had its own file: its own gain step, EMG levels, HMM and
trust verdict (animals on one amplifier differ in gain and in sleep).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import json
import os
import re
from pathlib import Path

import pandas as pd
from mne.io import BaseRaw
from mne.utils import _validate_type, logger, verbose

from .._docs import fill_doc
from ._options import _takes_options
from .check import _is_emg, _looks_parietal

__all__ = ["find_animals", "read_layout", "score_animals"]

# Channel kinds by name; the rest of a name, once the kind is removed, says
# the animal (a number, with the label written before it).
_KIND = re.compile(r"(eeg|emg)", re.I)
_NUMBER = re.compile(r"\d+")
_OTHER = ("eog", "ecg", "ekg", "stim", "resp", "temp", "activity", "act", "loc")


def _kind(name, ch_type):
    """Return ``"eeg"``, ``"emg"`` or None (not a channel of an animal's scoring)."""
    lower = name.lower()
    if _is_emg(name, ch_type):
        return "emg"
    if "eeg" in lower or (ch_type == "eeg" and not any(o in lower for o in _OTHER)):
        return "eeg"
    return None


def _label(name):
    """Return the part of a channel name that names its animal: ``'M1'``, ``'09'``.

    The kind (EEG, EMG) is removed, then the text up to and including the
    one number left is kept, without separators (``'Mouse 3 EEG'`` gives
    ``'Mouse3'``, ``'EEG1_P'`` gives ``'1'``). None without exactly one
    number.
    """
    rest = _KIND.sub(" ", name)
    numbers = _NUMBER.findall(rest)
    if len(numbers) != 1:
        return None
    match = _NUMBER.search(rest)
    prefix = re.sub(r"[^A-Za-z0-9]", "", rest[: match.start()])
    return prefix + match.group()


@verbose
def find_animals(raw, *, verbose=None):
    """Propose which channels of a recording belong to which animal.

    Each EEG or EMG channel is given to the animal whose number its name
    carries once the kind is removed (``EEG09`` and ``EMG09``: animal ``09``;
    ``M1_EEG``: ``M1``; ``Mouse 3 EMG``: ``Mouse3``; ``EEG1``/``EMG1``:
    ``1``). A channel is EMG if its type is ``emg`` or its name says EMG; EEG
    if its name says EEG, or its type is ``eeg`` and its name names no other
    signal (EOG, ECG, temperature, activity, ...); other channels are left
    out. An animal with several EEG channels gets the one whose name says
    parietal (``EEG1_P`` over ``EEG1_F``), as :func:`~mne_mousesleep.score`
    picks it.

    Parameters
    ----------
    raw : instance of Raw
        The recording; only its channel names and types are read.
    %(verbose)s

    Returns
    -------
    layout : dict
        ``{animal: {"eeg": name, "emg": name or None, "why": reason}}``, in
        the order of the animals' numbers. Pass it (with or without
        ``"why"``, edited or not) as ``layout`` to :func:`score_animals`.

    Raises
    ------
    TypeError
        If ``raw`` is not a Raw.
    ValueError
        If the names do not say the layout: an EEG or EMG channel whose name
        holds no number or several, an animal with no EEG channel, with
        several EEG channels none or several of which say parietal, or with
        several EMG channels. The message lists the channels and shows a
        layout to pass instead.

    See Also
    --------
    score_animals : Score each animal of the layout.
    """
    _validate_type(raw, BaseRaw, "raw")
    kinds = {
        name: kind
        for name, ch_type in zip(raw.ch_names, raw.get_channel_types())
        if (kind := _kind(name, ch_type)) is not None
    }
    problems, groups = [], {}
    for name, kind in kinds.items():
        label = _label(name)
        if label is None:
            n = len(_NUMBER.findall(_KIND.sub(" ", name)))
            problems.append(
                f"{name} ({kind.upper()}) holds {'no' if n == 0 else n} numbers "
                "besides its kind"
            )
            continue
        number = int(_NUMBER.search(label).group())
        group = groups.setdefault(number, dict(labels=[], eeg=[], emg=[]))
        group["labels"].append(label)
        group[kind].append(name)
    layout = {}
    for number in sorted(groups):
        group = groups[number]
        eeg, emg = group["eeg"], group["emg"]
        animal = _label(eeg[0]) if eeg else group["labels"][0]  # as the EEG writes it
        if not eeg:
            problems.append(f"animal {animal} ({', '.join(emg)}) has no EEG channel")
            continue
        written = _NUMBER.search(animal).group()
        why = [f"number {written} in {', '.join(eeg + emg)}"]
        if len(eeg) > 1:
            parietal = [name for name in eeg if _looks_parietal(name)]
            if len(parietal) != 1:
                problems.append(
                    f"animal {animal} has EEG channels {eeg}, "
                    f"{'none' if not parietal else 'several'} of them parietal "
                    "by name"
                )
                continue
            why.append(f"{parietal[0]} parietal by name (of {', '.join(eeg)})")
            eeg = parietal
        if len(emg) > 1:
            problems.append(f"animal {animal} has several EMG channels {emg}")
            continue
        if not emg:
            why.append("no EMG channel")
        layout[animal] = dict(eeg=eeg[0], emg=emg[0] if emg else None)
        layout[animal]["why"] = "; ".join(why)
    if not groups and not problems:
        problems.append("no EEG or EMG channel")
    if problems:
        raise ValueError(
            "The channel names do not say which animal each channel belongs to: "
            + "; ".join(problems)
            + f". Channels (type): {_channel_list(raw)}. Pass layout= (or "
            "--animals FILE on the command line) naming each animal's channels, "
            f"e.g. layout={_example(raw, kinds, layout)}."
        )
    for animal, entry in layout.items():
        logger.info(f"Animal {animal}: EEG {entry['eeg']}, EMG {entry['emg']}")
    return layout


def _channel_list(raw):
    return ", ".join(
        f"{name} ({kind})" for name, kind in zip(raw.ch_names, raw.get_channel_types())
    )


def _example(raw, kinds, layout):
    """Return a layout to show in an error: the one found, else the first channels."""
    if layout:
        shown = {a: {"eeg": e["eeg"], "emg": e["emg"]} for a, e in layout.items()}
    else:
        eeg = [n for n, k in kinds.items() if k == "eeg"] or raw.ch_names[:1]
        emg = [n for n, k in kinds.items() if k == "emg"] + [None]
        shown = {"M1": {"eeg": eeg[0], "emg": emg[0]}}
    return json.dumps(shown)


def read_layout(fname):
    """Read a layout file: JSON, or a CSV/TSV table with columns animal, eeg, emg.

    Parameters
    ----------
    fname : path-like
        A ``.json`` file ``{animal: {"eeg": name, "emg": name or null}}``, or a
        ``.csv``/``.tsv`` file with a header ``animal, eeg, emg`` (``emg``
        optional or empty: no EMG channel).

    Returns
    -------
    layout : dict
        ``{animal: {"eeg": name, "emg": name or None}}``.

    Raises
    ------
    ValueError
        If the file is neither, lacks the columns or keys, or names an animal
        twice (naming the lines), naming the file.
    """
    path = Path(fname)
    try:
        if path.suffix.lower() == ".json":
            layout = json.loads(
                path.read_text(encoding="utf-8-sig"), object_pairs_hook=_no_repeats
            )
        elif path.suffix.lower() in (".csv", ".tsv", ".txt"):
            # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark.
            table = pd.read_csv(
                path, sep=None, engine="python", dtype=str, encoding="utf-8-sig"
            )
            table.columns = [str(c).strip().lower() for c in table.columns]
            missing = {"animal", "eeg"} - set(table.columns)
            if missing:
                raise ValueError(
                    f"its header lacks the column(s) {sorted(missing)} (it has "
                    f"{list(table.columns)}; expected animal, eeg, emg)"
                )
            table = table.fillna("")
            names = table["animal"].str.strip()
            repeated = names[names.duplicated(keep=False)]
            if len(repeated):
                lines = {
                    name: [int(i) + 2 for i in repeated.index[repeated == name]]
                    for name in dict.fromkeys(repeated)
                }
                raise ValueError(
                    "an animal is named twice: "
                    + "; ".join(f"{n!r} on lines {ls}" for n, ls in lines.items())
                    + " (each animal once, with its channels)"
                )
            layout = {
                str(row["animal"]).strip(): dict(
                    eeg=str(row["eeg"]).strip(),
                    emg=str(row.get("emg", "")).strip() or None,
                )
                for _, row in table.iterrows()
            }
        else:
            raise ValueError("expected a .json, .csv or .tsv file")
    except (ValueError, KeyError) as err:
        raise ValueError(f"Layout file {path} cannot be read: {err}.") from None
    return _check_layout_dict(layout, f"layout file {path}")


def _no_repeats(pairs):
    """Return a JSON object's pairs as a dict; refuse a key given twice."""
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(
            f"the key(s) {repeated} appear twice in one object (an animal named "
            "twice? each animal once, with its channels)"
        )
    return dict(pairs)


def _check_layout_dict(layout, where="layout"):
    """Check the shape of a layout; return ``{animal: {"eeg":, "emg":}}``."""
    if not isinstance(layout, dict) or not layout:
        raise ValueError(
            f"The {where} must map each animal to its channels, e.g. "
            '{"M1": {"eeg": "EEG1", "emg": "EMG1"}}; got '
            f"{type(layout).__name__} {layout!r}."
        )
    out = {}
    for animal, entry in layout.items():
        if not isinstance(animal, str) or not re.sub(r"[^A-Za-z0-9]", "", animal):
            raise ValueError(
                f"The {where} names an animal {animal!r}: animal names must be "
                "text with letters or digits (they name the outputs)."
            )
        if isinstance(entry, str | list | tuple):
            entry = dict(eeg=entry, emg=None)
        if not isinstance(entry, dict) or "eeg" not in entry:
            raise ValueError(
                f"The {where} gives animal {animal} {entry!r}: expected "
                '{"eeg": channel, "emg": channel or None}.'
            )
        unknown = set(entry) - {"eeg", "emg", "why"}
        if unknown:
            raise ValueError(
                f"The {where} gives animal {animal} unknown key(s) {sorted(unknown)}:"
                " expected eeg, emg."
            )
        eeg, emg = entry["eeg"], entry.get("emg")
        eeg = list(eeg) if isinstance(eeg, list | tuple) else eeg
        for value in eeg if isinstance(eeg, list) else [eeg]:
            _validate_type(value, str, f"the EEG channel of animal {animal}")
        _validate_type(emg, (str, None), f"the EMG channel of animal {animal}")
        out[animal] = dict(eeg=eeg, emg=emg or None)
    return out


def _resolve_layout(raw, layout):
    """Return the layout of ``raw``: found, read from a file, or checked.

    Every channel must be in the recording, and none given to two animals.
    """
    if isinstance(layout, str) and layout == "auto":
        found = find_animals(raw)
        return {a: dict(eeg=e["eeg"], emg=e["emg"]) for a, e in found.items()}
    if isinstance(layout, str | os.PathLike):
        where = f"layout file {layout}"
        layout = read_layout(layout)
    else:
        where = "layout"
        layout = _check_layout_dict(layout)
    owner = {}
    for animal, entry in layout.items():
        eeg = entry["eeg"] if isinstance(entry["eeg"], list) else [entry["eeg"]]
        for name in eeg + ([entry["emg"]] if entry["emg"] else []):
            if name not in raw.ch_names:
                raise ValueError(
                    f"The {where} gives animal {animal} the channel {name!r}, "
                    f"which is not in the recording: its channels are "
                    f"{raw.ch_names}. Correct the {where}."
                )
            if name in owner:
                raise ValueError(
                    f"The {where} gives channel {name} to animals {owner[name]} "
                    f"and {animal}; each channel belongs to one animal."
                )
            owner[name] = animal
    return layout


def _animal_options(options, animal, entry):
    """Return the options that score one animal: its EEG as picks, its EMG."""
    if options.picks is not None:
        raise ValueError(
            f"picks={options.picks!r} cannot be combined with a layout: the "
            "layout gives each animal's EEG channel(s). Put them in the layout."
        )
    emg = options.emg
    if isinstance(emg, str) and emg != "auto":
        raise ValueError(
            f"emg={emg!r} cannot be combined with a layout: the layout gives "
            "each animal's EMG channel. Put it in the layout (emg=None turns the "
            "EMG step off for every animal)."
        )
    if emg is not None:
        emg = entry["emg"]
    return options.replace(picks=entry["eeg"], emg=emg)


@_takes_options
@verbose
@fill_doc
def score_animals(
    raw,
    layout="auto",
    *,
    model=None,
    adapt="gain",
    emg="auto",
    smooth="hsmm",
    batch_size=32,
    reject_by_annotation=True,
    check_units=True,
    device="auto",
    precision="auto",
    options=None,
    verbose=None,
):
    """Score each animal of a recording that holds several.

    Each animal is scored on its own channels through the same pipeline as
    :func:`~mne_mousesleep.predict_proba`: its own input checks (a flat
    electrode of one animal leaves the others alone), gain step, EMG levels,
    hidden Markov model and trust verdict. The result of an animal is the one
    its channels would give alone in a file of their own.

    Parameters
    ----------
    raw : instance of Raw
        The recording, in volts. It is not modified; with ``preload=False``
        each animal's channels are read in turn.
    layout : "auto" | dict | path-like
        Which channels belong to which animal: ``"auto"`` (default) finds it
        from the channel names (:func:`find_animals`); a dict
        ``{animal: {"eeg": name, "emg": name or None}}`` (``"eeg"`` a list of
        names for multi-channel models; a bare name is the EEG without EMG);
        or the path of a layout file (see :func:`read_layout`).
    %(model)s
    %(adapt)s
    emg : "auto" | None
        ``"auto"`` (default): the EMG step with each animal's EMG channel of
        the layout (none for an animal without one); None: no EMG step.
    %(smooth)s
    %(batch_size)s
    %(reject_by_annotation)s
    %(check_units)s
    %(device)s
    %(precision_score)s
    %(options)s
    %(verbose)s

    Returns
    -------
    results : dict
        ``{animal: ScoringResult}``: one
        :class:`~mne_mousesleep.ScoringResult` per animal, in the
        layout's order; ``results[animal].to_frame()`` is what
        :func:`~mne_mousesleep.predict_proba` returns for it.

    Raises
    ------
    TypeError
        If ``raw`` is not a Raw.
    ValueError
        If the layout cannot be found (see :func:`find_animals`) or names a
        channel the recording does not have, if ``picks`` or an EMG channel
        is given beside a layout, or if an animal cannot be scored (see
        :func:`~mne_mousesleep.predict_proba`; the message names the animal).

    See Also
    --------
    find_animals : The layout found from the channel names.

    Examples
    --------
    >>> results = score_animals(raw)  # doctest: +SKIP
    >>> annot = to_annotations(results["M1"].to_frame())  # doctest: +SKIP
    """
    from . import _score

    _validate_type(raw, BaseRaw, "raw")
    layout = _resolve_layout(raw, layout)
    per_animal = {
        animal: _animal_options(options, animal, entry)
        for animal, entry in layout.items()
    }
    results = {}
    for animal, animal_options in per_animal.items():
        logger.info(f"Scoring animal {animal}")
        try:
            results[animal] = _score(raw, animal_options)
        except ValueError as err:
            raise ValueError(f"Animal {animal}: {err}") from None
    return results


def _animal_tag(animal):
    """Return the animal's name as it goes into file names (letters, digits)."""
    return re.sub(r"[^A-Za-z0-9]", "", animal)
