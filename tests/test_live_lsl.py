"""Live scoring over Lab Streaming Layer, on this machine only (127.0.0.1)."""

import csv
import os
import threading
import time
import uuid

import mne
import numpy as np
import pytest

from mne_mousesleep.cli import main
from mne_mousesleep.datasets import simulate_recording

mne_lsl = pytest.importorskip("mne_lsl")

#: LSL traffic stays on this machine: IPv4 loopback only, no multicast beyond it.
LSL_API_CFG = """\
[ports]
IPv6 = disable

[multicast]
ResolveScope = machine
MachineAddresses = {127.0.0.1}

[lab]
KnownPeers = {127.0.0.1}
"""


@pytest.fixture(scope="module", autouse=True)
def _lsl_on_this_machine(tmp_path_factory):
    """Point liblsl at a configuration restricted to 127.0.0.1 (LSLAPICFG)."""
    cfg = tmp_path_factory.mktemp("lsl") / "lsl_api.cfg"
    cfg.write_text(LSL_API_CFG)
    saved = os.environ.get("LSLAPICFG")
    os.environ["LSLAPICFG"] = str(cfg)
    yield
    if saved is None:
        os.environ.pop("LSLAPICFG", None)
    else:
        os.environ["LSLAPICFG"] = saved


class _Markers(threading.Thread):
    """Collect the string markers of an LSL outlet named ``name``."""

    def __init__(self, name):
        super().__init__(daemon=True)
        self.name, self.values, self.done = name, [], threading.Event()

    def run(self):
        from mne_lsl.lsl import StreamInlet, resolve_streams

        found, deadline = [], time.monotonic() + 120
        while not found and not self.done.is_set() and time.monotonic() < deadline:
            found = resolve_streams(timeout=0.2, name=self.name)
        if not found:
            return
        inlet = StreamInlet(found[0])
        inlet.open_stream(timeout=5)
        while True:
            data, _ = inlet.pull_chunk(timeout=0.1)
            self.values.extend(str(v[0]) for v in data)
            if self.done.is_set() and not len(data):
                break
        inlet.close_stream()


def _rows(path):
    with open(path, newline="") as fid:
        return list(csv.DictReader(fid))


def test_replay_end_to_end(tmp_path, online, capsys):
    """PlayerLSL streams 10 min; live scores it: every epoch in the file and markers."""
    fname = tmp_path / "M1_raw.fif"
    simulate_recording(600.0, 128.0, seed=21).save(fname, verbose="error")
    out = tmp_path / "live.csv"
    name = f"markers-{uuid.uuid4().hex[:6]}"
    markers = _Markers(name)
    markers.start()
    args = ["live", "--replay", str(fname), "--speed", "20", "--out", str(out)]
    try:
        code = main([*args, "--markers", name, "--verbose", "warning"])
        time.sleep(0.5)
    finally:
        markers.done.set()
        markers.join(10)
    assert code == 0
    rows = _rows(out)
    assert [int(r["epoch"]) for r in rows] == list(range(60)), rows
    stages = [r["stage"] for r in rows]
    assert markers.values == stages, (markers.values, stages)
    text = capsys.readouterr().out
    assert "Agreement with the offline scoring:" in text
    assert "REM onsets (" in text and "false REM triggers" in text
    scored = [r for r in rows if not r["reason"]]
    assert len(scored) >= 25  # after the context and the gain step's warm-up
    # The player streams once the scorer listens: no epoch is lost to the
    # connection, and the summary says what the warm-up costs and why.
    assert not [r for r in rows if "not received" in r["reason"]]
    warmup = [r for r in rows if r["reason"].startswith("warm-up")]
    assert f"Unscored: {len(warmup)} epoch(s), warm-up (the gain step" in text
    assert "running estimate of the amplifier's gain" in text
    assert all(abs(sum(float(r[f"p_{c}"]) for c in ("Wake", "REM", "NREM",
               "pre-REM", "artifact")) - 1) < 1e-4 for r in scored)  # fmt: skip
    # A second run appends to the file (its own session), header once.
    code = main([*args, "--verbose", "warning"])
    again = _rows(out)
    assert code == 0 and len(again) == 120
    assert len({r["session"] for r in again}) in (1, 2)  # same second possible
    assert [int(r["epoch"]) for r in again[60:]] == list(range(60))
    assert out.read_text().count("session,epoch") == 1


