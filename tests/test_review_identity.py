"""A review belongs to its recording (issue 43).

Two mice of one rig, started together and as long: the review of one,
copied beside the other, is refused wherever a review is read (the window's
session, the study report, the study list, fine_tune), naming both; a
broken review (unknown stage, foreign provenance) is named with its line
and column, and the study report is built from the rest.
"""

import json
import shutil

import pandas as pd
import pytest
from conftest import write_study

import mne_mousesleep as mms
from mne_mousesleep.cli import main
from mne_mousesleep.gui import ReviewSession


@pytest.fixture(scope="module")
def study(mirror, tmp_path_factory):
    """Two mice scored by the batch, with reports; M1 reviewed."""
    root = tmp_path_factory.mktemp("identity")
    paths = write_study(root / "study", n=2)
    out = root / "scores"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNE_MOUSESLEEP_MIRROR", mirror[0])
        mms.score_files(root / "study", out, n_jobs=1, report=True, verbose="error")
    result = _result(out, "M1")
    session = ReviewSession(result, out / "M1_reviewed.csv")
    session.label(range(10, 20), "Wake")
    session.confirm(range(20, 30))
    session.save()
    session.close()
    return root, paths, out


def _result(out, stem):
    info = json.loads((out / f"{stem}_scoring.json").read_text())
    return mms.ScoringResult.from_dict(info["result"])


@pytest.fixture
def copied(study, tmp_path):
    """The scores folder with M1's review copied as M0's."""
    _, paths, out = study
    folder = tmp_path / "scores"
    shutil.copytree(out, folder)
    shutil.copy(folder / "M1_reviewed.csv", folder / "M0_reviewed.csv")
    return paths, folder


def test_the_review_carries_its_recording(study):
    _, _, out = study
    table = pd.read_csv(out / "M1_reviewed.csv")
    ids = [_result(out, m).quality["recording"]["id"] for m in ("M0", "M1")]
    assert ids[0] != ids[1]  # same rig, same start, same length: other data
    assert set(table["recording"]) == {ids[1]}
    review = json.loads((out / "M1_scoring.json").read_text())["review"]
    assert review["recording"] == ids[1]
    assert review["start"] == _result(out, "M1").quality["recording"]["start"]


def test_window_refuses_a_copied_review(copied):
    _, folder = copied
    result = _result(folder, "M0")
    with pytest.raises(ValueError, match="M0_reviewed.csv is not the review") as err:
        ReviewSession(result, folder / "M0_reviewed.csv")
    ids = [_result(folder, m).quality["recording"]["id"] for m in ("M0", "M1")]
    assert ids[0] in str(err.value) and ids[1] in str(err.value)
    # Its own review still opens.
    ReviewSession(_result(folder, "M1"), folder / "M1_reviewed.csv").close()


def test_window_refuses_a_copied_review_without_identity(copied):
    """A review saved before the identity columns: its scorer column decides."""
    _, folder = copied
    table = pd.read_csv(folder / "M0_reviewed.csv")
    table.drop(columns=["time", "recording"]).to_csv(
        folder / "M0_reviewed.csv", index=False
    )
    with pytest.raises(ValueError, match="scorer column agrees with the scoring"):
        ReviewSession(_result(folder, "M0"), folder / "M0_reviewed.csv")
    own = pd.read_csv(folder / "M1_reviewed.csv").drop(columns=["time", "recording"])
    own.to_csv(folder / "M1_reviewed.csv", index=False)
    ReviewSession(_result(folder, "M1"), folder / "M1_reviewed.csv").close()


def test_study_report_leaves_a_copied_review_out(copied):
    _, folder = copied
    from mne_mousesleep.report._study import _study_report

    rep, left_out = _study_report([folder], None, None, None, "study", folder, "list")
    assert [r["recording"] for r in left_out] == ["M0"]
    assert "M0_reviewed.csv is not the review of M0" in left_out[0]["problem"]
    html = "".join(item.html for item in rep._content)
    assert "1 left out" in html or "1 recording(s) left out" in html
    with pytest.raises(ValueError, match="Recording M0 of the study cannot be used"):
        mms.study_report(folder, on_invalid="raise")


def test_review_list_shows_a_refused_review(copied, capsys):
    paths, folder = copied
    study = paths[0].parent
    assert main(["review", str(study), "--out-dir", str(folder), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    m0 = next(line for line in lines if line.startswith("M0_raw.fif"))
    m1 = next(line for line in lines if line.startswith("M1_raw.fif"))
    assert "review refused: M0_reviewed.csv is not the review of M0" in m0
    assert m1.split()[-1] == "20/60"


def test_fine_tune_refuses_a_copied_review(copied, online):
    paths, folder = copied
    raw = mms.io.read_recording(paths[0])[0]
    with pytest.raises(ValueError, match=r"reviewed\[0\]: M0_reviewed.csv is not the"):
        mms.fine_tune([raw], [folder / "M0_reviewed.csv"], verbose="error")


def test_fine_tune_names_foreign_provenance(study, tmp_path, online):
    _, paths, out = study
    table = pd.read_csv(out / "M1_reviewed.csv")
    table["provenance"] = table["provenance"].replace(
        {"expert-corrected": "corrected", "expert-confirmed": "confirmed"}
    )
    raw = mms.io.read_recording(paths[1])[0]
    with pytest.raises(ValueError, match="column 'provenance'.*expert-confirmed"):
        mms.fine_tune([raw], [table], verbose="error")
    path = tmp_path / "M1_reviewed.csv"
    table.to_csv(path, index=False)
    with pytest.raises(
        ValueError, match=r"line 12: '(confirmed|corrected)' in column 'prov"
    ):
        mms.fine_tune([raw], [path], verbose="error")


def test_unknown_stage_is_named_and_the_study_report_built(study, tmp_path):
    """One bad review: its recording is left out of the study report, named."""
    root, _, out = study
    folder = tmp_path / "scores"
    shutil.copytree(out, folder)
    table = pd.read_csv(folder / "M1_reviewed.csv")
    table.loc[3, "stage"] = "Paradoxical"
    table.to_csv(folder / "M1_reviewed.csv", index=False)
    assert (
        main(
            ["score", str(root / "study"), "--out-dir", str(folder), "--report"]
            + ["--jobs", "1"]
        )
        == 0
    )
    html = (folder / "study_report.html").read_text()
    assert "M1_reviewed.csv, line 5: &#x27;Paradoxical&#x27; in column" in html or (
        "M1_reviewed.csv, line 5: 'Paradoxical' in column" in html
    )


def test_study_window_shows_a_refused_review(qtbot, copied):
    from mne_mousesleep.gui import review_study

    _, folder = copied
    rows = [
        dict(name=f"{m}_raw.fif", verdict="ok", reasons=[],
             reviewed=folder / f"{m}_reviewed.csv",
             sidecar=folder / f"{m}_scoring.json")
        for m in ("M0", "M1")
    ]  # fmt: skip
    study = review_study(rows, lambda row: None, block=False, show=False)
    qtbot.addWidget(study)
    table = study.table
    assert table.item(0, 3).text() == "refused"
    assert (
        "review refused: M0_reviewed.csv is not the review" in table.item(0, 2).text()
    )
    assert table.item(1, 3).text() == "20/60"
