"""Scoring files of other tools: reading, writing, epoch lengths and time."""

import json
import re
import warnings
from datetime import datetime, timezone

import mne
import numpy as np
import pandas as pd
import pytest
from conftest import make_raw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mne_mousesleep as mms
from mne_mousesleep.batch import FORMATS as BATCH_FORMATS
from mne_mousesleep.cli import _OUTPUT_FORMATS, _SCORING_FORMATS, main

# The made-up mouse of ../shared/formats/FORMATS.md: 12 epochs of 10 s from
# 2024-03-01 08:00:00.
W, N, P, R, A, U = "Wake", "NREM", "pre-REM", "REM", "artifact", "unscored"
MOUSE = [W, W, N, N, N, P, R, R, W, A, N, U]
START = datetime(2024, 3, 1, 8, tzinfo=timezone.utc)


def _mouse(**changes):
    """The made-up mouse, with the substitutions FORMATS.md gives per file."""
    return [changes.get(f"e{ii}", stage) for ii, stage in enumerate(MOUSE)]


# (file, read options, expected stages, clock start stored in the file)
EXAMPLES = [
    ("example_accusleep.mat", {"epoch_length": 10}, _mouse(e5=U, e9=U), None),
    ("example_accusleepy_manual.csv", {"epoch_length": 10}, _mouse(e5=U, e9=U), None),
    (  # auto-scored: every epoch has a class
        "example_accusleepy_scored.csv",
        {"epoch_length": 10},
        _mouse(e5=N, e9=W, e11=N),
        None,
    ),
    ("example_faster2.faster2.stage.csv", {}, _mouse(e5=N, e9=U), START),
    ("example_intellisleepscorer_scores.csv", {}, _mouse(e5=N, e9=W, e11=W), None),
    ("example_misleep.txt", {}, _mouse(e5=N, e9=U), START),
    ("example_remidx.txt", {}, _mouse(e5=N, e9=U), None),  # 2.5-s bins
    (  # SPINDLE: artefact only from the probability file
        "example_spindle_predictions_without_artifacts.csv",
        {"epoch_length": 10},
        _mouse(e5=N, e11=A),
        None,
    ),
    ("example_spindle_ad_predictions_prob.csv", {"epoch_length": 10}, None, None),
    ("example_visbrain_stage_duration.txt", {}, _mouse(e5=N, e11=W), None),
    ("example_visbrain_sample.txt", {}, _mouse(e5=N, e11=W), None),
    ("example_visbrain.hyp", {}, _mouse(e5=N, e11=W), None),
    (  # somnotate's artefact variants and "sleep movement" (awake)
        "example_somnotate.hyp",
        {},
        _mouse(e3=A, e5=N, e7=A),
        None,
    ),
    ("example_yasa.json", {}, _mouse(e5=N), START),
    (  # a Sleep-EDF illustration: human NREM stages, movement time
        "example_sleepedf_hypnogram.edf",
        {},
        [W, W, N, N, N, N, R, R, A, N, W, U],
        START,
    ),
]
FORMAT_OF = {
    "example_accusleep.mat": "accusleep",
    "example_accusleepy_manual.csv": "accusleepy",
    "example_accusleepy_scored.csv": "accusleepy",
    "example_faster2.faster2.stage.csv": "faster2",
    "example_intellisleepscorer_scores.csv": "intellisleepscorer",
    "example_misleep.txt": "misleep",
    "example_remidx.txt": "remidx",
    "example_spindle_predictions_without_artifacts.csv": "spindle",
    "example_spindle_ad_predictions_prob.csv": "spindle",
    "example_visbrain_stage_duration.txt": "visbrain",
    "example_visbrain_sample.txt": "visbrain-sample",
    "example_visbrain.hyp": "elan",
    "example_somnotate.hyp": "somnotate",
    "example_yasa.json": "yasa",
    "example_sleepedf_hypnogram.edf": "edf",
}


@pytest.fixture(scope="module")
def formats_dir(shared_dir):
    return shared_dir / "formats"