@pytest.mark.slow
def test_stream_lost_and_back(tmp_path, online):
    """A stream that stops and comes back: the gap unscored, scoring goes on."""
    from mne_mousesleep.live._stream import run_live

    raw = simulate_recording(600.0, 128.0, seed=22)
    speed = 20.0
    fast = mne.io.RawArray(
        raw.get_data(),
        mne.create_info(raw.ch_names, 128.0 * speed, raw.get_channel_types()),
        verbose=False,
    )
    name = f"lost-{uuid.uuid4().hex[:6]}"
    decisions = []

    def play():
        for part in (fast.copy().crop(0, 10.0), fast.copy().crop(12.0, None)):
            player = mne_lsl.player.PlayerLSL(
                part, chunk_size=51, n_repeat=1, name=name, source_id=name
            )
            player.start()
            while player.running:
                time.sleep(0.1)
            time.sleep(1.0)  # the source is gone for a while

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    time.sleep(0.3)
    decisions = run_live(
        name,
        picks="EEG_PR",
        speed=speed,
        duration=40.0,
        reconnect_after=2.0,
        n_samples=None,
        echo=None,
        verbose="warning",
    )
    thread.join(5)
    reasons = [d.reason or "" for d in decisions]
    assert any("gap in the stream" in r for r in reasons)
    after = [d for d in decisions if "gap" in (d.reason or "")][-1].epoch
    assert any(d.scored for d in decisions if d.epoch > after)
    assert [d.epoch for d in decisions] == list(range(len(decisions)))
    assert np.isfinite([d.latency for d in decisions if d.scored]).all()


def test_killed_run_keeps_its_epochs(tmp_path, online):
    """SIGKILL mid-stream: every row written is whole; a new run appends."""
    import subprocess
    import sys

    fname = tmp_path / "M2_raw.fif"
    simulate_recording(600.0, 128.0, seed=23).save(fname, verbose="error")
    out = tmp_path / "live.csv"
    cmd = [sys.executable, "-m", "mne_mousesleep.cli", "live", "--replay"]
    cmd += [str(fname), "--speed", "10", "--out", str(out), "--verbose", "error"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.exists() and out.read_text().count("\n") >= 12:
                break
            time.sleep(0.05)
        proc.kill()  # no chance to clean up
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert text.endswith("\n")  # flushed per epoch: no half row
    rows = _rows(out)
    assert 11 <= len(rows) < 60
    assert [int(r["epoch"]) for r in rows] == list(range(len(rows)))
    assert all(len(r) == len(rows[0]) and None not in r.values() for r in rows)


def test_unknown_stream_is_the_users_error(capsys):
    """A stream that cannot be found: its name and the streams seen, no 'bug'."""
    from mne_lsl.lsl import StreamInfo, StreamOutlet

    from mne_mousesleep.live import run_live

    other = f"eeg-{uuid.uuid4().hex[:6]}"
    outlet = StreamOutlet(StreamInfo(other, "EEG", 2, 128.0, "float32", other))
    try:
        with pytest.raises(ValueError, match="No LSL stream named 'NOPE'") as err:
            run_live("NOPE", timeout=1.0, echo=None)
        assert other in str(err.value)
        assert main(["live", "--stream", "NOPE-2", "--verbose", "error"]) == 1
    finally:
        del outlet
    text = capsys.readouterr().err
    assert "No LSL stream named 'NOPE-2'" in text
    assert "looks like a bug" not in text
