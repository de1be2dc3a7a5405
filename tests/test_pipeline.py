"""The pipeline as objects: one options object, one typed result, pure steps."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import mne_mousesleep as mms
from mne_mousesleep import ScoringOptions, ScoringResult
from mne_mousesleep.datasets import simulate_recording


@pytest.fixture(scope="module")
def sim():
    """Twenty minutes of a simulated mouse with EEG and EMG, 128 Hz."""
    return simulate_recording(1200.0, 128.0, seed=4)


def test_options_defaults_and_published():
    opts = ScoringOptions()
    assert (opts.adapt, opts.emg, opts.smooth) == ("gain", "auto", "hsmm")
    assert (opts.reject_by_annotation, opts.check_units) == (True, True)
    assert opts.allow_truncated is False and opts.merge_bouts is False
    published = ScoringOptions.published(model="grieger2021-3stage")
    assert (published.adapt, published.emg, published.smooth) == (None, None, None)
    assert published.model == "grieger2021-3stage"
    assert published.precision == "float32"
    assert repr(published) == (
        "ScoringOptions(model='grieger2021-3stage', adapt=None, emg=None, "
        "smooth=None, precision='float32')"
    )
    assert repr(opts) == "ScoringOptions()"
    # Frozen; replace() makes a checked copy.
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.adapt = None
    assert opts.replace(adapt=None) == ScoringOptions(adapt=None)
    assert opts.replace(adapt=None) != opts
    assert hash(opts.replace(emg="EMG")) == hash(ScoringOptions(emg="EMG"))
    json.dumps(opts.to_dict())  # plain values


def test_options_are_checked_when_made():
    with pytest.raises(ValueError, match="adapt"):
        ScoringOptions(adapt="zscore")
    with pytest.raises(ValueError, match="smooth must be 'hmm'"):
        ScoringOptions(smooth="viterbi")
    with pytest.raises(ValueError, match="same stages as rows and columns"):
        ScoringOptions(smooth=pd.DataFrame([[1.0]], index=["Wake"], columns=["REM"]))
    with pytest.raises(TypeError, match="reject_by_annotation"):
        ScoringOptions(reject_by_annotation="yes")
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        ScoringOptions(batch_size=0)
    with pytest.raises(ValueError, match="device must be one of"):
        ScoringOptions(device="gpu")
    with pytest.raises(TypeError, match="model must be"):
        ScoringOptions(model=3)
    with pytest.raises(TypeError, match="emg"):
        ScoringOptions(emg=1)
    with pytest.raises(TypeError, match="options"):
        mms.score(simulate_recording(60.0, 128.0), options={"adapt": None})


def test_options_and_keywords_score_alike(online, sim):
    """options= and keyword arguments give one scoring; given keywords win."""
    picks = ["EEG_PR"]
    opts = ScoringOptions(picks=picks, emg=None)
    picks.append("EMG")  # the options hold their own copy
    by_options = mms.predict_proba(sim, options=opts)
    by_keywords = mms.predict_proba(sim, "EEG_PR", emg=None)
    pd.testing.assert_frame_equal(by_options, by_keywords)
    assert by_options.attrs == by_keywords.attrs
    # A keyword given explicitly overrides its field, even with its default.
    published = mms.predict_proba(sim, options=ScoringOptions.published())
    mixed = mms.predict_proba(sim, options=ScoringOptions.published(), adapt="gain")
    assert published.attrs["adapt"]["applied"] is False
    assert mixed.attrs["adapt"]["applied"] is True
    annot = mms.score(sim, options=ScoringOptions(merge_bouts=True, emg=None))
    assert len(annot) < len(by_keywords)  # bouts, not epochs


def test_result_round_trips_exactly(online, sim):
    raw = sim.copy().set_annotations(mne_annotations([(300.0, 25.0, "BAD_cable")], sim))
    proba = mms.predict_proba(raw)
    result = ScoringResult.from_frame(proba)
    assert result.n_epochs == len(proba) and result.classes == tuple(proba.columns)
    assert result.card == mms.get_model_card("grieger2021-5stage")
    assert np.isnan(result.proba[~result.scored]).all()
    assert (~result.scored).sum() == proba.attrs["quality"]["n_unscored"] > 2
    # The DataFrame of predict_proba, back from the typed result.
    again = result.to_frame()
    pd.testing.assert_frame_equal(again, proba)
    assert again.attrs == proba.attrs
    # JSON, exactly: equal results, the same text, the same floats and NaN.
    text = result.to_json()
    back = ScoringResult.from_json(text)
    assert back == result and back.to_json() == text
    np.testing.assert_array_equal(back.proba, result.proba)
    assert back.meas_date == raw.info["meas_date"]
    assert back.card == result.card and back.quality == result.quality
    pd.testing.assert_series_equal(back.stages(), mms.proba_to_stages(proba))
    assert "ScoringResult | grieger2021-5stage" in repr(back)
    # A changed number is not the same result.
    values = json.loads(text)
    values["proba"][5][0] = values["proba"][5][0] + 1e-12
    assert ScoringResult.from_dict(values) != result
    with pytest.raises(ValueError, match="Not a scoring result"):
        ScoringResult.from_json(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="shape"):
        dataclasses.replace(result, classes=("Wake",))


def mne_annotations(rows, raw):
    import mne

    onsets, durations, descriptions = zip(*rows)
    return mne.Annotations(
        np.asarray(onsets) + raw.first_time,
        durations,
        descriptions,
        orig_time=raw.info["meas_date"],
    )


def test_steps_do_not_change_their_input(online, sim):
    """Each post-processing step returns new probabilities and its record."""
    from mne_mousesleep.scoring.emg import _apply_atonia, emg_power
    from mne_mousesleep.scoring.gain import _apply_gain
    from mne_mousesleep.scoring.hmm import _apply_hmm, _check_smooth
    from mne_mousesleep.scoring.preprocessing import _read_checked

    card = mms.get_model_card("grieger2021-5stage")
    signal = _read_checked(sim, "EEG_PR", card, np.float32)
    data = signal.data.copy()
    scaled, record = _apply_gain(signal.data, card, signal.keep(card))
    np.testing.assert_array_equal(signal.data, data)
    assert record["applied"] and not np.array_equal(scaled, data)
    proba = mms.predict_proba(sim, emg=None, smooth=None)
    values = proba.to_numpy(copy=True)
    classes = list(proba.columns)
    moved, _ = _apply_atonia(values, classes, emg_power(sim, "EMG"))
    smoothed, hmm = _apply_hmm(values, classes, _check_smooth("hmm", classes, 10.0))
    np.testing.assert_array_equal(values, proba.to_numpy())
    assert moved is not values and smoothed is not values
    assert len(hmm["path"]) == len(values)


def test_everything_comes_from_the_card(online):
    """A card with other epochs: scoring, statistics and outputs follow it."""
    import mne

    model = mms.load_model("grieger2021-5stage")
    card = dataclasses.replace(model.card, name="five-s", epoch_length=5.0)
    net = mms.models._architectures.build_network(card)
    net.load_state_dict(
        {k: v for k, v in model._network.state_dict().items()}, strict=True
    )
    short = mms.MouseSleepModel(net, card)
    raw = simulate_recording(600.0, 128.0, seed=2)
    proba = mms.predict_proba(raw, model=short, emg=None)
    assert len(proba) == 120 and proba.attrs["epoch_length"] == 5.0
    np.testing.assert_allclose(np.diff(proba.index), 5.0)
    quality = proba.attrs["quality"]
    assert quality["unscored_reasons"] == {"no 15-s context (first or last epoch)": 2}
    annot = mms.score(raw, model=short, emg=None)
    assert set(annot.duration) == {5.0}
    stats = mms.sleep_statistics(proba)
    minutes = [stats[f"{s} min"] for s in ("Wake", "NREM", "pre-REM", "REM")]
    assert sum(minutes) + stats["artifact min"] == pytest.approx(118 * 5 / 60)
    result = ScoringResult.from_frame(proba)
    assert result.epoch_length == 5.0
    assert isinstance(annot, mne.Annotations)
