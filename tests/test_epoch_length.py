"""Models of any epoch length: training, scoring and every output at 4 s."""

import json

import mne
import numpy as np
import pandas as pd
import pytest
from conftest import SHORT_TRAINING

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.training._data import _check_epoch_length, _context_epochs

FOUR = dict(SHORT_TRAINING, picks=["EEG_PR"], n_classes=5, epoch_length=4.0)


@pytest.fixture(scope="module")
def four_s_mice():
    """Five simulated mice of 20 min whose truth is scored in 4-s epochs."""
    return [
        simulate_recording(1200.0, 128.0, seed=40 + m, epoch_length=4.0)
        for m in range(5)
    ]


@pytest.fixture(scope="module")
def four_s_model(four_s_mice):
    return mms.train(four_s_mice, mice=[f"M{m}" for m in range(5)], **FOUR)


def test_context_and_checks():
    """The window closest to the published 30 s; lengths off the 64-Hz clock."""
    expected = {10.0: 1, 8.0: 1, 5.0: 2, 4.0: 3, 2.5: 5, 2.0: 7, 1.0: 14}
    assert {length: _context_epochs(length) for length in expected} == expected
    assert _check_epoch_length(4) == 4.0
    with pytest.raises(ValueError, match=r"epoch_length=3\.33 s is not a whole"):
        _check_epoch_length(3.33)
    with pytest.raises(ValueError, match="must be a positive number of seconds"):
        _check_epoch_length(-4.0)


def test_annotations_keep_their_epoch_length(four_s_mice):
    """A 4-s scoring stays in 4-s epochs; others keep the old 10-s default."""
    truth = mms.to_stages(four_s_mice[0].annotations)
    assert truth.attrs["epoch_length"] == 4.0 and len(truth) == 300
    # Merged bouts do not say their epoch: the old default (10 s), or say it.
    merged = mms.to_annotations(truth, merge_bouts=True)
    assert mms.to_stages(merged).attrs["epoch_length"] == 10.0
    again = mms.to_stages(merged, epoch_length=4.0)
    assert again.attrs["epoch_length"] == 4.0 and (again == truth).all()
    ten = simulate_recording(600.0, 128.0, seed=1)
    assert mms.to_stages(ten.annotations).attrs["epoch_length"] == 10.0
    bouts = mms.to_annotations(mms.to_stages(ten.annotations), merge_bouts=True)
    assert mms.to_stages(bouts).attrs["epoch_length"] == 10.0
    odd = mne.Annotations([0, 7, 20], [7, 13, 5], ["Sleep stage W"] * 3)
    assert mms.to_stages(odd).attrs["epoch_length"] == 10.0  # majority rule


def test_four_s_model_scores_four_s_epochs(four_s_model, four_s_mice, tmp_path):
    """Card, network, probabilities, annotations, hypnogram, statistics at 4 s."""
    card = four_s_model.card
    assert card.epoch_length == 4.0 and card.n_context == 3
    assert "4 s, context ±3 epoch (28-s window)" in str(card)
    pool = four_s_model._network.feature_extractor[13]
    assert pool.kernel_size == (256,)  # one average per 4-s epoch at 64 Hz
    assert four_s_model._network.classifier[1].in_features == 128 * 7
    raw = four_s_mice[4]
    proba = mms.predict_proba(raw, model=four_s_model, verbose="error")
    assert len(proba) == 300 and proba.attrs["epoch_length"] == 4.0
    np.testing.assert_allclose(np.diff(proba.index), 4.0)
    assert proba.attrs["quality"]["unscored_reasons"] == {
        "no 28-s context (first or last 3 epochs)": 6
    }
    # The whole-recording path gives the per-window network's probabilities.
    from mne_mousesleep.scoring import _per_window_proba, _window_proba

    x = np.random.default_rng(0).standard_normal((1, 40 * 256)).astype(np.float32)
    np.testing.assert_allclose(
        _window_proba(four_s_model, x, 32),
        _per_window_proba(four_s_model, x, 32),
        atol=2e-5,
    )
    annot = mms.score(raw, model=four_s_model, verbose="error")
    assert set(annot.duration) == {4.0}
    hyp = mms.to_hypnogram(proba)
    assert hyp.freq == "4s" and hyp.n_epochs == 300
    stats = mms.sleep_statistics(proba)
    assert stats["total min"] == pytest.approx(20.0)
    # Against the 4-s truth: epoch by epoch, no conversion.
    ev = mms.evaluate(raw.annotations, proba)
    assert ev.n_epochs == (mms.to_stages(proba) != "unscored").sum()


def test_batch_report_and_formats_at_four_s(
    online, four_s_model, four_s_mice, tmp_path
):
    """The batch, its sidecar, the report and a lab format use the model's epochs."""
    fname = tmp_path / "four.pt"
    four_s_model.save(fname)
    rec = tmp_path / "M4_raw.fif"
    four_s_mice[4].save(rec)
    summary = mms.score_files(
        rec, tmp_path / "out", model=fname, report=True, formats=("csv", "accusleep")
    )
    assert list(summary["status"]) == ["scored"], summary["error"][0]
    out = tmp_path / "out"
    annot = mne.read_annotations(out / "M4_scoring.csv")
    assert set(annot.duration) == {4.0}
    sidecar = json.loads((out / "M4_scoring.json").read_text())
    assert sidecar["result"]["epoch_length"] == 4.0
    assert "epochs of 4 s" in (out / "M4_report.html").read_text()
    labels = mms.read_scoring(out / "M4_labels.mat", epoch_length=4.0)
    assert len(labels) == 300
    proba = pd.read_csv(out / "M4_proba.csv", index_col=0)
    np.testing.assert_allclose(np.diff(proba.index), 4.0)


def test_labels_that_the_epoch_does_not_divide(four_s_mice):
    """10-s labels for a 4-s model are refused with the fix; init keeps its epoch."""
    ten = [simulate_recording(600.0, 128.0, seed=50 + m) for m in range(3)]
    with pytest.raises(ValueError, match=r"recordings\[0\] is scored in 10-s epochs"):
        mms.train(ten, **FOUR)
    five = mms.train(ten, **{**FOUR, "epoch_length": 5.0})  # 5 divides 10
    assert five.card.epoch_length == 5.0 and five.card.n_context == 2
    with pytest.raises(ValueError, match="a fine-tuned model keeps its epoch"):
        mms.train(four_s_mice[:3], init=five, **FOUR)
