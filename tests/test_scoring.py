"""score and predict_proba: outputs, time base, bad input, real files."""

from datetime import datetime, timezone

import mne
import numpy as np
import pandas as pd
import pytest
from conftest import make_raw

import mne_mousesleep as mms

MODEL = "grieger2021-3stage"  # any published model; the smallest output


def test_score_example(misleep_raw):
    before = misleep_raw.get_data().copy()
    annot = mms.score(misleep_raw, picks="EEG_P")
    assert isinstance(annot, mne.Annotations)
    assert len(annot) == 60
    np.testing.assert_array_equal(annot.duration, 10.0)
    assert annot.orig_time == misleep_raw.info["meas_date"]
    # The published networks score this theta-rich, active recording Wake.
    assert list(annot.description[1:-1]) == ["Sleep stage W"] * 58
    assert annot.description[0] == annot.description[-1] == "Sleep stage ?"
    # The caller's Raw is not modified.
    np.testing.assert_array_equal(misleep_raw.get_data(), before)
    assert len(misleep_raw.annotations) == 0
    misleep_raw.set_annotations(misleep_raw.annotations + annot)
    assert len(misleep_raw.annotations) == 60
    merged = mms.score(misleep_raw, picks="EEG_P", merge_bouts=True)
    assert list(merged.description) == [
        "Sleep stage ?",
        "Sleep stage W",
        "Sleep stage ?",
    ]
    np.testing.assert_allclose(merged.duration, [10, 580, 10])


@pytest.mark.parametrize("first_samp", [0, 10000])
@pytest.mark.parametrize(
    "meas_date", [None, datetime(2024, 3, 1, 19, 0, 5, 250000, tzinfo=timezone.utc)]
)
def test_onsets_and_orig_time(online, rng, meas_date, first_samp):
    """Annotations land on the epoch boundaries for every time base."""
    sfreq = 200.0
    raw = make_raw(
        rng, duration=95.0, sfreq=sfreq, meas_date=meas_date, first_samp=first_samp
    )
    annot = mms.score(raw, picks="EEG_PR", model=MODEL)
    assert annot.orig_time == meas_date
    assert len(annot) == 9  # 95 s: 9 full epochs, the partial one is not scored
    raw.set_annotations(raw.annotations + annot)
    events, _ = mne.events_from_annotations(raw, regexp="Sleep stage", verbose=False)
    np.testing.assert_array_equal(
        events[:, 0], first_samp + np.arange(9) * round(10 * sfreq)
    )
    # The hypnogram starts at the first sample's clock time.
    hyp = mms.to_hypnogram(mms.predict_proba(raw, picks="EEG_PR", model=MODEL))
    if meas_date is None:
        assert hyp.start is None
    else:
        expected = pd.Timestamp(meas_date) + pd.Timedelta(seconds=first_samp / sfreq)
        assert hyp.start == expected


def test_trailing_partial_epoch_does_not_shift(misleep_raw):
    """A partial last epoch is dropped; the other epochs keep their onsets."""
    # float32: the crop changes the gain a little, and bfloat16 would round
    # the slightly other input otherwise (up to 0.015, test_precision.py).
    kw = dict(picks="EEG_P", model=MODEL, precision="float32")
    full = mms.predict_proba(misleep_raw, **kw)
    short = mms.predict_proba(misleep_raw.copy().crop(0, 596.0), **kw)
    assert len(short) == 59
    np.testing.assert_array_equal(short.index, full.index[:59])
    # Away from the end (filter edge, resampling grid), the scores agree
    # (the semi-Markov model's posteriors carry the gain's small change a
    # little further than the HMM's: 1.6e-3 at most here).
    np.testing.assert_allclose(
        short.to_numpy()[1:50], full.to_numpy()[1:50], rtol=0, atol=3e-3
    )
    assert (mms.to_stages(short)[1:50] == mms.to_stages(full)[1:50]).all()


def test_preload_false_reads_picked_channels(misleep_raw, tmp_path):
    fname = tmp_path / "rec_raw.fif"
    misleep_raw.save(fname)
    raw = mne.io.read_raw_fif(fname, preload=False, verbose=False)
    a = mms.predict_proba(raw, picks="EEG_P", model=MODEL)
    assert not raw.preload
    b = mms.predict_proba(misleep_raw, picks="EEG_P", model=MODEL)
    # The same samples (the network's bfloat16 rounding of them, up to 2e-5
    # after the semi-Markov model's posteriors).
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=5e-5)


