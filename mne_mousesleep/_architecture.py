"""How real mice sleep: the architecture prior from five labs' expert scorings.

The prior is a small table shipped with the package
(``architecture_mssv.json``), derived from the expert scorings of the Mouse
Sleep Staging Validation dataset (MSSV; OpenNeuro ds006366 1.0.1, CC0;
Rose et al. 2025, doi 10.1093/sleepadvances/zpaf025): 92 mice of 5 labs,
148 recordings, 2,163 h scored in 4-s epochs. Per lab and pooled, it holds
for each stage the histogram of bout durations, the transitions between
bouts (which stage follows which), and what comes before REM: the stage a
REM bout is entered from and the share of NREM in the 2 minutes before its
onset. :func:`derive_architecture` rebuilds it from the dataset's files
(``benchmarks/build_architecture_prior.py`` writes the shipped table) and
:func:`architecture_prior` reads it.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import json
from functools import cache
from pathlib import Path

import numpy as np

from ._stages import ARTIFACT, NREM, REM, WAKE, _runs

#: The shipped table.
PRIOR_FILE = Path(__file__).with_name("architecture_mssv.json")
#: The stages of the expert scorings, by their code in the dataset.
MSSV_CODES = {1: WAKE, 2: NREM, 3: REM, 4: ARTIFACT}
#: Epoch length (s) of the expert scorings.
MSSV_EPOCH = 4.0
#: Edges (s) of the bout-duration histograms: every 4-s epoch up to 64 s,
#: then about four bins per doubling; the last bin is open.
BOUT_EDGES_S = (
    [4.0 * k for k in range(1, 17)]
    + [80.0, 96.0, 128.0, 160.0, 192.0, 256.0, 320.0, 384.0, 512.0, 640.0, 768.0]
    + [1024.0, 1280.0, 1536.0, 2048.0, 2560.0, 3072.0, 4096.0, 5120.0, 6144.0]
    + [8192.0, 10240.0, 12288.0, 16384.0, 20480.0, 24576.0, 32768.0]
)
#: The window before a REM onset whose NREM share is measured (s).
RUNUP_S = 120.0
#: Quantiles (percent) of the NREM share before REM onsets kept in the table.
RUNUP_QUANTILES = (1, 5, 10, 25, 50)
_SOURCE = dict(
    dataset="Mouse Sleep Staging Validation (MSSV), OpenNeuro ds006366 1.0.1",
    license="CC0",
    citation=("Rose et al. (2025). Sleep Advances. doi:10.1093/sleepadvances/zpaf025"),
    epoch_length=MSSV_EPOCH,
    script="benchmarks/build_architecture_prior.py",
)


def _bouts(codes):
    """Return the bouts of a code sequence: ``(codes, lengths in epochs)``."""
    codes = np.asarray(codes)
    starts, ends = _runs(codes)
    return codes[starts], ends - starts


def _recording_figures(codes):
    """Return the counts of one recording (plain Python values, to be summed)."""
    names = [MSSV_CODES[c] for c in sorted(MSSV_CODES)]
    stages, lengths = _bouts(codes)
    seconds = lengths * MSSV_EPOCH
    bins = np.searchsorted(BOUT_EDGES_S, seconds, side="right") - 1
    hist = {
        name: np.bincount(bins[stages == code], minlength=len(BOUT_EDGES_S)).tolist()
        for code, name in MSSV_CODES.items()
    }
    exits = {a: dict.fromkeys(names, 0) for a in names}
    for a, b in zip(stages[:-1], stages[1:]):
        exits[MSSV_CODES[int(a)]][MSSV_CODES[int(b)]] += 1
    n_runup = int(round(RUNUP_S / MSSV_EPOCH))
    onsets = np.r_[0, np.cumsum(lengths)[:-1]][stages == 3]
    runup = [
        float(np.mean(codes[t - n_runup : t] == 2)) for t in onsets if t >= n_runup
    ]
    # The NREM bout a REM bout is entered from (s).
    before = [
        float(lengths[i - 1] * MSSV_EPOCH)
        for i in range(1, len(stages))
        if stages[i] == 3 and stages[i - 1] == 2
    ]
    epochs = {name: int(np.sum(codes == code)) for code, name in MSSV_CODES.items()}
    longest = {
        name: float(seconds[stages == code].max(initial=0))
        for code, name in MSSV_CODES.items()
    }
    return dict(
        bouts=hist,
        exits=exits,
        runup=runup,
        nrem_before=before,
        epochs=epochs,
        longest=longest,
    )


def _summarise(parts):
    """Sum the counts of recordings into one entry of the table."""
    names = [MSSV_CODES[c] for c in sorted(MSSV_CODES)]
    bouts = {n: np.sum([p["bouts"][n] for p in parts], axis=0).tolist() for n in names}
    exits = {
        a: {b: int(sum(p["exits"][a][b] for p in parts)) for b in names} for a in names
    }
    epochs = {n: int(sum(p["epochs"][n] for p in parts)) for n in names}
    longest = {n: max((p["longest"][n] for p in parts), default=0.0) for n in names}
    runup = np.concatenate([p["runup"] for p in parts]) if parts else np.empty(0)
    before = np.concatenate([p["nrem_before"] for p in parts]) if parts else []
    hours = sum(epochs.values()) * MSSV_EPOCH / 3600
    rem = np.asarray(bouts[REM], float)
    entered = {a: exits[a][REM] for a in names}
    n_entered = sum(entered.values())
    return dict(
        recordings=len(parts),
        hours=round(hours, 3),
        epochs=epochs,
        bouts=bouts,
        longest_bout_s=longest,
        exits=exits,
        rem=dict(
            n_bouts=int(rem.sum()),
            per_hour=round(float(rem.sum() / hours), 4) if hours else None,
            entered_from={a: round(n / n_entered, 4) for a, n in entered.items()}
            if n_entered
            else {},
            runup_n=len(runup),
            runup_quantiles={
                str(q): round(float(np.percentile(runup, q)), 4)
                for q in RUNUP_QUANTILES
            }
            if len(runup)
            else {},
            nrem_bout_before_quantiles_s={
                str(q): round(float(np.percentile(before, q)), 4)
                for q in RUNUP_QUANTILES
            }
            if len(before)
            else {},
        ),
    )


def derive_architecture(folder):
    """Derive the architecture prior from the MSSV expert scorings.

    Parameters
    ----------
    folder : path-like
        A folder with ``mssv_stages_4s.npz`` (one int8 array of stage codes
        per recording, 1 Wake, 2 NREM, 3 REM, 4 artifact, one per 4-s epoch)
        and ``participants.tsv`` (each ``sub-XXX`` and its lab).

    Returns
    -------
    table : dict
        JSON-ready: ``"source"`` (dataset, license, citation, epoch length),
        ``"bout_edges_s"`` (the histograms' bin edges, s) and ``"labs"``,
        ``{"pooled": ..., "lab_1": ..., ...}``, each with ``"recordings"``,
        ``"hours"``, ``"epochs"`` per stage, ``"bouts"`` (per stage, the
        count of bouts per duration bin), ``"longest_bout_s"`` per stage,
        ``"exits"`` (bouts of the row
        stage followed by a bout of the column stage) and ``"rem"`` (bouts,
        per hour, the shares of the stages REM is entered from, and the
        quantiles of the NREM share of the 2 min before a REM onset at least
        2 min into the recording, and of the length of the NREM bout a REM
        bout is entered from, s).

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    """
    folder = Path(folder)
    labs = {}
    for line in (folder / "participants.tsv").read_text().splitlines()[1:]:
        if line.strip():
            sub, lab = line.split("\t")[:2]
            labs[sub.strip()] = lab.strip()
    per_lab = {}
    with np.load(folder / "mssv_stages_4s.npz") as stages:
        for key in sorted(stages.files):
            lab = labs[key.split("_")[0]]
            per_lab.setdefault(lab, []).append(_recording_figures(stages[key]))
    table = {"pooled": _summarise([p for parts in per_lab.values() for p in parts])}
    table.update({lab: _summarise(per_lab[lab]) for lab in sorted(per_lab)})
    return dict(source=_SOURCE, bout_edges_s=list(BOUT_EDGES_S), labs=table)


@cache
def _shipped():
    return json.loads(PRIOR_FILE.read_text())


def architecture_prior(lab="pooled"):
    """Return the architecture prior of real mice (five labs' expert scorings).

    Derived from the expert scorings of the Mouse Sleep Staging Validation
    dataset (OpenNeuro ds006366, CC0: 92 mice, 5 labs, 148 recordings,
    2,163 h in 4-s epochs), shipped with the package; the hidden semi-Markov
    model (``smooth="hsmm"``) decodes with it.

    Parameters
    ----------
    lab : str
        ``"pooled"`` (all five labs) or one of ``"lab_1"`` to ``"lab_5"``.

    Returns
    -------
    prior : dict
        The lab's entry of the shipped table, JSON-ready, with ``"source"``
        (dataset, license, citation, epoch length of 4 s) and
        ``"bout_edges_s"`` (the histograms' bin edges, s): ``"recordings"``,
        ``"hours"``, ``"epochs"`` per stage, ``"bouts"`` (per stage, the
        count of bouts per duration bin), ``"longest_bout_s"`` per stage,
        ``"exits"`` (bouts of the row stage followed by a bout of the column
        stage) and ``"rem"`` (REM bouts, per hour, the shares of the stages
        REM is entered from, the quantiles of the NREM share of the 2 min
        before a REM onset and of the NREM bout REM is entered from, s). A
        copy.

    Raises
    ------
    ValueError
        If ``lab`` is not in the table.

    References
    ----------
    Rose et al. (2025). Sleep Advances. doi:10.1093/sleepadvances/zpaf025
    """
    table = _shipped()
    if lab not in table["labs"]:
        raise ValueError(f"lab must be one of {list(table['labs'])}, got {lab!r}.")
    return json.loads(
        json.dumps(
            dict(
                table["labs"][lab],
                source=table["source"],
                bout_edges_s=table["bout_edges_s"],
            )
        )
    )


@cache
def _limits():
    """Return what none of the five labs' experts went beyond (a dict).

    ``longest_rem_s``: the longest REM bout (s); ``least_runup``: the least
    of the labs' 5th percentiles of the NREM share in the 2 min before a REM
    onset; ``rem_share`` and ``rem_per_hour``: the highest lab's REM share
    of the scored time and REM bouts per hour.
    """
    labs = [architecture_prior(f"lab_{k}") for k in range(1, 6)]
    return dict(
        longest_rem_s=max(p["longest_bout_s"][REM] for p in labs),
        least_runup=min(p["rem"]["runup_quantiles"]["5"] for p in labs),
        rem_share=max(p["epochs"][REM] / sum(p["epochs"].values()) for p in labs),
        rem_per_hour=max(p["rem"]["per_hour"] for p in labs),
    )


def bout_quantile(prior, stage, q):
    """Return the ``q``-th percentile (s) of a stage's bout durations in a prior.

    Read from the histogram: the upper edge of the bin where the cumulative
    share of bouts reaches ``q`` percent (an upper bound, exact to the bin).
    """
    counts = np.asarray(prior["bouts"][stage], float)
    edges = np.r_[prior["bout_edges_s"], np.inf]
    cum = np.cumsum(counts) / counts.sum()
    k = int(np.searchsorted(cum, q / 100.0 - 1e-12))
    return float(edges[k + 1])
