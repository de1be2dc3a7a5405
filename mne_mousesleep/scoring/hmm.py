"""Step 6, sleep's own rules over time: a hidden Markov model over the probabilities."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger

from .._stages import ARTIFACT, NREM, PRE_REM, REM, WAKE
from .hsmm import _Chain, _hsmm_chain

_STATES = (WAKE, NREM, PRE_REM, REM, ARTIFACT)
#: Mean bout length (s) of each state in the mouse transition prior.
MEAN_BOUT_S = {WAKE: 120.0, NREM: 180.0, PRE_REM: 30.0, REM: 75.0, ARTIFACT: 20.0}
#: Where each state goes when it ends (shares of the exits).
EXITS = {
    WAKE: {NREM: 0.95, ARTIFACT: 0.05},
    NREM: {WAKE: 0.55, PRE_REM: 0.35, REM: 0.05, ARTIFACT: 0.05},
    PRE_REM: {REM: 0.6, NREM: 0.3, WAKE: 0.1},
    REM: {WAKE: 0.9, NREM: 0.1},
    ARTIFACT: {WAKE: 0.6, NREM: 0.4},
}
#: Probability of a Wake -> REM step per epoch.
#:
#: Mice do not fall asleep straight into REM (outside narcolepsy-like
#: phenotypes).
WAKE_TO_REM = 1e-6
#: Power to which the prior's allowed transitions are raised.
#:
#: They are then renormalised. The network already sees each epoch's
#: neighbours (30-s windows for 10-s epochs), so an untempered prior would
#: count that context twice and erase short true bouts; tempered, it decides
#: close calls only (chosen on simulated labs: the 5-stage mean F1 after
#: smoothing was 0.640 untempered, 0.666 at 0.1, 0.670 at 0.05, against 0.661
#: unsmoothed).
TEMPER = 0.05
#: Floor of every transition probability of a matrix given by the user.
FLOOR = 1e-6
#: Values of ``smooth``.
SMOOTH_OPTIONS = ("hmm", "hsmm", None)


def mouse_transition_prior(epoch_length=10.0):
    """Return the mouse transition prior of the hidden Markov model.

    Parameters
    ----------
    epoch_length : float
        Epoch length in seconds.

    Returns
    -------
    probs : pandas.DataFrame, shape (5, 5)
        Probability of going from the row stage to the column stage in one
        epoch (Wake, NREM, pre-REM, REM, artifact). Each state ends with
        probability ``epoch_length / MEAN_BOUT_S[state]``, its exits shared as
        in ``EXITS``: Wake ends into NREM, NREM into Wake, pre-REM and
        (seldom) REM, pre-REM mostly into REM, REM mostly into Wake. These
        probabilities are then tempered (raised to
        :data:`~mne_mousesleep.scoring.hmm.TEMPER` and
        renormalised); transitions absent from ``EXITS`` stay impossible.
        Wake -> REM has probability
        :data:`~mne_mousesleep.scoring.hmm.WAKE_TO_REM`.

    Notes
    -----
    The bout lengths are typical of mice in the light phase (Wake bouts of
    minutes, NREM bouts of a few minutes, REM bouts of about a minute, pre-REM
    of tens of seconds; see e.g. Grieger et al. 2021, Fig. 5, and the bout
    statistics of :func:`mne_mousesleep.sleep_statistics`). The prior only
    needs to be roughly right: the network's evidence dominates every epoch
    whose probabilities are clear, and the prior decides between close calls
    and forbids Wake -> REM. Replace it by a lab's own
    (:func:`mne_mousesleep.transition_matrix` of its expert scorings) with
    ``smooth=probs``.
    """
    n = len(_STATES)
    probs = np.zeros((n, n))
    for ii, state in enumerate(_STATES):
        leave = min(1.0, epoch_length / MEAN_BOUT_S[state])
        probs[ii, ii] = 1.0 - leave
        for target, share in EXITS[state].items():
            probs[ii, _STATES.index(target)] = leave * share
    probs = probs**TEMPER
    probs /= probs.sum(axis=1, keepdims=True)
    probs[_STATES.index(WAKE), _STATES.index(REM)] = WAKE_TO_REM
    probs /= probs.sum(axis=1, keepdims=True)
    return pd.DataFrame(probs, index=list(_STATES), columns=list(_STATES))


def _stationary(probs):
    values, vectors = np.linalg.eig(probs.T)
    pi = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    return pi / pi.sum()


def _for_classes(probs, classes):
    """Return the transition matrix over ``classes`` (the network's output order).

    States the network does not output are folded into the ones it does
    (pre-REM into NREM for 3-stage networks, weighted by how often each is
    visited); artifact is dropped when the network has no artifact class.
    """
    states = list(probs.index)
    if set(classes) <= set(states) and len(classes) == len(states):
        return probs.loc[list(classes), list(classes)].to_numpy(float)
    fold = {s: s for s in states}
    if PRE_REM not in classes:
        fold[PRE_REM] = NREM
    keep = [s for s in states if fold[s] in classes]
    sub = probs.loc[keep, keep].to_numpy(float)
    sub = sub / sub.sum(axis=1, keepdims=True)
    pi = _stationary(sub)
    out = np.zeros((len(classes), len(classes)))
    weight = np.zeros(len(classes))
    for ii, a in enumerate(keep):
        ia = classes.index(fold[a])
        weight[ia] += pi[ii]
        for jj, b in enumerate(keep):
            out[ia, classes.index(fold[b])] += pi[ii] * sub[ii, jj]
    return out / weight[:, None]


def _check_smooth_value(smooth):
    """Check the form of ``smooth``: "hmm", None or a transition matrix."""
    if smooth is None:
        return
    if isinstance(smooth, dict):
        _check_prior_table(smooth)
        return
    if isinstance(smooth, str):
        if smooth not in SMOOTH_OPTIONS:
            raise ValueError(
                f"smooth must be 'hmm', 'hsmm', None, a transition matrix "
                f"(DataFrame) or an architecture prior (dict), got {smooth!r}."
            )
        return
    _validate_type(smooth, pd.DataFrame, "smooth", "'hmm', 'hsmm', None or DataFrame")
    rows, cols = list(smooth.index), list(smooth.columns)
    if rows != cols or not set(rows) <= set(_STATES):
        raise ValueError(
            f"smooth as a DataFrame must be a transition matrix with the same "
            f"stages as rows and columns (among {list(_STATES)}), such as the "
            f"probabilities of transition_matrix(); got rows {rows} and columns "
            f"{cols}."
        )
    values = smooth.to_numpy(float)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(
            "smooth has NaN or negative transition probabilities (a stage never "
            "left in the scorings it came from?)."
        )


def _check_smooth(smooth, classes, epoch_length):
    """Return the decoder (a :class:`.hsmm._Chain` over ``classes``) or None.

    ``epoch_length`` (s) is the model card's: the prior's bout lengths are
    turned into probabilities per epoch of that length.
    """
    _check_smooth_value(smooth)
    if smooth is None:
        return None
    if isinstance(smooth, str) and smooth == "hsmm":  # Wake -> REM: never
        return _hsmm_chain(classes, epoch_length, TEMPER, 0.0)
    if isinstance(smooth, dict):
        _check_prior_fits(smooth, classes, epoch_length)
        return _hsmm_chain(classes, epoch_length, TEMPER, 0.0, prior=smooth)
    return _plain(_transition(smooth, classes, epoch_length))


_PRIOR_KEYS = ("bouts", "exits", "longest_bout_s", "rem", "bout_edges_s", "source")


def _check_prior_table(prior):
    """Refuse a prior table without the entries of :func:`architecture_prior`."""
    missing = [k for k in _PRIOR_KEYS if k not in prior]
    if missing:
        raise ValueError(
            f"smooth as a dict must be an architecture prior table such as "
            f"architecture_prior('lab_3'); it lacks {missing}."
        )


def _check_prior_fits(prior, classes, epoch_length):
    """Refuse a prior table that does not fit the model's stages or epochs."""
    length = float(prior["source"].get("epoch_length", 0.0))
    if not 0 < length <= epoch_length:
        raise ValueError(
            f"The architecture prior was derived from {length:g}-s epochs; the "
            f"model scores {epoch_length:g}-s epochs, which a prior of coarser "
            "epochs cannot describe: derive it at this epoch length or shorter."
        )
    known = set(prior["bouts"])
    lacking = [c for c in classes if c not in known and c != PRE_REM]
    if lacking:
        raise ValueError(
            f"The architecture prior holds the stages {sorted(known)}; the model's "
            f"stages {list(classes)} include {lacking}, which it does not know."
        )


def _plain(trans):
    """Return the hidden Markov model as a chain whose sub-states are the stages."""
    k = len(trans)
    return _Chain(trans, np.arange(k), _stationary(trans), k, "hmm")


def _transition(smooth, classes, epoch_length):
    """Return the hidden Markov model's transition matrix over ``classes``."""
    if isinstance(smooth, str):
        return _for_classes(mouse_transition_prior(epoch_length), list(classes))
    rows = list(smooth.index)
    values = smooth.to_numpy(float)
    # Stages the lab's matrix lacks (e.g. artifact, excluded by
    # transition_matrix) keep the rows of the mouse prior.
    full = mouse_transition_prior(epoch_length)
    full.loc[rows, rows] = (
        values
        / values.sum(axis=1, keepdims=True)
        * full.loc[rows, rows].to_numpy().sum(axis=1, keepdims=True)
    )
    full = full.clip(lower=FLOOR)
    full = full.div(full.sum(axis=1), axis=0)
    return _for_classes(full, list(classes))


def _forward_step(alpha, like, trans, start=None):
    """One step of the forward filter: the state probabilities after ``like``.

    ``alpha`` is the previous epoch's filtered state probabilities (None at
    the first epoch: ``start``, by default the chain's stationary
    distribution, is the prior), ``like`` the emission likelihoods of this
    epoch ``(n_states,)``. Returns ``P(state | epochs so far)``, normalised.
    """
    if alpha is None:
        a = (_stationary(trans) if start is None else start) * like
    else:
        a = (alpha @ trans) * like
    total = a.sum()
    if not total > 0:  # evidence the chain cannot explain: the prior alone
        a = (alpha @ trans) if alpha is not None else np.ones(len(like))
        total = a.sum()
    return a / total


#: Epochs between two rescalings of the forward and backward messages: the
#: emission likelihoods are at least 1e-12, so 16 epochs shrink a message by
#: 1e-192 at most, within float64; fewer numpy calls per epoch.
RESCALE_EVERY = 16


def _forward(like, trans, start=None):
    """Return the filtered state probabilities of every epoch (scaled forward pass).

    As :func:`_forward_step` epoch after epoch, in one loop (a week of 4-s
    epochs is 151,200 steps), rescaled every :data:`RESCALE_EVERY` epochs
    and normalised at the end; a block whose evidence the chain cannot
    explain is computed again step by step (:func:`_forward_step`).
    """
    n, k = like.shape
    alpha = np.empty((n, k))
    if not n:
        return alpha
    alpha[0] = _forward_step(None, like[0], trans, start)
    t = 1
    while t < n:
        stop = min(t + RESCALE_EVERY, n)
        for u in range(t, stop):
            np.dot(alpha[u - 1], trans, out=alpha[u])
            alpha[u] *= like[u]
        total = alpha[stop - 1].sum()
        if total > 0:
            alpha[t:stop] /= alpha[t:stop].sum(axis=1, keepdims=True)
        else:
            for u in range(t, stop):
                alpha[u] = _forward_step(alpha[u - 1], like[u], trans)
        t = stop
    return alpha


def _forward_backward(like, trans, start=None):
    """Posterior state probabilities (scaled forward-backward)."""
    n, k = like.shape
    alpha = _forward(like, trans, start)
    if not n:
        return np.empty((n, k))
    beta = np.empty((n, k))
    beta[-1] = 1.0
    t = n - 1
    buf = np.empty(k)
    while t > 0:
        stop = max(t - RESCALE_EVERY, 0)
        for u in range(t - 1, stop - 1, -1):
            np.multiply(like[u + 1], beta[u + 1], out=buf)
            np.dot(trans, buf, out=beta[u])
        total = beta[stop].sum()
        if not total > 0:  # as the forward pass: step by step
            for u in range(t - 1, stop - 1, -1):
                b = trans @ (like[u + 1] * beta[u + 1])
                beta[u] = b / b.sum() if b.sum() > 0 else 1.0
        beta[stop:t] /= beta[stop:t].max(axis=1, keepdims=True)
        t = stop
    post = alpha * beta
    post /= post.sum(axis=1, keepdims=True)
    return post


def _viterbi(like, trans, start=None):
    """Most probable state path."""
    n, k = like.shape
    with np.errstate(divide="ignore"):  # a zero transition: never taken
        log_t = np.log(trans)
    log_l = np.log(np.maximum(like, 1e-300))
    start = _stationary(trans) if start is None else start
    delta = np.log(np.maximum(start, 1e-300)) + log_l[0]
    back = np.empty((n, k), np.intp)
    # Rows "to", columns "from": each row's best predecessor is contiguous.
    log_t_to = np.ascontiguousarray(log_t.T)
    scores, rows = np.empty((k, k)), np.arange(k)
    for t in range(1, n):
        np.add(log_t_to, delta, out=scores)
        best = scores.argmax(axis=1)
        back[t] = best
        delta = scores[rows, best] + log_l[t]
    path = np.empty(n, int)
    path[-1] = delta.argmax()
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _emissions(values):
    """Emission likelihoods of probabilities ``(n_epochs, n_states)``.

    The probabilities themselves (floored at 1e-12); an unscored epoch (a row
    with NaN) carries no evidence: 1 for every state.
    """
    scored = ~np.isnan(values).any(axis=1)
    return np.where(scored[:, None], np.clip(values, 1e-12, None), 1.0)


def _apply_hmm(values, classes, chain):
    """Smooth probabilities; return the new ones and the record with the path.

    ``values`` are ``(n_epochs, n_classes)``, columns ``classes``; they are
    not changed. ``chain`` is the decoder (:func:`_check_smooth`): the
    hidden Markov model, or the hidden semi-Markov model over its
    sub-states. The network's probabilities are the emission likelihoods
    (the class priors of the training data are not published, so they are
    taken as equal). Unscored epochs (NaN rows) carry no evidence and stay
    NaN. The record holds ``"decoder"``, ``"n_changed"`` (epochs
    relabelled), the stage ``"transition"`` matrix (of the semi-Markov
    model: its flows between stages at equilibrium) and the Viterbi
    ``"path"`` (a stage per epoch, None where unscored).
    """
    values = np.asarray(values, float)
    scored = ~np.isnan(values).any(axis=1)
    trans = chain.trans if chain.name == "hmm" else _stage_flows(chain)
    record = dict(decoder=chain.name, transition=np.asarray(trans).round(8).tolist())
    if not scored.any():
        return values.copy(), dict(n_changed=0, path=[], **record)
    like = chain.expand(_emissions(values))
    post = chain.collapse(_forward_backward(like, chain.trans, chain.start))
    path = chain.owner[_viterbi(like, chain.trans, chain.start)]
    before = np.full(len(values), -1)
    before[scored] = values[scored].argmax(axis=1)
    post[~scored] = np.nan
    classes = list(classes)
    labels = [classes[p] if s else None for p, s in zip(path, scored)]
    changed = int((scored & (path != before)).sum())
    logger.info(
        f"{chain.name.upper()} smoothing: {changed} of {int(scored.sum())} epochs "
        "relabelled"
    )
    return post, dict(n_changed=changed, path=labels, **record)


def _stage_flows(chain):
    """Return the stage-to-stage transitions of a chain at its equilibrium."""
    pi = _stationary(chain.trans)
    k = chain.n_stages
    out = np.zeros((k, k))
    for a in range(k):
        rows = chain.owner == a
        flow = pi[rows] @ chain.trans[rows]
        out[a] = chain.collapse(flow) / max(pi[rows].sum(), 1e-300)
    return out
