"""BIDS events with coded stages: the Levels of the JSON sidecar, inherited."""

import json
import shutil

import numpy as np
import pytest

import mne_mousesleep as mms

CODES = {1: "Wake", 2: "NREM", 3: "REM", 4: "artifact"}


@pytest.fixture(scope="module")
def mssv(shared_dir):
    return shared_dir / "data" / "mssv"


def test_every_labs_expert_scoring_reads_as_its_codes(mssv):
    """MSSV's events: the stage column, its codes explained at the dataset root."""
    codes = np.load(mssv / "mssv_stages_4s.npz")
    files = sorted((mssv / "events").glob("*_events.tsv"))
    assert len(files) == 5
    for path in files:
        stages = mms.read_scoring(path, verbose="error")
        key = path.name[: -len("_events.tsv")]
        expected = [CODES[c] for c in codes[key]]
        assert stages.attrs["epoch_length"] == 4.0
        assert list(stages.astype(str)) == expected, key


def _dataset(tmp_path, mssv, root_levels):
    root = tmp_path / "ds"
    folder = root / "sub-001" / "eeg"
    folder.mkdir(parents=True)
    shutil.copy(mssv / "dataset_description.json", root)
    events = folder / "sub-001_task-sleep_run-1_events.tsv"
    events.write_text(
        "onset\tduration\tstage\n" + "".join(f"{4 * k}\t4\t{c}\n" for k, c in
                                            enumerate([1, 1, 2, 2, 3, 9]))
    )  # fmt: skip
    if root_levels is not None:
        (root / "task-sleep_events.json").write_text(
            json.dumps({"stage": {"Levels": root_levels}})
        )
    return root, folder, events


def test_inheritance_nearer_sidecar_wins(tmp_path, mssv):
    root, folder, events = _dataset(
        tmp_path, mssv, {"1": "Wake", "2": "NREM", "3": "REM", "9": "Artifact"}
    )
    assert list(mms.read_scoring(events).astype(str)) == [
        "Wake", "Wake", "NREM", "NREM", "REM", "artifact",
    ]  # fmt: skip
    # The subject's own sidecar overrides the root's (key by key, as BIDS
    # inheritance does); another task's is not used.
    levels = {"1": "Wake", "2": "NREM", "3": "REM", "9": "Wake"}
    (root / "sub-001" / "sub-001_task-sleep_events.json").write_text(
        json.dumps({"stage": {"Levels": levels}})
    )
    (folder / "sub-001_task-rest_events.json").write_text(
        json.dumps({"stage": {"Levels": {"1": "REM"}}})
    )
    assert list(mms.read_scoring(events).astype(str))[0] == "Wake"
    assert list(mms.read_scoring(events).astype(str))[-1] == "Wake"


def test_codes_no_sidecar_explains(tmp_path, mssv):
    _, _, events = _dataset(tmp_path, mssv, None)
    with pytest.raises(
        ValueError, match=r"sub-001_task-sleep_run-1_events.tsv.*mapping"
    ):
        mms.read_scoring(events)
    # A mapping still works without a sidecar.
    mapping = {"1": "Wake", "2": "NREM", "3": "REM", "9": "artifact"}
    assert len(mms.read_scoring(events, mapping=mapping)) == 6
    broken = events.with_name("sub-001_task-sleep_run-1_events.json")
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="JSON sidecar of sub-001_task-sleep_run-1"):
        mms.read_scoring(events)
