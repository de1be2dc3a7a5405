"""Live scoring without LSL: OnlineScorer, causal models, bad streams."""

import numpy as np
import pytest
from conftest import SHORT_TRAINING

import mne_mousesleep as mms
from mne_mousesleep import OnlineScorer
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.live._stream import _rem_onsets
from mne_mousesleep.scoring.check import FLAT, NONFINITE
from mne_mousesleep.scoring.hmm import _check_smooth, _forward
from mne_mousesleep.training._data import _Geometry, _Recording

#: The network alone, in float32 (the live scorer's arithmetic).
NETWORK_ONLY = dict(adapt=None, emg=None, smooth=None)
OFFLINE = dict(NETWORK_ONLY, precision="float32")


@pytest.fixture(scope="module")
def causal_model():
    """A causal 5-stage model, a few training steps on three simulated mice."""
    mice = [simulate_recording(900.0, 128.0, seed=70 + m) for m in range(3)]
    split = dict(train=["M0", "M1"], validation=["M2"], test=[])
    return mms.train(
        mice,
        mice=["M0", "M1", "M2"],
        split=split,
        context="causal",
        **dict(SHORT_TRAINING, picks="EEG_PR"),
    )


@pytest.fixture(scope="module")
def sim():
    """Ten minutes of a simulated mouse, EEG and EMG at 128 Hz."""
    return simulate_recording(600.0, 128.0, seed=5)


def _stream(scorer, raw, chunk, t0=1000.0):
    """Push ``raw`` in chunks of ``chunk`` samples with timestamps from ``t0``."""
    x = raw.get_data()
    t = t0 + np.arange(x.shape[1]) / raw.info["sfreq"]
    out = []
    for a in range(0, x.shape[1], chunk):
        out += scorer.push(x[:, a : a + chunk], t[a : a + chunk])
    return out


def _key(d):
    return (d.epoch, d.stage, d.reason, tuple(d.proba.values()), d.timestamp)


def test_causal_windows_and_card(causal_model, tmp_path):
    """A causal window ends with its epoch: labels, card, save and load."""
    card = causal_model.card
    assert card.context == "causal" and card.lookahead == 0
    assert "causal context: the 30-s window ends with it (2 before)" in str(card)
    labels = np.arange(10)
    centred = _Recording(None, labels, "M", "r", _Geometry(640, 1, 64.0, 10.0))
    causal = _Recording(None, labels, "M", "r", _Geometry(640, 1, 64.0, 10.0, "causal"))
    k, y = centred.windows()
    assert list(k) == list(range(1, 9)) and list(y) == list(range(1, 9))
    k, y = causal.windows()  # window centred on k scores k + 1
    assert list(k) == list(range(1, 9)) and list(y) == list(range(2, 10))
    causal_model.save(tmp_path / "causal.pt")
    assert mms.load_model(tmp_path / "causal.pt").card.context == "causal"
    with pytest.raises(ValueError, match="'context' parameter"):
        mms.train([], context="forward")
    with pytest.raises(ValueError, match="a fine-tuned model keeps its window"):
        mms.train(
            [simulate_recording(300.0, 128.0, seed=1)],
            init=causal_model,
            context="centred",
            **dict(SHORT_TRAINING, picks="EEG_PR"),
        )


def test_causal_offline_scoring(causal_model, sim):
    """Offline, a causal model scores epoch k from epochs k - 2 to k."""
    proba = mms.predict_proba(sim, "EEG_PR", model=causal_model, **NETWORK_ONLY)
    q = proba.attrs["quality"]
    reasons = dict(q["unscored_epochs"])
    no_context = "no 30-s context (first 2 epochs, causal window)"
    assert reasons == {0.0: no_context, 10.0: no_context}
    assert np.isfinite(proba.to_numpy()[2:]).all()
    data = mms.preprocess(sim, "EEG_PR", model=causal_model).astype(np.float32)
    for k in (2, 17, len(proba) - 1):
        window = data[:, (k - 2) * 640 : (k + 1) * 640]
        expected = causal_model._predict_windows(window[None])[0]
        np.testing.assert_allclose(proba.to_numpy()[k], expected, atol=2e-6)
    # A bad stretch leaves unscored the epochs whose causal window holds it.
    raw = sim.copy()
    raw._data[0, 30 * 128 : 31 * 128] = np.nan  # epoch 3
    bad = mms.predict_proba(raw, "EEG_PR", model=causal_model, **NETWORK_ONLY)
    unscored = np.flatnonzero(np.isnan(bad.to_numpy()[:, 0]))
    assert list(unscored) == [0, 1, 2, 3, 4, 5]  # epoch 2 within the filter's reach


