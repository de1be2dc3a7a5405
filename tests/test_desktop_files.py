"""Scoring files as real desktops save them: BOMs, blank lines, empty files."""

import os

import numpy as np
import pytest

import mne_mousesleep as mms
from mne_mousesleep.cli import main


@pytest.fixture
def formats(shared_dir):
    return shared_dir / "formats"


def test_excel_bom_reads_in_every_text_format(formats, tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark: read as without."""
    names = [
        ("example_accusleepy_scored.csv", dict(epoch_length=10)),
        ("example_accusleepy_manual.csv", dict(epoch_length=10)),
        ("example_faster2.faster2.stage.csv", {}),
        ("example_intellisleepscorer_scores.csv", {}),
        ("example_misleep.txt", {}),
        ("example_visbrain.hyp", {}),
        ("example_somnotate.hyp", {}),
        ("example_yasa.json", {}),
    ]
    for name, kwargs in names:
        plain = mms.read_scoring(formats / name, **kwargs)
        bom = tmp_path / name
        bom.write_bytes(b"\xef\xbb\xbf" + (formats / name).read_bytes())
        with_bom = mms.read_scoring(bom, **kwargs)
        assert list(with_bom.astype(str)) == list(plain.astype(str)), name
        np.testing.assert_array_equal(with_bom.index, plain.index)


def test_bom_through_the_command_line(formats, tmp_path, capsys):
    bom = tmp_path / "scored.csv"
    bom.write_bytes(
        b"\xef\xbb\xbf" + (formats / "example_accusleepy_scored.csv").read_bytes()
    )
    out = tmp_path / "out.csv"
    args = ["convert", str(bom), str(out), "--epoch-length", "10", "--to", "table"]
    assert main(args) == 0, capsys.readouterr().err


def test_blank_line_is_an_error_naming_it(formats, tmp_path):
    lines = (formats / "example_accusleepy_manual.csv").read_text().splitlines()
    gap = tmp_path / "gap.csv"
    gap.write_text("\n".join(lines[:5] + [""] + lines[5:]) + "\n\n")
    with pytest.raises(ValueError, match=r"gap.csv, line 6: a blank line between"):
        mms.read_scoring(gap, epoch_length=10)
    tail = tmp_path / "tail.csv"
    tail.write_text("\n".join(lines) + "\n\n\n")  # blank lines at the end: fine
    assert len(mms.read_scoring(tail, epoch_length=10)) == len(lines) - 1
    faster = (formats / "example_faster2.faster2.stage.csv").read_text().splitlines()
    gap2 = tmp_path / "gap.faster2.stage.csv"
    gap2.write_text("\n".join(faster[:8] + [""] + faster[8:]) + "\n")
    with pytest.raises(ValueError, match=r"line 9: a blank line"):
        mms.read_scoring(gap2)


def test_faster2_epoch_length_zero(formats, tmp_path):
    text = (formats / "example_faster2.faster2.stage.csv").read_text()
    bad = tmp_path / "zero.faster2.stage.csv"
    bad.write_text(text.replace("Epoch length: 10", "Epoch length: 0"))
    with pytest.raises(ValueError, match=r"zero.faster2.stage.csv, line 4: 'Epoch "):
        mms.read_scoring(bad)
    assert main(["convert", str(bad), str(tmp_path / "out.csv")]) == 1


@pytest.mark.parametrize(
    "name", ["remidx_M1.txt", "e.csv", "e_scores.csv", "e.json", "e.hyp", "e.txt"]
)
def test_empty_files_name_the_file(tmp_path, name):
    empty = tmp_path / name
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=f"{name}.*empty"):
        mms.read_scoring(empty, epoch_length=10)


def test_header_only_file_holds_no_epoch(formats, tmp_path, online):
    head = tmp_path / "remidx_M1.txt"
    head.write_text("\n")  # saved empty by an editor: one newline
    with pytest.raises(ValueError, match="remidx_M1.txt: not a readable table"):
        mms.read_scoring(head)
    proba = tmp_path / "head.csv"
    proba.write_text("brain_state\n")
    with pytest.raises(ValueError, match="head.csv.*no epoch"):
        mms.read_scoring(proba, epoch_length=10)


def test_evaluate_on_empty_scoring_is_clear(formats, tmp_path):
    truth = mms.read_scoring(formats / "example_accusleepy_manual.csv", epoch_length=10)
    empty = tmp_path / "remidx_M2.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="remidx_M2.txt"):
        mms.evaluate(truth, mms.read_scoring(empty))


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_symlinks_in_input_folders(tmp_path, online):
    from conftest import write_study

    data = tmp_path / "data"
    elsewhere = tmp_path / "elsewhere"
    write_study(elsewhere, 1, duration=120.0, seed=2, names=["M5"])
    data.mkdir()
    (data / "linked").symlink_to(elsewhere, target_is_directory=True)
    (data / "loop").symlink_to(data, target_is_directory=True)  # no loop
    (data / "gone_raw.fif").symlink_to(tmp_path / "deleted_raw.fif")
    summary = mms.score_files(data, tmp_path / "out", n_jobs=1, verbose="error")
    status = dict(
        zip([os.path.basename(f) for f in summary["file"]], summary["status"])
    )
    assert status == {"M5_raw.fif": "scored", "gone_raw.fif": "failed"}
    error = summary.loc[summary["status"] == "failed", "error"].iloc[0]
    assert "dangling link" in error and "deleted_raw.fif" in error
