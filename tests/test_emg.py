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


def test_emg_power_blocks(active_wake_raw, monkeypatch):
    """Blocks of any size give MNE's Welch power of each epoch on its own."""
    from mne.time_frequency import psd_array_welch

    from mne_mousesleep.scoring import emg

    raw = active_wake_raw
    sfreq = raw.info["sfreq"]
    n = int(round(10 * sfreq))
    x = raw.get_data(picks=["EMG"])[0, : 720 * n].reshape(720, n)
    lo, hi = emg._emg_band(sfreq)
    expected = [
        np.log10(
            psd_array_welch(
                e, sfreq, fmin=lo, fmax=hi, n_fft=int(2 * sfreq), verbose="error"
            )[0].mean()
        )
        for e in x[:40]
    ]
    for block in (1, 7 * 8 * n, emg.EMG_BLOCK_BYTES):
        monkeypatch.setattr(emg, "EMG_BLOCK_BYTES", block)
        power = mms.emg_power(raw, "EMG")
        assert power.shape == (720,)
        np.testing.assert_allclose(power[:40], expected, rtol=1e-12, atol=0)


def test_cli_emg(online, active_wake_raw, tmp_path, capsys):
    fname = tmp_path / "m_raw.fif"
    active_wake_raw.save(fname)
    assert main(["score", str(fname), "--picks", "EEG_PR", "--emg", "EMG"]) == 0
    sidecar = (tmp_path / "m_scoring.json").read_text()
    assert '"emg": "EMG"' in sidecar and '"n_changed"' in sidecar
    assert '"trust"' in sidecar
    annot = mne.read_annotations(tmp_path / "m_scoring.csv")
    assert len(annot) == 720


def test_undecided_mixture_still_needs_atonia_for_rem():
    """Too few epochs for the mixture: REM/pre-REM well above NREM tone is Wake."""
    from mne_mousesleep.scoring.emg import ATONIA_MARGIN, _apply_atonia

    classes = ["Wake", "REM", "NREM", "pre-REM", "artifact"]
    stages = ["NREM"] * 5 + ["REM", "REM", "pre-REM", "NREM"]
    log_power = np.array(
        [-12.0, -12.02, -11.98, -12.01, -11.99, -12.8, -11.4, -11.5, -11.4]
    )
    values = np.full((len(stages), len(classes)), 0.05)
    for row, stage in zip(values, stages):
        row[classes.index(stage)] = 0.8
    before = values.copy()
    new, info = _apply_atonia(values, classes, log_power)
    np.testing.assert_array_equal(values, before)  # a pure step
    assert not info["informative"] and info["above_nrem"]["applied"]
    assert info["above_nrem"]["margin"] == ATONIA_MARGIN
    calls = [classes[k] for k in new.argmax(axis=1)]
    # Atonic REM stays, REM and pre-REM at 4 and 3 times NREM's tone are Wake;
    # NREM itself is the reference and is not relabelled by this rule.
    assert calls == ["NREM"] * 5 + ["REM", "Wake", "Wake", "NREM"]
    assert info["n_changed"] == {"REM": 1, "pre-REM": 1, "NREM": 0}
    nrem = np.median(log_power[[0, 1, 2, 3, 4, 8]])
    assert info["rem_tone_over_nrem"] == pytest.approx(10 ** (-12.1 - nrem))
    # Without enough NREM calls to compare with, nothing changes.
    few, info = _apply_atonia(values[4:], classes, log_power[4:])
    assert not info["above_nrem"]["applied"]
    np.testing.assert_array_equal(few, values[4:])


