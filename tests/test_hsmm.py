"""The hidden semi-Markov model with the five labs' architecture prior."""

import numpy as np
import pytest

from mne_mousesleep.scoring.hmm import _apply_hmm, _check_smooth
from mne_mousesleep.scoring.hsmm import _earn_rem

FIVE = ["Wake", "REM", "NREM", "pre-REM", "artifact"]
THREE = ["Wake", "REM", "NREM"]


def _proba(spec, classes=THREE, confidence=0.9):
    """Probabilities of runs ``[(stage, epochs), ...]``, the stage at ``confidence``."""
    rows = []
    for stage, n in spec:
        row = np.full(len(classes), (1 - confidence) / (len(classes) - 1))
        row[classes.index(stage)] = confidence
        rows += [row] * n
    return np.array(rows)


def _path(values, classes, smooth="hsmm", earn=True, epoch_length=10.0):
    if earn and smooth == "hsmm":
        values, _ = _earn_rem(values, classes, epoch_length)
    chain = _check_smooth(smooth, classes, epoch_length)
    _, record = _apply_hmm(values, classes, chain)
    return np.array(record["path"], dtype=object)


def _rem_bouts(path):
    is_rem = path == "REM"
    edges = np.flatnonzero(np.diff(np.r_[0, is_rem.astype(np.int8), 0]))
    return [(a, b - a) for a, b in zip(edges[::2], edges[1::2])]


@pytest.mark.parametrize("classes", [THREE, FIVE])
def test_chain_rows_and_bounded_rem(classes):
    chain = _check_smooth("hsmm", classes, 10.0)
    np.testing.assert_allclose(chain.trans.sum(axis=1), 1.0)
    rem = np.flatnonzero(chain.owner == classes.index("REM"))
    assert len(rem) == 31  # 304 s in 10-s epochs
    assert chain.trans[rem[-1], rem[-1]] == 0  # the longest bout ends
    assert chain.start[rem].sum() == 0  # no recording starts in REM
    wake = np.flatnonzero(chain.owner == classes.index("Wake"))
    assert chain.trans[np.ix_(wake, rem)].sum() == 0
    # At 4 s: 76 phases of REM.
    chain4 = _check_smooth("hsmm", classes, 4.0)
    assert (chain4.owner == classes.index("REM")).sum() == 76


def test_nine_minutes_of_rem_from_active_wake_is_not_rem():
    """Theta-rich active Wake, no EMG: the network says REM for 9 minutes."""
    values = _proba([("Wake", 30), ("REM", 54), ("Wake", 30)])
    assert len(_rem_bouts(_path(values, THREE, "hmm"))) == 1  # today
    path = _path(values, THREE)
    assert not (path == "REM").any()
    _, record = _earn_rem(values, THREE, 10.0)
    assert record["refused"] == [[30, 54, "lasts 540 s > 304 s"]]


def test_rem_straight_after_wake_is_not_rem():
    values = _proba([("NREM", 30), ("Wake", 12), ("REM", 8), ("NREM", 10)])
    path = _path(values, THREE, earn=False)
    for a, _ in _rem_bouts(path):
        assert path[a - 1] != "Wake"
    assert not (_path(values, THREE) == "REM").any()  # 0 % NREM before: refused


def test_real_rem_is_kept():
    """REM after 2 min of NREM, 2 min long: REM, as the experts score it."""
    values = _proba([("Wake", 20), ("NREM", 18), ("REM", 12), ("Wake", 20)])
    path = _path(values, THREE)
    assert _rem_bouts(path) == [(38, 12)]
    five = _proba(
        [("Wake", 20), ("NREM", 15), ("pre-REM", 3), ("REM", 12), ("Wake", 20)], FIVE
    )
    path = _path(five, FIVE)
    assert _rem_bouts(path) == [(38, 12)]


def test_rem_at_the_start_of_a_recording_is_not_rem():
    values = _proba([("REM", 6), ("NREM", 30), ("Wake", 10)])
    assert not (_path(values, THREE) == "REM").any()


def test_unscored_epochs_stay_unscored():
    values = _proba([("NREM", 20), ("REM", 10), ("Wake", 10)])
    values[25:27] = np.nan
    chain = _check_smooth("hsmm", THREE, 10.0)
    post, record = _apply_hmm(values, THREE, chain)
    assert np.isnan(post[25:27]).all() and record["path"][25] is None
    np.testing.assert_allclose(np.delete(post, [25, 26], axis=0).sum(axis=1), 1.0)
    assert record["decoder"] == "hsmm"