@pytest.mark.parametrize("name, options, expected, start", EXAMPLES)
def test_examples_read_to_the_made_up_mouse(
    formats_dir, name, options, expected, start
):
    if expected is None:  # the other file of a pair reads as the pair
        expected = EXAMPLES[7][2]
    stages = mms.read_scoring(formats_dir / name, **options)
    assert stages.attrs["format"] == FORMAT_OF[name]
    assert list(stages.astype(str)) == expected
    length = 2.5 if name == "example_remidx.txt" else 10.0
    assert stages.attrs["epoch_length"] == length
    np.testing.assert_allclose(stages.index, np.arange(12) * length)
    assert stages.attrs["meas_date"] == start
    # The format named explicitly reads the same.
    again = mms.read_scoring(formats_dir / name, format=FORMAT_OF[name], **options)
    assert list(again.astype(str)) == expected


def test_example_details(formats_dir):
    scored = mms.read_scoring(
        formats_dir / "example_accusleepy_scored.csv", epoch_length=10
    )
    assert scored.attrs["confidence"][:3] == [0.998, 0.991, 0.87]
    remidx = mms.read_scoring(formats_dir / "example_remidx.txt")
    assert remidx.attrs["remidx_flags"][-2:] == [0, -1]
    # SPINDLE's own epochs are 4 s; its predictions file alone has no artefact.
    spindle = mms.read_scoring(
        formats_dir / "example_spindle_predictions_without_artifacts.csv"
    )
    assert spindle.attrs["epoch_length"] == 4.0


def test_yasa_json_matches_yasa(formats_dir, tmp_path):
    import yasa

    fname = formats_dir / "example_yasa.json"
    theirs = yasa.Hypnogram.from_json(fname)
    ours = mms.read_scoring(fname)
    assert list(ours.astype(str).map(mms.YASA_STAGES)) == list(theirs.hypno)
    # What we write, YASA reads back: values, epoch length, start, probabilities.
    stages = mms.to_stages(MOUSE)
    stages.attrs["meas_date"] = START
    with pytest.warns(RuntimeWarning, match="1 pre-REM epochs of 10 s written as NREM"):
        mms.write_scoring(stages, tmp_path / "m.json")
    back = yasa.Hypnogram.from_json(tmp_path / "m.json")
    assert list(back.hypno) == [mms.YASA_STAGES[s] for s in MOUSE]
    assert back.freq == "10s" and pd.Timestamp(back.start) == pd.Timestamp(
        "2024-03-01 08:00:00"
    )
    proba = _proba(MOUSE)
    with pytest.warns(RuntimeWarning, match="cannot hold"):
        mms.write_scoring(proba, tmp_path / "p.json")
    hyp = yasa.Hypnogram.from_json(tmp_path / "p.json")
    # pre-REM 0.9 + NREM 0.025: the folded NREM probability
    np.testing.assert_allclose(hyp.proba["NREM"].iloc[5], 0.925, atol=1e-6)


def _proba(stages, p=0.9):
    """Probabilities whose most probable class is each stage (NaN: unscored)."""
    cols = [W, N, P, R, A]
    values = np.full((len(stages), 5), (1 - p) / 4)
    for ii, s in enumerate(stages):
        if s == U:
            values[ii] = np.nan
        else:
            values[ii, cols.index(s)] = p
    proba = pd.DataFrame(
        values, index=pd.Index(np.arange(len(stages)) * 10.0), columns=cols
    )
    proba.attrs = dict(epoch_length=10.0, meas_date=START, first_time=0.0)
    return proba


