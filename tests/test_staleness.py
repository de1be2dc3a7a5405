"""A batch's outputs are up to date only for the same options, model and version."""

import dataclasses

import mne
import pytest
import torch

import mne_mousesleep as mms
from mne_mousesleep import ScoringOptions, score_files
from mne_mousesleep.datasets import simulate_recording

#: A change of every option that decides what is computed.
CHANGES = dict(
    model="grieger2021-3stage",
    picks="EEG_PR",
    adapt=None,
    emg=None,
    smooth=None,
    merge_bouts=True,
    reject_by_annotation=False,
    check_units=False,
    allow_truncated=True,
    precision="float32",
)


@pytest.fixture
def one_recording(tmp_path):
    """A folder with a 10-min simulated recording with a BAD_cable stretch."""
    study = tmp_path / "study"
    study.mkdir()
    raw = simulate_recording(600.0, 128.0, seed=3)
    raw.set_annotations(
        mne.Annotations(
            [200.0 + raw.first_time], [80.0], ["BAD_cable"], raw.info["meas_date"]
        )
    )
    raw.save(study / "M1_raw.fif", verbose="error")
    return study


def test_every_option_makes_outputs_stale(online, one_recording):
    """Each option changed in turn: stale, outputs kept; how it runs: skipped."""
    study = one_recording
    assert list(score_files(study, n_jobs=1)["status"]) == ["scored"]
    fields = {f.name for f in dataclasses.fields(ScoringOptions)}
    assert set(CHANGES) == fields - set(ScoringOptions.COMPUTE_ONLY)
    before = (study / "M1_scoring.csv").read_bytes()
    for name, value in CHANGES.items():
        summary = score_files(study, options=ScoringOptions(**{name: value}))
        assert list(summary["status"]) == ["stale"], name
        assert summary["note"][0] == f"stale ({name} changed): kept, pass --overwrite"
    # The keyword arguments say the same as options=.
    assert list(score_files(study, adapt=None)["status"]) == ["stale"]
    # How the network runs is not what it computes.
    for name, value in dict(batch_size=16, device="cpu").items():
        summary = score_files(study, options=ScoringOptions(**{name: value}))
        assert list(summary["status"]) == ["skipped"], name
    assert (study / "M1_scoring.csv").read_bytes() == before


def test_bad_annotations_option_is_not_skipped(online, one_recording):
    """The bug of the issue: reject_by_annotation=False was 'up to date'."""
    study = one_recording
    first = score_files(study, n_jobs=1)
    assert first["unscored"][0] > 2  # the BAD_cable stretch and the two ends
    again = score_files(study, reject_by_annotation=False, n_jobs=1)
    assert list(again["status"]) == ["stale"]
    assert "reject_by_annotation changed" in again["note"][0]
    redone = score_files(study, reject_by_annotation=False, overwrite=True)
    assert list(redone["status"]) == ["scored"] and redone["unscored"][0] == 2
    assert list(score_files(study, reject_by_annotation=False)["status"]) == ["skipped"]


def test_model_file_changed_in_place_is_stale(online, one_recording, tmp_path):
    """A model file is known by its sha256, not its path."""
    study = one_recording
    fname = tmp_path / "lab.pt"
    model = mms.load_model("grieger2021-3stage")
    model.save(fname)
    assert list(score_files(study, model=fname)["status"]) == ["scored"]
    assert list(score_files(study, model=fname)["status"]) == ["skipped"]
    with torch.no_grad():
        next(model._network.parameters()).mul_(1.01)
    model.save(fname, overwrite=True)
    summary = score_files(study, model=fname)
    assert list(summary["status"]) == ["stale"]
    assert summary["note"][0] == "stale (model changed): kept, pass --overwrite"
