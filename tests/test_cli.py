"""The command-line interface."""

import argparse
import json
import os
import shutil
import subprocess
import sys

import mne
import numpy as np
import pandas as pd
import pytest

import mne_mousesleep as mms
from mne_mousesleep.cli import _parser, main
from mne_mousesleep.datasets import simulate_recording


def test_models_lists_cards(capsys, online):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("grieger2021")]
    assert len(lines) == 5  # one line per model
    for name in (
        "grieger2021-5stage",
        "grieger2021-5stage-balanced",
        "grieger2021-3stage",
        "grieger2021-3stage-balanced",
        "grieger2021-3stage-eeg3-emg",
    ):
        assert sum(ln.split()[0] == name for ln in lines) == 1
    assert "frontal EEG, parietal-right EEG, parietal-left EEG, EMG" in out
    mms.load_model("grieger2021-3stage")  # now in the cache
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert next(ln for ln in lines if ln.startswith("grieger2021-3stage ")).endswith(
        "[cached]"
    )
    assert main(["models", "grieger2021-3stage"]) == 0
    out = capsys.readouterr().out
    assert out.count("Model  ") == 1 and "test mean F1 0.948" in out
    assert "Wake, REM, NREM" in out
    assert "predicts the EEG power from its spectral shape (7 bands" in out
    assert "{'bands'" not in out  # the gain model in words, not a dict
    assert main(["models", "nope"]) == 1
    assert "model must be one of" in capsys.readouterr().err


def test_help_is_quick_and_complete():
    """--help imports no torch; every option has a help text; --version."""
    code = (
        "import sys\n"
        "from mne_mousesleep.cli import main\n"
        "for argv in (['--help'], ['score', '--help'], ['train', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'mne' not in sys.modules, 'mne imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    parser = _parser()
    subparsers = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}"
    with pytest.raises(SystemExit):
        main(["--version"])


