"""Chunked reading and filtering against the whole-recording computation."""

import mne
import numpy as np
import pytest

import mne_mousesleep as mms
from mne_mousesleep.scoring.preprocessing import (
    _interp_uniform,
    _lowpass_resample,
    _read_lowpass_resample,
    _searchsorted_grid,
)


@pytest.mark.parametrize(
    "sfreq, duration, chunk",
    [
        (1000.0, 1800.0, 60.0),
        (305.0, 1234.5, 100.3),
        (250.0, 900.0, 3.0),
        # The last 64-Hz sample lies after the last sample of the recording.
        (250.0, 900.013, 50.0),
    ],
)
def test_chunked_equals_whole(rng, sfreq, duration, chunk):
    """Chunks with overlaps give the whole-array result (within 1e-6)."""
    n = int(duration * sfreq)
    data = 1e-4 * np.cumsum(rng.standard_normal((2, n)), axis=1) / np.sqrt(sfreq)
    data += 5e-5 * rng.standard_normal((2, n))
    raw = mne.io.RawArray(data, mne.create_info(["EEG_PR", "EMG"], sfreq, "eeg"))
    whole = _lowpass_resample(data * 1e3, sfreq, 64.0)
    for n_jobs in (1, 2):
        chunked, n_bad = _read_lowpass_resample(
            raw, [0, 1], 64.0, chunk_duration=chunk, n_jobs=n_jobs
        )
        assert chunked.shape == whole.shape == (2, round(n / sfreq * 64))
        assert not n_bad.any()
        # Everywhere, the recording ends included (the whole-array padding).
        np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6 * abs(whole).max())


def test_chunked_reads_picked_channel_only(rng, tmp_path):
    """With preload=False only the picked channel is read, chunk by chunk."""
    sfreq = 500.0
    data = 1e-4 * rng.standard_normal((3, int(900 * sfreq)))
    info = mne.create_info(["EEG_FR", "EEG_PR", "EMG"], sfreq, ["eeg", "eeg", "emg"])
    fname = tmp_path / "m_raw.fif"
    mne.io.RawArray(data, info).save(fname)
    raw = mne.io.read_raw_fif(fname, preload=False)
    calls = []
    get_data = raw.get_data

    def spy(*args, **kwargs):
        out = get_data(*args, **kwargs)
        calls.append(out.shape)
        return out

    raw.get_data = spy
    out = mms.preprocess(raw, picks="EEG_PR")
    assert not raw.preload
    assert all(shape[0] == 1 for shape in calls)
    # 32 stretches of 10 s for the scale (units, bad samples), then 2 chunks.
    probe = [shape[1] for shape in calls if shape[1] <= 10 * sfreq]
    chunks = [shape[1] for shape in calls if shape[1] > 10 * sfreq]
    assert len(probe) == 32 and len(chunks) == 2
    assert max(chunks) < 0.7 * data.shape[1]
    assert sum(probe) + sum(chunks) < 1.4 * data.shape[1]
    stored = mne.io.read_raw_fif(fname).get_data(picks="EEG_PR")  # float32 file
    np.testing.assert_allclose(
        out, _lowpass_resample(stored * 1e3, sfreq, 64.0), rtol=0, atol=1e-9
    )


def test_non_finite_counted_per_channel(rng):
    data = 1e-4 * rng.standard_normal((2, 64_000))
    data[1, 50_000:50_010] = np.nan
    data[0, 3] = np.inf
    raw = mne.io.RawArray(data, mne.create_info(["EEG_PR", "EEG_PL"], 128.0, "eeg"))
    _, n_bad = _read_lowpass_resample(raw, [0, 1], 64.0, chunk_duration=60.0)
    assert list(n_bad) == [1, 10]
    # preprocess() gives the position; predict_proba scores around it.
    with pytest.raises(ValueError, match=r"EEG_PL at 390.6\d* s \(NaN or infinite"):
        mms.preprocess(raw, picks="EEG_PL")


@pytest.mark.parametrize(
    "num, stop, lo", [(1000, 1.0, 0), (7919, 12.34, 100), (50, 3.0, 7)]
)
def test_interp_uniform_is_np_interp(rng, num, stop, lo):
    """Interpolation on a uniform grid without the grid equals numpy's."""
    grid = np.linspace(0, stop, num)
    fp = rng.standard_normal((2, num - lo))
    # Between grid points, on them and next to them (where the division that
    # finds the left grid point rounds either way), and beyond the last one.
    on = grid[lo:]
    t = np.concatenate(
        [
            rng.uniform(grid[lo], stop * 1.001, 500),
            on,
            np.nextafter(on[1:], -np.inf),
            np.nextafter(on, np.inf),
        ]
    )
    expected = np.stack([np.interp(t, grid[lo:], f) for f in fp])
    np.testing.assert_array_equal(_interp_uniform(t, fp, lo, stop, num), expected)


@pytest.mark.parametrize("num, stop", [(1000, 1.0), (7919, 12.34), (57601, 900.0156)])
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_grid_is_np_searchsorted(rng, num, stop, side):
    """The position of times in a uniform grid, without the grid, as numpy's."""
    grid = np.linspace(0, stop, num)
    t = np.concatenate(
        [
            rng.uniform(-0.01, stop * 1.01, 500),
            grid,
            np.nextafter(grid, -np.inf),
            np.nextafter(grid, np.inf),
        ]
    )
    expected = np.searchsorted(grid, t, side)
    np.testing.assert_array_equal(_searchsorted_grid(stop, num, t, side), expected)
