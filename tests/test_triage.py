"""Confidence, entropy and the review list."""

import numpy as np
import pandas as pd
import pytest

import mne_mousesleep as mms

COLS = ["Wake", "REM", "NREM", "pre-REM", "artifact"]


def _proba(rows):
    return pd.DataFrame(rows, columns=COLS, index=np.arange(len(rows)) * 10.0)


def test_confidence_and_entropy():
    rows = [[np.nan] * 5, [1, 0, 0, 0, 0], [0.2] * 5, [0.5, 0.5, 0, 0, 0], [np.nan] * 5]
    conf = mms.confidence(_proba(rows))
    np.testing.assert_allclose(conf["confidence"], [np.nan, 1, 0.2, 0.5, np.nan])
    np.testing.assert_allclose(
        conf["entropy"], [np.nan, 0, 1, np.log(2) / np.log(5), np.nan], atol=1e-12
    )
    assert list(conf["stage"].astype(str)) == [
        "unscored",
        "Wake",
        "Wake",
        "Wake",
        "unscored",
    ]


def test_review_list():
    sure, unsure = [0.98, 0.01, 0.01, 0, 0], [0.4, 0.35, 0.25, 0, 0]
    nrem_unsure = [0.05, 0.0, 0.55, 0.4, 0]
    rows = [sure] * 16 + [unsure] * 2 + [sure] * 10 + [nrem_unsure] + [sure] * 11
    review = mms.review_list(_proba(rows), fraction=0.05)
    # Bouts follow the most probable stage: Wake (28 epochs, two of them
    # unsure), NREM (1 epoch, the least confident), Wake (11 epochs).
    first = review.iloc[0]
    assert (first["stage"], first["alternative"]) == ("NREM", "pre-REM")
    assert (first["onset"], first["duration"]) == (280.0, 10.0)
    assert first["confidence"] == pytest.approx(0.55)
    # 10 s is 2.5 % of 400 s: the next least confident bout completes 5 %.
    assert len(review) == 2
    assert review.iloc[1]["onset"] == 0.0
    assert review.iloc[1]["confidence"] == pytest.approx((26 * 0.98 + 2 * 0.4) / 28)
    everything = mms.review_list(_proba(rows), fraction=1.0)
    assert everything["cumulative %"].iloc[-1] == pytest.approx(100)
    assert everything["confidence"].is_monotonic_increasing
    with pytest.raises(ValueError, match="fraction must be in"):
        mms.review_list(_proba(rows), fraction=0)


def test_review_real_recording(misleep_raw):
    proba = mms.predict_proba(misleep_raw, picks="EEG_P")
    review = mms.review_list(proba)
    assert len(review) >= 1
    assert (review["stage"] == "Wake").all()
    fig = mms.plot_hypnogram(proba, review=review)
    assert len(fig.axes) == 2