@pytest.mark.parametrize("which", ["causal", "published"])
def test_online_equals_offline(which, causal_model, sim, online):
    """At the model's rate, the live decisions are the offline scoring's."""
    model = causal_model if which == "causal" else "grieger2021-5stage"
    raw = sim.copy().resample(64.0, verbose="error")
    with pytest.warns(RuntimeWarning, match="sampling rate is 64 Hz"):
        offline = mms.predict_proba(raw, "EEG_PR", model=model, **OFFLINE)
    scorer = OnlineScorer(model, raw.info, "EEG_PR", **NETWORK_ONLY)
    decisions = _stream(scorer, raw, 100) + scorer.flush()
    assert [d.epoch for d in decisions] == list(range(len(offline)))
    live = np.array(
        [[d.proba.get(c, np.nan) for c in offline.columns] for d in decisions]
    )
    np.testing.assert_allclose(live, offline.to_numpy(), atol=2e-5)
    assert scorer.delay_epochs == (0 if which == "causal" else 1)
    assert {d.delay_epochs for d in decisions} == {scorer.delay_epochs}
    # At another rate the offline resampling stretches its grid by
    # n / (n - 1) of the recording (up to a sample): close, not equal.
    offline = mms.predict_proba(sim, "EEG_PR", model=model, **OFFLINE)
    scorer = OnlineScorer(model, sim.info, "EEG_PR", **NETWORK_ONLY)
    decisions = _stream(scorer, sim, 100) + scorer.flush()
    live = [d.stage for d in decisions]
    ref = list(mms.proba_to_stages(offline))
    assert np.mean([a == b for a, b in zip(live, ref)]) > 0.9


def test_chunk_sizes_give_identical_decisions(causal_model, sim):
    """Every step on (gain, EMG, HMM): the same decisions for chunks of 1 to 10,000."""
    runs = {}
    for chunk in (1, 7, 128, 1000, 10_000):
        scorer = OnlineScorer(causal_model, sim.info, "EEG_PR", emg="EMG", warmup=5)
        decisions = _stream(scorer, sim, chunk) + scorer.flush()
        runs[chunk] = [_key(d) for d in decisions]
    first = runs[1]
    assert len(first) == 60 and all(run == first for run in runs.values())
    scored = [k for k in first if k[2] is None]
    assert len(scored) >= 50
    # The first two: no context; then the gain step's warm-up.
    assert "no 30-s context" in first[0][2] and "warm-up" in first[2][2]


