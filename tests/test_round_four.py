"""No silent wrong answers, round four (issue 43): layouts, lengths, classes,
the command line's words, outputs made from an existing scoring."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
from conftest import write_study

import mne_mousesleep as mms
from mne_mousesleep.cli import main
from mne_mousesleep.hypnogram import to_epoch_length
from mne_mousesleep.scoring.animals import read_layout
from mne_mousesleep.training._data import _check_epoch_length, _model_classes


@pytest.mark.parametrize("sep", [",", "\t"])
def test_layout_with_an_animal_twice_is_refused(tmp_path, sep):
    path = tmp_path / ("layout.csv" if sep == "," else "layout.tsv")
    rows = ["animal,eeg,emg", "M1,EEG1,EMG1", "M2,EEG2,EMG2", "M1 ,EEG3,EMG3"]
    path.write_text("\n".join(r.replace(",", sep) for r in rows) + "\n")
    with pytest.raises(ValueError, match=r"'M1' on lines \[2, 4\]"):
        read_layout(path)


def test_json_layout_with_an_animal_twice_is_refused(tmp_path):
    path = tmp_path / "layout.json"
    path.write_text(
        '{"M1": {"eeg": "EEG1", "emg": null}, "M2": {"eeg": "EEG2"},'
        ' "M1": {"eeg": "EEG3"}}'
    )
    with pytest.raises(ValueError, match=r"\['M1'\] appear twice"):
        read_layout(path)


def test_layout_saved_by_excel_with_a_bom(tmp_path):
    path = tmp_path / "layout.csv"
    path.write_bytes(
        "animal,eeg,emg\r\nM1,EEG1,EMG1\r\nM2,EEG2,\r\n".encode("utf-8-sig")
    )
    assert read_layout(path) == {
        "M1": {"eeg": "EEG1", "emg": "EMG1"},
        "M2": {"eeg": "EEG2", "emg": None},
    }
    json_path = tmp_path / "layout.json"
    json_path.write_bytes('{"M1": {"eeg": "EEG1"}}'.encode("utf-8-sig"))
    assert read_layout(json_path) == {"M1": {"eeg": "EEG1", "emg": None}}


@pytest.mark.parametrize("value", [0, -4, 0.0, float("nan"), float("inf")])
def test_epoch_length_must_be_positive(value):
    with pytest.raises(ValueError, match="must be a positive number of seconds"):
        _check_epoch_length(value)
    with pytest.raises(ValueError, match="not a whole number of samples"):
        _check_epoch_length(0.01)


def test_to_epoch_length_longer_than_the_scoring():
    stages = mms.to_stages(["Wake", "NREM", "NREM", "REM"] * 3)  # 120 s
    assert len(to_epoch_length(stages, 40.0)) == 3
    with pytest.raises(ValueError, match="spans 120 s"):
        to_epoch_length(stages, 1e6)


def test_classes_named_twice():
    with pytest.raises(ValueError, match=r"names \['NREM'\] more than once"):
        _model_classes(["Wake", "NREM", "REM", "NREM"], None)
    with pytest.raises(ValueError, match="2 or more distinct classes"):
        _model_classes(["Wake"], None)


def test_convert_to_misleep_takes_a_start(tmp_path, shared_dir, capsys):
    src = shared_dir / "formats" / "example_accusleep.mat"
    out = tmp_path / "M01_misleep.txt"
    args = ["convert", str(src), str(out), "--epoch-length", "10", "--to", "misleep"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "pass --start" in err and "start=" not in err
    assert main([*args, "--start", "2024-01-01T07:00:00"]) == 0
    back = mms.read_scoring(out, epoch_length=10)
    source = mms.read_scoring(src, epoch_length=10)
    assert list(back.astype(str)) == list(source.astype(str))
    assert "07:00:00" in out.read_text()


def test_cli_messages_name_flags():
    from mne_mousesleep.cli._messages import _for_cli

    layout = (
        "The channel names do not say which animal each channel belongs to: "
        "x. Channels (type): a. Pass layout= (or --animals FILE on the command "
        'line) naming each animal\'s channels, e.g. layout={"M1": {"eeg": "A"}}.'
    )
    for text in (
        layout,
        "several EMG channels ['EMG1', 'EMG2']: pass emg= to choose one",
        "No x: score with report=True (--report) to write the outputs",
        "this scoring has none (no meas_date); pass start= to write_scoring.",
    ):
        said = _for_cli(text)
        for hint in ("layout=", "emg=", "report=True", "start="):
            assert hint not in said, said
        assert "--" in said


def test_empty_edf_is_an_empty_file(tmp_path):
    path = tmp_path / "M1.edf"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        mms.io.read_recording(path)


def test_report_added_to_a_finished_batch(tmp_path, online, capsys, caplog):
    """--report on a finished batch: made from the scoring, not scored again."""
    write_study(tmp_path / "study", n=2)
    out = tmp_path / "out"
    assert main(["score", str(tmp_path / "study"), "--out-dir", str(out)]) == 0
    kept = ("*.csv", "*.tsv", "*.txt", "*.fif")
    before = {p.name: p.read_bytes() for k in kept for p in out.glob(f"M{k}")}
    assert before
    capsys.readouterr()
    calls = []
    from mne_mousesleep.batch import _one

    real = _one._read_and_score
    _one._read_and_score = lambda *a, **k: calls.append(a) or real(*a, **k)
    try:
        with caplog.at_level(logging.INFO, logger="mne"):
            args = ["score", str(tmp_path / "study"), "--out-dir", str(out)]
            assert main([*args, "--report", "--verbose", "info"]) == 0
    finally:
        _one._read_and_score = real
    text = capsys.readouterr().out
    assert not calls  # not scored again
    assert (out / "M0_report.html").is_file() and (out / "M1_report.html").is_file()
    assert {n: (out / n).read_bytes() for n in before} == before  # kept as they were
    assert "stale" not in text
    info = json.loads((out / "M0_scoring.json").read_text())
    assert info["settings"]["report"] is not None and info["complete"]
    # And now it is up to date.
    assert main([*args, "--report"]) == 0
    assert "2 skipped" in capsys.readouterr().out
    assert ".tmp" not in caplog.text


def test_shared_input_notes_printed_once(tmp_path, online, capsys, caplog):
    """The 128-Hz note of every recording: once for the run, not per recording."""
    write_study(tmp_path / "study", n=3)  # 128 Hz
    out = tmp_path / "out"
    args = ["score", str(tmp_path / "study"), "--out-dir", str(out)]
    with caplog.at_level(logging.INFO, logger="mne"):
        assert main([*args, "--format", "faster2", "--verbose", "info"]) == 0
    assert "Wrote 60 epochs" not in caplog.text  # a temporary file's name
    assert ".tmp" not in caplog.text
    text = capsys.readouterr().out
    assert text.count("the sampling rate is 128 Hz") == 1
    assert "input quality, all 3: " in text
    summary = pd.read_csv(out / "scoring_summary.tsv", sep="\t")
    assert all("128 Hz" in q for q in summary["quality"])  # each record keeps it
    assert np.isfinite(summary["hours"]).all()


def test_convert_takes_a_mapping(tmp_path, capsys):
    src = tmp_path / "M01_table.csv"
    rows = ["onset,duration,stage"] + [
        f"{10 * k},10,{code}" for k, code in enumerate([1, 1, 2, 2, 2, 3, 2, 9])
    ]
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "M01.json"
    args = ["convert", str(src), str(out), "--from", "table", "--to", "yasa"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "--mapping CODE=STAGE" in err and "mapping=" not in err
    assert main([*args, "--mapping", "1=Wake,2=NREM,3=REM,9=artifact"]) == 0
    capsys.readouterr()
    assert list(mms.read_scoring(out).astype(str))[:6] == [
        "Wake", "Wake", "NREM", "NREM", "NREM", "REM",
    ]  # fmt: skip
    assert main([*args, "--mapping", "1:Wake", "--overwrite"]) == 1
    assert "--mapping takes CODE=STAGE pairs" in capsys.readouterr().err
