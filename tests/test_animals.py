"""Several animals in one recording: the layout, scoring, batch and command line."""

import json

import mne
import numpy as np
import pandas as pd
import pytest

from mne_mousesleep import (
    ScoringOptions,
    find_animals,
    predict_proba,
    read_layout,
    score_animals,
    score_files,
)
from mne_mousesleep.cli import main
from mne_mousesleep.datasets import simulate_recording

# EDF's 16-bit samples over one physical range for every file: a channel is
# stored with the same samples in the 16-channel file and in its own file.
_RANGE = (-5000, 5000)  # µV
_GAINS = (0.5, 1.0, 2.0, 0.7, 1.5, 1.0, 3.0, 0.4)
_FLAT_EMG = 5  # the sixth mouse's EMG electrode is off


def _raw(names, ch_type="eeg"):
    info = mne.create_info(list(names), 128.0, ch_type)
    return mne.io.RawArray(np.zeros((len(names), 128)), info, verbose=False)


@pytest.mark.parametrize(
    "names, expected",
    [
        (
            ["EEG09", "EEG10", "EMG09", "EMG10", "Temp"],
            {"09": ("EEG09", "EMG09"), "10": ("EEG10", "EMG10")},
        ),
        (
            ["M1_EEG", "M1_EMG", "M2_EEG", "M2_EMG"],
            {"M1": ("M1_EEG", "M1_EMG"), "M2": ("M2_EEG", "M2_EMG")},
        ),
        (
            ["Mouse 3 EEG", "Mouse 3 EMG", "Mouse 4 EEG"],
            {"Mouse3": ("Mouse 3 EEG", "Mouse 3 EMG"), "Mouse4": ("Mouse 4 EEG", None)},
        ),
        (
            ["EEG1", "EMG1", "EEG2_F", "EEG2_P", "EMG2", "Activity"],
            {"1": ("EEG1", "EMG1"), "2": ("EEG2_P", "EMG2")},
        ),
    ],
)
def test_find_animals(names, expected):
    """Each naming scheme of the multi-animal rigs gives its layout and says why."""
    layout = find_animals(_raw(names))
    assert {a: (e["eeg"], e["emg"]) for a, e in layout.items()} == expected
    assert list(layout) == list(expected)  # in the order of the numbers
    assert all(entry["why"].startswith("number ") for entry in layout.values())
    if "EEG2_P" in names:
        assert "EEG2_P parietal by name" in layout["2"]["why"]


@pytest.mark.parametrize(
    "names, problem",
    [
        (["EEG_PR", "EMG"], "EEG_PR (EEG) holds no numbers"),
        (["EEG1", "EEG2_F", "EEG2_O", "EMG1"], "animal 2 has EEG channels"),
        (["EEG1", "EMG1_L", "EMG1_R"], "several EMG channels"),
        (["EEG1", "EMG1", "EMG2"], "animal 2 (EMG2) has no EEG channel"),
        (["EEG1_2"], "holds 2 numbers"),
    ],
)
def test_find_animals_ambiguous(names, problem):
    """An ambiguous layout lists the channels and shows the mapping to pass."""
    with pytest.raises(ValueError, match="do not say which animal") as err:
        find_animals(_raw(names))
    message = str(err.value)
    assert problem in message
    assert all(f"{name} (eeg)" in message for name in names)
    shown = json.loads(message.split("layout=")[-1].rstrip("."))
    assert all(set(entry) == {"eeg", "emg"} for entry in shown.values())


def test_layout_checks(tmp_path):
    """Layouts from dicts and files; a channel missing or shared is named."""
    raw = _raw(["EEG1", "EMG1", "EEG2", "EMG2"])
    table = tmp_path / "layout.tsv"
    table.write_text("animal\teeg\temg\nM1\tEEG1\tEMG1\nM2\tEEG2\t\n")
    assert read_layout(table) == {
        "M1": {"eeg": "EEG1", "emg": "EMG1"},
        "M2": {"eeg": "EEG2", "emg": None},
    }
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"M1": {"eeg": "EEG1", "emg": "EMG7"}}))
    with pytest.raises(ValueError, match=r"missing\.json gives animal M1 the channel"):
        score_animals(raw, missing)
    with pytest.raises(ValueError, match="channel EEG1 to animals A and B"):
        score_animals(raw, {"A": "EEG1", "B": "EEG1"})
    with pytest.raises(ValueError, match="lacks the column"):
        read_layout(tmp_path / "bad.csv") if (tmp_path / "bad.csv").write_text(
            "mouse,channel\nM1,EEG1\n"
        ) else None
    with pytest.raises(ValueError, match="picks='EEG1' cannot be combined"):
        score_animals(raw, {"A": "EEG1"}, options=ScoringOptions(picks="EEG1"))
    with pytest.raises(ValueError, match="emg='EMG1' cannot be combined"):
        score_animals(raw, {"A": "EEG1"}, emg="EMG1")
    with pytest.raises(ValueError, match="unknown key"):
        score_animals(raw, {"A": {"eeg": "EEG1", "eog": "EMG1"}})