def test_online_steps(causal_model, sim):
    """The running gain, the EMG levels and the HMM's forward filter."""
    raw = sim.copy()
    raw._data[0] *= 3.0  # another lab's amplifier
    offline = mms.predict_proba(
        raw, "EEG_PR", model=causal_model, emg=None, smooth=None
    )
    g_off = offline.attrs["adapt"]["gain"]["EEG_PR"]
    scorer = OnlineScorer(causal_model, raw.info, "EEG_PR", emg=None, smooth=None)
    decisions = _stream(scorer, raw, 64)
    g_on = decisions[-1].gain
    assert g_on == pytest.approx(g_off, rel=0.1) and g_on == pytest.approx(
        1 / 3, rel=0.3
    )
    # The forward filter over the network's probabilities.
    net = OnlineScorer(causal_model, raw.info, "EEG_PR", emg=None, smooth=None,
                       adapt=None)  # fmt: skip
    hmm = OnlineScorer(causal_model, raw.info, "EEG_PR", emg=None, adapt=None)
    p = np.array(
        [list(d.proba.values()) or [np.nan] * 5 for d in _stream(net, raw, 64)]
    )
    filtered = [d.proba for d in _stream(hmm, raw, 64)]
    scored = ~np.isnan(p[:, 0])
    trans = _check_smooth("hmm", list(causal_model.card.classes), 10.0).trans
    like = np.where(scored[:, None], np.clip(p, 1e-12, None), 1.0)
    expected = _forward(like, trans)
    got = np.array([list(f.values()) if f else [np.nan] * 5 for f in filtered])
    np.testing.assert_allclose(got[scored], expected[scored], rtol=1e-9)
    # EMG: REM calls on awake-level tone are moved to Wake by the running levels.
    emg = OnlineScorer(causal_model, raw.info, "EEG_PR", emg="EMG", adapt=None)
    decisions = _stream(emg, raw, 64)
    assert emg._emg.info["informative"] or emg._emg.info.get("above_nrem")
    assert {d.emg_high for d in decisions if d.scored} <= {True, False}
    assert any(d.emg_high for d in decisions if d.scored)
    assert not any(
        d.stage == "REM" for d in decisions if d.scored and d.emg_high
    )  # REM needs atonia
    assert repr(emg).startswith("<OnlineScorer | trained (causal), EEG_PR + EMG EMG")


def test_live_follows_offline_with_every_step(online):
    """Every step on: live agrees with the offline scoring, from the first hour.

    This mouse sleeps first (NREM and REM, little Wake): early in the stream the
    EMG mixture's upper component is NREM, and the NREM rule waits for the NREM
    calls' own level (moving NREM to Wake there once took 40 % of the calls).
    """
    raw = simulate_recording(1200.0, 256.0, seed=14)
    raw.set_annotations(None)
    offline = np.asarray(mms.proba_to_stages(mms.predict_proba(raw, "EEG_PR")))
    scorer = OnlineScorer(None, raw.info, "EEG_PR", emg="EMG")
    live = np.array([d.stage for d in _stream(scorer, raw, 256) + scorer.flush()])
    both = (live != "unscored") & (offline != "unscored")
    assert both.sum() >= 80
    assert (live[both] == offline[both]).mean() >= 0.95


def test_callbacks_and_debounce(causal_model, sim, online):
    """on_epoch sees each decision, on_stage_change each held change; errors counted."""
    seen, changes = [], []

    def broken(d):
        raise RuntimeError("the laser is unplugged")

    scorer = OnlineScorer(
        "grieger2021-5stage",
        sim.info,
        "EEG_PR",
        warmup=3,
        on_epoch=seen.append,
        on_stage_change=lambda d, before: changes.append((d.epoch, before, d.stage)),
        debounce=3,
    )
    decisions = _stream(scorer, sim, 50)
    assert [d.epoch for d in seen] == [d.epoch for d in decisions]
    # The changes a debounce of 3 announces, from the sequence of stages.
    expected, announced, current, run = [], None, None, 0
    for d in decisions:
        if not d.scored:
            current, run = None, 0
            continue
        run = run + 1 if d.stage == current else 1
        current = d.stage
        if run >= 3 and d.stage != announced:
            expected.append((d.epoch, announced, d.stage))
            announced = d.stage
    assert changes == expected and len(changes) >= 2
    assert changes[0][1] is None
    # A failing callback is logged and counted; the stream goes on.
    scorer = OnlineScorer(causal_model, sim.info, "EEG_PR", on_epoch=broken)
    decisions = _stream(scorer, sim, 500) + scorer.flush()
    assert len(decisions) == 60 and scorer.n_errors == 60
    assert decisions[-1].n_errors == 59  # (its own callback failed after it)
    with pytest.raises(TypeError, match="on_epoch must be callable"):
        OnlineScorer(causal_model, sim.info, "EEG_PR", on_epoch="laser")


def _with(scorer, raw, edit, chunk=128):
    """Stream ``raw`` with ``edit(index, data, times)`` changing each chunk."""
    x = raw.get_data()
    t = 1000.0 + np.arange(x.shape[1]) / raw.info["sfreq"]
    out = []
    for ii, a in enumerate(range(0, x.shape[1], chunk)):
        data, times = edit(ii, x[:, a : a + chunk].copy(), t[a : a + chunk].copy())
        if data is not None:
            out += scorer.push(data, times)
    return out


