"""Scoring recordings from other labs: gain step, HMM, trust verdict."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import SHORT_TRAINING

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.scoring.gain import _epoch_features, fit_gain_model
from mne_mousesleep.scoring.hmm import (
    WAKE_TO_REM,
    _apply_hmm,
    _check_smooth,
    mouse_transition_prior,
)

GAIN_ONLY = dict(emg=None, smooth=None)


@pytest.fixture(scope="module")
def light():
    """Two hours from lights-on (mostly sleep), 256 Hz."""
    return simulate_recording(7200.0, 256.0, seed=11)


@pytest.fixture(scope="module")
def dark():
    """The same mouse's night (mostly Wake)."""
    return simulate_recording(7200.0, 256.0, seed=11, start="2024-01-01 19:00:00")


def _scaled(raw, factor):
    out = raw.copy().load_data()
    out._data[out.ch_names.index("EEG_PR")] *= factor
    return out


def _calls(proba):
    return np.asarray(mms.to_stages(proba).astype(str))


@pytest.mark.parametrize(
    "factor",
    [0.25, pytest.param(0.7, marks=pytest.mark.slow),
     pytest.param(1.4, marks=pytest.mark.slow), 4.0],
)  # fmt: skip
def test_gain_step_is_gain_invariant(online, light, factor):
    """Scaling the EEG by 0.25-4 changes the gain, not the calls."""
    ref = mms.predict_proba(light, picks="EEG_PR", **GAIN_ONLY)
    scaled = mms.predict_proba(_scaled(light, factor), picks="EEG_PR", **GAIN_ONLY)
    g_ref = ref.attrs["adapt"]["gain"]["parietal EEG"]
    g = scaled.attrs["adapt"]["gain"]["parietal EEG"]
    assert g == pytest.approx(g_ref / factor, rel=1e-4)
    assert (_calls(ref) != _calls(scaled)).mean() <= 0.01
    # The published method follows the amplifier instead.
    published = dict(adapt=None, emg=None, smooth=None)
    a = _calls(mms.predict_proba(light, picks="EEG_PR", **published))
    b = _calls(mms.predict_proba(_scaled(light, factor), picks="EEG_PR", **published))
    if factor in (0.25, 4.0):
        assert (a != b).mean() > 0.02


def test_gain_step_keeps_the_training_scale_and_the_stage_mix(online, light, dark):
    """At the networks' scale the gain is ~1, for a day and a night alike."""
    for raw in (light, dark):
        proba = mms.predict_proba(raw, picks="EEG_PR", **GAIN_ONLY)
        assert proba.attrs["adapt"]["gain"]["parietal EEG"] == pytest.approx(
            1.0, abs=0.1
        )
        published = mms.predict_proba(
            raw, picks="EEG_PR", adapt=None, emg=None, smooth=None
        )
        assert (_calls(proba) == _calls(published)).mean() >= 0.97
    # A plain normalisation would not do: the night's amplitude is far lower.
    amp = [
        mms.predict_proba(r, picks="EEG_PR", **GAIN_ONLY).attrs["quality"][
            "amplitude_mv"
        ]["EEG_PR"]
        for r in (light, dark)
    ]
    assert amp[1] < 0.8 * amp[0]


def test_gain_step_short_recording(online, light):
    """A few minutes are enough (and never an error)."""
    short = light.copy().crop(0, 300.0)
    proba = mms.predict_proba(short, picks="EEG_PR", **GAIN_ONLY)
    assert proba.attrs["adapt"]["applied"]
    assert 0.5 < proba.attrs["adapt"]["gain"]["parietal EEG"] < 2.0
    with pytest.raises(ValueError, match="adapt"):
        mms.predict_proba(short, picks="EEG_PR", adapt="zscore")


def test_fit_gain_model_recovers_gains(light, dark):
    """Each recording's own intercept is its gain; the shape terms are shared."""
    features = []
    for raw, factor in ((light, 1.0), (dark, 2.0), (light, 0.5)):
        x = mms.preprocess(_scaled(raw, factor), picks="EEG_PR", verbose="error")
        features.append(_epoch_features(x[0], 64.0, 10.0))
    fit = fit_gain_model(features)
    offsets = np.asarray(fit["offsets"])  # 2 x log gain from the median
    np.testing.assert_allclose(
        offsets - offsets[0], 2 * np.log([1.0, 2.0, 0.5]), atol=0.1
    )
    assert len(fit["coef"]) == 14