def test_expected_failures_are_one_line(tmp_path, capsys, misleep_raw):
    """A malformed model file: one line naming it, no traceback; --debug shows it."""
    fif = tmp_path / "m_raw.fif"
    misleep_raw.save(fif)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"")
    args = ["score", str(fif), "--out", str(tmp_path / "s.csv"), "--model", str(junk)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"error: '{junk}' is not a compatible checkpoint: the file is empty."
    ]
    with pytest.raises(ValueError, match="compatible checkpoint"):
        main(args + ["--debug"])
    # In a batch, the same failure is counted per recording.
    assert main(["score", str(fif), "--model", str(junk)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "0 scored, 0 skipped, 1 failed" in captured.out


def test_truncated_edf(online, tmp_path, capsys):
    """A truncated EDF fails with the reason unless --allow-truncated."""
    from mne_mousesleep.datasets import simulate_recording

    raw = simulate_recording(600.0, 128.0, seed=0)
    full = tmp_path / "full.edf"
    mne.export.export_raw(full, raw, verbose=False)
    data = full.read_bytes()
    cut = tmp_path / "cut.edf"
    cut.write_bytes(data[: len(data) // 2])
    assert main(["score", str(cut)]) == 1
    captured = capsys.readouterr()
    assert "cut.edf looks truncated" in captured.err
    assert not (tmp_path / "cut_scoring.csv").exists()
    assert main(["score", str(cut), "--allow-truncated"]) == 0
    sidecar = json.loads((tmp_path / "cut_scoring.json").read_text())
    warnings = sidecar["result"]["quality"]["reader_warnings"]
    assert any("does not match the file size" in w for w in warnings)
    assert main(["score", str(cut), "--out", str(tmp_path / "x.csv")]) == 1
    assert "looks truncated" in capsys.readouterr().err


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
    assert "Input quality: 2 of 60 epochs unscored (no 30-s context" in printed
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
    assert sidecar["result"]["model"] == "grieger2021-3stage"
    assert sidecar["result"]["ch_names"] == ["EEG_P"]
    assert len(mne.read_annotations(tmp_path / "rec_scoring.csv")) == 60


def test_score_real_edf(online, capsys, tmp_path):
    from mne_mousesleep.datasets import fetch_misleep_edf_example

    fname = fetch_misleep_edf_example().filenames[0]
    out = tmp_path / "scores.csv"
    args = ["score", str(fname), "--picks", "Channel2", "--out", str(out)]
    assert main(args) == 1  # ~1 µV: an amplifier's floor, refused by default
    err = capsys.readouterr().err
    assert "dead channel Channel2" in err and "--no-unit-check" in err
    assert "Traceback" not in err and not out.exists()
    assert main([*args, "--no-unit-check"]) == 0
    captured = capsys.readouterr()
    assert "from ['Channel2']" in captured.out
    assert "warning: Channel Channel2 has a robust standard deviation" in captured.err


def test_console_script(online):
    exe = shutil.which("mne-mousesleep")
    if exe is None:
        pytest.skip("package not installed (no console script)")
    env = dict(os.environ)
    res = subprocess.run(
        [exe, "score", "--example"], capture_output=True, text=True, env=env
    )
    assert res.returncode == 0, res.stderr
    assert "Sleep stage W" in res.stdout


def test_single_file_unwritable_fails_before_scoring(fif_file, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "scores.csv"
    assert main(["score", str(fif_file), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write outputs to {blocker}" in err and "Traceback" not in err


def test_corrupt_edf_annotation_channel(online, tmp_path, capsys):
    """Not UTF-8: read as latin1 with a recorded warning, not a crash."""
    from mne_mousesleep.datasets import simulate_recording

    raw = simulate_recording(120.0, 128.0, seed=0)
    raw.set_annotations(mne.Annotations([10, 20], [1, 1], ["hello", "world"]))
    edf = tmp_path / "ann.edf"
    mne.export.export_raw(edf, raw, verbose=False)
    data = bytearray(edf.read_bytes())
    at = data.find(b"hello")
    data[at : at + 5] = b"\xff\xfe\xff\xfe\xff"
    edf.write_bytes(bytes(data))
    assert main(["score", str(edf)]) == 0
    captured = capsys.readouterr()
    assert "1 scored" in captured.out and "Traceback" not in captured.err
    sidecar = json.loads((tmp_path / "ann_scoring.json").read_text())
    assert any("latin1" in w for w in sidecar["result"]["quality"]["reader_warnings"])


def test_batch_prints_input_quality(online, tmp_path, capsys):
    """Bad data in a batch: scored around, counted and said in the output."""
    # (256 Hz: below 140 Hz the rate itself is an input warning.)
    from mne_mousesleep.datasets import simulate_recording

    raw = simulate_recording(600.0, 256.0, seed=0)
    raw.load_data()
    raw._data[raw.ch_names.index("EEG_PR"), 303 * 256 : 306 * 256] = np.nan
    raw.save(tmp_path / "M0_raw.fif")
    simulate_recording(600.0, 256.0, seed=1).save(tmp_path / "M1_raw.fif")
    weak = simulate_recording(600.0, 256.0, seed=2)
    weak.load_data()._data *= 0.05
    mne.export.export_raw(tmp_path / "M2.edf", weak)
    assert main(["score", str(tmp_path), "--out-dir", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    out = captured.out
    lines = [ln for ln in out.splitlines() if ln.startswith("input quality: ")]
    assert len(lines) == 2  # M1 is clean
    assert "M0_raw.fif: " in lines[0] and "NaN or infinite values (EEG_PR): 3" in out
    assert "bad data NaN or infinite values 3 s" in lines[0]
    # The warning is the recording's, in its own line (not the launcher's).
    assert "M2.edf: " in lines[1] and "far from the training data" in lines[1]
    # No reader chatter (MNE's information messages) around the progress bar.
    assert "Extracting EDF parameters" not in captured.out + captured.err
    assert "Opening raw data file" not in captured.out + captured.err
    table = pd.read_csv(tmp_path / "out" / "scoring_summary.tsv", sep="\t")
    assert list(table["bad_epochs"]) == [3, 0, 0]
    assert list(table["unscored"]) == [5, 2, 2]
    assert list(table["input_warnings"]) == [0, 0, 1]


def test_messages_speak_flags_not_python(tmp_path, capsys, online):
    """A command-line user reads --picks, --epoch-length, not picks='...'."""
    raw = simulate_recording(120.0, 256.0, ch_names=("Channel1", "Channel2"), seed=1)
    fname = tmp_path / "rec_raw.fif"
    raw.save(fname, verbose="error")
    assert main(["score", str(fname), "--out", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err
    assert "--picks Channel1" in err and "picks='" not in err
    labels = tmp_path / "labels.csv"
    labels.write_text("brain_state\n1\n2\n")
    assert main(["convert", str(labels), str(tmp_path / "x.csv"), "--to", "table"]) == 1
    err = capsys.readouterr().err
    assert "--epoch-length" in err and "epoch_length=" not in err


def test_warning_and_trust_once(tmp_path, capsys, online):
    raw = simulate_recording(600.0, 256.0, seed=2)
    raw.load_data()._data *= 0.05  # far from the training amplitude
    fname = tmp_path / "weak_raw.fif"
    raw.save(fname, verbose="error")
    assert main(["score", str(fname), "--out", str(tmp_path / "o.csv")]) == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "warning: Channel EEG_PR has a robust standard deviation" in text
    assert "sys.exit(main())" not in text and "warn(" not in text
    assert text.count("Trust:") == 1
    assert "Effective window size" not in text


def test_progress_bar_in_a_log_shows_its_end_once(capsys):
    from mne_mousesleep._progress import _progress

    with mne.utils.use_log_level("info"):
        for _ in _progress(range(50), mesg="Counting"):
            pass
    err = capsys.readouterr().err
    assert err.count("50/50") == 1 and err.count("0/50") == 2  # 0/50 and 50/50


def test_models_listing_does_not_load_torch(online):
    """Listing models and showing a card reads the registry only (fast)."""
    code = (
        "import sys; from mne_mousesleep.cli import main; "
        "main(['models']); main(['models', 'grieger2021-5stage']); "
        "print('torch loaded:', 'torch' in sys.modules)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert res.returncode == 0, res.stderr
    assert "torch loaded: False" in res.stdout and "Gain model" in res.stdout
