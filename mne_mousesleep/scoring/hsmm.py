"""Step 6, explicit durations: a hidden semi-Markov model of real mouse sleep.

The hidden semi-Markov model is decoded as a hidden Markov model over
sub-states (an expanded state space): each stage is a chain of phases,
phase ``i`` meaning "the bout has lasted ``i`` epochs", left with the
hazard of the stage's bout-duration distribution. The durations and the
transitions come from the architecture prior of five labs' expert scorings
(:func:`~mne_mousesleep.architecture_prior`), at the model's epoch length
and for its stages (a lab's own classes through their roles). What every
expert knows is then part of every decision:

- a REM bout lasts at most as long as the longest REM bout the experts
  scored (304 s): its last phase has no way but out;
- REM is entered from NREM only after an NREM run as long as the 5th
  percentile of the NREM bouts the experts saw REM entered from (28 s),
  through pre-REM (which needs the same run) or an artifact after that run,
  never from Wake (probability :data:`.hmm.WAKE_TO_REM`), and a recording
  does not start in REM;
- the soft parts (hazards, exit shares) are tempered as the hidden Markov
  model's (:data:`.hmm.TEMPER`): the network already sees each epoch's
  neighbours, so the prior decides close calls and the hard rules above.

References
----------
Yu, S.-Z. (2010). Hidden semi-Markov models. Artificial Intelligence 174,
215-243 (the expanded-state decoding of explicit durations).
Rose et al. (2025). Sleep Advances. doi:10.1093/sleepadvances/zpaf025 (the
expert scorings).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import math
from typing import NamedTuple

import numpy as np

from .._architecture import RUNUP_S, _limits, architecture_prior
from .._stages import ARTIFACT, NREM, PRE_REM, REM, WAKE, _runs

#: Mean bout length (s) of pre-REM, which the expert scorings do not hold.
PRE_REM_BOUT_S = 30.0
#: Where pre-REM goes when it ends (as the hidden Markov model's prior), and
#: the share of NREM's exits toward REM that go through pre-REM instead in a
#: model with pre-REM.
PRE_REM_EXITS = {REM: 0.6, NREM: 0.3, WAKE: 0.1}
PRE_REM_SHARE = 0.875
#: Percentile of the NREM bouts the experts saw REM entered from whose
#: length (28 s) an NREM run must reach before REM.
RUNUP_QUANTILE = "5"


class _Chain(NamedTuple):
    """A hidden Markov model over sub-states, each owned by a stage.

    ``trans`` ``(n_sub, n_sub)``, ``owner`` ``(n_sub,)`` the index of each
    sub-state's stage, ``start`` ``(n_sub,)`` the probabilities at the first
    epoch, ``n_stages`` the stages, ``name`` the decoder's (``"hmm"``,
    ``"hsmm"``).
    """

    trans: np.ndarray
    owner: np.ndarray
    start: np.ndarray
    n_stages: int
    name: str

    def expand(self, like):
        """Emission likelihoods of the sub-states from the stages' ``(..., n)``."""
        return np.asarray(like)[..., self.owner]

    def collapse(self, p):
        """Probabilities of the stages from the sub-states' ``(..., n_sub)``."""
        out = np.zeros((*np.shape(p)[:-1], self.n_stages))
        for k in range(self.n_stages):
            out[..., k] = np.asarray(p)[..., self.owner == k].sum(axis=-1)
        return out


def _duration_pmf(prior, stage, epoch_length, n_max):
    """P(a bout lasts ``n`` epochs), ``n = 1..n_max``; the rest in the last.

    From the histogram of bout durations (s, measured at 4 s): its
    cumulative distribution, linear between the bins' edges, read at
    ``(n +- 1/2)`` epochs.
    """
    counts = np.asarray(prior["bouts"][stage], float)
    edges = np.asarray(prior["bout_edges_s"], float)
    cdf_at = np.r_[0.0, np.cumsum(counts) / counts.sum()]  # at edges[0]... and inf
    # The bins hold durations from their left edge (4 s, a bout of one
    # epoch) to the next: the CDF rises over [edge - 4, edge) of each bin.
    x = np.r_[edges[0] - 4.0, edges]
    points = (np.arange(n_max + 1) + 0.5) * epoch_length
    cdf = np.interp(points, x, cdf_at[: len(x)], right=1.0)
    cdf[0] = 0.0
    pmf = np.diff(cdf)
    pmf[-1] += max(0.0, 1.0 - cdf[-1])
    return np.clip(pmf, 0.0, None) / max(pmf.sum(), 1e-300)


