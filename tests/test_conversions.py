"""Conversions between stage sequences, codes, annotations and YASA."""

from datetime import datetime, timezone

import numpy as np
import pytest

import mne_mousesleep as mms


def test_codes_roundtrip():
    seq = ["Wake", "NREM", "pre-REM", "REM", "artifact", "unscored"]
    codes = mms.to_codes(seq)
    assert list(codes) == [0, 1, 2, 3, -1, -2]
    assert list(mms.to_stages(list(codes)).astype(str)) == seq


def test_yasa_roundtrip():
    stages = mms.to_stages(["W", "NR", "pre-REM", "R", "A", "?"])
    stages.attrs["meas_date"] = datetime(2024, 1, 1, 19, tzinfo=timezone.utc)
    hyp = mms.to_hypnogram(stages, scorer="expert")
    assert list(hyp.hypno) == ["WAKE", "NREM", "NREM", "REM", "ART", "UNS"]
    assert hyp.proba is None and hyp.scorer == "expert"
    back = mms.to_stages(hyp)
    assert list(back.astype(str)) == [
        "Wake",
        "NREM",
        "NREM",
        "REM",
        "artifact",
        "unscored",
    ]
    assert back.attrs["meas_date"] == hyp.start


def test_annotations_roundtrip_with_bouts():
    stages = mms.datasets.simulate_hypnogram(3600.0, seed=11)
    for merge in (False, True):
        back = mms.to_stages(mms.to_annotations(stages, merge_bouts=merge))
        assert list(back.astype(str)) == list(stages.astype(str))
        np.testing.assert_allclose(back.index, stages.index)


def test_bad_types():
    with pytest.raises(TypeError, match="scoring must be"):
        mms.to_stages(3.0)
    with pytest.raises(ValueError, match="Unknown labels"):
        mms.to_stages([7, 8])
    with pytest.raises(ValueError, match="None cannot be dropped"):
        mms.to_stages(["a"], mapping={"a": None})
