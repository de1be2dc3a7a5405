"""Downloads with pooch: loopback HTTP, hash checks, cache, offline mirror."""

import hashlib
import os
import subprocess
import sys

import pooch
import pytest

from mne_mousesleep._fetch import REGISTRY, fetch_file, get_cache_dir

KEY = "grieger2021_exp005f"
FNAME = REGISTRY[KEY]["fname"]


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MNE_MOUSESLEEP_DATA", str(cache))
    return cache


def test_download_over_http(online, fresh_cache):
    n_before = len(online.requests)
    path = fetch_file(KEY)
    assert path == fresh_cache / FNAME
    assert _sha256(path) == REGISTRY[KEY]["sha256"]
    assert online.requests[n_before:] == [f"/weights/{FNAME}"]
    # Second call: served from the cache, no request.
    assert fetch_file(KEY) == path
    assert len(online.requests) == n_before + 1


def test_every_registered_file_matches_its_hash(online, fresh_cache):
    for key, entry in REGISTRY.items():
        assert _sha256(fetch_file(key)) == entry["sha256"]


def test_hash_mismatch_is_rejected(
    shared_dir, serve, fresh_cache, tmp_path, monkeypatch
):
    tampered = tmp_path / "tampered"
    (tampered / "weights").mkdir(parents=True)
    data = bytearray((shared_dir / "weights" / FNAME).read_bytes())
    data[-10] ^= 0xFF
    (tampered / "weights" / FNAME).write_bytes(bytes(data))
    url, _ = serve(tampered)
    monkeypatch.setenv("MNE_MOUSESLEEP_MIRROR", url)
    with pytest.raises(ValueError, match=f"{FNAME}.*expected sha256"):
        fetch_file(KEY)
    assert not (fresh_cache / FNAME).exists()


def test_corrupted_cache_is_downloaded_again(online, fresh_cache, caplog):
    path = fetch_file(KEY)
    path.write_bytes(b"truncated")
    n_before = len(online.requests)
    with caplog.at_level("INFO", logger="mne"):
        assert fetch_file(KEY) == path
    assert _sha256(path) == REGISTRY[KEY]["sha256"]
    assert len(online.requests) == n_before + 1
    assert "does not match its sha256" in caplog.text
    assert "Repaired the cached file" in caplog.text


def test_offline_errors_name_the_mirror(fresh_cache, monkeypatch):
    """No connection: the error names MNE_MOUSESLEEP_MIRROR; a corrupted cache too."""
    monkeypatch.delenv("MNE_MOUSESLEEP_MIRROR", raising=False)
    monkeypatch.setitem(REGISTRY[KEY], "url", "http://127.0.0.1:9/x.pth")  # closed
    with pytest.raises(OSError, match=f"offline\\? set MNE_MOUSESLEEP_MIRROR.*{FNAME}"):
        fetch_file(KEY)
    fresh_cache.mkdir(parents=True, exist_ok=True)
    (fresh_cache / FNAME).write_bytes(b"corrupted")
    with pytest.raises(OSError, match="is corrupted.*delete the corrupted file"):
        fetch_file(KEY)


def test_directory_mirror(shared_dir, fresh_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_MOUSESLEEP_MIRROR", str(shared_dir))
    assert _sha256(fetch_file("misleep_edf")) == REGISTRY["misleep_edf"]["sha256"]
    # A tampered file in a directory mirror is rejected as well.
    mirror = tmp_path / "mirror"
    (mirror / "weights").mkdir(parents=True)
    (mirror / "weights" / FNAME).write_bytes(b"x" * 100)
    monkeypatch.setenv("MNE_MOUSESLEEP_MIRROR", str(mirror))
    with pytest.raises(ValueError, match="expected sha256"):
        fetch_file(KEY)
    with pytest.raises(FileNotFoundError, match="offline mirror"):
        fetch_file("grieger2021_exp002b")


def test_cache_dir_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("MNE_MOUSESLEEP_DATA", str(tmp_path / "x"))
    assert get_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("MNE_MOUSESLEEP_DATA")
    assert get_cache_dir() == pooch.os_cache("mne_mousesleep")


def test_urls_are_pinned():
    for entry in REGISTRY.values():
        assert entry["url"].startswith("https://github.com/")
        assert ("95208c327b06284658afe17bb3f4e95778f3f943" in entry["url"]) or (
            "3968c6fd42bb4c68acb875e3aeaf74bf9b809e0a" in entry["url"]
        )
        assert len(entry["sha256"]) == 64


def test_nothing_downloads_at_import(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, MNE_MOUSESLEEP_DATA=str(cache))
    subprocess.run(
        [sys.executable, "-c", "import mne_mousesleep, mne_mousesleep.datasets"],
        check=True,
        env=env,
    )
    assert not cache.exists()
