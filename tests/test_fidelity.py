"""The published preprocessing and networks, against the published outputs."""

import numpy as np
import pytest

import mne_mousesleep as mms

MODELS = [
    ("grieger2021-5stage", "exp005e"),
    ("grieger2021-5stage-balanced", "exp001b"),
    ("grieger2021-3stage", "exp005f"),
    ("grieger2021-3stage-balanced", "exp002b"),
]

#: The published method (Grieger et al. 2021), which the reference reproduces.
PUBLISHED = dict(adapt=None, emg=None, smooth=None, precision="float32")


def test_preprocess_matches_reference(misleep_raw, reference):
    """The 64-Hz signal equals the published preprocessing (rtol 1e-6)."""
    data = mms.preprocess(misleep_raw, picks="EEG_P")
    assert data.shape == (1, 38400)
    np.testing.assert_allclose(data[0], reference["x64_mV"], rtol=1e-6, atol=0)


@pytest.mark.parametrize("name, exp", MODELS)
def test_proba_matches_reference(misleep_raw, reference, name, exp):
    """Probabilities of all single-channel models match (atol 1e-4)."""
    proba = mms.predict_proba(misleep_raw, picks="EEG_P", model=name, **PUBLISHED)
    expected = reference[exp]
    assert list(proba.columns) == list(mms.get_model_card(name).classes)
    assert proba.shape == (60, expected.shape[1])
    # Row k of the reference is epoch k + 1; epochs 0 and 59 have no context.
    np.testing.assert_allclose(proba.to_numpy()[1:-1], expected, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(
        proba.to_numpy()[1:-1].argmax(axis=1), expected.argmax(axis=1)
    )
    assert np.isnan(proba.to_numpy()[[0, -1]]).all()
    np.testing.assert_array_equal(proba.index, np.arange(60) * 10.0)
    assert proba.attrs["adapt"]["applied"] is False
    assert proba.attrs["emg_atonia"]["channel"] is None and "hmm" not in proba.attrs


def test_default_picks_find_parietal(misleep_raw, reference):
    """picks=None finds EEG_P by name (and not the EMG)."""
    proba = mms.predict_proba(misleep_raw, model="grieger2021-3stage", **PUBLISHED)
    assert proba.attrs["ch_names"] == ["EEG_P"]
    np.testing.assert_allclose(
        proba.to_numpy()[1:-1], reference["exp005f"], rtol=0, atol=1e-4
    )


def test_batch_size_does_not_change_result(misleep_raw):
    a = mms.predict_proba(misleep_raw, model="grieger2021-3stage", batch_size=7)
    b = mms.predict_proba(misleep_raw, model="grieger2021-3stage", batch_size=512)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", mms.list_models())
def test_convolving_once_equals_per_window(online, name):
    """The whole-recording computation gives the per-window probabilities."""
    from mne_mousesleep.datasets import simulate_recording
    from mne_mousesleep.scoring import _per_window_proba, _window_proba

    chans = ("EEG_FR", "EEG_PR", "EEG_PL", "EMG")
    raw = simulate_recording(1800.0, 128.0, ch_names=chans, seed=9)
    model = mms.load_model(name)
    picks = list(chans) if model.n_channels == 4 else "EEG_PR"
    data = mms.preprocess(raw, picks=picks, model=model)
    fast = _window_proba(model, data, batch_size=5)
    slow = _per_window_proba(model, data, batch_size=16)
    # Winograd transforms in float32 (models/_fast.py): about 1e-5; the
    # tolerance of the method is 1e-3 with identical argmax.
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(
        np.nanargmax(fast[1:-1], axis=1), np.nanargmax(slow[1:-1], axis=1)
    )
