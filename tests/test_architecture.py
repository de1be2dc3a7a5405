"""The architecture prior shipped with the package, against the expert data."""

import json

import numpy as np
import pytest

from mne_mousesleep._architecture import (
    PRIOR_FILE,
    _bouts,
    _recording_figures,
    architecture_prior,
    bout_quantile,
    derive_architecture,
)


@pytest.fixture(scope="module")
def mssv(shared_dir):
    folder = shared_dir / "data" / "mssv"
    if not (folder / "mssv_stages_4s.npz").is_file():
        pytest.skip("the MSSV scorings are not in ../shared")
    return folder


def test_shipped_table_is_the_data(mssv):
    """The shipped table is what the script derives from the expert scorings."""
    shipped = json.loads(PRIOR_FILE.read_text())
    assert shipped == json.loads(json.dumps(derive_architecture(mssv)))


def test_facts_of_the_five_labs():
    """What the dataset's notes say: REM bouts, entries, run-up (all labs)."""
    pooled = architecture_prior()
    assert pooled["recordings"] == 148 and round(pooled["hours"]) == 2163
    assert pooled["longest_bout_s"]["REM"] == 304.0
    for lab in ("lab_1", "lab_2", "lab_3", "lab_4", "lab_5"):
        prior = architecture_prior(lab)
        rem = prior["rem"]
        entered = rem["entered_from"]
        assert entered["NREM"] + entered["artifact"] >= 0.96, lab
        assert entered["Wake"] <= 0.02, lab
        assert 0.40 <= rem["runup_quantiles"]["5"] <= 0.65, lab
        assert prior["longest_bout_s"]["REM"] <= 304.0
        assert 152.0 <= bout_quantile(prior, "REM", 95) <= 256.0
    counts = {lab: architecture_prior(lab)["rem"]["n_bouts"] for lab in ("lab_1",)}
    assert counts == {"lab_1": 2210}
    with pytest.raises(ValueError, match="lab must be one of"):
        architecture_prior("lab_9")


def test_bouts_and_figures_of_a_made_up_recording():
    # 40 s Wake, 2 min NREM, 1 min REM, 8 s Wake, 16 s artifact (4-s epochs)
    codes = np.array([1] * 10 + [2] * 30 + [3] * 15 + [1] * 2 + [4] * 4)
    stages, lengths = _bouts(codes)
    assert stages.tolist() == [1, 2, 3, 1, 4] and lengths.tolist() == [10, 30, 15, 2, 4]
    fig = _recording_figures(codes)
    assert fig["exits"]["NREM"]["REM"] == 1 and fig["exits"]["REM"]["Wake"] == 1
    assert fig["runup"] == [1.0]  # the 2 min before the REM onset: all NREM
    assert fig["longest"]["REM"] == 60.0
    assert sum(fig["bouts"]["Wake"]) == 2


@pytest.mark.parametrize("epoch_length", [10.0, 4.0])
def test_simulated_mice_sleep_as_real_mice(epoch_length):
    from mne_mousesleep.datasets import simulate_hypnogram, simulate_recording

    stages = simulate_hypnogram(
        48 * 3600.0, epoch_length=epoch_length, lab="lab_3", seed=3
    )
    values = stages.to_numpy(object)
    change = np.r_[True, values[1:] != values[:-1]]
    starts = np.flatnonzero(change)
    lengths = np.diff(np.r_[starts, len(values)]) * epoch_length
    labels = values[starts]
    rem = lengths[labels == "REM"]
    assert len(rem) > 50 and rem.max() <= 304.0 + epoch_length
    before = {labels[i - 1] for i in range(1, len(labels)) if labels[i] == "REM"}
    assert before == {"pre-REM"}
    # REM bout durations as the lab's: the median within its histogram's bins.
    prior = architecture_prior("lab_3")
    assert bout_quantile(prior, "REM", 25) <= np.median(rem) + epoch_length
    assert np.median(rem) <= bout_quantile(prior, "REM", 75) + epoch_length
    with pytest.raises(ValueError, match="lab must be one of"):
        simulate_hypnogram(600.0, lab="lab_7")
    raw = simulate_recording(600.0, 128.0, lab="pooled", seed=1)
    assert len(raw.annotations) == 60
