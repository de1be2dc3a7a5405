"""Batch scoring of files, folders and BIDS datasets (CLI and Python)."""

import json
import shutil

import mne
import pandas as pd
import pytest
from conftest import write_study

from mne_mousesleep import ANNOTATION_DESCRIPTIONS, score_files
from mne_mousesleep.cli import main
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.io._write import _atomic


def _write_study(folder, shared_dir, n_sim=2):
    """Simulated FIF and EDF recordings, the real MiSleep .mat, a broken EDF."""
    folder.mkdir()
    (folder / "day2").mkdir()
    for ii in range(n_sim):
        raw = simulate_recording(600.0, 128.0, seed=ii)
        if ii % 2:
            mne.export.export_raw(folder / "day2" / f"M{ii}.edf", raw, verbose=False)
        else:
            raw.save(folder / f"M{ii}_raw.fif", verbose=False)
    shutil.copyfile(
        shared_dir / "data" / "misleep_10min_example.mat", folder / "real.mat"
    )
    (folder / "broken.edf").write_bytes(b"0       not an EDF file" * 10)
    (folder / "notes.txt").write_text("not a recording")


def test_cli_folder_out_dir_resume(online, shared_dir, tmp_path, capsys):
    """A folder with a broken file: the rest is scored; the run resumes."""
    study, out = tmp_path / "study", tmp_path / "scores"
    _write_study(study, shared_dir)
    args = ["score", str(study), "--out-dir", str(out), "--format", "csv", "fif"]
    assert main(args) == 1  # exit status: one recording failed
    captured = capsys.readouterr()
    assert "broken.edf" in captured.err and "error:" in captured.err
    assert "3 scored, 0 skipped, 1 failed" in captured.out
    for stem, n_epochs in (("M0", 60), ("day2/M1", 60), ("real", 60)):
        annot = mne.read_annotations(out / f"{stem}_scoring.csv")
        assert len(annot) == n_epochs
        assert len(mne.read_annotations(out / f"{stem}_scoring-annot.fif")) == n_epochs
        stages = pd.read_csv(out / f"{stem}_stages.tsv", sep="\t", index_col="stage")
        assert stages["epochs"].sum() == n_epochs
        assert stages["percent"].sum() == pytest.approx(100.0)
        assert (out / f"{stem}_scoring.json").is_file()
    assert not (out / "broken_scoring.csv").exists()
    assert not list(study.glob("*_scoring*"))  # nothing next to the inputs
    assert not list(out.rglob(".tmp*"))
    summary = pd.read_csv(out / "scoring_summary.tsv", sep="\t", index_col="file")
    summary.index = [p.split("study/")[1] for p in summary.index]
    assert summary["status"].to_dict() == {
        "M0_raw.fif": "scored",
        "broken.edf": "failed",
        "day2/M1.edf": "scored",
        "real.mat": "scored",
    }
    assert "invalid" in summary.loc["broken.edf", "error"].lower()
    assert (summary.drop(index="broken.edf")["epochs"] == 60).all()
    # Second run: up-to-date outputs are skipped and left untouched.
    mtime = (out / "M0_scoring.csv").stat().st_mtime_ns
    assert main(args) == 1
    assert "0 scored, 3 skipped, 1 failed" in capsys.readouterr().out
    assert (out / "M0_scoring.csv").stat().st_mtime_ns == mtime
    # A changed input, or different settings: the outputs are kept, reported.
    raw = simulate_recording(600.0, 128.0, seed=5)
    raw.save(study / "M0_raw.fif", overwrite=True, verbose=False)
    assert main(args) == 1
    printed = capsys.readouterr().out
    assert "0 scored, 2 skipped, 1 failed, 1 stale (kept)" in printed
    assert "stale (input file changed): kept, pass --overwrite" in printed
    assert (out / "M0_scoring.csv").stat().st_mtime_ns == mtime
    assert main(args + ["--model", "grieger2021-3stage"]) == 1
    printed = capsys.readouterr().out
    assert "0 scored, 0 skipped, 1 failed, 3 stale (kept)" in printed
    assert "model changed" in printed
    assert main(args + ["--model", "grieger2021-3stage", "--overwrite"]) == 1
    assert "3 scored, 0 skipped, 1 failed" in capsys.readouterr().out
    assert (out / "M0_scoring.csv").stat().st_mtime_ns != mtime
    # Once the broken file is gone, the exit status is 0.
    (study / "broken.edf").unlink()
    assert main(args + ["--model", "grieger2021-3stage"]) == 0


