"""Sleep statistics, checked against values computed independently here."""

import itertools
from collections import Counter
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_hypnogram

STAGES5 = ["Wake", "NREM", "pre-REM", "REM", "artifact"]


@pytest.fixture(scope="module")
def day():
    """A simulated 24-h hypnogram starting at lights on (07:00 UTC)."""
    stages = simulate_hypnogram(24 * 3600.0, seed=7)
    stages.attrs["meas_date"] = datetime(2024, 1, 1, 7, 0, tzinfo=timezone.utc)
    return stages


def _runs(labels):
    return [(k, len(list(g))) for k, g in itertools.groupby(labels)]


def _expected_stats(labels):
    """Statistics of a list of labels, the slow and obvious way."""
    runs = _runs(labels)
    scored = sum(1 for s in labels if s in STAGES5[:4])
    out = {}
    for stage in STAGES5:
        n = labels.count(stage)
        bouts = [10.0 * m for k, m in runs if k == stage]
        out[f"{stage} min"] = n / 6
        out[f"{stage} %"] = 100 * n / (len(labels) if stage == "artifact" else scored)
        out[f"{stage} bouts"] = len(bouts)
        out[f"{stage} mean bout s"] = np.mean(bouts) if bouts else np.nan
        out[f"{stage} median bout s"] = np.median(bouts) if bouts else np.nan
    for stage in ("NREM", "pre-REM", "REM"):
        out[f"latency {stage} min"] = labels.index(stage) / 6
    entries = Counter(
        runs[i - 1][0] for i in range(1, len(runs)) if runs[i][0] == "REM"
    )
    out["REM entries from pre-REM"] = entries["pre-REM"]
    out["REM entries from NREM"] = entries["NREM"]
    out["REM entries via pre-REM %"] = (
        100 * entries["pre-REM"] / (entries["pre-REM"] + entries["NREM"])
    )
    pre = [i for i in range(len(runs)) if runs[i][0] == "pre-REM"]
    to_rem = sum(1 for i in pre if i + 1 < len(runs) and runs[i + 1][0] == "REM")
    out["pre-REM bouts to REM %"] = 100 * to_rem / len(pre)
    pairs = Counter(zip(labels[:-1], labels[1:]))
    from_pre = sum(
        v for (a, b), v in pairs.items() if a == "pre-REM" and b != "artifact"
    )
    out["P(pre-REM -> REM)"] = pairs[("pre-REM", "REM")] / from_pre
    return out


def test_sleep_statistics_24h(day):
    labels = list(day.astype(str))
    stats = mms.sleep_statistics(day)
    assert stats["total min"] == 24 * 60
    for key, value in _expected_stats(labels).items():
        np.testing.assert_allclose(stats[key], value, rtol=1e-12, err_msg=key)
    # The simulation has the features the statistics are for.
    assert stats["REM entries from pre-REM"] > stats["REM entries from NREM"] > 0
    assert stats["artifact bouts"] > 0


def test_transition_matrix_24h(day):
    labels = list(day.astype(str))
    pairs = Counter(zip(labels[:-1], labels[1:]))
    counts, probs = mms.transition_matrix(day)
    assert list(counts.index) == STAGES5[:4] == list(counts.columns)
    for a, b in itertools.product(STAGES5[:4], repeat=2):
        assert counts.loc[a, b] == pairs[(a, b)]
    np.testing.assert_allclose(probs.sum(axis=1), 1)
    counts_art, _ = mms.transition_matrix(day, artifacts="state")
    assert counts_art.loc["artifact", "Wake"] == pairs[("artifact", "Wake")]
    assert counts_art.to_numpy().sum() == len(labels) - 1
    # 3 stages: pre-REM folded into NREM, artifact transitions dropped.
    folded = ["NREM" if s == "pre-REM" else s for s in labels]
    pairs3 = Counter(zip(folded[:-1], folded[1:]))
    counts3, _ = mms.transition_matrix(day, n_stages=3)
    assert counts3.loc["NREM", "REM"] == pairs3[("NREM", "REM")]
    assert counts3.loc["Wake", "Wake"] == pairs3[("Wake", "Wake")]
    # With YASA, artifact is its own state.
    yasa_counts, _ = mms.transition_matrix(day, n_stages=3, artifacts="state")
    assert yasa_counts.loc["ART", "WAKE"] == pairs[("artifact", "Wake")]
    assert yasa_counts.loc["NREM", "REM"] == pairs3[("NREM", "REM")]
    with pytest.raises(ValueError, match="n_stages"):
        mms.transition_matrix(day, n_stages=4)