# What each writable format holds (FORMATS.md, "How the project's stages map").
HOLDS = {
    "accusleep": {W, N, R, U},
    "accusleepy": {W, N, R, U},
    "annotations": {W, N, P, R, A, U},
    "bids": {W, N, P, R, A, U},
    "edf": {W, N, P, R, A, U},
    "elan": {W, N, R, A},
    "faster2": {W, N, R, U},
    "intellisleepscorer": {W, N, R},
    "misleep": {W, N, R, U},
    "remidx": {W, N, R, U},
    "somnotate": {W, N, R, U},
    "spindle": {W, N, R, A},
    "table": {W, N, P, R, A, U},
    "visbrain": {W, N, R, A},
    "visbrain-sample": {W, N, R, A},
    "yasa": {W, N, R, A, U},
}
NAMES = {
    "accusleep": "M01_labels.mat",
    "accusleepy": "M01.csv",
    "annotations": "M01-annot.fif",
    "bids": "sub-01_events.tsv",
    "edf": "M01.edf",
    "elan": "M01.hyp",
    "faster2": "M01.faster2.stage.csv",
    "intellisleepscorer": "M01_scores.csv",
    "misleep": "M01.txt",
    "remidx": "remidx_M01.txt",
    "somnotate": "M01.hyp",
    "spindle": "M01_predictions_without_artifacts.csv",
    "table": "M01.tsv",
    "visbrain": "M01.txt",
    "visbrain-sample": "M01_hypno.txt",
    "yasa": "M01.json",
}


def _folded(stages, holds):
    """The documented rule, written out independently of the package."""
    out = []
    for s in stages:
        if s not in holds:
            s = {
                P: N,
                A: U if U in holds else W,
                U: A if A in holds else W,
            }[s]
        out.append(s)
    return out


def test_format_lists_agree():
    listed = mms.scoring_formats()
    assert sorted(listed.index) == sorted(HOLDS) == sorted(_SCORING_FORMATS)
    for name, holds in HOLDS.items():
        assert set(listed.loc[name, "stages"].split(", ")) == holds, name
    assert tuple(_OUTPUT_FORMATS) == tuple(BATCH_FORMATS)