def _reasons(decisions):
    return {d.epoch: d.reason for d in decisions if not d.scored}


def test_bad_streams(causal_model, sim):
    """Gaps, dropped chunks, NaN, wrong shapes, restarts, wrong rates: unscored."""
    kw = dict(model=causal_model, info=sim.info, picks="EEG_PR", emg="EMG", warmup=3)

    def clean(ii, x, t):
        return x, t

    base = _reasons(_with(OnlineScorer(**kw), sim, clean))
    assert set(base) == {0, 1}  # no context (the warm-up is over by epoch 2)

    # A gap: the timestamps jump 25 s (chunks 100-124 never came).
    def gap(ii, x, t):
        return (None, None) if 100 <= ii < 125 else (x, t)

    scorer = OnlineScorer(**kw)
    decisions = _with(scorer, sim, gap) + scorer.flush()
    reasons = _reasons(decisions)
    assert [d.epoch for d in decisions] == list(range(60))
    lost = {k for k, r in reasons.items() if "gap in the stream (25.00 s)" in r}
    assert lost == set(range(9, 15))  # 100 s to 125 s, the reach, the windows
    assert all(decisions[k].scored for k in range(15, 60))
    assert scorer.n_errors == 1
    # The epochs keep their place on the stream's clock.
    assert all(d.timestamp == pytest.approx(1000.0 + 10 * d.epoch) for d in decisions)

    # A dropped chunk of one second.
    decisions = _with(OnlineScorer(**kw), sim, lambda ii, x, t: gap(ii + 20, x, t)
                      if ii == 80 else (x, t))  # fmt: skip
    assert any("gap in the stream (1.00 s)" in r for r in _reasons(decisions).values())

    # NaN for 2 s, a flat stretch of 3 s.
    def nan_and_flat(ii, x, t):
        if ii in (200, 201):
            x[0] = np.nan
        if ii in (300, 301, 302):
            x[0] = 1e-5
        return x, t

    reasons = _reasons(_with(OnlineScorer(**kw), sim, nan_and_flat))
    # (epoch 19 reaches 200 s through the low-pass filter)
    assert {k for k, r in reasons.items() if NONFINITE in r} == {19, 20, 21, 22}
    assert {k for k, r in reasons.items() if FLAT in r} == {30, 31, 32}

    # Chunks of the wrong shape, or that are not numbers: missing, counted.
    def wrong(ii, x, t):
        if ii == 150:
            return x[:1], t
        if ii == 151:
            return np.full(x.shape, "EEG"), t
        return x, t

    scorer = OnlineScorer(**kw)
    decisions = _with(scorer, sim, wrong) + scorer.flush()
    reasons = _reasons(decisions)
    assert any("chunk of 1 channel(s), not (2 channels" in r for r in reasons.values())
    assert scorer.n_errors == 2 and len(decisions) == 60

    # A reconnect to a restarted source: its clock starts again.
    def restart(ii, x, t):
        return x, (t - 400.0 if ii >= 250 else t)

    scorer = OnlineScorer(**kw)
    decisions = _with(scorer, sim, restart)
    reasons = _reasons(decisions)
    assert any("stream restarted (timestamps went back)" in r for r in reasons.values())
    assert decisions[-1].scored and scorer.n_errors == 1
    assert [d.epoch for d in decisions] == list(range(len(decisions)))

    # Timestamps at half the declared rate.
    def slow(ii, x, t):
        return x, 1000.0 + (t - 1000.0) * 2

    reasons = _reasons(_with(OnlineScorer(**kw), sim, slow))
    assert len(reasons) >= 25
    assert all("timestamps advance at 64 Hz, not the stream's 128 Hz" in r
               for k, r in reasons.items() if k > 1)  # fmt: skip


