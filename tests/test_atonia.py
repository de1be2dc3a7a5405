"""Quiet EMG is muscle atonia, not a dead electrode (issue 43).

An EMG in REM atonia is a few microvolts of broadband signal. Wherever an
EMG is read (the 4-channel network's input offline and live, the EMG step,
the review window's power strip) it is judged on its own broadband signal
against a floor that atonia does not reach; a truly disconnected EMG (zeros,
0.01-0.3 µV of amplifier noise) is still found.
"""

import mne
import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

import mne_mousesleep as mms
from mne_mousesleep import OnlineScorer
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.scoring.check import (
    DEAD,
    EMG_DEAD_FLOOR_MV,
    FLAT,
    _emg_dead_blocks,
    _emg_dead_epochs,
)
from mne_mousesleep.scoring.emg import emg_power

FOUR = "grieger2021-3stage-eeg3-emg"
CHANNELS = ("EEG_FR", "EEG_PR", "EEG_PL", "EMG")
QUIET = (300.0, 480.0)  # s: three minutes of quiet EMG


def _atonia(n, sfreq, level, seed=0):
    """Broadband muscle noise (10 Hz to 0.45 x the rate) of std ``level`` (V)."""
    sos = butter(
        2, [10.0, min(100.0, 0.45 * sfreq)], "bandpass", fs=sfreq, output="sos"
    )
    x = sosfiltfilt(sos, np.random.default_rng(seed).standard_normal(n))
    return level * x / x.std()


def _disconnected(n, level, seed=0):
    """An amplifier's own floor: white noise of std ``level`` (V), or zeros."""
    return level * np.random.default_rng(seed).standard_normal(n)


def _with_quiet_emg(sfreq, make, duration=720.0):
    raw = simulate_recording(duration, sfreq, ch_names=CHANNELS, seed=43)
    raw.load_data()
    ch = raw.ch_names.index("EMG")
    i0, i1 = (int(t * sfreq) for t in QUIET)
    raw._data[ch, i0:i1] = make(i1 - i0)
    return raw


def _reasons(proba, epoch_length=10.0):
    """``{epoch: reason}`` of the unscored epochs."""
    return {
        round(onset / epoch_length): reason
        for onset, reason in proba.attrs["quality"]["unscored_epochs"]
    }


def _quiet_epochs(epoch_length=10.0):
    return range(int(QUIET[0] // epoch_length), int(QUIET[1] // epoch_length))


@pytest.mark.parametrize("sfreq", [128.0, 1000.0])
@pytest.mark.parametrize("level_uv", [1.0, 3.0])
def test_four_channel_network_scores_atonia(online, sfreq, level_uv):
    """Minutes of REM-level atonia on the network's EMG input stay scored."""
    raw = _with_quiet_emg(sfreq, lambda n: _atonia(n, sfreq, level_uv * 1e-6))
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(raw, CHANNELS, model=FOUR, emg="EMG")
    reasons = _reasons(proba)
    assert not {k: r for k, r in reasons.items() if DEAD in r}
    assert len(reasons) == 2  # the first and last epochs only
    assert not np.isnan(proba.iloc[list(_quiet_epochs())].to_numpy()).any()


@pytest.mark.parametrize("level_uv", [0.01, 0.3])
def test_four_channel_network_finds_a_disconnected_emg(online, level_uv):
    """0.01-0.3 µV of amplifier noise on the EMG: unscored (dead or flat)."""
    raw = _with_quiet_emg(500.0, lambda n: _disconnected(n, level_uv * 1e-6))
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(raw, CHANNELS, model=FOUR, emg=None)
    reasons = _reasons(proba)
    for k in list(_quiet_epochs())[1:-1]:
        assert reasons[k].startswith((DEAD, FLAT)), k
        assert reasons[k].endswith("(EMG)"), k
    # The rest of the recording is scored.
    assert np.isfinite(proba.iloc[10:25].to_numpy()).all()
    segments = proba.attrs["quality"]["bad_segments"]
    assert {s["channel"] for s in segments} == {"EMG"}


def test_four_channel_network_zeros_are_flat(online):
    raw = _with_quiet_emg(500.0, lambda n: np.zeros(n))
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(raw, CHANNELS, model=FOUR, emg=None)
    reasons = _reasons(proba)
    k = list(_quiet_epochs())[5]
    assert reasons[k].startswith((FLAT, DEAD))


@pytest.mark.parametrize("sfreq", [128.0, 256.0, 1000.0])
def test_emg_rule_levels(sfreq):
    """The floor lies between a disconnected input and atonia at any rate."""
    n = int(60 * sfreq)
    for level in (0.0, 0.01e-6, 0.1e-6, 0.3e-6):
        assert _emg_dead_blocks(_disconnected(n, level), sfreq).all(), level
    for level in (1e-6, 3e-6, 12e-6):
        assert not _emg_dead_blocks(_atonia(n, sfreq, level), sfreq).any(), level
    # Just above the floor, a quiet second may dip under it, never three.
    epochs = _atonia(n, sfreq, 0.7e-6).reshape(6, -1)
    assert not _emg_dead_epochs(epochs, sfreq).any()
    # A slow drift of the electrode is not muscle: a dead input that drifts
    # by 50 µV a second stays dead.
    drift = 50e-6 * np.arange(n) / sfreq
    assert _emg_dead_blocks(_disconnected(n, 0.1e-6) + drift, sfreq).all()
    assert 0.3e-3 < EMG_DEAD_FLOOR_MV < 1e-3


def test_emg_step_reads_atonia_and_not_a_dead_emg():
    """The EMG step's power: finite in atonia, unknown (NaN) on a dead EMG."""
    sfreq = 500.0
    raw = _with_quiet_emg(sfreq, lambda n: _atonia(n, sfreq, 1e-6))
    power = emg_power(raw, "EMG")
    assert np.isfinite(power).all()
    dead = _with_quiet_emg(sfreq, lambda n: _disconnected(n, 0.2e-6))
    power = emg_power(dead, "EMG")
    quiet = list(_quiet_epochs())
    assert np.isnan(power[quiet]).all()
    assert np.isfinite(np.delete(power, quiet)).all()


def test_live_four_channel_network_scores_atonia(online):
    """Live: atonic EMG on the network's input is scored; a dead one is not."""
    sfreq = 256.0
    for make, expect_dead in (
        (lambda n: _atonia(n, sfreq, 1e-6), False),
        (lambda n: _disconnected(n, 0.2e-6), True),
    ):
        raw = _with_quiet_emg(sfreq, make, duration=600.0)
        scorer = OnlineScorer(FOUR, raw.info, list(CHANNELS), emg=None, adapt=None)
        x = raw.get_data()
        t = 1000.0 + np.arange(x.shape[1]) / sfreq
        decisions = []
        for a in range(0, x.shape[1], 512):
            decisions += scorer.push(x[:, a : a + 512], t[a : a + 512])
        decisions += scorer.flush()
        reasons = {d.epoch: d.reason or "" for d in decisions}
        inner = list(_quiet_epochs())[2:-2]
        dead = [k for k in inner if DEAD in reasons[k]]
        assert dead == (inner if expect_dead else []), make
        outside = [k for k in range(5, 25) if DEAD in reasons[k]]
        assert not outside