def test_outputs_next_to_files_and_jobs(online, shared_dir, tmp_path):
    """Outputs next to the recordings, two local processes, one summary row each."""
    study = tmp_path / "study"
    _write_study(study, shared_dir, n_sim=3)
    files = [study / "M0_raw.fif", study / "day2" / "M1.edf", study / "M2_raw.fif"]
    files.append(study / "broken.edf")
    summary = score_files(files, n_jobs=2, formats="tsv")
    assert list(summary["file"]) == [str(f) for f in files]
    assert list(summary["status"]) == ["scored"] * 3 + ["failed"]
    assert (study / "day2" / "M1_scoring.tsv").is_file()
    table = pd.read_csv(study / "M2_scoring.tsv", sep="\t")
    assert list(table.columns) == ["onset", "duration", "description"]
    assert list(table["onset"][:3]) == [0.0, 10.0, 20.0]
    serial = score_files(files[:3], tmp_path / "serial", formats="tsv")
    for f in ("M0", "M1", "M2"):
        parallel = next(study.rglob(f"{f}_scoring.tsv")).read_text()
        assert (tmp_path / "serial" / f"{f}_scoring.tsv").read_text() == parallel
    assert list(serial["status"]) == ["scored"] * 3


def test_bids_dataset(online, tmp_path):
    """A BIDS root: recordings found with mne-bids, events.tsv in derivatives."""
    mne_bids = pytest.importorskip("mne_bids")
    root = tmp_path / "bids"
    for sub in ("01", "02"):
        raw = simulate_recording(600.0, 128.0, seed=int(sub))
        raw.set_annotations(None)
        edf = tmp_path / f"sub{sub}.edf"
        mne.export.export_raw(edf, raw, verbose=False)
        raw = mne.io.read_raw_edf(edf, verbose=False)
        path = mne_bids.BIDSPath(
            subject=sub, session="01", task="sleep", datatype="eeg", root=root
        )
        with pytest.warns(RuntimeWarning, match="No events found"):
            mne_bids.write_raw_bids(raw, path, verbose=False)
    summary = score_files(root)
    assert list(summary["status"]) == ["scored", "scored"]
    deriv = root / "derivatives" / "mne-mousesleep" / "sub-01" / "ses-01" / "eeg"
    events = pd.read_csv(deriv / "sub-01_ses-01_task-sleep_events.tsv", sep="\t")
    assert list(events.columns) == ["onset", "duration", "trial_type"]
    assert len(events) == 60 and events["onset"].iloc[1] == 10.0
    # The same descriptions as the annotations (pinned in test_hypnogram.py).
    assert set(events["trial_type"]) <= set(ANNOTATION_DESCRIPTIONS.values())
    # The BIDS dataset itself is left as it was: no scoring output in it.
    assert not [p for p in (root / "sub-01").rglob("*") if "scoring" in p.name]


@pytest.mark.slow
def test_dask_local_cluster(online, shared_dir, tmp_path, dask_cluster):
    """The same batch on a Dask LocalCluster (2 workers on loopback)."""
    cluster, client = dask_cluster
    study = tmp_path / "study"
    _write_study(study, shared_dir)
    summary = score_files(study, tmp_path / "dask", client=client)
    assert len(client.scheduler_info()["workers"]) == 2
    address = cluster.scheduler_address
    # The CLI with a scheduler address.
    code = main(
        ["score", str(study), "--out-dir", str(tmp_path / "cli"), "--scheduler"]
        + [address]
    )
    assert code == 1
    assert list(summary["status"]) == ["scored", "failed", "scored", "scored"]
    serial = score_files(study, tmp_path / "serial")
    assert list(serial["status"]) == list(summary["status"])
    for name in ("M0_scoring.csv", "day2/M1_scoring.csv", "real_scoring.csv"):
        expected = (tmp_path / "serial" / name).read_text()
        assert (tmp_path / "dask" / name).read_text() == expected
        assert (tmp_path / "cli" / name).read_text() == expected