def test_multichannel_model_default_picks(online, rng):
    raw = make_raw(rng, ch_names=("EEG_FR", "EEG_PR", "EEG_PL", "EMG"))
    proba = mms.predict_proba(raw, model="grieger2021-3stage-eeg3-emg")
    assert proba.attrs["ch_names"] == ["EEG_FR", "EEG_PR", "EEG_PL", "EMG"]
    assert list(proba.columns) == ["Wake", "REM", "NREM"]
    np.testing.assert_allclose(proba.iloc[1:-1].sum(axis=1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="needs 4 input channels"):
        mms.predict_proba(raw, picks="EEG_PR", model="grieger2021-3stage-eeg3-emg")
    renamed = raw.copy().rename_channels({"EEG_FR": "F"})
    with pytest.raises(ValueError, match=r"did not find \['EEG_FR'\]"):
        mms.predict_proba(renamed, model="grieger2021-3stage-eeg3-emg")


def test_bad_input(rng):
    """Clear errors before any download (the mirror is a closed port here)."""
    raw = make_raw(rng)
    with pytest.raises(TypeError, match="raw must be an instance of"):
        mms.score(raw.get_data())
    with pytest.raises(ValueError, match="EEG_X"):
        mms.score(raw, picks="EEG_X")
    with pytest.raises(ValueError, match="needs 1 input channel.*selected 2"):
        mms.score(raw, picks=["EEG_PR", "EMG"])
    two = make_raw(rng, ch_names=("EEG_PR", "EEG_PL", "EMG"))
    with pytest.raises(ValueError, match=r"found \['EEG_PR', 'EEG_PL'\].*Pass picks"):
        mms.score(two)
    none = make_raw(rng, ch_names=("EEG_FR", "EMG"))
    with pytest.raises(ValueError, match="found none"):
        mms.score(none)
    with pytest.raises(ValueError, match="sampling rate of raw is 50 Hz"):
        mms.score(make_raw(rng, sfreq=50.0), picks="EEG_PR")
    with pytest.raises(ValueError, match="lasts 25 s.*30 s"):
        mms.score(make_raw(rng, duration=25.0), picks="EEG_PR")
    with pytest.raises(ValueError, match=r"picks=\[7\] does not match"):
        mms.score(raw, picks=[7])  # not MNE's IndexError
    # NaN and infinite samples leave epochs unscored (tests/test_quality.py).
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        mms.predict_proba(raw, picks="EEG_PR", batch_size=0)


@pytest.mark.parametrize(
    "scale, unit",
    [(100e-6 * 1e6, "microvolts stored as volts"), (100e-6 * 1e-4, "times smaller")],
)
def test_wrong_units_refused(online, rng, scale, unit):
    """µV stored as volts (or far too small) is refused, unless asked for."""
    raw = make_raw(rng, scale=scale)
    with pytest.raises(ValueError, match=f"{unit}.*check_units=False"):
        mms.score(raw, picks="EEG_PR", model=MODEL)
    with pytest.warns(RuntimeWarning, match=unit):
        annot = mms.score(raw, picks="EEG_PR", model=MODEL, check_units=False)
    assert len(annot) == 12


def test_unusual_gain_warns_and_is_recorded(online, rng):
    """20 times the training amplitude: a gain, not a unit error; scored."""
    raw = make_raw(rng, scale=100e-6 * 20)
    with pytest.warns(RuntimeWarning, match="robust standard deviation.*units"):
        proba = mms.predict_proba(raw, picks="EEG_PR", model=MODEL)
    quality = proba.attrs["quality"]
    assert quality["likely_unit_error"] is None
    assert "far from the training data" in quality["warnings"][0]


def test_plausible_amplitude_does_not_warn(online, rng):
    raw = make_raw(rng, scale=100e-6)
    mms.score(raw, picks="EEG_PR", model=MODEL)  # filterwarnings=error


def test_real_edf_with_transients(online):
    """The real EDF (Channel1..4, ~5 µV noise, 10-mV transients) scores."""
    raw = mms.datasets.fetch_misleep_edf_example()
    with pytest.raises(ValueError, match="Pass picks"):
        mms.score(raw)
    # Its ~1 µV per second (after the low-pass) is an amplifier's floor, not
    # mouse EEG: refused by default as a dead electrode, saying where.
    with pytest.raises(ValueError, match=r"dead channel Channel1 \(at the amp.*600 s"):
        mms.predict_proba(raw, picks="Channel1")
    with pytest.warns(RuntimeWarning, match="Channel1 has a robust standard"):
        proba = mms.predict_proba(raw, picks="Channel1", check_units=False)
    assert proba.shape == (60, 5)
    assert np.isfinite(proba.to_numpy()[1:-1]).all()
    np.testing.assert_allclose(proba.iloc[1:-1].sum(axis=1), 1, rtol=1e-5)
    assert not raw.preload  # only the picked channel was read


def test_parietal_auto_pick_skips_emg_p_and_bare_p(online, rng):
    """EMG_P (an EMG at P) and a bare "P" are not taken for the parietal EEG."""
    raw = make_raw(rng, ch_names=("EMG_P", "EEG_PR"))
    proba = mms.predict_proba(raw, model=MODEL, emg=None)
    assert proba.attrs["ch_names"] == ["EEG_PR"]
    for names in (("EMG_P", "EEG_FR"), ("P", "EMG")):
        with pytest.raises(ValueError, match="found none"):
            mms.score(make_raw(rng, ch_names=names), model=MODEL)