def _eight_mice(folder):
    """A 16-channel EDF of 8 simulated mice, and each mouse in a file of its own."""
    mice = []
    for ii, gain in enumerate(_GAINS):
        raw = simulate_recording(
            1200.0, 128.0, ch_names=("EEG", "EMG"), gain=gain, seed=ii
        )
        raw.set_annotations(None)
        if ii == _FLAT_EMG:
            raw._data[1] = 0.0
        number = f"{ii + 9:02d}"
        raw.rename_channels({"EEG": f"EEG{number}", "EMG": f"EMG{number}"})
        mne.export.export_raw(
            folder / f"mouse{number}.edf", raw, physical_range=_RANGE, verbose=False
        )
        mice.append(raw)
    data = np.concatenate([raw.get_data() for raw in mice])
    names = [name for raw in mice for name in raw.ch_names]
    rig = mne.io.RawArray(data, mne.create_info(names, 128.0, "eeg"), verbose=False)
    rig.set_meas_date(mice[0].info["meas_date"])
    mne.export.export_raw(folder / "rig.edf", rig, physical_range=_RANGE, verbose=False)
    return folder / "rig.edf"


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    return _eight_mice(tmp_path_factory.mktemp("rig"))


def test_eight_mice_as_if_in_their_own_files(online, rig):
    """Each mouse of the 16-channel EDF scores as its own file would."""
    raw = mne.io.read_raw_edf(rig, verbose=False)
    results = score_animals(raw, verbose="error")
    assert list(results) == [f"{ii + 9:02d}" for ii in range(8)]
    for number, result in results.items():
        alone = mne.io.read_raw_edf(rig.parent / f"mouse{number}.edf", verbose=False)
        expected = predict_proba(alone, picks=f"EEG{number}", verbose="error")
        assert result.ch_names == (f"EEG{number}",)
        np.testing.assert_array_equal(result.proba, expected.to_numpy())
        for step, attr in (
            ("gain", "adapt"),
            ("emg", "emg_atonia"),
            ("trust", "trust"),
        ):
            assert getattr(result, step) == expected.attrs[attr], (number, step)
    # Each mouse has its own gain step and EMG levels.
    gains = [r.gain["gain"]["parietal EEG"] for r in results.values()]
    assert len(set(np.round(gains, 3))) == 8
    assert np.corrcoef(gains, 1 / np.asarray(_GAINS))[0, 1] > 0.9
    flat = results[f"{_FLAT_EMG + 9:02d}"]
    assert flat.emg["reason"] == "flat EMG" and not flat.emg["informative"]
    others = [r for a, r in results.items() if r is not flat]
    assert all(r.emg["informative"] for r in others)
    # The caller's Raw is untouched (no channel picked or dropped).
    assert len(raw.ch_names) == 16