@pytest.mark.slow
def test_training_learns_the_gain_model(online, tmp_path):
    """train() stores a gain model; its models are gain-invariant too."""
    recs = []
    for seed in range(4):
        raw = simulate_recording(1800.0, 128.0, seed=seed)
        raw.info["subject_info"] = {"his_id": f"m{seed}"}
        recs.append(_scaled(raw, 3.0 if seed % 2 else 1.0))
    split = {"train": ["m0", "m1"], "validation": ["m2"], "test": ["m3"]}
    short = dict(SHORT_TRAINING, n_classes=3, split=split)
    model = mms.train(recs, **short)
    gm = model.card.details["gain_model"]
    assert len(gm["channels"]) == 1 and len(gm["channels"][0]["coef"]) == 14
    fname = tmp_path / "m.pth"
    model.save(fname)
    loaded = mms.load_model(fname)
    assert loaded.card.details["gain_model"] == gm
    a = mms.predict_proba(recs[0], picks="EEG_PR", model=loaded, **GAIN_ONLY)
    b = mms.predict_proba(
        _scaled(recs[0], 2.5), picks="EEG_PR", model=loaded, **GAIN_ONLY
    )
    assert (_calls(a) != _calls(b)).mean() <= 0.01
    # adapt=None: the published recipe, no gain model.
    plain = mms.train(recs, adapt=None, **short)
    assert "gain_model" not in plain.card.details


def _proba(rows, classes=("Wake", "REM", "NREM", "pre-REM", "artifact")):
    df = pd.DataFrame(
        np.asarray(rows, float),
        columns=list(classes),
        index=pd.Index(np.arange(len(rows)) * 10.0, name="onset"),
    )
    return df


def _with_hmm(proba, smooth="hmm"):
    trans = _check_smooth(smooth, list(proba.columns), 10.0)
    before = proba.to_numpy(copy=True)
    values, hmm = _apply_hmm(proba.to_numpy(), list(proba.columns), trans)
    np.testing.assert_array_equal(proba.to_numpy(), before)  # a pure step
    out = pd.DataFrame(values, index=proba.index, columns=proba.columns)
    out.attrs["hmm"] = dict(path=hmm["path"], onsets=list(out.index))
    return out, hmm


def test_hmm_removes_wake_to_rem():
    """A confident Wake -> REM step does not survive; REM after NREM does."""
    wake = [0.97, 0.01, 0.01, 0.005, 0.005]
    rem = [0.02, 0.95, 0.02, 0.005, 0.005]
    nrem = [0.01, 0.01, 0.96, 0.015, 0.005]
    proba = _proba([wake] * 6 + [rem] * 6 + [nrem] * 6 + [rem] * 6)
    stages = _calls(proba)
    assert list(stages[5:7]) == ["Wake", "REM"]
    smoothed, hmm = _with_hmm(proba)
    labels = _calls(smoothed)
    assert not ((labels[:-1] == "Wake") & (labels[1:] == "REM")).any()
    assert list(labels[17:19]) == ["NREM", "REM"]  # allowed: kept
    assert hmm["n_changed"] >= 1
    np.testing.assert_allclose(smoothed.sum(axis=1), 1.0, atol=1e-9)
    # Only overwhelming evidence keeps it: Wake and REM both at 1 - 1e-9.
    eps = 1e-9
    sure_wake = [1 - eps, eps / 4, eps / 4, eps / 4, eps / 4]
    sure_rem = [eps / 4, 1 - eps, eps / 4, eps / 4, eps / 4]
    kept = _calls(_with_hmm(_proba([sure_wake] * 6 + [sure_rem] * 6))[0])
    assert list(kept[5:7]) == ["Wake", "REM"]
    assert mouse_transition_prior().loc["Wake", "REM"] == pytest.approx(
        WAKE_TO_REM, rel=0.5
    )


