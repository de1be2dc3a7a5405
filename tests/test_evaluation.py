"""Agreement with an expert, against a hand-computed example."""

import numpy as np
import pandas as pd
import pytest

import mne_mousesleep as mms

REF = ["W", "W", "NR", "NR", "pre-REM", "R", "R", "A", "W", "NR", "?"]
PRED = ["W", "NR", "NR", "NR", "R", "R", "W", "A", "W", "NR", "W"]


def test_five_classes_by_hand():
    ev = mms.evaluate(mms.to_stages(REF), mms.to_stages(PRED))
    assert ev.n_epochs == 10  # the unscored epoch is dropped
    expected = [
        [2, 1, 0, 0, 0],
        [0, 3, 0, 0, 0],
        [0, 0, 0, 1, 0],
        [1, 0, 0, 1, 0],
        [0, 0, 0, 0, 1],
    ]
    np.testing.assert_array_equal(ev.confusion.to_numpy(), expected)
    assert list(ev.confusion.index) == ["Wake", "NREM", "pre-REM", "REM", "artifact"]
    np.testing.assert_allclose(ev.per_class["precision"], [2 / 3, 3 / 4, 0, 1 / 2, 1])
    np.testing.assert_allclose(ev.per_class["recall"], [2 / 3, 1, 0, 1 / 2, 1])
    np.testing.assert_allclose(ev.per_class["f1"], [2 / 3, 6 / 7, 0, 1 / 2, 1])
    assert ev.accuracy == pytest.approx(0.7)
    assert ev.mean_f1 == pytest.approx((2 / 3 + 6 / 7 + 0.5 + 1) / 5)
    assert ev.kappa == pytest.approx((0.7 - 0.26) / (1 - 0.26))
    np.testing.assert_allclose(ev.confusion_recall.sum(axis=1), 1)
    np.testing.assert_allclose(ev.confusion_precision.loc["Wake", "Wake"], 2 / 3)
    assert "mean F1 0.605" in repr(ev)
    assert ev.summary()["F1 NREM"] == pytest.approx(6 / 7)


def test_three_classes_by_hand():
    ev = mms.evaluate(mms.to_stages(REF), mms.to_stages(PRED), n_stages=3)
    assert ev.n_epochs == 9  # artifact epochs dropped
    np.testing.assert_array_equal(
        ev.confusion.to_numpy(), [[2, 1, 0], [0, 3, 1], [1, 0, 1]]
    )
    assert ev.accuracy == pytest.approx(6 / 9)
    assert ev.mean_f1 == pytest.approx((2 / 3 + 3 / 4 + 1 / 2) / 3)
    assert ev.kappa == pytest.approx((6 / 9 - 29 / 81) / (1 - 29 / 81))


def test_alignment_by_time_and_errors():
    ref = mms.to_stages(REF)
    pred = mms.to_stages(PRED[2:])  # starts two epochs later
    pred.index = pred.index + 20.0
    ev = mms.evaluate(ref, pred)
    assert ev.n_epochs == 8
    far = mms.to_stages(PRED)
    far.index = far.index + 1000.0
    with pytest.raises(ValueError, match="share no epoch"):
        mms.evaluate(ref, far)
    # A reference at 2.5-s epochs is converted to the prediction's 10 s.
    fine = mms.to_stages(list(np.repeat(np.asarray(REF, object), 4)), epoch_length=2.5)
    assert mms.evaluate(fine, ref).accuracy == 1.0
    shifted = fine.copy()  # off the grid by 2.5 s: majority of each 10 s
    shifted.index = shifted.index + 2.5
    ev = mms.evaluate(shifted, ref)  # 7.5 s of each epoch keep its stage
    assert (ev.n_epochs, ev.accuracy) == (len(REF) - 1, 1.0)  # "?" dropped
    with pytest.raises(ValueError, match="n_stages"):
        mms.evaluate(ref, ref, n_stages=2)


def test_evaluate_scored_recording(misleep_raw):
    """The 3-class and 5-class published models agree on the example."""
    five = mms.predict_proba(misleep_raw, picks="EEG_P")
    three = mms.predict_proba(misleep_raw, picks="EEG_P", model="grieger2021-3stage")
    ev = mms.evaluate(five, three, n_stages=3)
    assert ev.n_epochs == 58
    assert ev.accuracy == 1.0
    assert ev.mean_f1 == 1.0  # only Wake is present: absent classes do not count
    assert np.isnan(ev.kappa)  # undefined with a single class
    assert ev.confusion.loc["Wake", "Wake"] == 58
    annot = mms.score(misleep_raw, picks="EEG_P")
    assert mms.evaluate(annot, five).accuracy == 1.0
    assert isinstance(ev.per_class, pd.DataFrame)