def test_verdict_knows_real_architecture():
    from mne_mousesleep.scoring.trust import judge

    def verdict(spec, classes=THREE):
        values = _proba(spec, classes)
        labels = np.array([s for s, n in spec for _ in range(n)], dtype=object)
        return judge(labels, values, classes, dict(sfreq=1000.0), {}, {}, True)

    # 2.5 h of mouse-like sleep: ok.
    cycle = [("Wake", 60), ("NREM", 24), ("REM", 6), ("NREM", 20)]
    ok = verdict(cycle * 9)
    assert ok["verdict"] == "ok", ok["reasons"]
    assert ok["indicators"]["longest_rem_bout_s"] == 60.0
    # A 9-min REM bout entered from Wake, again and again.
    bad = verdict([("Wake", 60), ("REM", 54), ("NREM", 30)] * 6)
    assert bad["verdict"] == "review"
    text = " ".join(bad["reasons"])
    assert "a REM bout of 540 s" in text and "entered from Wake" in text
    assert "NREM in the 2 min before" in text
    # A 4-min recording: decoded, and too little to judge.
    short = verdict([("NREM", 20), ("REM", 4)])
    assert any("too little to judge" in n for n in short["notes"])
    assert not any("REM bout" in r for r in short["reasons"])


def test_a_labs_prior_and_priors_that_do_not_fit():
    from mne_mousesleep import architecture_prior

    prior = architecture_prior("lab_3")
    chain = _check_smooth(prior, FIVE, 10.0)
    assert chain.name == "hsmm" and (chain.owner == 1).sum() == 31
    coarse = dict(prior, source=dict(prior["source"], epoch_length=10.0))
    with pytest.raises(
        ValueError, match="derived from 10-s epochs; the model scores 4-s"
    ):
        _check_smooth(coarse, FIVE, 4.0)
    lacking = dict(prior, bouts={k: v for k, v in prior["bouts"].items() if k != "REM"})
    with pytest.raises(ValueError, match=r"include \['REM'\], which it does not know"):
        _check_smooth(lacking, FIVE, 10.0)
    with pytest.raises(ValueError, match=r"it lacks \['exits'\]"):
        _check_smooth({k: v for k, v in prior.items() if k != "exits"}, FIVE, 10.0)


def test_refused_rem_in_the_review_queue(online):
    """The epochs the prior refused are queued with why, and counted."""
    import mne_mousesleep as mms
    from mne_mousesleep.datasets import simulate_recording
    from mne_mousesleep.gui._session import _changed_by_steps, _queue_reasons

    raw = simulate_recording(
        2 * 3600.0, 256.0, active_theta=100.0, ch_names=("EEG_PR",), seed=2
    )
    proba = mms.predict_proba(raw, smooth="hsmm", verbose="error")
    result = mms.ScoringResult.from_frame(proba)
    refused = result.hmm["rem_refused"]
    assert result.hmm["decoder"] == "hsmm" and refused["n_refused"] > 0
    scorer = np.asarray(result.stages().to_numpy(), dtype=object)
    hmm, emg = _changed_by_steps(result, scorer)
    reasons = _queue_reasons(result, scorer, hmm, emg)
    first, n, why = refused["refused"][0]
    assert set(range(first, first + n)) <= set(hmm)
    assert reasons[first] == f"the network's REM refused ({why})"
    assert (scorer[first : first + n] != "REM").all()


def test_default_scoring_earns_rem_without_emg(online):
    """Theta-rich active Wake, no EMG, truth drawn from the five labs.

    The defaults (the semi-Markov model) call far fewer REM epochs in Wake
    than the HMM (measured on three 6-h mice: 83-89 % fewer), and keep the
    true REM.
    """
    import mne_mousesleep as mms
    from mne_mousesleep.datasets import simulate_recording

    raw = simulate_recording(
        4 * 3600.0, 256.0, active_theta=100.0, ch_names=("EEG_PR",), lab="pooled",
        seed=1,
    )  # fmt: skip
    truth = np.asarray(mms.to_stages(raw.annotations).astype(str), dtype=object)
    figures = {}
    for smooth in ("hmm", "hsmm"):
        kw = dict(smooth="hmm") if smooth == "hmm" else {}  # the defaults
        proba = mms.predict_proba(raw, verbose="error", **kw)
        calls = np.asarray(mms.proba_to_stages(proba).astype(str), dtype=object)
        t = truth[: len(calls)]
        false_rem = int(((calls == "REM") & (t != "REM")).sum())
        recall = ((calls == "REM") & (t == "REM")).sum() / (t == "REM").sum()
        from_wake = int(((calls[:-1] == "Wake") & (calls[1:] == "REM")).sum())
        figures[smooth] = (false_rem, recall, from_wake)
    assert figures["hmm"][0] > 50
    assert figures["hsmm"][0] <= 0.2 * figures["hmm"][0]
    assert figures["hsmm"][1] >= 0.9 * figures["hmm"][1]
    assert figures["hsmm"][2] == 0


def test_a_four_minute_recording_still_decodes(online):
    import mne_mousesleep as mms
    from mne_mousesleep.datasets import simulate_recording

    raw = simulate_recording(240.0, 256.0, seed=3)
    proba = mms.predict_proba(raw, verbose="error")
    assert proba.attrs["hmm"]["decoder"] == "hsmm"
    assert np.isfinite(proba.to_numpy()[1:-1]).all()
    notes = proba.attrs["trust"]["notes"]
    assert any("architecture check: too little to judge" in n for n in notes)
