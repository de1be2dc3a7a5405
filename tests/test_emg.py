"""The EMG atonia constraint on REM."""

import mne
import numpy as np
import pytest

import mne_mousesleep as mms
from mne_mousesleep.cli import main
from mne_mousesleep.datasets import simulate_recording


@pytest.fixture(scope="module")
def active_wake_raw():
    # Theta-rich active Wake (high EMG) that the EEG-only network takes for REM.
    return simulate_recording(7200.0, 256.0, active_theta=100.0, seed=0)


def _errors(raw, proba):
    ev = mms.evaluate(raw.annotations, proba)
    conf = ev.confusion
    return ev, conf.loc["Wake", ["REM", "pre-REM"]].sum()


#: Only the EMG step: no gain step, no smoothing.
EMG_ONLY = dict(adapt=None, smooth=None)


def test_atonia_recovers_active_wake(online, active_wake_raw):
    raw = active_wake_raw
    plain = mms.predict_proba(raw, picks="EEG_PR", emg=None, **EMG_ONLY)
    ev0, wrong0 = _errors(raw, plain)
    assert plain.attrs["emg_atonia"]["channel"] is None
    assert wrong0 >= 30
    # emg="auto" (the default) finds the one EMG channel.
    proba = mms.predict_proba(raw, picks="EEG_PR", **EMG_ONLY)
    ev, wrong = _errors(raw, proba)
    info = proba.attrs["emg_atonia"]
    assert info["informative"] and info["channel"] == "EMG"
    assert info["bic_two"] < info["bic_one"] and info["nrem_level"] is not None
    assert wrong <= 2
    # Every change is a REM, pre-REM or NREM call on awake-level EMG moved to
    # Wake, counted per stage.
    before, after = mms.proba_to_stages(plain), mms.proba_to_stages(proba)
    changed = before != after
    assert sum(info["n_changed"].values()) == changed.sum() >= wrong0 - 2
    assert set(before[changed]) <= {"REM", "pre-REM", "NREM"}
    assert set(after[changed]) == {"Wake"}
    for stage, n in info["n_changed"].items():
        assert n == (before[changed] == stage).sum()
    assert info["rem_on_awake_emg"] > 0.2  # the network's REM calls, before
    # True REM keeps its recall and gains precision; rows still sum to one.
    rem_recall = ev.per_class.loc["REM", "recall"]
    assert rem_recall >= ev0.per_class.loc["REM", "recall"] - 0.02
    assert (
        ev.per_class.loc["REM", "precision"]
        > ev0.per_class.loc["REM", "precision"] + 0.1
    )
    np.testing.assert_allclose(proba.dropna().sum(axis=1), 1.0, atol=1e-5)
    # The named channel is the same; score() takes the same argument.
    named = mms.predict_proba(raw, picks="EEG_PR", emg="EMG", **EMG_ONLY)
    np.testing.assert_array_equal(named.to_numpy(), proba.to_numpy())
    annot = mms.score(raw, picks="EEG_PR", emg="EMG", **EMG_ONLY)
    assert list(annot.description).count("Sleep stage W") == (after == "Wake").sum()


@pytest.mark.parametrize("kind", ["flat", "noise", "one level"])
def test_uninformative_emg_changes_nothing(online, active_wake_raw, kind, rng):
    """Flat, pure-noise or one-level EMG: no split, no change."""
    raw = active_wake_raw.copy().load_data()
    emg = raw.ch_names.index("EMG")
    if kind == "flat":
        raw._data[emg] = 0.0
    elif kind == "noise":
        raw._data[emg] = 30e-6 * rng.standard_normal(raw.n_times)
    else:  # one tonic level, log-normal from epoch to epoch (unimodal)
        n_epoch = int(10 * raw.info["sfreq"])
        level = np.repeat(np.exp(0.3 * rng.standard_normal(720)), n_epoch)
        raw._data[emg] = 30e-6 * level * rng.standard_normal(raw.n_times)
    plain = mms.predict_proba(raw, picks="EEG_PR", emg=None, **EMG_ONLY)
    proba = mms.predict_proba(raw, picks="EEG_PR", emg="EMG", **EMG_ONLY)
    info = proba.attrs["emg_atonia"]
    assert not info["informative"] and info["n_changed"] == {
        "REM": 0,
        "pre-REM": 0,
        "NREM": 0,
    }
    if kind == "flat":
        assert info["reason"] == "flat EMG"
    else:  # one Gaussian explains the log power better than two
        assert info["reason"] == "EMG power has one level (BIC)"
        assert info["bic_one"] <= info["bic_two"]
    np.testing.assert_array_equal(proba.to_numpy(), plain.to_numpy())
    assert any("not informative" in n for n in proba.attrs["trust"]["notes"])


def test_emg_auto_detection(online, active_wake_raw):
    """emg='auto': exactly one EMG channel by type or name, else no EMG step."""
    from mne_mousesleep.scoring.check import _find_emg

    raw = active_wake_raw
    assert _find_emg(raw) == ("EMG", "EMG channel EMG found")
    renamed = raw.copy().rename_channels({"EMG": "muscle"})
    assert _find_emg(renamed)[0] == "muscle"  # by type
    as_misc = renamed.copy().set_channel_types({"muscle": "misc"}, verbose="error")
    assert _find_emg(as_misc) == (
        None,
        "no EMG channel (type emg or EMG in the name)",
    )
    two = raw.copy().load_data()
    two.add_channels(
        [two.copy().pick(["EMG"]).rename_channels({"EMG": "EMG2"})],
        force_update_info=True,
    )
    name, note = _find_emg(two)
    assert name is None and "several EMG channels" in note
    proba = mms.predict_proba(two, picks="EEG_PR", **EMG_ONLY)
    assert proba.attrs["emg_atonia"]["channel"] is None
    assert any("several EMG" in n for n in proba.attrs["trust"]["notes"])


def test_emg_power(active_wake_raw):
    raw = active_wake_raw
    power = mms.emg_power(raw, "EMG")
    assert power.shape == (720,)
    stages = mms.to_stages(raw.annotations)
    rem = power[np.asarray(stages == "REM")[:720]]
    wake = power[np.asarray(stages == "Wake")[:720]]
    assert np.median(wake) > np.median(rem) + 0.5  # log10 units
    # Low sampling rate: the band is what the rate allows.
    low = raw.copy().resample(128.0)
    assert np.isfinite(mms.emg_power(low, "EMG")).all()
    with pytest.raises(ValueError, match="EMG channel 'X' not found"):
        mms.emg_power(raw, "X")
    with pytest.raises(ValueError, match="EMG channel 'X' not found"):
        mms.predict_proba(raw, picks="EEG_PR", emg="X")


def test_cli_emg(online, active_wake_raw, tmp_path, capsys):
    fname = tmp_path / "m_raw.fif"
    active_wake_raw.save(fname)
    assert main(["score", str(fname), "--picks", "EEG_PR", "--emg", "EMG"]) == 0
    sidecar = (tmp_path / "m_scoring.json").read_text()
    assert '"emg": "EMG"' in sidecar and '"n_changed"' in sidecar
    assert '"trust"' in sidecar
    annot = mne.read_annotations(tmp_path / "m_scoring.csv")
    assert len(annot) == 720
