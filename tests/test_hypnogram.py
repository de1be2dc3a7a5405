"""Conversions of probabilities to stages, annotations and yasa.Hypnogram."""

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
import yasa

import mne_mousesleep as mms

CLASSES = ["Wake", "REM", "NREM", "pre-REM", "artifact"]


def _proba(rows, meas_date=None, first_time=0.0):
    values = np.array(rows, dtype=float)
    df = pd.DataFrame(values, columns=CLASSES, index=np.arange(len(values)) * 10.0)
    df.attrs = dict(
        model="toy", meas_date=meas_date, first_time=first_time, epoch_length=10.0
    )
    return df


NAN = [np.nan] * 5
ROWS = [
    NAN,
    [0.4, 0.0, 0.3, 0.3, 0.0],  # Wake by the 5-class argmax
    [0.0, 0.0, 0.9, 0.1, 0.0],  # NREM
    [0.0, 0.1, 0.2, 0.7, 0.0],  # pre-REM
    [0.0, 0.8, 0.0, 0.2, 0.0],  # REM
    [0.0, 0.7, 0.1, 0.2, 0.0],  # REM
    [0.1, 0.0, 0.0, 0.0, 0.9],  # artifact
    NAN,
]


def test_proba_to_stages():
    stages = mms.proba_to_stages(_proba(ROWS))
    assert list(stages) == [
        "unscored",
        "Wake",
        "NREM",
        "pre-REM",
        "REM",
        "REM",
        "artifact",
        "unscored",
    ]
    np.testing.assert_array_equal(stages.index, np.arange(8) * 10.0)


def test_to_annotations_epochs_and_bouts():
    meas_date = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
    proba = _proba(ROWS, meas_date=meas_date, first_time=2.5)
    annot = mms.to_annotations(proba)
    assert annot.orig_time == meas_date
    np.testing.assert_allclose(annot.onset, np.arange(8) * 10.0 + 2.5)
    assert list(annot.description) == [
        "Sleep stage ?",
        "Sleep stage W",
        "Sleep stage NREM",
        "Sleep stage pre-REM",
        "Sleep stage R",
        "Sleep stage R",
        "BAD_artifact",
        "Sleep stage ?",
    ]
    bouts = mms.to_annotations(proba, merge_bouts=True)
    assert list(bouts.description) == [
        "Sleep stage ?",
        "Sleep stage W",
        "Sleep stage NREM",
        "Sleep stage pre-REM",
        "Sleep stage R",
        "BAD_artifact",
        "Sleep stage ?",
    ]
    np.testing.assert_allclose(bouts.onset, np.array([0, 10, 20, 30, 40, 60, 70]) + 2.5)
    np.testing.assert_allclose(bouts.duration, [10, 10, 10, 10, 20, 10, 10])
    # Without a measurement date the onsets count from the first sample.
    plain = mms.to_annotations(_proba(ROWS, first_time=2.5))
    assert plain.orig_time is None
    np.testing.assert_allclose(plain.onset, np.arange(8) * 10.0)


def test_to_hypnogram_folds_stages_and_proba():
    meas_date = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
    hyp = mms.to_hypnogram(_proba(ROWS, meas_date=meas_date, first_time=5.0))
    assert isinstance(hyp, yasa.Hypnogram)
    assert hyp.n_stages == 3
    assert hyp.freq == "10s"
    assert hyp.scorer == "toy"
    assert hyp.start == pd.Timestamp("2024-05-01 08:00:05", tz="UTC")
    assert list(hyp.hypno) == [
        "UNS",
        "WAKE",
        "NREM",
        "NREM",
        "REM",
        "REM",
        "ART",
        "UNS",
    ]
    proba = hyp.proba
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(proba["NREM"], [0, 0.6, 1.0, 0.9, 0.2, 0.3, 0, 0])
    np.testing.assert_allclose(proba["ART"], [0, 0, 0, 0, 0, 0, 0.9, 0])
    np.testing.assert_allclose(proba["UNS"], [1, 0, 0, 0, 0, 0, 0, 1])
    # YASA statistics run on it.
    assert hyp.sleep_statistics()["TIB"] == pytest.approx(80 / 60, abs=1e-3)
    custom = mms.to_hypnogram(_proba(ROWS), start="2024-01-01 20:00", scorer="me")
    assert custom.scorer == "me"
    assert custom.start == pd.Timestamp("2024-01-01 20:00")
    assert mms.to_hypnogram(_proba(ROWS)).start is None