def test_phase_statistics(day):
    phases = mms.phase_statistics(day, lights_on="07:00")
    assert list(phases.index) == ["light", "dark", "total"]
    labels = list(day.astype(str))
    light, dark = labels[:4320], labels[4320:]
    assert phases.loc["light", "NREM min"] == light.count("NREM") / 6
    assert phases.loc["dark", "Wake min"] == dark.count("Wake") / 6
    assert phases.loc["light", "NREM %"] > phases.loc["dark", "NREM %"]
    # Lights on 19:00: the phases swap.
    swapped = mms.phase_statistics(day, lights_on="19:00")
    assert swapped.loc["dark", "NREM min"] == phases.loc["light", "NREM min"]
    no_date = day.copy()
    no_date.attrs["meas_date"] = None
    with pytest.raises(ValueError, match="no clock time"):
        mms.phase_statistics(no_date)
    same = mms.phase_statistics(no_date, start="2024-01-01 07:00")
    pd.testing.assert_frame_equal(same, phases)
    with pytest.raises(ValueError, match="lights_on must be a clock time"):
        mms.phase_statistics(day, lights_on="sunrise")


def test_hourly_statistics(day):
    hourly = mms.hourly_statistics(day, lights_on="07:00")
    assert len(hourly) == 24
    assert list(hourly["ZT"]) == list(range(24))
    assert list(hourly["phase"]) == ["light"] * 12 + ["dark"] * 12
    labels = list(day.astype(str))
    for hour in (0, 13, 23):
        chunk = labels[hour * 360 : (hour + 1) * 360]
        assert hourly.loc[hour, "REM min"] == chunk.count("REM") / 6
    np.testing.assert_allclose(hourly["total min"], 60)
    plain = mms.hourly_statistics(day)
    assert "ZT" not in plain and len(plain) == 24


def test_smooth_min_bout():
    seq = ["Wake", "Wake", "NREM", "Wake", "Wake", "NREM", "NREM", "NREM",
           "pre-REM", "REM", "REM", "Wake", "NREM", "NREM"]  # fmt: skip
    smoothed = mms.smooth_min_bout(mms.to_stages(seq), 20.0)
    assert list(smoothed.astype(str)) == (
        ["Wake"] * 5 + ["NREM"] * 3 + ["pre-REM", "REM", "REM", "REM", "NREM", "NREM"]
    )
    # Off unless asked: the input is unchanged, and 10 s changes nothing.
    stages = mms.to_stages(seq)
    assert list(mms.smooth_min_bout(stages, 10.0).astype(str)) == seq
    assert list(stages.astype(str)) == seq


def test_statistics_of_scored_example(misleep_raw):
    proba = mms.predict_proba(misleep_raw, picks="EEG_P")
    stats = mms.sleep_statistics(proba)
    assert stats["total min"] == 10
    assert stats["unscored min"] == pytest.approx(20 / 60)
    assert stats["Wake %"] == 100
    assert np.isnan(stats["latency REM min"])
    phases = mms.phase_statistics(proba, lights_on="07:00")
    assert phases.loc["light", "Wake min"] == pytest.approx(58 / 6)
    assert phases.loc["dark", "total min"] == 0