def test_short_recordings_rem_on_awake_tone(online):
    """4-min recordings at 128 Hz: no REM call on Wake tone, true REM kept."""
    undecided = wake_rem = 0
    for seed in (2, 14, 19, 20, 22, 24):  # mixtures undecided at 4 min
        raw = simulate_recording(240.0, 128.0, seed=seed, start="2024-01-01 09:00")
        with mne.utils.use_log_level("error"):
            plain = mms.predict_proba(raw, emg=None, smooth=None)
            proba = mms.predict_proba(raw, smooth=None)
        info = proba.attrs["emg_atonia"]
        if info["informative"]:
            continue
        undecided += 1
        truth = mms.to_stages(raw.annotations).reindex(proba.index).to_numpy()
        before = mms.to_stages(plain).to_numpy()
        after = mms.to_stages(proba).to_numpy()
        remish = np.isin(before, ["REM", "pre-REM"])
        wake_rem += (remish & (truth == "Wake")).sum()
        assert not (np.isin(after, ["REM", "pre-REM"]) & (truth == "Wake")).any()
        kept = remish & np.isin(truth, ["REM", "pre-REM"])
        assert (after[kept] == before[kept]).all()
        tone = info["rem_tone_over_nrem"]
        flagged = any(
            "REM tone exceeds NREM tone" in r for r in proba.attrs["trust"]["reasons"]
        )
        assert flagged == (tone is not None and tone > 1)
    assert undecided >= 2 and wake_rem >= 5  # the case was met


@pytest.mark.parametrize("sfreq", [128.0, 305.17, 1000.0])
def test_welch_epochs_equal_scipy_and_mne(sfreq, rng):
    """The Welch of the EMG and gain steps is MNE's and scipy's, all epochs at once."""
    from mne.time_frequency import psd_array_welch
    from scipy.signal import welch

    from mne_mousesleep.scoring._spectra import _welch_epochs

    n = int(round(10 * sfreq))
    x = rng.standard_normal((9, n))
    n_fft = int(2 * sfreq)
    freqs = np.arange(n_fft // 2 + 1) * sfreq / n_fft
    band = np.flatnonzero((freqs >= 30) & (freqs <= 0.45 * sfreq))
    mine = _welch_epochs(
        x, sfreq, n_fft, window="hamming", overlap=0, detrend=True, bins=band
    )
    ref, _ = psd_array_welch(
        x,
        sfreq,
        fmin=freqs[band[0]],
        fmax=freqs[band[-1]],
        n_fft=n_fft,
        verbose="error",
    )
    np.testing.assert_allclose(mine, ref, rtol=1e-10)
    every = np.arange(len(freqs))
    mine = _welch_epochs(
        x, sfreq, n_fft, window="hann", overlap=n_fft // 2, detrend=True, bins=every
    )
    np.testing.assert_allclose(mine, welch(x, sfreq, nperseg=n_fft)[1], rtol=1e-10)


def test_emg_power_in_the_reading_pass(active_wake_raw):
    """The EMG power read with the EEG, chunk by chunk, is emg_power's."""
    from mne_mousesleep.scoring.emg import _EmgPass
    from mne_mousesleep.scoring.preprocessing import _read_lowpass_resample

    raw = active_wake_raw.copy().crop(0, 1805.3)
    data = raw.get_data()
    emg = raw.ch_names.index("EMG")
    data[emg, 5000:5003] = np.nan  # an epoch without EMG level
    raw = mne.io.RawArray(data, raw.info, verbose=False)
    expected = mms.emg_power(raw, "EMG")
    assert np.isnan(expected).sum() == 1
    eeg = [raw.ch_names.index("EEG_PR")]
    alone, _ = _read_lowpass_resample(raw, eeg, 64.0, chunk_duration=37.0)
    for duration in (37.0, 600.0):  # chunks of whole epochs, whatever asked
        power = _EmgPass(raw, "EMG", 10.0)
        out, _ = _read_lowpass_resample(
            raw, eeg, 64.0, chunk_duration=duration, emg=power
        )
        np.testing.assert_array_equal(power.log_power, expected)
        np.testing.assert_allclose(out, alone, rtol=1e-9, atol=1e-12)