def test_restart_with_a_model_that_looks_ahead(sim, online):
    """The published network's epoch before a restart is decided, unscored."""

    def restart(ii, x, t):
        return x, (t - 400.0 if ii >= 250 else t)

    scorer = OnlineScorer(None, sim.info, "EEG_PR", warmup=3)
    decisions = _with(scorer, sim, restart) + scorer.flush()
    assert [d.epoch for d in decisions] == list(range(60))
    reasons = _reasons(decisions)
    assert "stream restarted" in reasons[23] and "stream restarted" in reasons[24]
    assert decisions[30].scored and decisions[59].reason.startswith("no 30-s")


def test_setup_errors_and_memory(causal_model, sim):
    """Clear errors before the stream; bounded buffers while it runs."""
    with pytest.raises(ValueError, match="picks='EEG_X' does not match"):
        OnlineScorer(causal_model, sim.info, "EEG_X")
    with pytest.raises(ValueError, match="EMG channel 'EMG_X' not found"):
        OnlineScorer(causal_model, sim.info, "EEG_PR", emg="EMG_X")
    slow = sim.copy().resample(32.0, verbose="error")
    with pytest.raises(ValueError, match=r"rate \(32 Hz\) is below the model's"):
        OnlineScorer(causal_model, slow.info, "EEG_PR")
    with pytest.raises(TypeError, match="info must be an instance of Info"):
        OnlineScorer(causal_model, {"sfreq": 128}, "EEG_PR")
    scorer = OnlineScorer(causal_model, sim.info, "EEG_PR")
    _stream(scorer, sim, 1000)
    # About an epoch and the filter's reach of samples, however long the stream.
    assert scorer._samples.n < 2 * 1280 + 600
    assert scorer._samples.data.shape[1] <= 4 * 1280


def test_rem_onsets():
    """REM onsets per REM bout: sensitivity, precision, delay, false triggers."""
    W, N, R = "Wake", "NREM", "REM"
    ref = [W, N, N, R, R, R, N, N, R, R, W, W]
    live = [W, N, N, N, R, R, N, R, N, R, W, R]
    out = _rem_onsets(ref, live, 10.0)
    assert out["rem_bouts"] == 2 and out["n_triggers"] == 4
    assert out["rem_sensitivity"] == 1.0 and out["rem_precision"] == 0.5
    assert out["rem_delay_median_s"] == 20.0  # (2 + 2 epochs) / 2
    assert out["false_rem_per_hour"] == pytest.approx(2 / (120 / 3600))


def test_command_line_and_missing_extra(monkeypatch):
    """The live and train flags; without MNE-LSL, a clear message."""
    from mne_mousesleep.cli._parser import _parser
    from mne_mousesleep.live._stream import _lsl

    args = _parser().parse_args(
        ["live", "--stream", "Rig", "--out", "live.csv", "--markers", "stages"]
    )
    assert (args.stream, args.markers, args.debounce) == ("Rig", "stages", 1)
    assert args.func.__name__ == "_cmd_live"
    args = _parser().parse_args(["live", "--replay", "M1.edf", "--speed", "5"])
    assert args.speed == 5.0 and args.stream is None
    with pytest.raises(SystemExit):  # --stream or --replay, not both
        _parser().parse_args(["live", "--stream", "Rig", "--replay", "M1.edf"])
    args = _parser().parse_args(["train", "scored", "--out", "c.pt", "--context",
                                 "causal"])  # fmt: skip
    assert args.context == "causal"
    monkeypatch.setitem(__import__("sys").modules, "mne_lsl", None)
    with pytest.raises(ImportError, match=r"pip install 'mne-mousesleep\[live\]'"):
        _lsl()


def test_live_semi_markov(causal_model, sim):
    """smooth='hsmm' live: the forward filter over the sub-states, no REM from Wake."""
    scorer = OnlineScorer(causal_model, sim.info, "EEG_PR", emg=None, smooth="hsmm")
    decisions = _stream(scorer, sim, 256) + scorer.flush()
    scored = [d for d in decisions if d.scored]
    assert len(scored) > 20
    for d in scored:
        assert abs(sum(d.proba.values()) - 1) < 1e-6
    stages = [d.stage for d in decisions]
    assert not any(a == "Wake" and b == "REM" for a, b in zip(stages[:-1], stages[1:]))