def _hazards(pmf):
    """Hazard of each duration: P(D = n | D >= n); 1 at the last."""
    survival = np.cumsum(pmf[::-1])[::-1]
    h = np.divide(pmf, survival, out=np.ones_like(pmf), where=survival > 0)
    h[-1] = 1.0
    return np.clip(h, 0.0, 1.0)


def _mean_bout_s(prior, stage):
    """Mean bout duration (s) from the histogram (bins at their centres)."""
    counts = np.asarray(prior["bouts"][stage], float)
    edges = np.asarray(prior["bout_edges_s"], float)
    right = np.r_[edges[1:], edges[-1] * 1.25]
    centres = (edges + right) / 2 - 2.0
    return float((counts * centres).sum() / counts.sum())


def _exit_shares(prior, stages):
    """Where each stage goes when its bout ends, over ``stages`` (dict of dicts)."""
    exits = prior["exits"]
    out = {}
    for a in stages:
        if a == PRE_REM:
            shares = {b: v for b, v in PRE_REM_EXITS.items() if b in stages}
        elif a in exits:
            shares = {b: float(exits[a].get(b, 0)) for b in stages if b != a}
            if a == NREM and PRE_REM in stages and REM in shares:
                shares[PRE_REM] = shares[REM] * PRE_REM_SHARE
                shares[REM] *= 1 - PRE_REM_SHARE
        else:  # a stage the experts do not score: anywhere else alike
            shares = {b: 1.0 for b in stages if b != a}
        shares.pop(a, None)
        if a != WAKE:
            shares = {b: v for b, v in shares.items() if v > 0}
        total = sum(shares.values())
        out[a] = {b: v / total for b, v in shares.items()} if total else {}
    return out


def _hsmm_chain(stages, epoch_length, temper, wake_to_rem, prior=None):
    """Build the expanded-state chain of the hidden semi-Markov model.

    ``stages`` are the stages the steps see (the model's classes folded by
    role), ``epoch_length`` the card's (s), ``prior`` an architecture prior
    table (None: the five labs pooled). Returns a :class:`_Chain`.
    """
    prior = architecture_prior() if prior is None else prior
    stages = list(stages)
    rem = prior["rem"]
    longest = prior["longest_bout_s"][REM]
    run = rem["nrem_bout_before_quantiles_s"][RUNUP_QUANTILE]
    n_phases = {s: 1 for s in stages}
    if REM in stages:
        n_phases[REM] = max(1, math.ceil(longest / epoch_length))
    if NREM in stages and REM in stages:
        n_phases[NREM] = max(1, math.ceil(run / epoch_length))
    if ARTIFACT in stages and REM in stages:
        n_phases[ARTIFACT] = 2  # out of Wake (0) or out of sleep's run-up (1)
    first = {}
    owner = []
    for k, stage in enumerate(stages):
        first[stage] = len(owner)
        owner += [k] * n_phases[stage]
    n = len(owner)
    exits = _exit_shares(prior, stages)
    trans = np.zeros((n, n))
    for stage in stages:
        m = n_phases[stage]
        leave = _leave(prior, stage, m, epoch_length)
        for i in range(m):
            row = first[stage] + i
            h = float(leave[i])
            progress = i + 1 < m and stage != ARTIFACT
            if progress:
                trans[row, row + 1] = 1.0 - h
            else:
                trans[row, row] = 1.0 - h
            # Sleep's run-up is reached in NREM's last phase; REM, pre-REM
            # and an artifact after it keep it.
            asleep = (
                (stage == NREM and i + 1 == m)
                or stage in (PRE_REM, REM)
                or (stage == ARTIFACT and i == 1)
            )
            shares = dict(exits[stage])
            if not asleep and stage != WAKE:  # no REM before the NREM run
                shares.pop(REM, None)
                shares.pop(PRE_REM, None)
            total = sum(shares.values())
            for target, share in shares.items():
                column = first[target]
                if target == ARTIFACT and asleep and n_phases[ARTIFACT] == 2:
                    column += 1
                trans[row, column] += h * share / total if total else 0.0
    trans = _temper(trans, temper)
    if WAKE in stages and REM in stages:
        for row in range(first[WAKE], first[WAKE] + n_phases[WAKE]):
            trans[row, first[REM]] = wake_to_rem
        trans /= trans.sum(axis=1, keepdims=True)
    start = np.zeros(n)
    for stage in stages:
        if stage not in (REM, PRE_REM):
            start[first[stage]] = 1.0
    if not start.any():
        start[:] = 1.0
    return _Chain(trans, np.array(owner), start / start.sum(), len(stages), "hsmm")


