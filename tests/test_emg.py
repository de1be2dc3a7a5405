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


def test_atonia_recovers_active_wake(online, active_wake_raw):
    raw = active_wake_raw
    plain = mms.predict_proba(raw, picks="EEG_PR")
    ev0, wrong0 = _errors(raw, plain)
    assert "emg_atonia" not in plain.attrs  # off by default
    assert wrong0 >= 30
    proba = mms.predict_proba(raw, picks="EEG_PR", emg="EMG")
    ev, wrong = _errors(raw, proba)
    info = proba.attrs["emg_atonia"]
    assert info["informative"] and info["channel"] == "EMG"
    assert wrong <= 2
    # Every change is REM/pre-REM -> Wake, and the count is reported.
    before, after = mms.proba_to_stages(plain), mms.proba_to_stages(proba)
    changed = before != after
    assert info["n_changed"] == changed.sum() >= wrong0 - 2
    assert set(before[changed]) <= {"REM", "pre-REM"} and set(after[changed]) == {
        "Wake"
    }
    # True REM keeps its recall; the probabilities still sum to one.
    rem_recall = ev.per_class.loc["REM", "recall"]
    assert rem_recall >= ev0.per_class.loc["REM", "recall"] - 0.02
    assert ev.per_class.loc["REM", "f1"] > ev0.per_class.loc["REM", "f1"] + 0.1
    np.testing.assert_allclose(proba.dropna().sum(axis=1), 1.0, atol=1e-5)
    # score() takes the same argument.
    annot = mms.score(raw, picks="EEG_PR", emg="EMG")
    assert list(annot.description).count("Sleep stage W") == (after == "Wake").sum()


@pytest.mark.parametrize("kind", ["flat", "noise"])
def test_uninformative_emg_changes_nothing(online, active_wake_raw, kind, rng):
    raw = active_wake_raw.copy().load_data()
    emg = raw.ch_names.index("EMG")
    if kind == "flat":
        raw._data[emg] = 0.0
    else:
        raw._data[emg] = 30e-6 * rng.standard_normal(raw.n_times)
    plain = mms.predict_proba(raw, picks="EEG_PR")
    proba = mms.predict_proba(raw, picks="EEG_PR", emg="EMG")
    info = proba.attrs["emg_atonia"]
    assert not info["informative"] and info["n_changed"] == 0
    assert info["reason"] == (
        "flat EMG" if kind == "flat" else "EMG power is not bimodal"
    )
    np.testing.assert_array_equal(proba.to_numpy(), plain.to_numpy())


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
    annot = mne.read_annotations(tmp_path / "m_scoring.csv")
    assert len(annot) == 720
