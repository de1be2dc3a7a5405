"""Reading expert scorings: tables, EDF+ annotations, and their errors."""

from datetime import datetime, timezone

import mne
import numpy as np
import pytest

import mne_mousesleep as mms


def _write(path, text):
    path.write_text(text)
    return path


def test_csv_with_epoch_numbers(tmp_path):
    fname = _write(tmp_path / "m1.csv", "Epoch,Stage\n1,W\n2,W\n3,NR\n4,IS\n5,R\n6,A\n")
    stages = mms.read_scoring(fname)
    assert list(stages.astype(str)) == [
        "Wake",
        "Wake",
        "NREM",
        "pre-REM",
        "REM",
        "artifact",
    ]
    np.testing.assert_array_equal(stages.index, np.arange(6) * 10.0)
    zero_based = _write(tmp_path / "m0.csv", "epoch,stage\n0,W\n1,R\n")
    np.testing.assert_array_equal(
        mms.read_scoring(zero_based, epoch_base=0).index, [0, 10]
    )


def test_tsv_with_times_and_mapping(tmp_path):
    fname = _write(tmp_path / "m2.tsv", "time\tscore\n0\t1\n4\t1\n8\t2\n12\t3\n")
    with pytest.raises(
        ValueError, match=r"labels of m2.tsv are numbers \(\[1, 2, 3\]\); pass mapping"
    ):
        mms.read_scoring(fname, epoch_length=4.0)
    stages = mms.read_scoring(
        fname, epoch_length=4.0, mapping={1: "Wake", 2: "NREM", 3: "REM"}
    )
    assert list(stages.astype(str)) == ["Wake", "Wake", "NREM", "REM"]
    assert stages.attrs["epoch_length"] == 4.0
    with pytest.raises(ValueError, match="4 s apart, not the epoch length 10 s"):
        mms.read_scoring(fname, mapping={1: "Wake", 2: "NREM", 3: "REM"})


def test_single_column_labels(tmp_path):
    fname = _write(tmp_path / "labels.txt", "label\nWake\nNREM\nREM\n")
    assert list(mms.read_scoring(fname).astype(str)) == ["Wake", "NREM", "REM"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("time,stage\n0,W\n10,W\n30,NR\n", "gap of 10 s after the epoch at 10 s"),
        ("time,stage\n0,W\n10,W\n10,NR\n", "overlap or repeat at 10 s"),
        ("time,stage\n0,W\n10,N2\n", r"Unknown labels \['N2'\]"),
        ("time,stage\n0,W\n15,NR\n", "15 s apart"),
        ("a,b\n1,2\n", "No label column"),
    ],
)
def test_table_errors(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        mms.read_scoring(_write(tmp_path / "bad.csv", text))


def test_missing_named_column(tmp_path):
    fname = _write(tmp_path / "x.csv", "time,stage\n0,W\n")
    with pytest.raises(ValueError, match="label_col='hypno' is not a column"):
        mms.read_scoring(fname, label_col="hypno")


def _edf_with_annotations(tmp_path, onsets, durations, descriptions):
    info = mne.create_info(["EEG_PR"], 128.0, "eeg")
    raw = mne.io.RawArray(np.zeros((1, 128 * 60)), info, verbose=False)
    raw.set_meas_date(datetime(2024, 1, 1, 7, tzinfo=timezone.utc))
    raw.set_annotations(
        mne.Annotations(
            onsets, durations, descriptions, orig_time=raw.info["meas_date"]
        )
    )
    fname = tmp_path / "scored.edf"
    mne.export.export_raw(fname, raw, fmt="edf", verbose=False)
    return fname


def test_edf_plus_annotations(tmp_path):
    fname = _edf_with_annotations(
        tmp_path, [0, 20, 30, 50], [20, 10, 20, 10], ["Wake", "NREM", "REM", "lights"]
    )
    with pytest.raises(
        ValueError, match=r"Unknown annotation descriptions \['lights'\]"
    ):
        mms.read_scoring(fname)
    mapping = {"Wake": "Wake", "NREM": "NREM", "REM": "REM", "lights": None}
    stages = mms.read_scoring(fname, mapping=mapping)
    assert list(stages.astype(str)) == ["Wake", "Wake", "NREM", "REM", "REM"]
    assert stages.attrs["meas_date"] == datetime(2024, 1, 1, 7, tzinfo=timezone.utc)


def test_annotation_errors():
    with pytest.raises(ValueError, match="Overlapping stage annotations"):
        mms.to_stages(mne.Annotations([0, 5], [10, 10], ["Sleep stage W"] * 2))
    with pytest.raises(ValueError, match="Gap of 10 s"):
        mms.to_stages(mne.Annotations([0, 20], [10, 10], ["Sleep stage W"] * 2))
    # Other durations are cut into 10-s epochs by the majority rule: 4 s of
    # Wake is not the majority of an epoch, 6 s of REM is.
    short = mms.to_stages(mne.Annotations([0, 4], [4, 6], ["Sleep stage W", "R"]))
    assert list(short.astype(str)) == ["REM"]
    with pytest.raises(ValueError, match="cover no 10-s epoch for half"):
        mms.to_stages(mne.Annotations([0], [4], ["Sleep stage W"]))
    with pytest.raises(ValueError, match="no sleep stage"):
        mms.to_stages(mne.Annotations([0], [10], ["x"]), mapping={"x": None})


def test_mne_annotation_files_roundtrip(tmp_path, rng):
    stages = mms.datasets.simulate_hypnogram(600.0, seed=3)
    annot = mms.to_annotations(stages, merge_bouts=True)
    for name in ("expert.csv", "expert.txt", "expert-annot.fif"):
        annot.save(tmp_path / name)
        back = mms.read_scoring(tmp_path / name)
        assert list(back.astype(str)) == list(stages.astype(str)), name