def test_hmm_keeps_clear_short_bouts_and_unscored():
    """A clear one-epoch bout stays; NaN rows stay NaN."""
    wake = [0.97, 0.01, 0.01, 0.005, 0.005]
    nrem = [0.01, 0.01, 0.96, 0.015, 0.005]
    nan = [np.nan] * 5
    proba = _proba([nan] + [nrem] * 5 + [wake] + [nrem] * 5 + [nan])
    smoothed, hmm = _with_hmm(proba)
    assert list(_calls(smoothed)) == list(_calls(proba))
    assert hmm["n_changed"] == 0
    assert smoothed.iloc[[0, -1]].isna().all().all()


def test_hmm_three_stage_and_lab_matrix(online, light):
    """3-stage networks get the folded prior; a lab's matrix replaces it."""
    trans = _check_smooth("hmm", ["Wake", "REM", "NREM"], 10.0).trans
    assert trans.shape == (3, 3) and trans[0, 1] < 1e-5
    np.testing.assert_allclose(trans.sum(axis=1), 1.0)
    _, probs = mms.transition_matrix(mms.to_stages(light.annotations))
    proba = mms.predict_proba(light, picks="EEG_PR", smooth=probs, emg=None)
    assert proba.attrs["hmm"]["n_changed"] >= 0
    assert len(proba.attrs["hmm"]["path"]) == len(proba)
    with pytest.raises(ValueError, match="transition matrix"):
        mms.predict_proba(light, picks="EEG_PR", smooth=probs.iloc[:, :2])
    with pytest.raises(ValueError, match="smooth must be"):
        mms.predict_proba(light, picks="EEG_PR", smooth="viterbi")
    bad = probs.copy()
    bad.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or negative"):
        mms.predict_proba(light, picks="EEG_PR", smooth=bad)


def test_defaults_and_published_path(online, light):
    """Defaults: all steps and a verdict; the published path has none."""
    proba = mms.predict_proba(light, picks="EEG_PR")
    attrs = proba.attrs
    assert attrs["adapt"]["applied"] and attrs["emg_atonia"]["channel"] == "EMG"
    assert "hmm" in attrs and attrs["trust"]["verdict"] == "ok"
    assert attrs["trust"]["reasons"] == []
    published = mms.predict_proba(
        light, picks="EEG_PR", adapt=None, emg=None, smooth=None
    )
    assert not published.attrs["adapt"]["applied"] and "hmm" not in published.attrs
    notes = published.attrs["trust"]["notes"]
    assert any("REM not checked for atonia" in n for n in notes)
    assert any("no gain step" in n for n in notes)
    # The labels follow the Viterbi path; without it, the argmax.
    stages = mms.to_stages(proba)
    assert list(stages.dropna()) == [
        s if s is not None else "unscored"
        for s in [None] + attrs["hmm"]["path"][1:-1] + [None]
    ]


def test_trust_verdict_reasons(online, light):
    """Far gain, low rate and noisy input make the verdict say why."""
    loud = mms.predict_proba(_scaled(light, 8.0), picks="EEG_PR", smooth=None)
    trust = loud.attrs["trust"]
    assert trust["verdict"] == "review"
    assert any("outside 0.25-4" in r for r in trust["reasons"])
    # The published method on a 3x gain: REM bouts straight from Wake.
    wrong = mms.predict_proba(
        _scaled(light, 3.0), picks="EEG_PR", adapt=None, emg=None, smooth=None
    )
    assert wrong.attrs["trust"]["verdict"] == "unreliable"
    assert any("straight from Wake" in r for r in wrong.attrs["trust"]["reasons"])
    ind = wrong.attrs["trust"]["indicators"]
    assert ind["wake_to_rem_before_smoothing"] > 0
    assert set(ind) >= {"mean_confidence", "unscored_share", "artifact_share", "gain"}