def test_three_class_proba():
    df = pd.DataFrame([[np.nan] * 3, [0.2, 0.7, 0.1], [np.nan] * 3])
    df.columns = ["Wake", "REM", "NREM"]
    hyp = mms.to_hypnogram(df)
    assert list(hyp.hypno) == ["UNS", "REM", "UNS"]
    np.testing.assert_allclose(
        hyp.proba.loc[1, ["WAKE", "NREM", "REM"]], [0.2, 0.1, 0.7]
    )


def test_bad_proba():
    with pytest.raises(TypeError, match="proba must be an instance of DataFrame"):
        mms.proba_to_stages(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="one label per epoch"):
        mms.to_hypnogram(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"Unknown labels \['N2'\]"):
        mms.to_stages(["W", "N2"])
    with pytest.raises(ValueError, match="proba must have columns among"):
        mms.to_annotations(pd.DataFrame({"N2": [1.0]}))
    with pytest.raises(ValueError, match="sum to 1"):
        mms.proba_to_stages(pd.DataFrame({"Wake": [0.5], "NREM": [0.1]}))
    with pytest.raises(TypeError, match="merge_bouts"):
        mms.to_annotations(_proba(ROWS), merge_bouts="yes")


def test_hypnogram_of_real_recording(misleep_raw):
    proba = mms.predict_proba(misleep_raw, picks="EEG_P")
    hyp = mms.to_hypnogram(proba)
    assert hyp.scorer == "grieger2021-5stage"
    assert hyp.start == pd.Timestamp("2024-11-04 07:12:21", tz="UTC")
    assert hyp.n_epochs == 60
    assert (hyp.hypno.iloc[1:-1] == "WAKE").all()
    np.testing.assert_allclose(
        hyp.proba["WAKE"].iloc[1:-1], proba["Wake"].iloc[1:-1], rtol=1e-6
    )


def test_series_with_default_index_is_epochs_in_order():
    """A spreadsheet column of labels: epochs in order, not onsets in seconds."""
    rng = np.random.default_rng(5)
    labels = pd.Series(rng.choice(["W", "NREM", "R"], 21600))  # 24 h of 4-s epochs
    stages = mms.to_stages(labels, epoch_length=4.0)
    np.testing.assert_array_equal(stages.index[:3], [0.0, 4.0, 8.0])
    assert stages.attrs["epoch_length"] == 4.0
    assert len(mms.to_epoch_length(stages, 10.0)) == 8640
    _, probs = mms.transition_matrix(labels)
    assert (
        probs.loc[["Wake", "NREM", "REM"], ["Wake", "NREM", "REM"]].notna().all().all()
    )
    as_list = mms.sleep_statistics(list(labels))
    pd.testing.assert_series_equal(mms.sleep_statistics(labels), as_list)
    # An index that is time is used: named "onset" (s), or a TimedeltaIndex.
    timed = pd.Series(["W", "NREM", "R"], index=pd.Index([0.0, 4.0, 8.0], name="onset"))
    np.testing.assert_array_equal(mms.to_stages(timed).index, [0.0, 4.0, 8.0])
    delta = pd.Series(["W", "R"], index=pd.to_timedelta([30, 34], unit="s"))
    np.testing.assert_array_equal(mms.to_stages(delta).index, [30.0, 34.0])
    # Epoch numbers (1-based, a spreadsheet's rows) are order, not seconds.
    numbered = pd.Series(["W", "NREM"], index=pd.Index([1, 2], name="epoch"))
    np.testing.assert_array_equal(mms.to_stages(numbered).index, [0.0, 10.0])
    with pytest.raises(ValueError, match="taken as onsets in seconds"):
        mms.to_stages(pd.Series(["W"], index=pd.Index(["a"], name="time")))
