"""The review window and its session: keys, history, provenance, files."""

import html as html_lib
import json
import sys

import numpy as np
import pandas as pd
import pytest
from qtpy import QtCore

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.gui import ReviewSession

Qt = QtCore.Qt


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread():
    """Run Python's cyclic garbage collector on this (the GUI) thread only.

    A collection starts in whichever thread allocates at the wrong moment;
    the suite's other threads (the loopback HTTP servers, loky's and tqdm's)
    allocate now and then, and a collection there that frees the wrapper of
    a Qt object kills the process in Qt's event loop (seen once in a full CI
    run, inside ``processEvents`` after a review test). Collect here before
    and after each test, with the automatic collector off in between.
    """
    import gc

    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@pytest.fixture(scope="module")
def scored(mirror):
    raw = simulate_recording(1200.0, 256.0, seed=4)  # 20 min, EEG + EMG
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNE_MOUSESLEEP_MIRROR", mirror[0])
        proba = mms.predict_proba(raw, verbose="error", precision="float32")
    return raw, mms.ScoringResult.from_frame(proba)


@pytest.fixture
def window(qtbot, scored, tmp_path):
    raw, result = scored
    before = raw.get_data().copy()
    win = mms.review(
        raw, result, path=tmp_path / "M1_reviewed.csv", block=False, show=False
    )
    qtbot.addWidget(win)
    win.ask_on_close = lambda: "discard"
    yield win
    np.testing.assert_array_equal(raw.get_data(), before)  # the Raw is unchanged


def _key(qtbot, win, key, mods=Qt.NoModifier, text=None):
    qtbot.keyClick(win, key, mods)


def test_keys_label_and_move(qtbot, window):
    s = window.session
    window.go_to(10)
    scorer = s.scorer[10]
    other = "REM" if scorer != "REM" else "Wake"
    _key(qtbot, window, {"REM": Qt.Key_R, "Wake": Qt.Key_W}[other])
    assert s.stages[10] == other and s.provenance[10] == "expert-corrected"
    assert window.current == 11  # labelled, then on
    _key(qtbot, window, Qt.Key_Space)  # confirms epoch 11
    assert s.provenance[11] == "expert-confirmed" and s.stages[11] == s.scorer[11]
    assert window.current == 12
    _key(qtbot, window, Qt.Key_Left)
    assert window.current == 11
    _key(qtbot, window, Qt.Key_PageDown)
    assert window.current == 14  # one screen: 3 epochs
    _key(qtbot, window, Qt.Key_2)  # digits too: 2 is NREM
    assert s.stages[14] == "NREM"
    _key(qtbot, window, Qt.Key_BracketRight)
    assert window.n_neighbours == 2
    assert "unsaved changes" in window.status.text()