def test_emg_step_on_a_recording_that_is_mostly_sleep(online):
    """Two tone levels that are REM and NREM: NREM is not taken for Wake."""
    raw = simulate_recording(1800.0, 256.0, seed=4, gain=6.0)
    truth = mms.to_stages(raw.annotations)
    assert (truth == "Wake").mean() < 0.1
    proba = mms.predict_proba(raw, picks="EEG_PR")
    info = proba.attrs["emg_atonia"]
    assert info["informative"] and info["nrem_level"] is not None
    assert info["n_changed"]["NREM"] <= 2
    assert mms.evaluate(truth, proba, n_stages=3).mean_f1 > 0.95


def test_low_sampling_rate_warns(online, light):
    """Below 140 Hz: a warning and review, a note when the EMG corrects it."""
    low = light.copy().crop(0, 1200.0).resample(100.0, verbose="error")
    with pytest.warns(RuntimeWarning, match="sampling rate is 100 Hz"):
        proba = mms.predict_proba(low, picks="EEG_PR", emg=None)
    trust = proba.attrs["trust"]
    assert trust["verdict"] == "review"
    assert any("sampling rate 100 Hz < 140 Hz" in r for r in trust["reasons"])
    assert any("100 Hz" in w for w in proba.attrs["quality"]["warnings"])
    with pytest.warns(RuntimeWarning, match="sampling rate is 100 Hz"):
        with_emg = mms.predict_proba(low, picks="EEG_PR")
    trust = with_emg.attrs["trust"]
    assert with_emg.attrs["emg_atonia"]["informative"]
    assert not any("sampling rate" in r for r in trust["reasons"])
    assert any("EMG rules correct" in n for n in trust["notes"])


@pytest.mark.slow
def test_fine_tuning_keeps_better_start_and_rate_augmentation(online):
    """A fine-tuning that only harms keeps the starting weights; rates recorded."""
    import torch

    recs = []
    for seed in range(3):
        raw = simulate_recording(1200.0, 256.0, seed=20 + seed)
        raw.info["subject_info"] = {"his_id": f"m{seed}"}
        recs.append(raw)
    split = {"train": ["m0", "m1"], "validation": ["m2"]}
    base = mms.load_model("grieger2021-3stage")
    short = dict(SHORT_TRAINING, n_classes=3, split=split)
    short["lr"] = 10.0  # a step this large ruins the network
    wrecked = mms.train(recs, init=base, **short)
    assert wrecked.card.details["best_training_epoch"] == 0
    for key, value in base._network.state_dict().items():
        torch.testing.assert_close(wrecked._network.state_dict()[key], value)
    assert wrecked.card.details["settings"]["resample_rates"] == [128.0]
    assert wrecked.card.details["gain_model"] == base.card.details["gain_model"]
    none = mms.train(recs, resample_rates=(), **dict(short, lr=None))
    assert none.card.details["settings"]["resample_rates"] == []


def test_lower_rate_versions(light):
    """Each lower rate gives a 64-Hz signal of the same length."""
    from mne_mousesleep.training._data import _lower_rate_versions

    card = mms.get_model_card("grieger2021-3stage")
    raw = light.copy().crop(0, 600.0)
    x = mms.preprocess(raw, picks="EEG_PR", verbose="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the deliberate 128-Hz copy does not warn
        versions = _lower_rate_versions(raw, ["EEG_PR"], card, (128.0, 512.0), 38400)
    assert [rate for rate, _ in versions] == [128.0]  # 512 Hz > 256 Hz: none
    low = versions[0][1]
    assert low.shape == (1, 38400)
    # Same signal below 20 Hz: highly correlated with the original.
    assert np.corrcoef(low[0, :38000], x[0, :38000])[0, 1] > 0.95


def test_cli_steps_and_trust(online, capsys):
    """The command line prints the verdict; --published turns the steps off."""
    from mne_mousesleep.cli import main

    assert main(["score", "--example"]) == 0
    out = capsys.readouterr().out
    assert "Trust: ok" in out and "EMG channel EMG_DIFF not informative" in out
    assert main(["score", "--example", "--published"]) == 0
    out = capsys.readouterr().out
    assert "no gain step (adapt=None)" in out
    assert "EEG only (emg=None)" in out
    assert main(["score", "--example", "--no-smooth", "--emg", "none"]) == 0
    assert "EEG only (emg=None)" in capsys.readouterr().out