def test_batch_and_cli_per_animal(online, rig, tmp_path, capsys):
    """--animals auto: outputs, sidecars and the study report per animal."""
    out = tmp_path / "out"
    code = main(
        ["score", str(rig), "--out-dir", str(out), "--animals", "auto", "--jobs", "1"]
    )
    assert code == 0, capsys.readouterr()
    summary = pd.read_csv(out / "scoring_summary.tsv", sep="\t", dtype={"animal": str})
    assert list(summary["animal"]) == [f"{ii + 9:02d}" for ii in range(8)]
    assert set(summary["status"]) == {"scored"}
    sidecar = json.loads((out / "rig_14_scoring.json").read_text())
    assert sidecar["animal"] == sidecar["subject"] == "14"
    assert sidecar["session"] == "rig"
    assert sidecar["settings"]["picks"] == "EEG14"
    assert sidecar["settings"]["emg"] == "EMG14"
    annot = mne.read_annotations(out / "rig_09_scoring.csv")
    alone = mne.io.read_raw_edf(rig.parent / "mouse09.edf", verbose=False)
    expected = predict_proba(alone, picks="EEG09", verbose="error")
    assert len(annot) == len(expected)
    # A second run skips every animal; a changed layout makes them stale.
    again = score_files(rig, out, animals="auto")
    assert set(again["status"]) == {"skipped"}
    layout = tmp_path / "layout.csv"
    layout.write_text("animal,eeg,emg\n09,EEG09,\n")
    changed = score_files(rig, out, animals=layout)
    assert list(changed["status"]) == ["stale"]
    # A layout naming a channel the file lacks fails that recording, named.
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"A": {"eeg": "EEG99"}}))
    failed = score_files(rig, tmp_path / "w", animals=wrong)
    assert list(failed["status"]) == ["failed"]
    assert "wrong.json gives animal A the channel 'EEG99'" in failed["error"][0]
    # picks beside a layout: refused before anything is read.
    with pytest.raises(ValueError, match="cannot be combined with a layout"):
        score_files(rig, out, animals="auto", picks="EEG09")
    # The review command lists the animals of the recording.
    capsys.readouterr()
    assert (
        main(["review", str(rig), "--out-dir", str(out), "--animals", "auto", "--list"])
        == 0
    )
    printed = capsys.readouterr().out
    assert all(f"rig.edf [{ii + 9:02d}]" in printed for ii in range(8))


def test_study_report_keys_animals(online, rig, tmp_path):
    """The study report takes each animal as a mouse (groups keyed by animal)."""
    from mne_mousesleep.report._study import _load_recording, _study_report

    out = tmp_path / "out"
    layout = {"A": {"eeg": "EEG09", "emg": "EMG09"}, "B": {"eeg": "EEG10"}}
    summary = score_files(rig, out, animals=layout)
    assert list(summary["animal"]) == ["A", "B"]
    assert (out / "rig_A_scoring.csv").is_file() and (
        out / "rig_B_stages.tsv"
    ).is_file()
    mice = {_load_recording(out / f"rig_{a}_scoring.json")["mouse"] for a in "AB"}
    assert mice == {"A", "B"}
    groups = pd.DataFrame(dict(mouse=["A", "B"], group=["wt", "ko"]))
    rep, left_out = _study_report([out], groups, None, None, "study", out, "raise")
    assert not left_out
    rep.save(tmp_path / "study.html", open_browser=False, verbose="error")
    html = (tmp_path / "study.html").read_text()
    assert "wt" in html and "ko" in html
    # A group table keyed by the recording's name would miss the animals.
    with pytest.raises(ValueError, match="No group for"):
        _study_report(
            [out], groups.assign(mouse=["rig", "rig"]), None, None, "s", out, "raise"
        )


def test_bids_animals_are_subjects(online, rig, tmp_path):
    """BIDS input: each animal's outputs are those of subject sub-<animal>."""
    mne_bids = pytest.importorskip("mne_bids")
    root = tmp_path / "bids"
    raw = mne.io.read_raw_edf(rig, verbose=False).pick(["EEG09", "EMG09", "EEG10"])
    edf = tmp_path / "three.edf"
    mne.export.export_raw(edf, raw, physical_range=_RANGE, verbose=False)
    path = mne_bids.BIDSPath(
        subject="rig1", session="01", task="sleep", datatype="eeg", root=root
    )
    with pytest.warns(RuntimeWarning, match="No events found"):
        mne_bids.write_raw_bids(
            mne.io.read_raw_edf(edf, verbose=False), path, verbose=False
        )
    summary = score_files(root, animals="auto")
    assert list(summary["status"]) == ["scored", "scored"]
    deriv = root / "derivatives" / "mne-mousesleep"
    for animal in ("09", "10"):
        folder = deriv / f"sub-{animal}" / "ses-01" / "eeg"
        assert (folder / f"sub-{animal}_ses-01_task-sleep_events.tsv").is_file()
        info = json.loads(
            (folder / f"sub-{animal}_ses-01_task-sleep_scoring.json").read_text()
        )
        assert info["subject"] == animal and info["session"] == "01"