def test_range_undo_redo(qtbot, window):
    s = window.session
    window.go_to(20)
    for _ in range(3):
        _key(qtbot, window, Qt.Key_Right, Qt.ShiftModifier)
    assert window._selection() == [20, 21, 22, 23]
    _key(qtbot, window, Qt.Key_A)  # one key labels the range
    assert (s.stages[20:24] == "artifact").all()
    assert window.current == 24 and window.anchor is None
    _key(qtbot, window, Qt.Key_W)
    assert s.stages[24] == "Wake"
    _key(qtbot, window, Qt.Key_Z, Qt.ControlModifier)
    _key(qtbot, window, Qt.Key_Z, Qt.ControlModifier)
    np.testing.assert_array_equal(s.stages, s.scorer)
    assert (s.provenance == "scorer").all()
    _key(qtbot, window, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert (s.stages[20:24] == "artifact").all() and s.stages[24] == s.scorer[24]
    # A new change clears what could be redone.
    window.go_to(30)
    _key(qtbot, window, Qt.Key_N)
    assert s.redo().size == 0


def test_detail_power_spectrogram_filter_scaling(qtbot, window, scored):
    from mne_mousesleep.gui._window import POWER_BANDS
    from mne_mousesleep.scoring.emg import emg_power

    raw, result = scored
    window.go_to(40)
    block = window._block
    every = emg_power(raw, "EMG", verbose="error")

    def check_emg(block):  # the EMG step's power of each epoch (dB re. median)
        expected = every[block["b0"] : block["b1"]]
        shown = block["power"]["EMG"]
        np.testing.assert_allclose(
            shown, 10 * (expected - np.nanmedian(expected)), atol=1e-6
        )
        return expected

    expected = check_emg(block)
    assert set(POWER_BANDS) <= set(block["power"])
    x, y = window._power["EMG"].getData()
    assert x[0] <= 40 * 10 - 15 * 10 and x[-1] >= 41 * 10 + 15 * 10
    threshold = result.emg["threshold"]
    line = window._emg_line.value()
    assert window._emg_line.isVisible()
    np.testing.assert_allclose(
        line - 10 * threshold, -10 * np.nanmedian(expected), atol=1e-6
    )
    # The spectrogram spans the block up to 30 Hz.
    image, times, freqs = block["spectrogram"]
    assert image.shape == (len(freqs), len(times)) and freqs.max() <= 30
    assert window._spectrogram.image is not None
    # The display filter changes the traces, not the scores nor the power.
    before = window._traces[0].getData()[1].copy()
    _key(qtbot, window, Qt.Key_F)
    assert window.display_filter and window._block["filtered"]
    after = window._traces[0].getData()[1]
    assert before.shape == after.shape and not np.allclose(before, after)
    check_emg(window._block)  # the power strip is not filtered
    _key(qtbot, window, Qt.Key_F)
    back = window._traces[0].getData()[1]  # the same up to the block's offset
    np.testing.assert_allclose(back - np.median(back), before - np.median(before))
    # + and - scale every trace; the scale stays when moving.
    half = window.scalings["EEG_PR"]
    _key(qtbot, window, Qt.Key_Minus)
    assert window.scalings["EEG_PR"] == pytest.approx(1.5 * half)
    low, high = window._plots[0].viewRange()[1]
    assert high - low == pytest.approx(3 * half)
    _key(qtbot, window, Qt.Key_Right)
    assert window._plots[0].viewRange()[1] == pytest.approx([low, high])
    # The power strip has its context on both sides, up to the ends.
    for epoch in (0, 20, window.n_epochs - 1):
        window.go_to(epoch)
        block = window._block
        assert block["b0"] <= max(epoch - 15, 0)
        assert block["b1"] >= min(epoch + 16, window.n_epochs)
        assert all(len(v) == block["b1"] - block["b0"] for v in block["power"].values())


def test_flat_emg_opens_without_a_warning(qtbot, scored, recwarn):
    """A dead EMG electrode: the strip shows no EMG power, nothing warns."""
    import mne

    raw, result = scored
    data = raw.get_data()
    data[1] = 0.0
    flat = mne.io.RawArray(data, raw.info, verbose="error")
    win = mms.review(flat, result, block=False, show=False)
    qtbot.addWidget(win)
    win.go_to(30)
    assert np.isnan(win._block["power"]["EMG"]).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_queue_navigation_and_counter(qtbot, window):
    s = window.session
    queue = s.queue
    assert len(queue) > 2 and (np.diff(queue) > 0).all()
    reasons = s.queue_reasons()
    assert reasons[0].startswith("unscored")  # no context at the ends
    least = [k for k, r in reasons.items() if r.startswith("least confident")]
    n_scored = int(s.result.scored.sum())
    top = np.full(len(s.result.proba), np.inf)
    top[s.result.scored] = s.result.proba[s.result.scored].max(axis=1)
    # The least confident 5 % are all queued (an epoch another step changed
    # says that reason instead).
    expected = np.argsort(top, kind="stable")[: round(0.05 * n_scored)]
    assert set(expected) <= set(queue) and set(least) <= set(expected)
    assert len(least) >= len(expected) - 2
    window.go_to(int(queue[0]))
    _key(qtbot, window, Qt.Key_Tab)
    assert window.current == queue[1]
    _key(qtbot, window, Qt.Key_Backtab, Qt.ShiftModifier)
    assert window.current == queue[0]
    _key(qtbot, window, Qt.Key_Space)
    assert s.n_reviewed == 1
    assert f"queue: 1/{len(queue)} reviewed" in window.status.text()


def test_save_and_read_back(qtbot, window, tmp_path):
    s = window.session
    window.go_to(5)
    _key(qtbot, window, Qt.Key_R)
    _key(qtbot, window, Qt.Key_S, Qt.ControlModifier)
    path = tmp_path / "M1_reviewed.csv"
    assert path.is_file() and not s.dirty
    table = pd.read_csv(path)
    assert list(table.columns) == [
        "onset", "duration", "stage", "provenance", "scorer", "time", "recording",
    ]  # fmt: skip
    # Tied to its recording: the scoring's identity and the epochs' clock time.
    identity = s.result.quality["recording"]
    assert (table["recording"] == identity["id"]).all()
    start = pd.Timestamp(identity["start"])
    assert pd.Timestamp(table.loc[5, "time"]) == start + pd.Timedelta(seconds=50)
    assert table.loc[5, "stage"] == "REM"
    assert table.loc[5, "provenance"] in ("expert-corrected", "expert-confirmed")
    # read_scoring reads it as the package's table.
    back = mms.read_scoring(path)
    assert back.iloc[5] == "REM" and len(back) == len(s.stages)
    # Exports in the formats that hold stages.
    for name, fmt in (("M1.json", "yasa"), ("M1.faster2.stage.csv", "faster2")):
        with pytest.warns(RuntimeWarning, match="cannot hold"):  # pre-REM: lossy
            window.export(tmp_path / name, fmt)
        assert mms.read_scoring(tmp_path / name).iloc[5] == "REM"
    # Every format that holds all the stages gives them back, epoch by epoch;
    # the package's CSV/TSV table keeps the provenance too.
    window.go_to(9)
    _key(qtbot, window, Qt.Key_Space)
    expected = list(s.stages)
    for name, fmt in (
        ("M1_table.csv", "table"), ("M1_table.tsv", "table"),
        ("M1-annot.fif", "annotations"), ("M1_events.tsv", "bids"),
        ("M1_hypnogram.edf", "edf"),
    ):  # fmt: skip
        window.export(tmp_path / name, fmt)
        back = mms.read_scoring(tmp_path / name, format=fmt)
        assert list(back.astype(str))[: len(expected)] == expected, name
        if fmt == "table":
            assert back.attrs["provenance"] == list(s.provenance), name


def test_recovery_after_a_kill(scored, tmp_path):
    raw, result = scored
    path = tmp_path / "M2_reviewed.csv"
    first = ReviewSession(result, path)
    first.label([3, 4], "Wake")
    first.confirm(7)
    assert first.autosave() == first.recovery_path
    # The process is killed: no save, the lock file stays (its holder is gone).
    first._lock.release()
    second = ReviewSession(result, path)
    assert second.has_recovery()
    assert second.recover() == len({3, 4, 7} & set(range(len(second.stages))))
    np.testing.assert_array_equal(second.stages, first.stages)
    np.testing.assert_array_equal(second.provenance, first.provenance)
    assert "Recovered" in second.messages[-1]
    second.save()
    assert not second.has_recovery()
    second.close()


def test_corrupted_recovery_is_kept_aside(scored, tmp_path):
    _, result = scored
    path = tmp_path / "M3_reviewed.csv"
    recovery = tmp_path / "M3_reviewed.csv.recovery.json"
    recovery.write_text('{"format": "mne-mousesleep-review/1", "stages": [')
    session = ReviewSession(result, path)
    with pytest.warns(RuntimeWarning, match="could not be read"):
        assert session.recover() is None
    assert not recovery.exists()
    aside = list(tmp_path.glob("M3_reviewed.csv.recovery.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text().startswith('{"format"')
    # A recovery file of another scoring is refused the same way.
    recovery.write_text(
        json.dumps(
            {"format": "mne-mousesleep-review/1", "fingerprint": {"n_epochs": 3}}
        )
    )
    with pytest.warns(RuntimeWarning, match="another scoring"):
        assert session.recover() is None
    session.close()


def test_two_windows_on_one_file(scored, tmp_path):
    _, result = scored
    path = tmp_path / "M4_reviewed.csv"
    first = ReviewSession(result, path)
    with pytest.warns(RuntimeWarning, match="read-only"):
        second = ReviewSession(result, path)
    assert second.read_only and not first.read_only
    second.label(1, "REM")
    assert second.autosave() is None
    with pytest.raises(RuntimeError, match="read-only"):
        second.save()
    first.save()
    first.close()


def test_closing_with_unsaved_changes_asks(qtbot, window, tmp_path):
    window.go_to(8)
    _key(qtbot, window, Qt.Key_W)
    answers = []
    window.ask_on_close = lambda: answers.append("asked") or "cancel"
    assert not window.close()  # cancelled: still open
    window.ask_on_close = lambda: "save"
    assert window.close()
    assert answers == ["asked"] and (tmp_path / "M1_reviewed.csv").is_file()


def test_stages_without_probabilities_and_bad_fit(qtbot, scored, online):
    raw, result = scored
    annot = mms.score(raw, verbose="error", precision="float32")
    win = mms.review(raw, annot, block=False, show=False)
    qtbot.addWidget(win)
    assert win.session.stages[10] == result.stages().iloc[10]
    short = raw.copy().crop(0, 600.0)
    with pytest.raises(ValueError, match="does not fit the recording: 120 epochs"):
        mms.review(short, result, block=False, show=False)
    with pytest.raises(TypeError, match="scoring must be"):
        mms.review(raw, 3, block=False, show=False)


def test_keymap_and_screenshot(qtbot, window, tmp_path):
    assert window.windowTitle() == "Review: a recording in memory"
    box = window.show_keymap(show=False)
    assert "undo" in box.text() and "tab" in box.text()
    image = window.grab()
    assert image.width() > 800 and image.height() > 500
    assert image.save(str(tmp_path / "review.png"))


def test_without_the_extra(monkeypatch, scored):
    import builtins

    real = builtins.__import__

    def no_qt(name, *args, **kwargs):
        if name.startswith(("qtpy", "pyqtgraph")):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_qt)
    raw, result = scored
    with pytest.raises(ImportError, match=r"mne-mousesleep\[gui\]"):
        mms.review(raw, result, block=False, show=False)


def test_cli_review(online, tmp_path, monkeypatch, capsys):
    """The command opens a recording with its batch scoring; a folder lists."""
    from conftest import write_study

    from mne_mousesleep import gui
    from mne_mousesleep.cli import main

    paths = write_study(tmp_path / "study", n=2)
    out = tmp_path / "scores"
    summary = mms.score_files(tmp_path / "study", out, n_jobs=1)
    assert list(summary["status"]) == ["scored", "scored"]
    seen = {}

    def fake_review(raw, result, **kwargs):
        seen.update(raw=raw, result=result, **kwargs)
        session = ReviewSession(result, kwargs["path"])
        session.label(3, "REM")
        session.save()
        session.close()
        return result.stages()

    monkeypatch.setattr(gui, "review", fake_review)
    assert main(["review", str(paths[1]), "--out-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"Scoring: {out / 'M1_scoring.json'}" in text  # not scored again
    assert seen["path"] == out / "M1_reviewed.csv" and seen["emg"] == "auto"
    assert seen["result"].n_epochs == 60
    saved = json.loads((out / "M1_scoring.json").read_text())["review"]  # by save
    assert saved["corrected"] == 1 and saved["confirmed"] == 0
    # The batch never replaces a review, even when it scores again.
    reviewed = (out / "M1_reviewed.csv").read_bytes()
    again = mms.score_files(tmp_path / "study", out, n_jobs=1, overwrite=True)
    assert list(again["status"]) == ["scored", "scored"]
    assert (out / "M1_reviewed.csv").read_bytes() == reviewed
    # The provenance is in the sidecar too, kept when the batch scores again.
    review = json.loads((out / "M1_scoring.json").read_text())["review"]
    assert review["file"] == "M1_reviewed.csv" and review["corrected"] == 1
    assert review["expert_runs"] == [[3, 1, "expert-corrected"]]
    assert json.loads((out / "M0_scoring.json").read_text())["review"] is None
    # The folder: recordings with their verdict and how much was reviewed.
    assert (
        main(["review", str(tmp_path / "study"), "--out-dir", str(out), "--list"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    m1 = next(line for line in lines if line.startswith("M1_raw.fif"))
    assert m1.split()[-1] == "1/60"
    assert next(line for line in lines if line.startswith("M0_raw.fif")).endswith("-")
    # Without --list, the study window opens with the same rows; Enter opens one.
    listed = {}

    def fake_study(rows, open_recording):
        listed.update(rows=rows, opener=open_recording)

    monkeypatch.setattr(gui, "review_study", fake_study)
    assert main(["review", str(tmp_path / "study"), "--out-dir", str(out)]) == 0
    assert [r["name"] for r in listed["rows"]] == ["M0_raw.fif", "M1_raw.fif"]
    listed["opener"](listed["rows"][1])
    assert seen["path"] == out / "M1_reviewed.csv"


def test_study_window(qtbot, scored, tmp_path):
    """The study list: least trustworthy first, Enter opens, closing refreshes."""
    from mne_mousesleep.gui import review_study

    raw, result = scored
    rows = [
        dict(name="M2.edf", verdict="unreliable", reasons=["likely unit error"],
             reviewed=tmp_path / "M2_reviewed.csv"),
        dict(name="M1.edf", verdict="ok", reasons=[],
             reviewed=tmp_path / "M1_reviewed.csv"),
    ]  # fmt: skip
    opened = []

    def open_recording(row):
        win = mms.review(raw, result, path=row["reviewed"], block=False, show=False)
        opened.append((row["name"], win))
        return win

    study = review_study(rows, open_recording, block=False, show=False)
    qtbot.addWidget(study)
    table = study.table
    assert [table.item(r, 0).text() for r in range(2)] == ["M2.edf", "M1.edf"]
    assert table.item(0, 1).text() == "unreliable"
    assert table.item(0, 2).text() == "likely unit error"
    assert table.item(0, 3).text() == "-"
    table.setCurrentCell(0, 0)
    qtbot.keyClick(table, Qt.Key_Return)
    assert [name for name, _ in opened] == ["M2.edf"]
    win = opened[0][1]
    assert study.open(0) is win  # open already: raised, not opened twice
    win.session.label([5, 6], "REM")
    win.session.confirm([7])
    win.save()
    win.close()
    assert table.item(0, 3).text() == "3/120" and table.item(0, 4).text() == "2"
    # A recording that cannot be opened leaves the list alive, with the reason.
    study.open_recording = lambda row: (_ for _ in ()).throw(OSError("gone"))
    assert study.open(1) is None
    assert "gone" in study.statusBar().currentMessage()
    study.grab().save(str(tmp_path / "study.png"))


def test_reports_use_the_review(online, tmp_path, monkeypatch):
    """The recording and study reports read <name>_reviewed.csv and say so."""
    from conftest import write_study

    write_study(tmp_path / "study", n=2)
    out = tmp_path / "scores"
    mms.score_files(tmp_path / "study", out, n_jobs=1, report=True)
    info = json.loads((out / "M1_scoring.json").read_text())
    result = mms.ScoringResult.from_dict(info["result"])
    session = ReviewSession(result, out / "M1_reviewed.csv")
    session.label(np.arange(10, 40), "Wake")  # 30 epochs to Wake
    session.save()
    session.close()
    raw = mms.io.read_recording(tmp_path / "study" / "M1_raw.fif")[0]
    rep = mms.report(raw, out / "M1_scoring.json")
    html = "".join(item.html for item in rep._content)
    n = int((session.stages != session.scorer).sum())
    assert f"M1_reviewed.csv: {n} epochs corrected" in html
    plain = mms.report(raw, result)  # a result in memory: the scorer's stages
    text = html_lib.unescape("".join(item.html for item in plain._content))
    assert "expert review" in text and "none (the scorer's stages)" in text
    # The study report's statistics follow the review.
    from mne_mousesleep.report._study import _load_recording

    rec = _load_recording(out / "M1_scoring.json")
    assert rec["review"]["corrected"] == n
    assert (rec["stages"].to_numpy(object)[10:40] == "Wake").all()
    study = mms.study_report(out)
    text = "".join(item.html for item in study._content)
    assert f"{n} corrected" in text


def test_adopt_is_one_undoable_step(scored, tmp_path):
    """A taught scorer's stages replace the scorer's, not the expert's."""
    _, result = scored
    session = ReviewSession(result, tmp_path / "M5_reviewed.csv")
    session.label(4, "REM")
    session.confirm(5)
    new = np.where(session.scorer == "unscored", "unscored", "Wake").astype(object)
    before = session.stages.copy()
    changed = session.adopt(new)
    assert changed == int((before != session.stages).sum()) > 0
    assert session.stages[4] == "REM" and session.provenance[4] == "expert-corrected"
    assert session.stages[5] == result.stages().iloc[5]  # confirmed: kept
    others = np.flatnonzero(session.provenance == "scorer")
    assert (session.stages[others] == new[others]).all()
    assert (session.scorer[others] == new[others]).all()
    session.undo()
    np.testing.assert_array_equal(
        session.scorer, np.asarray(result.stages().to_numpy(), dtype=object)
    )
    with pytest.raises(ValueError, match="must hold"):
        session.adopt(new[:3])
    session.close()


@pytest.mark.slow
def test_teach_in_the_background(qtbot, online, tmp_path):
    """Key t fine-tunes in a thread; kept, the unreviewed epochs follow it."""
    from test_fine_tune import _reviewed

    raw = simulate_recording(
        3600.0, 256.0, active_theta=100.0, ch_names=("EEG_PR",), seed=1
    )
    table, _ = _reviewed(raw)
    proba = mms.predict_proba(raw, verbose="error", precision="float32")
    win = mms.review(
        raw, proba, path=tmp_path / "M6_reviewed.csv", block=False, show=False
    )
    qtbot.addWidget(win)
    s = win.session
    expert = np.flatnonzero(table["provenance"] != "scorer")
    for k in expert:  # the review, as the keys would make it
        s.label(k, table["stage"][k])
    asked = []
    win.ask_keep = lambda result: asked.append(result) or True
    qtbot.keyClick(win, QtCore.Qt.Key_T)
    assert win.teaching  # in the background: the window goes on
    qtbot.waitUntil(lambda: not win.teaching, timeout=300_000)
    assert "failed" not in win.note, win.note
    assert len(asked) == 1 and not asked[0].kept_start
    assert win.taught is asked[0].model
    assert "kept the taught scorer" in win.note
    # The expert's epochs keep their stages; the others follow the new scorer.
    assert (s.stages[expert] == table["stage"].to_numpy(object)[expert]).all()
    win.ask_on_close = lambda: "discard"


def test_queue_and_overview_mark_the_steps(qtbot, scored, tmp_path):
    """Epochs the EMG step moved and unscored epochs: in the queue, marked."""
    import dataclasses

    raw, result = scored
    assert result.emg["changed_epochs"] == sorted(result.emg["changed_epochs"])
    assert len(result.emg["changed_epochs"]) == sum(result.emg["n_changed"].values())
    moved = dataclasses.replace(result, emg={**result.emg, "changed_epochs": [30, 31]})
    session = ReviewSession(moved, None)
    reasons = session.queue_reasons()
    assert reasons[30] == reasons[31] == "the EMG step moved the call to Wake"
    assert {30, 31} <= set(session.queue)
    # REM straight after Wake (what the trust verdict counts) is queued.
    stages = session.scorer.copy()
    stages[40:42], stages[42:44] = "Wake", "REM"
    proba = np.zeros_like(result.proba)
    for ii, name in enumerate(result.classes):
        proba[stages == name, ii] = 1.0
    proba[stages == "unscored"] = np.nan
    jumpy = ReviewSession(
        dataclasses.replace(moved, proba=proba, hmm=None), None
    ).queue_reasons()
    assert jumpy[42].startswith("REM straight after Wake") and 43 not in jumpy
    win = mms.review(raw, moved, block=False, show=False)
    qtbot.addWidget(win)
    # The unscored first epoch is black above the stages, the rest is not.
    gaps = win._unscored.image
    assert gaps[0, 0, 3] == 255 and gaps[0, len(gaps[0]) // 2, 3] == 0


def test_reopening_starts_from_the_saved_review(scored, tmp_path):
    """A saved review is the start of the next session: never overwritten blank."""
    _, result = scored
    path = tmp_path / "M1_reviewed.csv"
    first = ReviewSession(result, path)
    first.label([5, 6], "REM")
    first.confirm([7])
    first.save()
    first.close()
    again = ReviewSession(result, path)
    assert list(again.stages[5:7]) == ["REM", "REM"]
    assert list(again.provenance[5:8]) == [
        "expert-corrected" if result.stages().iloc[5] != "REM" else "expert-confirmed",
        "expert-corrected" if result.stages().iloc[6] != "REM" else "expert-confirmed",
        "expert-confirmed",
    ]
    assert not again.dirty and again.undo().size == 0
    assert "Opened the saved review" in again.messages[-1]
    again.save()  # unchanged: the same content
    again.close()
    assert list(ReviewSession(result, path).stages[5:7]) == ["REM", "REM"]
    # A file that is not a review of this scoring is refused, naming it.
    other = tmp_path / "other_reviewed.csv"
    pd.read_csv(path).iloc[:50].to_csv(other, index=False)
    with pytest.raises(ValueError, match="other_reviewed.csv is not (a|the) review"):
        ReviewSession(result, other)
    assert not (tmp_path / "other_reviewed.csv.lock").exists()


def test_keys_do_not_drop_references_to_none(qtbot, window):
    """The binding keeps None alive: PySide6 6.12.0 dropped one per call.

    Before Python 3.12, each lost reference brings the process closer to a
    fatal "none_dealloc" (a few hundred keys in the window); the ``[gui]``
    extra excludes that binding there. From Python 3.12 None is immortal and
    its count constant (the test then holds by construction).
    """
    window.go_to(10)
    before = sys.getrefcount(None)
    for _ in range(20):
        _key(qtbot, window, Qt.Key_Right)
    window.grab()
    assert sys.getrefcount(None) >= before - 20  # a few temporary ones at most


def test_recovery_after_a_real_kill(scored, tmp_path):
    """A process killed by SIGKILL mid-review: the next session recovers."""
    import signal
    import subprocess
    import textwrap

    _, result = scored
    state = tmp_path / "result.json"
    state.write_text(json.dumps(result.to_dict()))
    path = tmp_path / "M3_reviewed.csv"
    code = textwrap.dedent(
        f"""
        import json, os, signal
        from mne_mousesleep import ScoringResult
        from mne_mousesleep.gui import ReviewSession
        result = ScoringResult.from_dict(json.loads(open({str(state)!r}).read()))
        session = ReviewSession(result, {str(path)!r})
        session.label([10, 11], "artifact")
        session.confirm(12)
        session.autosave()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert not path.exists()  # never saved
    session = ReviewSession(result, path)  # the dead process's lock is gone
    assert not session.read_only and session.has_recovery()
    assert session.recover() == 3
    assert list(session.stages[10:12]) == ["artifact", "artifact"]
    assert session.provenance[12] == "expert-confirmed"
    session.close()
