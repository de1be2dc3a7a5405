"""The command-line interface."""

import json
import os
import shutil
import subprocess

import mne
import pandas as pd
import pytest

from mne_mousesleep.cli import main


def test_models_lists_cards(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in (
        "grieger2021-5stage",
        "grieger2021-5stage-balanced",
        "grieger2021-3stage",
        "grieger2021-3stage-balanced",
        "grieger2021-3stage-eeg3-emg",
    ):
        assert f"Model                  : {name}\n" in out
    assert "Wake, REM, NREM, pre-REM, artifact" in out
    assert "frontal EEG, parietal-right EEG, parietal-left EEG, EMG" in out
    assert main(["models", "grieger2021-3stage"]) == 0
    out = capsys.readouterr().out
    assert out.count("Model  ") == 1 and "test mean F1 0.948" in out
    assert main(["models", "nope"]) == 1
    assert "model must be one of" in capsys.readouterr().err


@pytest.fixture
def fif_file(misleep_raw, tmp_path):
    fname = tmp_path / "mouse01_raw.fif"
    misleep_raw.save(fname)
    return fname


def test_score_file(fif_file, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    proba = tmp_path / "proba.csv"
    args = [
        "score",
        str(fif_file),
        "--picks",
        "EEG_P",
        "--out",
        str(out),
        "--proba",
        str(proba),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "60 epochs of 10 s scored with grieger2021-5stage from ['EEG_P']" in printed
    assert "Sleep stage W" in printed and "100.0" in printed
    annot = mne.read_annotations(out)
    assert len(annot) == 60
    assert list(annot.description).count("Sleep stage W") == 58
    table = pd.read_csv(proba, index_col="onset")
    assert table.shape == (60, 5)
    # Existing outputs are kept unless --overwrite.
    out.write_text("mine")
    assert main(args) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "mine"
    assert main(args + ["--overwrite", "--merge-bouts"]) == 0
    assert len(mne.read_annotations(out)) == 3


@pytest.mark.parametrize("suffix", [".txt", "-annot.fif"])
def test_score_output_formats(fif_file, tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    assert main(["score", str(fif_file), "--out", str(out)]) == 0
    assert len(mne.read_annotations(out)) == 60


def test_score_errors(fif_file, tmp_path, capsys):
    assert main(["score", str(fif_file), "--out", str(tmp_path / "x.json")]) == 2
    assert main(["score"]) == 2
    assert main(["score", str(fif_file), "--picks", "EEG_X"]) == 1
    assert "EEG_X" in capsys.readouterr().err


def test_score_example_and_mat(online, capsys, shared_dir, tmp_path):
    assert main(["score", "--example"]) == 0
    assert "MiSleep example: 60 epochs" in capsys.readouterr().out
    mat = tmp_path / "rec.mat"
    shutil.copyfile(shared_dir / "data" / "misleep_10min_example.mat", mat)
    assert main(["score", str(mat), "--model", "grieger2021-3stage"]) == 0
    assert "1 scored, 0 skipped, 0 failed" in capsys.readouterr().out
    sidecar = json.loads((tmp_path / "rec_scoring.json").read_text())
    assert sidecar["model"] == "grieger2021-3stage"
    assert sidecar["ch_names"] == ["EEG_P"]
    assert len(mne.read_annotations(tmp_path / "rec_scoring.csv")) == 60


def test_score_real_edf(online, capsys, tmp_path):
    from mne_mousesleep.datasets import fetch_misleep_edf_example

    fname = fetch_misleep_edf_example().filenames[0]
    out = tmp_path / "scores.csv"
    with pytest.warns(RuntimeWarning, match="robust standard deviation"):
        assert (
            main(["score", str(fname), "--picks", "Channel2", "--out", str(out)]) == 0
        )
    assert "from ['Channel2']" in capsys.readouterr().out


def test_console_script(online):
    exe = shutil.which("mne-mousesleep")
    if exe is None:
        pytest.skip("package not installed (no console script)")
    env = dict(os.environ)
    res = subprocess.run(
        [exe, "score", "--example"], capture_output=True, text=True, env=env, check=True
    )
    assert "Sleep stage W" in res.stdout
