"""Example recordings."""

import numpy as np
import pandas as pd
import pytest
from scipy.io import loadmat

import mne_mousesleep as mms


def test_misleep_example(misleep_raw, shared_dir):
    raw = misleep_raw
    assert raw.ch_names == ["EEG_P", "EMG_DIFF"]
    assert raw.get_channel_types() == ["eeg", "emg"]
    assert raw.info["sfreq"] == 305.0
    assert raw.n_times == 183000
    assert pd.Timestamp(raw.info["meas_date"]) == pd.Timestamp(
        "2024-11-04 07:12:21", tz="UTC"
    )
    # Values are converted from mV (file) to V (MNE).
    mat = loadmat(shared_dir / "data" / "misleep_10min_example.mat")
    eeg_mv = mat["data"][0, 0]["EEG_P"].ravel()
    np.testing.assert_allclose(raw.get_data("EEG_P")[0], eeg_mv * 1e-3, rtol=1e-6)
    assert 1e-5 < raw.get_data("EEG_P").std() < 1e-4


def test_misleep_edf_example(online):
    raw = mms.datasets.fetch_misleep_edf_example()
    assert raw.ch_names == ["Channel1", "Channel2", "Channel3", "Channel4"]
    assert raw.info["sfreq"] == 500.0
    assert raw.times[-1] == pytest.approx(600.0, abs=0.01)


def test_read_misleep_mat_rejects_other_files(tmp_path):
    from scipy.io import savemat

    fname = tmp_path / "other.mat"
    savemat(fname, {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="not a MiSleep MATLAB file"):
        mms.datasets.read_misleep_mat(fname)


def test_simulation_at_a_rate_that_is_not_whole():
    raw = mms.datasets.simulate_recording(3600.0, 1017.25, seed=1)
    assert raw.n_times == round(3600 * 1017.25)  # not 3599.82 s
    cut = mms.datasets.simulate_recording(605.0, 256.0, seed=1)
    assert cut.n_times == 600 * 256 and "duration=605 s cut" in cut.info["description"]