def test_atomic_write_never_leaves_partial_file(tmp_path):
    target = tmp_path / "x_scoring.csv"

    def interrupted(tmp):
        tmp.write_text("onset,dur")  # half written, then Ctrl-C
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _atomic(target, interrupted)
    assert not target.exists() and not list(tmp_path.iterdir())
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        _atomic(target, interrupted)
    assert target.read_text() == "old"
    _atomic(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_interrupted_recording_is_scored_again(online, tmp_path, monkeypatch):
    """A run killed while moving its outputs into place resumes; edits are kept."""
    from mne_mousesleep.batch import _write as batch

    study = tmp_path / "study"
    write_study(study, 1, seed=1, names=["M1"])
    write_json = batch._write_json
    calls = []

    def killed_before_completing(path, info):
        calls.append(info["complete"])
        if info["complete"]:
            raise KeyboardInterrupt  # after the outputs, before the sidecar
        write_json(path, info)

    monkeypatch.setattr(batch, "_write_json", killed_before_completing)
    with pytest.raises(KeyboardInterrupt):
        score_files(study, n_jobs=1)
    monkeypatch.undo()
    assert calls == [False, True]
    sidecar = study / "M1_scoring.json"
    assert json.loads(sidecar.read_text())["complete"] is False
    assert (study / "M1_scoring.csv").is_file()
    summary = score_files(study, n_jobs=1)
    assert list(summary["status"]) == ["scored"]
    assert summary["note"][0] == "resuming an interrupted scoring"
    info = json.loads(sidecar.read_text())
    assert info["complete"] is True and info["settings"]["merge_bouts"] is False
    assert list(score_files(study, n_jobs=1)["status"]) == ["skipped"]
    assert not list(study.glob(".tmp*"))
    # An output edited by hand is never replaced without overwrite.
    csv = study / "M1_scoring.csv"
    edited = csv.read_text().replace("Sleep stage W", "Sleep stage R", 1)
    csv.write_text(edited)
    summary = score_files(study, n_jobs=1)
    assert list(summary["status"]) == ["edited"]
    assert "M1_scoring.csv changed since written; kept" in summary["note"][0]
    assert csv.read_text() == edited
    # Without a sidecar, existing outputs are of unknown origin: kept.
    sidecar.unlink()
    summary = score_files(study, n_jobs=1)
    assert list(summary["status"]) == ["stale"]
    assert "without a sidecar" in summary["note"][0]
    assert csv.read_text() == edited
    summary = score_files(study, overwrite=True, n_jobs=1)
    assert list(summary["status"]) == ["scored"]
    assert csv.read_text() != edited
    # A new format adds its file; the existing outputs are not touched.
    mtime = csv.stat().st_mtime_ns
    summary = score_files(study, formats=("csv", "tsv"), n_jobs=1)
    assert list(summary["status"]) == ["scored"]
    assert csv.stat().st_mtime_ns == mtime and (study / "M1_scoring.tsv").is_file()
    assert list(score_files(study, formats=("csv", "tsv"))["status"]) == ["skipped"]


def test_unwritable_outputs_fail_before_scoring(tmp_path, monkeypatch, capsys):
    """Outputs that cannot be written fail each recording before any scoring."""
    from mne_mousesleep.batch import _one as scoring

    study = tmp_path / "study"
    write_study(study, 2, duration=60.0)

    def no_scoring(*args, **kwargs):
        raise AssertionError("scored although the outputs cannot be written")

    monkeypatch.setattr(scoring, "_score", no_scoring)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out_dir in (blocker, blocker / "sub"):
        assert main(["score", str(study), "--out-dir", str(out_dir)]) == 2
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        assert f"cannot write outputs to {out_dir}" in captured.err
        assert "scoring_summary.tsv not written" in captured.err
        assert "0 scored, 0 skipped, 2 failed" in captured.out
    # A folder where files cannot be created (root ignores permissions, so
    # the refusal of the file system is simulated).
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    summary = score_files(study, tmp_path / "ro")
    assert list(summary["status"]) == ["failed", "failed"]
    assert "Permission denied" in summary["error"][0]
    assert summary["epochs"].dtype == "Int64"


def test_locked_recording_is_left_to_the_other_run(online, tmp_path):
    """A recording whose lock another run holds is not scored twice."""
    from filelock import FileLock

    study = tmp_path / "study"
    write_study(study, 2, duration=60.0)
    with FileLock(study / ".M0_scoring.lock", timeout=0):
        summary = score_files(study, n_jobs=1)
    assert list(summary["status"]) == ["busy", "scored"]
    assert summary["note"][0] == "in progress elsewhere (locked)"
    assert not (study / "M0_scoring.csv").exists()
    assert list(score_files(study, n_jobs=1)["status"]) == ["scored", "skipped"]


@pytest.mark.slow
def test_workers_end_with_a_killed_parent(online, tmp_path):
    """SIGKILL of the batch leaves no worker process behind."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    study = tmp_path / "study"
    write_study(study, 4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mne_mousesleep.cli", "score", str(study)]
        + ["--jobs", "2", "--format", "tsv"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        children = []
        while time.monotonic() < deadline and proc.poll() is None:
            children = psutil.Process(proc.pid).children(recursive=True)
            if sum("loky" in " ".join(c.cmdline()) for c in children) >= 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the batch ended before its workers were seen"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, f"workers survived their parent: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        score_files(tmp_path / "nope")
    with pytest.raises(ValueError, match="No recording found"):
        score_files(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "m_raw.fif").write_text("")
    (tmp_path / "b" / "m.edf").write_text("")
    with pytest.raises(ValueError, match="would write the same outputs"):
        score_files([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    with pytest.raises(ValueError, match="formats must be among"):
        score_files(tmp_path / "a", formats=("xlsx",))
    with pytest.raises(ValueError, match="n_jobs"):
        score_files(tmp_path / "a", n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs"):
        score_files(tmp_path / "a", n_jobs="2")


def test_sidecar_of_an_earlier_version(online, tmp_path):
    """Sidecars without hashes (earlier versions): up to date or stale, kept."""
    study = tmp_path / "study"
    write_study(study, 1, duration=60.0)
    assert list(score_files(study, n_jobs=1)["status"]) == ["scored"]
    sidecar = study / "M0_scoring.json"
    info = json.loads(sidecar.read_text())
    for key in ("sha256", "complete", "pending_sha256", "quality"):
        info.pop(key, None)
    sidecar.write_text(json.dumps(info))
    assert list(score_files(study, n_jobs=1)["status"]) == ["skipped"]
    summary = score_files(study, model="grieger2021-3stage", n_jobs=1)
    assert list(summary["status"]) == ["stale"]
    assert summary["note"][0] == "stale (model changed): kept, pass --overwrite"


def test_default_jobs_one_per_two_cores(tmp_path, monkeypatch):
    """n_jobs=None: one worker per 2 cores, at most 8 (1 on a 2-core machine)."""
    import os

    import mne_mousesleep.batch as batch

    seen = []

    def fake_run(todo, run, n_jobs, client):
        seen.append(n_jobs)
        for ii, job, _, out in todo:
            yield ii, dict(file=str(job.path), status="failed", error="-"), out

    monkeypatch.setattr(batch, "_run", fake_run)
    (tmp_path / "m_raw.fif").write_text("")
    for cores, expected in ((2, 1), (1, 1), (8, 4), (64, 8)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        score_files(tmp_path)
        assert seen[-1] == expected
