"""Test fixtures: offline copies served over loopback HTTP, synthetic Raws."""

import functools
import os
import threading
from datetime import datetime, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mne
import numpy as np
import pooch
import pytest

# The offline copies of the weights, data and reference outputs sit beside the
# repository (../shared); MNE_MOUSESLEEP_TEST_SHARED can point elsewhere.
SHARED = Path(
    os.environ.get(
        "MNE_MOUSESLEEP_TEST_SHARED", Path(__file__).resolve().parents[2] / "shared"
    )
)
# pooch's "Downloading ..." messages go to a stream handler bound to the
# stderr of its import; under pytest's capture that stream may be closed.
pooch.get_logger().setLevel("WARNING")

# Qt windows (the review window) are tested offscreen: no X server needed.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Set by .ci/run: tests that need ../shared fail instead of being skipped.
REQUIRE_SHARED = os.environ.get("MNE_MOUSESLEEP_REQUIRE_SHARED", "") == "1"


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):  # noqa: N802 (name imposed by http.server)
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture(scope="session")
def serve():
    """Return a function serving a directory on 127.0.0.1; gives its base URL."""
    servers = []

    def _serve(directory):
        handler = functools.partial(_Handler, directory=str(directory))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.requests = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", server

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def shared_dir():
    """The offline copies (../shared); skipped, or failed in CI, when absent."""
    if not (SHARED / "weights").is_dir():
        msg = f"offline copies not found at {SHARED}"
        if REQUIRE_SHARED:
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED


@pytest.fixture(scope="session")
def mirror(shared_dir, serve):
    """Loopback HTTP server over ../shared: (base URL, server)."""
    return serve(shared_dir)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Never touch the user's cache nor the internet from the tests."""
    saved = {
        k: os.environ.get(k) for k in ("MNE_MOUSESLEEP_DATA", "MNE_MOUSESLEEP_MIRROR")
    }
    os.environ["MNE_MOUSESLEEP_DATA"] = str(tmp_path_factory.mktemp("cache"))
    # Without the offline copies, point at a closed loopback port.
    os.environ["MNE_MOUSESLEEP_MIRROR"] = "http://127.0.0.1:9"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def online(mirror, monkeypatch):
    """Downloads go to the loopback mirror of ../shared (session cache)."""
    monkeypatch.setenv("MNE_MOUSESLEEP_MIRROR", mirror[0])
    return mirror[1]


@pytest.fixture
def misleep_raw(online):
    """The real MiSleep example (fresh object for each test)."""
    from mne_mousesleep.datasets import fetch_misleep_example

    return fetch_misleep_example()


@pytest.fixture(scope="session")
def reference(shared_dir):
    """Outputs of the published code for the MiSleep example."""
    return np.load(shared_dir / "reference" / "misleep_eegp_reference.npz")


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(20210610)


def make_raw(
    rng,
    *,
    duration=120.0,
    sfreq=256.0,
    ch_names=("EEG_PR", "EMG"),
    ch_types=None,
    meas_date=datetime(2024, 1, 1, 7, 0, tzinfo=timezone.utc),
    first_samp=0,
    scale=100e-6,
):
    """A RawArray of pink-ish noise with a 2-Hz and a 7-Hz rhythm, in volts."""
    n_times = int(round(duration * sfreq))
    t = np.arange(n_times) / sfreq
    noise = np.cumsum(rng.standard_normal((len(ch_names), n_times)), axis=1)
    noise -= noise.mean(axis=1, keepdims=True)
    noise /= noise.std(axis=1, keepdims=True)
    data = noise + np.sin(2 * np.pi * 2 * t) + 0.5 * np.sin(2 * np.pi * 7 * t)
    if ch_types is None:
        ch_types = ["emg" if "EMG" in n else "eeg" for n in ch_names]
    info = mne.create_info(list(ch_names), sfreq, ch_types)
    raw = mne.io.RawArray(scale * data, info, first_samp=first_samp, verbose=False)
    raw.set_meas_date(meas_date)
    return raw


#: The short training settings of the tests (a few steps, no early stopping).
SHORT_TRAINING = dict(
    batch_size=32,
    lr=2e-3,
    warmup_epochs=1,
    min_epochs=1,
    max_epochs=1,
    windows_per_epoch=64,
    verbose="error",
)


def write_study(folder, n=2, *, duration=600.0, sfreq=128.0, seed=0, names=None):
    """Write ``n`` simulated recordings (FIF) into ``folder``; return their paths.

    The one simulated study of the tests: recording ``ii`` is
    ``simulate_recording(duration, sfreq, seed=seed + ii)``, saved as
    ``<name>_raw.fif``, the names ``M0``, ``M1``... unless given.
    """
    names = names or [f"M{ii}" for ii in range(n)]
    from mne_mousesleep.datasets import simulate_recording

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ii in range(n):
        raw = simulate_recording(duration, sfreq, seed=seed + ii)
        paths.append(folder / f"{names[ii]}_raw.fif")
        raw.save(paths[-1], verbose="error")
    return paths


@pytest.fixture
def dask_cluster():
    """A Dask LocalCluster of 2 worker processes on loopback, and its client.

    Every port is chosen free by the system (the scheduler's and the
    dashboard's), so two test runs on one machine never collide.
    """
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address=None,
            processes=True,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client