def _leave(prior, stage, m, epoch_length):
    """Return the probability of each of a stage's ``m`` phases to end the bout."""
    if stage == REM:
        return _hazards(_duration_pmf(prior, REM, epoch_length, m))
    if stage == PRE_REM:
        return np.array([min(1.0, epoch_length / PRE_REM_BOUT_S)])
    if stage not in prior["bouts"]:
        return np.full(m, 0.5)
    pmf = _duration_pmf(prior, stage, epoch_length, 4096)
    if stage == ARTIFACT:  # its phases are where it came from, not its length
        return np.full(m, min(1.0, epoch_length / _mean_bout_s(prior, stage)))
    leave = _hazards(pmf)[:m].copy()
    # The last phase: the rest of the bout, geometric with its mean.
    survival = np.cumsum(pmf[::-1])[::-1]
    tail = survival[m - 1 :]
    leave[-1] = min(1.0, tail[0] / max(tail.sum(), 1e-300))
    return leave


def _temper(trans, temper):
    """Raise each row's non-zero probabilities to ``temper`` and renormalise."""
    out = np.where(trans > 0, np.power(np.maximum(trans, 1e-300), temper), 0.0)
    return out / out.sum(axis=1, keepdims=True)


def _earn_rem(values, stages, epoch_length):
    """Refuse the REM candidates no expert would score (without EMG evidence).

    A REM candidate is a run of epochs whose most probable stage is REM.
    It is not REM if it lasts longer than the longest REM bout of the five
    labs' experts (304 s), or if the stages called in the 2 minutes before
    its onset (those available, at the start of a recording) hold less NREM
    (pre-REM counts) than the least of the five labs' 5th percentiles
    (40 %): its REM probability (and pre-REM's) goes to the other stages,
    in proportion. Returns the new probabilities, ``(n_epochs, n_stages)``,
    and the record: ``"n_refused"`` (epochs), ``"refused"`` (``[first
    epoch, epochs, why]`` per candidate) and the thresholds.
    """
    values = np.asarray(values, float).copy()
    stages = list(stages)
    record = dict(n_refused=0, refused=[])
    if REM not in stages:
        return values, record
    limits = _limits()
    longest, least = limits["longest_rem_s"], limits["least_runup"]
    record.update(longest_rem_s=longest, least_runup=least)
    scored = ~np.isnan(values).any(axis=1)
    calls = np.full(len(values), -1)
    calls[scored] = values[scored].argmax(axis=1)
    rem = stages.index(REM)
    sleep = [stages.index(s) for s in (NREM, PRE_REM) if s in stages]
    n_runup = max(1, int(round(RUNUP_S / epoch_length)))
    drop = [stages.index(s) for s in (REM, PRE_REM) if s in stages]
    for first, stop in zip(*_runs(calls)):
        if calls[first] != rem:
            continue
        before = calls[max(0, first - n_runup) : first]
        before = before[before >= 0]
        share = float(np.isin(before, sleep).mean()) if len(before) else 0.0
        why = None
        if (stop - first) * epoch_length > longest:
            why = f"lasts {(stop - first) * epoch_length:g} s > {longest:g} s"
        elif share < least:
            why = f"{share:.0%} NREM in the 2 min before < {least:.0%}"
        if why is None:
            continue
        rows = values[first:stop]
        rows[:, drop] = 0.0
        total = rows.sum(axis=1, keepdims=True)
        values[first:stop] = np.divide(
            rows, total, out=np.full_like(rows, 1.0 / len(stages)), where=total > 0
        )
        record["refused"].append([int(first), int(stop - first), why])
        record["n_refused"] += int(stop - first)
    return values, record
