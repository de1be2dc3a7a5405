"""A study's numbers come from all of its recordings, or it says which are missing."""

import re
import shutil

import pandas as pd
import pytest
from conftest import write_study

import mne_mousesleep as mms
from mne_mousesleep.cli import main


@pytest.fixture(scope="module")
def scored_once(tmp_path_factory, mirror):
    """Three recordings scored with reports (once for the module)."""
    folder = tmp_path_factory.mktemp("study")
    write_study(folder, 3, duration=600.0, seed=4)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNE_MOUSESLEEP_MIRROR", mirror[0])
        mms.score_files(folder, folder / "out", report=True, n_jobs=1, verbose="error")
    return folder / "out"


@pytest.fixture
def scored(scored_once, tmp_path):
    """A copy of the scored outputs, and a group table of the mice."""
    out = tmp_path / "out"
    shutil.copytree(scored_once, out)
    groups = tmp_path / "groups.csv"
    groups.write_text("mouse,genotype\nM0,WT\nM1,KO\nM2,KO\n")
    return tmp_path, out, groups


def _html(rep):
    return "".join(item.html for item in rep._content)


def _n_of(html, group):
    """The n of a group in the first metric row of the Groups table."""
    header = re.search(r"<thead>(.*?)</thead>", html.split("mean ± SEM")[-1], re.S)
    names = re.findall(r"<th[^>]*>(.*?)</th>", header.group(1))
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html.split("mean ± SEM")[-1])
    return float(cells[names.index(f"{group} n") - 1])


@pytest.mark.parametrize("damage", ["missing sidecar", "truncated proba", "edited"])
def test_damaged_recording_is_listed_and_left_out(scored, damage, capsys):
    folder, out, groups = scored
    whole = mms.study_report(out, groups=groups)
    assert "left out" not in _html(whole).lower()
    assert _n_of(_html(whole), "KO") == 2
    if damage == "missing sidecar":
        (out / "M2_scoring.json").unlink()
        why = "no M2_scoring.json beside"
    elif damage == "truncated proba":
        proba = out / "M2_proba.csv"
        lines = proba.read_text().splitlines(keepends=True)
        proba.write_text("".join(lines[: len(lines) // 2]))
        why = "M2_proba.csv changed since it was written"
    else:
        stages = out / "M2_scoring.csv"
        stages.write_text(stages.read_text().replace("Sleep stage W", "Sleep stage R"))
        why = "M2_scoring.csv changed since it was written"
    rep = mms.study_report(out, groups=groups)
    assert "Left out of the study: M2" in capsys.readouterr().out
    html = _html(rep)
    assert "1 recording(s) left out" in html and why in html
    assert _n_of(html, "KO") == 1  # visibly one fewer
    assert "2 recordings" in html  # the table holds the usable ones
    with pytest.raises(ValueError, match=f"M2: {re.escape(why)}.*on_invalid='list'"):
        mms.study_report(out, groups=groups, on_invalid="raise")
    with pytest.raises(ValueError, match="on_invalid"):
        mms.study_report(out, on_invalid="warn")


def test_group_table_animal_without_scoring(scored):
    _, out, groups = scored
    more = groups.read_text() + "M9,WT\n"
    groups.write_text(more)
    html = _html(mms.study_report(out, groups=groups))
    assert "M9" in html and "no scoring of it was found" in html


@pytest.mark.slow
def test_summary_and_study_hold_the_whole_folder(tmp_path, online, capsys):
    """A resumed run, one added mouse: the summary still has every recording."""
    write_study(tmp_path, 2, duration=600.0, seed=7)
    out = tmp_path / "out"
    args = ["score", str(tmp_path), "--out-dir", str(out), "--report"]
    assert main(args) == 0
    first = pd.read_csv(out / "scoring_summary.tsv", sep="\t")
    assert list(first["status"]) == ["scored", "scored"]
    # A third mouse in another folder, scored into the same output folder.
    other = tmp_path.parent / f"{tmp_path.name}_new"
    write_study(other, 1, duration=600.0, seed=9, names=["M7"])
    assert main(["score", str(other), "--out-dir", str(out), "--report"]) == 0
    table = pd.read_csv(out / "scoring_summary.tsv", sep="\t")
    assert len(table) == 3 and set(table["status"]) == {"scored", "earlier run"}
    assert table["hours"].notna().all() and table["trust"].notna().all()
    assert table["Wake %"].notna().all()
    text = (out / "study_report.html").read_text()
    assert "3 recordings" in text
    # Run again on the first folder: skipped rows keep their figures.
    assert main(args) == 0
    table = pd.read_csv(out / "scoring_summary.tsv", sep="\t")
    skipped = table[table["status"] == "skipped"]
    assert len(skipped) == 2 and skipped["hours"].notna().all()
    assert (skipped["trust"] == first["trust"]).all()
    assert "3 recordings" in (out / "study_report.html").read_text()


def test_fewer_outputs_is_not_a_change(tmp_path, online, capsys):
    write_study(tmp_path, 1, duration=600.0, seed=3)
    out = tmp_path / "out"
    assert main(["score", str(tmp_path), "--out-dir", str(out), "--report"]) == 0
    capsys.readouterr()
    assert main(["score", str(tmp_path), "--out-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "stale" not in text and "0 scored, 1 skipped" in text


def test_overwrite_says_replaced_and_leaves_no_lock(tmp_path, online, capsys):
    write_study(tmp_path, 1, duration=600.0, seed=3)
    out = tmp_path / "out"
    args = ["score", str(tmp_path), "--out-dir", str(out)]
    assert main(args) == 0
    assert main([*args, "--no-smooth"]) == 0  # other settings: kept
    capsys.readouterr()
    assert main([*args, "--no-smooth", "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "replaced (stale)" in text and "kept" not in text
    assert not list(out.glob(".*lock"))
