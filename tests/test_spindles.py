"""Spindles with YASA, restricted to the chosen stages."""

import numpy as np
import pytest

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording


@pytest.fixture(scope="module")
def sim():
    return simulate_recording(3 * 3600.0, 128.0, seed=2)


def test_stages_per_sample(sim):
    codes = mms.stages_per_sample(sim, sim.annotations)
    assert codes.shape == (sim.n_times,)
    truth = mms.to_codes(sim.annotations).to_numpy()
    np.testing.assert_array_equal(codes[::1280], truth)


def test_stages_per_sample_with_first_samp(sim):
    """Annotations of a Raw with first_samp > 0 line up with its samples."""
    import mne

    shifted = mne.io.RawArray(sim.get_data(), sim.info, first_samp=6400, verbose=False)
    truth = mms.to_stages(sim.annotations)
    truth.attrs["first_time"] = shifted.first_time
    shifted.set_annotations(mms.to_annotations(truth))
    codes = mms.stages_per_sample(shifted, shifted.annotations)
    np.testing.assert_array_equal(codes[::1280], mms.to_codes(truth).to_numpy())


def test_detect_spindles_in_sleep(sim):
    stages = mms.to_stages(sim.annotations)
    spindles = mms.detect_spindles(sim, stages, "EEG_PR", stages=("NREM", "pre-REM"))
    table = spindles.summary()
    assert len(table) > 100
    assert set(table["Stage"]) <= {1, 2}
    assert table["Frequency"].between(10, 15).all()
    # The simulation puts most spindles in pre-REM: density per minute is higher.
    minutes = {
        c: (stages.astype(str) == s).sum() / 6 for c, s in ((1, "NREM"), (2, "pre-REM"))
    }
    density = {c: (table["Stage"] == c).sum() / minutes[c] for c in (1, 2)}
    assert density[2] > 3 * density[1]
    nrem_only = mms.detect_spindles(sim, stages, "EEG_PR")
    assert set(nrem_only.summary()["Stage"]) == {1}


def test_detect_spindles_errors(sim):
    with pytest.raises(ValueError, match="stages must be among"):
        mms.detect_spindles(sim, sim.annotations, stages=("N2",))
    wake = mms.to_stages(["Wake"] * 180)
    # A mouse awake throughout: None with a warning, so a loop over mice goes on.
    with pytest.warns(RuntimeWarning, match="no epoch of"):
        assert mms.detect_spindles(sim, wake, "EEG_PR") is None
