"""fetch_mssv against a miniature MSSV served on 127.0.0.1.

Two labs' real events files from ../shared/data/mssv/events, cut to 10
minutes, with simulated signals that follow those expert stages, laid out as
the dataset is and served at the same paths (with the ``?versionId=`` query)
as the dataset's bucket; a manifest of the miniature's own hashes stands in
for the shipped one (the real signals' hashes cannot match simulated ones).
"""

import hashlib
import shutil

import mne
import pandas as pd
import pytest

import mne_mousesleep as mms
from mne_mousesleep.datasets import _mssv, fetch_mssv, simulate_recording

SUBJECTS = {"sub-001": "lab_1", "sub-070": "lab_2"}
MINUTES = 10


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def mini(shared_dir, tmp_path_factory):
    """The miniature dataset (served folder) and its manifests' folder."""
    mssv = shared_dir / "data" / "mssv"
    served = tmp_path_factory.mktemp("bucket")
    manifests = tmp_path_factory.mktemp("manifests")
    for name in _mssv._TOP:
        shutil.copy(mssv / name, served / name)
    edf_rows = []
    n_epochs = MINUTES * 60 // 4
    for sub, lab in SUBJECTS.items():
        folder = served / sub / "eeg"
        folder.mkdir(parents=True)
        events = pd.read_csv(mssv / "events" / f"{sub}_task-sleep_run-1_events.tsv",
                             sep="\t").iloc[:n_epochs]  # fmt: skip
        events.to_csv(folder / f"{sub}_task-sleep_run-1_events.tsv", sep="\t",
                      index=False, lineterminator="\n")  # fmt: skip
        channels = mssv / "events" / f"{sub}_task-sleep_channels.tsv"
        shutil.copy(channels, folder / channels.name)
        stages = mms.read_scoring(folder / f"{sub}_task-sleep_run-1_events.tsv")
        names = list(pd.read_csv(channels, sep="\t")["name"])
        raw = simulate_recording(stages=stages, sfreq=128.0, ch_names=names, seed=1)
        edf = folder / f"{sub}_task-sleep_run-1_eeg.edf"
        mne.export.export_raw(edf, raw.set_annotations(None), fmt="edf",
                              verbose="error")  # fmt: skip
        edf_rows.append(
            dict(
                path=f"{sub}/eeg/{edf.name}",
                lab=lab,
                size=edf.stat().st_size,
                sha256=_sha256(edf),
                version_id=f"v{sub[-3:]}",
            )  # fmt: skip
        )
    text_rows = [
        dict(path=str(p.relative_to(served)), size=p.stat().st_size, sha256=_sha256(p))
        for p in sorted(served.rglob("*"))
        if p.is_file() and p.suffix != ".edf"
    ]
    pd.DataFrame(edf_rows).to_csv(manifests / "edf_manifest.tsv", sep="\t", index=False)
    pd.DataFrame(text_rows).to_csv(
        manifests / "text_manifest.tsv", sep="\t", index=False
    )
    return served, manifests


@pytest.fixture
def bucket(mini, serve, monkeypatch):
    served, manifests = mini
    url, server = serve(served)
    monkeypatch.setenv(_mssv.MSSV_URL_ENV, url)
    monkeypatch.setattr(_mssv, "MANIFESTS", manifests)
    return server, served, manifests


def test_the_shipped_manifest_is_the_datasets(shared_dir):
    """The package's manifests are the dataset's (148 signal files, 6.5 GB)."""
    edf, text = _mssv._manifests()
    assert len(edf) == 148 and edf["lab"].nunique() == 5
    assert round(edf["size"].astype(int).sum() / 1e9, 1) == 6.5
    shipped = (_mssv.MANIFESTS / "edf_manifest.tsv").read_bytes()
    assert shipped == (shared_dir / "data" / "mssv" / "edf_manifest.tsv").read_bytes()


def test_fetch_read_and_resume(bucket, tmp_path):
    server, _, _ = bucket
    root, recordings = fetch_mssv(labs="lab_2", path=tmp_path / "mssv")
    assert [r.name for r in recordings] == ["sub-070_task-sleep_run-1_eeg.edf"]
    edf_requests = [r for r in server.requests if r.endswith("?versionId=v070")]
    assert len(edf_requests) == 1
    raw = mms.io.read_recording(recordings[0])[0]
    events = root / "sub-070" / "eeg" / "sub-070_task-sleep_run-1_events.tsv"
    stages = mms.read_scoring(events)
    assert stages.attrs["epoch_length"] == 4.0 and len(stages) == MINUTES * 15
    assert abs(raw.times[-1] - MINUTES * 60) < 1
    assert (root / "task-sleep_events.json").is_file()
    # Again: nothing is downloaded; a corrupted file is fetched again.
    n = len(server.requests)
    fetch_mssv(labs="lab_2", path=root)
    assert len(server.requests) == n
    with open(recordings[0], "ab") as f:
        f.write(b"x")
    fetch_mssv(subjects="sub-070", path=root)
    assert len(server.requests) == n + 1
    size = int(pd.read_csv(_mssv.MANIFESTS / "edf_manifest.tsv", sep="\t")["size"][1])
    assert recordings[0].stat().st_size == size


def test_bad_input(bucket, tmp_path, monkeypatch):
    server, _, manifests = bucket
    with pytest.raises(ValueError, match=r"labs \['lab_9'\] are not MSSV's"):
        fetch_mssv(labs="lab_9", path=tmp_path)
    with pytest.raises(ValueError, match=r"subjects \['sub-002'\] are not MSSV's"):
        fetch_mssv(subjects=2, path=tmp_path)
    # A full disk: refused before anything is downloaded.
    n = len(server.requests)
    usage = shutil.disk_usage(tmp_path)._replace(free=1000)
    with monkeypatch.context() as m:
        m.setattr(_mssv.shutil, "disk_usage", lambda p: usage)
        with pytest.raises(OSError, match=r"needs .* GB .* are free"):
            fetch_mssv(path=tmp_path / "full")
    assert len(server.requests) == n
    # A manifest mismatch: refused, naming the file, nothing left in place.
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    table = pd.read_csv(manifests / "edf_manifest.tsv", sep="\t")
    table.loc[0, "sha256"] = "0" * 64
    table.to_csv(wrong / "edf_manifest.tsv", sep="\t", index=False)
    shutil.copy(manifests / "text_manifest.tsv", wrong / "text_manifest.tsv")
    monkeypatch.setattr(_mssv, "MANIFESTS", wrong)
    with pytest.raises(ValueError, match="sub-001_task-sleep_run-1_eeg.edf does not"):
        fetch_mssv(labs="lab_1", path=tmp_path / "m")
    edf = tmp_path / "m" / "sub-001" / "eeg" / "sub-001_task-sleep_run-1_eeg.edf"
    assert not edf.exists()
    # A file the server does not have: named.
    missing = tmp_path / "missing"
    missing.mkdir()
    table = pd.read_csv(manifests / "edf_manifest.tsv", sep="\t")
    table.loc[0, "path"] = "sub-001/eeg/sub-001_task-sleep_run-2_eeg.edf"
    table.to_csv(missing / "edf_manifest.tsv", sep="\t", index=False)
    shutil.copy(manifests / "text_manifest.tsv", missing / "text_manifest.tsv")
    monkeypatch.setattr(_mssv, "MANIFESTS", missing)
    with pytest.raises(OSError, match="run-2_eeg.edf could not be downloaded"):
        fetch_mssv(labs="lab_1", path=tmp_path / "n")