@pytest.mark.parametrize("fmt", sorted(HOLDS))
def test_every_format_round_trips(tmp_path, fmt):
    # Our 6-stage scoring, 24 epochs with every stage and both edges.
    stages_list = MOUSE + [N, N, P, R, R, W, W, A, A, N, N, W]
    stages = mms.to_stages(stages_list)
    stages.attrs["meas_date"] = START
    fname = tmp_path / NAMES[fmt]
    lossy = any(s not in HOLDS[fmt] for s in stages_list)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = mms.write_scoring(stages, fname, format=fmt)
    messages = [str(w.message) for w in caught]
    assert out == fname and fname.is_file()
    if lossy:
        assert len(messages) == 1 and "cannot hold" in messages[0]
        if fmt not in ("remidx", "spindle"):  # counted in their own epochs
            n_pre = stages_list.count(P)
            assert f"{n_pre} pre-REM epochs of 10 s written as NREM" in messages[0]
    else:
        assert messages == []
    options = {"epoch_length": 10} if fmt in ("accusleep", "accusleepy") else {}
    back = mms.read_scoring(fname, format=fmt, **options)
    if back.attrs["epoch_length"] != 10.0:  # remidx 2.5 s, SPINDLE 4 s
        back = mms.to_epoch_length(back, 10.0)
    assert list(back.astype(str)) == _folded(stages_list, HOLDS[fmt])
    if fmt in ("faster2", "misleep", "yasa", "edf", "annotations"):
        assert back.attrs["meas_date"] == START
    # Never replaced without asking; replaced whole (not appended) when asked.
    size = fname.stat().st_size
    with pytest.raises(FileExistsError, match="overwrite=True"):
        mms.write_scoring(stages, fname, format=fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mms.write_scoring(stages, fname, format=fmt, overwrite=True)
    if fmt != "misleep":  # MiSleep's save time may change its length
        assert fname.stat().st_size == size


def test_writer_quirks(tmp_path):
    stages = mms.to_stages([W, W, N, N, R, U])
    stages.attrs["meas_date"] = START
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mms.write_scoring(stages, tmp_path / "m.txt", format="misleep")
        mms.write_scoring(stages, tmp_path / "m.stage.csv")
        mms.write_scoring(stages, tmp_path / "m.hyp", format="somnotate")
    # MiSleep: fixed lines, ", "-separated bouts, end exclusive, no final newline.
    text = (tmp_path / "m.txt").read_bytes().decode()
    assert not text.endswith("\n") and "\r" not in text
    lines = text.split("\n")
    assert lines[:2] == ["READ ONLY! DO NOT EDIT!", "4-INIT 3-Wake 2-REM 1-NREM"]
    assert lines[3] == "Acquisition time: 2024-03-01 08:00:00"
    assert lines[4:7] == [
        "==========Marker==========",
        "==========Start-End==========",
        "==========Sleep stage==========",
    ]
    assert lines[7] == "01:08:00:00, 0, 1, 01:08:00:20, 20, 0, 3, Wake"
    assert lines[-1] == "01:08:00:50, 50, 1, 01:08:01:00, 60, 0, 4, INIT"
    # FASTER2: its reader skips exactly 7 lines and reads the stage column.
    table = pd.read_csv(tmp_path / "m.stage.csv", skiprows=7, header=None)
    assert list(table[0]) == ["Wake", "Wake", "NREM", "NREM", "REM", "Unknown"]
    head = (tmp_path / "m.stage.csv").read_text().splitlines()
    assert head[3] == "# Epoch num: 6  Epoch length: 10 [s]"
    assert head[2].startswith("# Start: 2024-03-01 08:00:00 End: 2024-03-01 08:01:00")
    # somnotate: exactly two info lines, labels padded before the tab.
    rows = (tmp_path / "m.hyp").read_text().splitlines()
    assert rows[:2] == ["*Duration_sec\t60.0", "*Datafile\tUnspecified"]
    assert rows[2:] == ["awake    \t20.0", "non-REM  \t40.0", "REM      \t50.0"] + [
        "undefined\t60.0"
    ]


def test_misleep_variants_and_errors(tmp_path):
    legacy = tmp_path / "legacy.txt"
    legacy.write_text(
        "READ ONLY! DO NOT EDIT!\n4-INIT 3-Wake 2-REM 1-NREM\n"
        "Save time: 2024-03-02 10:15:00\nAcquisition time: 2024-03-01 08:00:00\n"
        "==========Marker==========\n==========Start-End==========\n"
        "==========Sleep state==========\n"
        "01:08:00:01, 1, 1, 01:08:00:15, 15, 0, 3, Wake\n"
        "01:08:00:16, 16, 1, 01:08:00:30, 30, 0, 5, IS"
    )
    # 1-based inclusive: Wake 0-15 s, IS (pre-REM) 15-30 s; per-second bouts
    # cut into 10-s epochs: [10, 20) is 5 s each, a tie won by the first.
    stages = mms.read_scoring(legacy)
    assert list(stages.astype(str)) == [W, W, P]
    with pytest.raises(ValueError, match=r"unknown state 6 'MicroArousal'"):
        bad = tmp_path / "bad.txt"
        bad.write_text(legacy.read_text().replace("5, IS", "6, MicroArousal"))
        mms.read_scoring(bad)
    no_clock = mms.to_stages([W, N])
    with pytest.raises(ValueError, match="need the recording's clock time"):
        mms.write_scoring(no_clock, tmp_path / "x.txt", format="misleep")
    mms.write_scoring(no_clock, tmp_path / "x.txt", format="misleep", start=START)
    back = mms.read_scoring(tmp_path / "x.txt")
    assert back.attrs["meas_date"] == START


def test_epoch_length_conversions():
    # 2.5 s -> 10 s: majority of four; a 2-2 tie goes to the first stage.
    fine = mms.to_stages([W, W, W, N, N, N, R, R, R, R, N, N], epoch_length=2.5)
    assert list(mms.to_epoch_length(fine, 10).astype(str)) == [W, N, R]
    # 10 s -> 2.5 s: every short epoch takes its long epoch's stage.
    coarse = mms.to_stages([W, R])
    back = mms.to_epoch_length(coarse, 2.5)
    assert list(back.astype(str)) == [W] * 4 + [R] * 4
    np.testing.assert_allclose(back.index, np.arange(8) * 2.5)
    # 8 s (FASTER2's default) -> 10 s: [0, 10) is 8 s W + 2 s N; [10, 20)
    # 6 s N + 4 s R; [20, 30) has only 4 s (R): an edge epoch covered less
    # than half is left out.
    eight = mms.to_stages([W, N, R], epoch_length=8.0)
    assert list(mms.to_epoch_length(eight, 10).astype(str)) == [W, N]
    gap = mms.to_stages([W, R], epoch_length=8.0)
    gap.index = [0.0, 22.0]  # 8-22 s uncovered: [10, 20) is unscored
    assert list(mms.to_epoch_length(gap, 10).astype(str)) == [W, U, R]
    nine = mms.to_stages([W, N, R], epoch_length=9.0)  # R 18-27 s: 7 of 10 s
    assert list(mms.to_epoch_length(nine, 10).astype(str)) == [W, N, R]
    half = mms.to_stages([W, R], epoch_length=12.5)  # R 12.5-25: ties unscored
    assert list(mms.to_epoch_length(half, 10).astype(str)) == [W, R, R]
    seven = mms.to_stages([W, N, R], epoch_length=7.0)  # ends at 21 s
    assert list(mms.to_epoch_length(seven, 10).astype(str)) == [W, R]
    # 4 s (SPINDLE) from 10 s: [8, 12) is 2 s W + 2 s N, a tie: W.
    assert list(mms.to_epoch_length(coarse, 4).astype(str))[:4] == [W, W, W, R]
    with pytest.raises(ValueError, match="positive"):
        mms.to_epoch_length(coarse, 0)


def test_detection_and_errors(tmp_path, formats_dir):
    both = tmp_path / "x.hyp"
    both.write_text("REM\t10.0\n")
    with pytest.raises(
        ValueError, match=r"could be any of \['somnotate', 'visbrain'\]"
    ):
        mms.read_scoring(both)
    assert list(mms.read_scoring(both, format="visbrain").astype(str)) == [R]
    with pytest.raises(ValueError, match=r"could be any of \['annotations', 'misleep'"):
        mms.write_scoring(mms.to_stages([W]), tmp_path / "out.txt")
    with pytest.raises(ValueError, match="format must be one of"):
        mms.read_scoring(both, format="sleepsign")
    with pytest.raises(ValueError, match="does not store the epoch length"):
        mms.read_scoring(formats_dir / "example_accusleep.mat")
    with pytest.raises(FileNotFoundError, match="No such scoring file"):
        mms.read_scoring(tmp_path / "missing.csv")
    odd = tmp_path / "odd_labels.mat"
    from scipy.io import savemat

    savemat(odd, {"labels": np.array([[1.0], [7.0]])})
    with pytest.raises(ValueError, match=r"unknown labels \['7'\]"):
        mms.read_scoring(odd, epoch_length=4)
    old = tmp_path / "old.stage.csv"  # older FASTER: no epoch length stored
    old.write_text("# a\n# b\n# c\n# d\n# e\n# f\n# g\nNREM\nWAKE\n")
    with pytest.raises(ValueError, match="FASTER2's default is 8 s"):
        mms.read_scoring(old)
    assert mms.read_scoring(old, epoch_length=8).attrs["epoch_length"] == 8.0
    with pytest.raises(ValueError, match="says its epochs last 10 s"):
        mms.read_scoring(
            formats_dir / "example_faster2.faster2.stage.csv", epoch_length=8
        )


def test_lab_codes_with_mapping(tmp_path):
    stages = mms.to_stages([W, N, P, R])
    fname = tmp_path / "lab.csv"
    mms.write_scoring(stages, fname, format="accusleepy", mapping={P: 4})
    assert fname.read_text().split() == ["brain_state", "2", "3", "4", "1"]
    with pytest.raises(ValueError, match=r"unknown brain_state codes \['4'\]"):
        mms.read_scoring(fname, epoch_length=10)
    back = mms.read_scoring(fname, epoch_length=10, mapping={4: P})
    assert list(back.astype(str)) == [W, N, P, R]
    with pytest.raises(ValueError, match="mapping is for AccuSleePy"):
        mms.write_scoring(stages, tmp_path / "x.mat", mapping={P: 4})


@pytest.mark.parametrize("meas_date", [None, START])
@pytest.mark.parametrize("first_samp", [0, 10000])
def test_time_base_on_the_raw(tmp_path, rng, meas_date, first_samp):
    raw = make_raw(rng, duration=120.0, sfreq=100.0, first_samp=first_samp)
    raw.set_meas_date(meas_date)
    # A FASTER2 file that starts 20 s after the first sample (by clock), and
    # an AccuSleep file (no clock: it starts at the first sample).
    stages = mms.to_stages([W, N, N, R])
    first = (meas_date or START) + pd.Timedelta(seconds=raw.first_time + 20)
    stages.attrs["meas_date"] = first
    mms.write_scoring(stages, tmp_path / "m.stage.csv")
    mms.write_scoring(stages, tmp_path / "m.mat")
    clocked = mms.read_scoring(tmp_path / "m.stage.csv", raw=raw)
    plain = mms.read_scoring(tmp_path / "m.mat", raw=raw, epoch_length=10)
    expected = [20.0, 30.0, 40.0, 50.0] if meas_date is not None else [0, 10, 20, 30]
    np.testing.assert_allclose(clocked.index, expected)
    np.testing.assert_allclose(plain.index, [0, 10, 20, 30])
    # As annotations of the Raw, the stages start where they should.
    for scoring, onset0 in ((clocked, expected[0]), (plain, 0.0)):
        annot = mms.to_annotations(scoring, merge_bouts=True)
        copy = raw.copy().set_annotations(annot)
        got = copy.annotations.onset[0] - copy.first_time
        assert got == pytest.approx(onset0)
        # and they compare epoch by epoch with scores of the same Raw
        proba = _proba([W] * 12)
        proba.attrs.update(meas_date=meas_date, first_time=raw.first_time)
        ev = mms.evaluate(scoring, proba)
        assert ev.n_epochs == 4
    # Files without a clock count from the first sample: BIDS events that
    # start 30 s in stay 30 s in.
    events = tmp_path / "sub-01_events.tsv"
    events.write_text("onset\tduration\ttrial_type\n30\t20\tSleep stage W\n")
    placed = mms.read_scoring(events, raw=raw)
    np.testing.assert_allclose(placed.index, [30, 40])
    assert placed.attrs["first_time"] == raw.first_time
    # A scoring off the recording's epoch grid is re-cut onto it.
    stages.attrs["meas_date"] = first + pd.Timedelta(seconds=2.5)
    mms.write_scoring(stages, tmp_path / "off.stage.csv")
    off = mms.read_scoring(tmp_path / "off.stage.csv", raw=raw)
    if meas_date is not None:
        # W 22.5-32.5, N 32.5-52.5, R 52.5-62.5 s: [60, 70) is mostly outside
        np.testing.assert_allclose(off.index, [20, 30, 40, 50])
        assert list(off.astype(str)) == [W, N, N, R]


def test_evaluate_and_train_accept_other_epoch_lengths(tmp_path, formats_dir):
    expert = mms.read_scoring(formats_dir / "example_remidx.txt")  # 2.5 s
    pred = mms.to_stages([W, N, U])
    ev = mms.evaluate(expert, pred)
    # 10-s epochs of the 2.5-s bins: [W W N N], [N N R R], [W U N U] -> W, N, U
    assert (ev.n_epochs, ev.accuracy) == (2, 1.0)
    from mne_mousesleep.training._data import _labels

    info = mne.create_info(["EEG_PR"], 100.0, "eeg")
    raw = mne.io.RawArray(np.zeros((1, 100 * 40)), info, verbose=False)
    raw.set_meas_date(START)
    fine = mms.to_stages(
        [W, W, W, N, N, N, N, R, R, R, R, W, W, W, W, W], epoch_length=2.5
    )
    fine.attrs["meas_date"] = START
    raw.set_annotations(mms.to_annotations(fine))
    classes = ("Wake", "REM", "NREM", "pre-REM", "artifact")
    labels = _labels(raw, classes, None, 4, 10.0)
    assert [classes[i] for i in labels] == [W, N, R, W]


def test_cli_convert(tmp_path, formats_dir, capsys):
    src = formats_dir / "example_accusleep.mat"
    out = tmp_path / "M01.stage.csv"
    assert main(["convert", str(src), str(out)]) == 1
    assert "does not store the epoch length" in capsys.readouterr().err
    assert main(["convert", str(src), str(out), "--epoch-length", "10"]) == 0
    assert "(accusleep) -> " in capsys.readouterr().out
    assert list(mms.read_scoring(out).astype(str)) == _mouse(e5=U, e9=U)
    assert main(["convert", str(src), str(out), "--epoch-length", "10"]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    txt = tmp_path / "M01.txt"
    assert main(["convert", str(formats_dir / "example_yasa.json"), str(txt)]) == 1
    err = capsys.readouterr().err  # the flag, not the Python argument
    assert "pass --to among" in err and "format=" not in err
    args = ["convert", str(formats_dir / "example_yasa.json"), str(txt), "--to"]
    assert main(args + ["intellisleepscorer"]) == 0
    assert "1 artifact epochs of 10 s written as Wake" in capsys.readouterr().err
    remidx = tmp_path / "remidx_M01.txt"
    assert main(["convert", str(out), str(remidx)]) == 0
    assert len(remidx.read_text().splitlines()) == 48  # 2.5-s bins


def test_score_writes_tool_formats(tmp_path, misleep_raw, capsys):
    fif = tmp_path / "mouse01_raw.fif"
    misleep_raw.save(fif)
    args = ["score", str(fif), "--format", "faster2", "misleep", "spindle", "bids"]
    assert main(args + ["--out-dir", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    faster2 = mms.read_scoring(out / "mouse01.faster2.stage.csv")
    misleep = mms.read_scoring(out / "mouse01_misleep.txt")
    assert (out / "mouse01_ad_predictions_prob.csv").is_file()
    spindle = mms.read_scoring(out / "mouse01_predictions_without_artifacts.csv")
    events = mms.read_scoring(out / "mouse01_events.tsv")
    assert len(faster2) == len(misleep) == len(events) == 60 and len(spindle) == 150
    assert faster2.attrs["meas_date"] == misleep_raw.info["meas_date"]
    sidecar = json.loads((out / "mouse01_scoring.json").read_text())
    assert "mouse01_ad_predictions_prob.csv" in sidecar["sha256"]
    # The FASTER2 probabilities are the network's (not one-hot).
    table = pd.read_csv(out / "mouse01.faster2.stage.csv", skiprows=6)
    p = table[["REM probability", "NREM probability", "Wake probability"]]
    assert ((p > 0) & (p < 1)).any().any()
    # Scored again: up to date, nothing rewritten.
    assert main(args + ["--out-dir", str(out)]) == 0
    assert re.search(r"1 skipped", capsys.readouterr().out)
    one = tmp_path / "one.mat"
    assert main(["score", str(fif), "--out", str(one), "--format", "accusleep"]) == 0
    assert len(mms.read_scoring(one, epoch_length=10)) == 60


# --- properties ------------------------------------------------------------------

STAGE_LIST = [W, N, P, R, A, U]
_fast = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _brute_force(bouts, length, origin):
    """The majority rule by counting 0.5-s cells (bouts and grid on 0.5 s)."""
    cells = {}
    for start, end, stage in bouts:
        for c in range(int(start * 2), int(end * 2)):
            cells[c] = stage
    k0 = int(np.floor((min(b[0] for b in bouts) - origin) / length))
    k1 = int(np.ceil((max(b[1] for b in bouts) - origin) / length))
    out = []
    for k in range(k0, k1):
        lo = origin + k * length
        counts, first_at, covered = {}, {}, 0
        for c in range(int(round(lo * 2)), int(round((lo + length) * 2))):
            covered += c in cells
            stage = cells.get(c, U)
            counts[stage] = counts.get(stage, 0) + 1
            first_at.setdefault(stage, c)
        best = max(counts.values())
        tied = [s for s, n in counts.items() if n == best]
        if len(tied) > 1 and U in tied:
            tied.remove(U)
        stage = min(tied, key=lambda s: first_at[s] if s != U else 1e9)
        out.append((lo, stage, covered / 2 >= length / 2))
    kept = [ii for ii, (_, _, half) in enumerate(out) if half]
    if not kept:
        return []
    return [(lo, stage) for lo, stage, _ in out[kept[0] : kept[-1] + 1]]


@_fast
@given(
    st.lists(
        st.tuples(st.integers(1, 12), st.integers(0, 3), st.sampled_from(STAGE_LIST)),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 24),
    st.integers(0, 10),
)
def test_majority_rule_matches_counting(pieces, length_halves, origin_halves):
    """Bouts (with gaps) cut onto any grid agree with counting half-seconds."""
    from mne_mousesleep.hypnogram import _regrid

    bouts, t = [], 0.0
    for dur, gap, stage in pieces:
        t += gap / 2.0
        bouts.append((t, t + dur / 2.0, stage))
        t += dur / 2.0
    length, origin = length_halves / 2.0, origin_halves / 2.0
    starts, ends, values = (np.array(x) for x in zip(*bouts))
    got, onsets = _regrid(starts, ends, values.astype(object), length, origin)
    want = _brute_force(bouts, length, origin)
    assert list(zip(np.round(onsets, 6), got)) == want


@_fast
@given(
    st.lists(st.sampled_from(STAGE_LIST), min_size=1, max_size=40), st.integers(1, 5)
)
def test_finer_epochs_convert_back_exactly(stages_list, k):
    stages = mms.to_stages(stages_list)
    fine = mms.to_epoch_length(stages, 10.0 / k)
    assert len(fine) == k * len(stages_list)
    back = mms.to_epoch_length(fine, 10.0)
    assert list(back.astype(str)) == stages_list


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.sampled_from(STAGE_LIST), min_size=1, max_size=30),
    st.sampled_from(sorted(HOLDS)),
)
def test_any_scoring_round_trips(tmp_path_factory, stages_list, fmt):
    folder = tmp_path_factory.mktemp("rt")
    stages = mms.to_stages(stages_list)
    stages.attrs["meas_date"] = START
    fname = folder / NAMES[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mms.write_scoring(stages, fname, format=fmt, verbose="error")
    options = {"epoch_length": 10} if fmt in ("accusleep", "accusleepy") else {}
    back = mms.read_scoring(fname, format=fmt, verbose="error", **options)
    if back.attrs["epoch_length"] != 10.0:
        back = mms.to_epoch_length(back, 10.0)
    assert list(back.astype(str)) == _folded(stages_list, HOLDS[fmt])


TEXT_EXAMPLES = [e for e in EXAMPLES if not e[0].endswith((".mat", ".edf"))]


@pytest.mark.parametrize("name, options, expected, start", TEXT_EXAMPLES)
def test_windows_line_endings_read_alike(
    formats_dir, tmp_path, name, options, expected, start
):
    """A file saved on Windows (CRLF; pandas and Python write os.linesep)."""
    if expected is None:
        expected = EXAMPLES[7][2]
    for other in formats_dir.glob(name.split("_")[0] + "_*"):
        data = other.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        (tmp_path / other.name).write_bytes(data)
    stages = mms.read_scoring(tmp_path / name, **options)
    assert list(stages.astype(str)) == expected


def test_accusleepy_confidence_from_probabilities(tmp_path):
    proba = _proba([W, N, R, U], p=0.8)
    mms.write_scoring(proba, tmp_path / "c.csv", format="accusleepy")  # lossless
    table = pd.read_csv(tmp_path / "c.csv")
    assert list(table.columns) == ["brain_state", "confidence_score"]
    np.testing.assert_allclose(table["confidence_score"], [0.8, 0.8, 0.8, 0.0])
    back = mms.read_scoring(tmp_path / "c.csv", epoch_length=10)
    assert back.attrs["confidence"] == [0.8, 0.8, 0.8, 0.0]


def test_gaps_are_written_as_unscored(tmp_path):
    stages = mms.to_stages([W, N, R])
    stages.index = [0.0, 10.0, 40.0]  # the expert skipped two epochs
    mms.write_scoring(stages, tmp_path / "g.csv", format="accusleepy")
    back = mms.read_scoring(tmp_path / "g.csv", epoch_length=10)
    assert list(back.astype(str)) == [W, N, U, U, R]
    stages.index = [0.0, 10.0, 25.0]
    with pytest.raises(ValueError, match="not on a grid of its 10-s epochs"):
        mms.write_scoring(stages, tmp_path / "h.csv", format="accusleepy")
