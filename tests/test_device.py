"""Devices: the argument, and the same probabilities on any device."""

import copy

import numpy as np
import pytest
import torch

import mne_mousesleep as mms
from mne_mousesleep._device import _resolve_device
from mne_mousesleep.cli import main
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.scoring.network import _per_window_proba, _window_proba

HAS_CUDA = torch.cuda.is_available()


def test_device_names():
    expected = (
        "cuda" if HAS_CUDA else "mps" if torch.backends.mps.is_available() else "cpu"
    )
    assert _resolve_device("auto").type == expected
    assert _resolve_device("cpu") == torch.device("cpu")
    assert _resolve_device(torch.device("cpu")) == torch.device("cpu")
    for bad in ("gpu", "cuda:x", "", None, 3):
        with pytest.raises(ValueError, match="device must be one of"):
            _resolve_device(bad)
    if not HAS_CUDA:
        with pytest.raises(ValueError, match="torch sees no CUDA GPU here"):
            _resolve_device("cuda")
        with pytest.raises(ValueError, match="available: \\['cpu'"):
            _resolve_device("cuda:1")
    else:
        n = torch.cuda.device_count()
        with pytest.raises(ValueError, match=f"has {n} CUDA GPU"):
            _resolve_device(f"cuda:{n}")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            _resolve_device("mps")


def test_same_probabilities_on_every_path(online):
    """The per-window path used on GPUs gives the fast CPU path's numbers."""
    raw = simulate_recording(1800.0, 128.0, seed=2)
    model = mms.load_model("grieger2021-5stage")
    from mne_mousesleep.scoring.preprocessing import _read_checked

    data = _read_checked(raw, ["EEG_PR"], model.card, dtype=np.float32).data
    fast = _window_proba(model, data, 32)
    windows = _per_window_proba(model, data, 32, device=torch.device("cpu"))
    np.testing.assert_allclose(windows, fast, atol=1e-4, equal_nan=True)
    # A copy of the network (as moved to a device and back) predicts alike.
    moved = copy.deepcopy(model._network).to("cpu")
    batch = np.ascontiguousarray(
        np.stack([data[:, k * 640 : (k + 3) * 640] for k in range(10)])
    )
    np.testing.assert_array_equal(
        model._predict_windows(batch, network=moved), model._predict_windows(batch)
    )
    target = "cuda" if HAS_CUDA else "cpu"
    on_device = mms.predict_proba(raw, picks="EEG_PR", device=target, verbose="error")
    on_cpu = mms.predict_proba(raw, picks="EEG_PR", device="cpu", verbose="error")
    np.testing.assert_allclose(on_device, on_cpu, atol=1e-4, equal_nan=True)
    with pytest.raises(ValueError, match="device must be one of"):
        mms.predict_proba(raw, picks="EEG_PR", device="tpu")
    with pytest.raises(ValueError, match="device must be one of"):
        mms.train([raw], device="gpu")


def test_cli_device(online, tmp_path, capsys):
    raw = simulate_recording(1800.0, 128.0, seed=2)
    fif = tmp_path / "m_raw.fif"
    raw.save(fif, verbose="error")
    out = tmp_path / "x.csv"
    assert main(["score", str(fif), "--out", str(out), "--device", "tpu"]) == 1
    assert "device must be one of" in capsys.readouterr().err
    assert main(["score", str(fif), "--out", str(out), "--device", "cpu"]) == 0
    assert out.is_file()


def test_cuda_training_is_made_deterministic():
    """cuDNN's deterministic mode while training on CUDA, restored after."""
    from mne_mousesleep.training._fit import _deterministic

    cudnn = torch.backends.cudnn
    before = cudnn.deterministic, cudnn.benchmark
    cudnn.deterministic, cudnn.benchmark = False, True
    try:
        with pytest.raises(RuntimeError, match="boom"):
            with _deterministic(torch.device("cuda")):
                assert (cudnn.deterministic, cudnn.benchmark) == (True, False)
                raise RuntimeError("boom")
        assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
        with _deterministic(torch.device("cpu")):  # nothing to switch
            assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
    finally:
        cudnn.deterministic, cudnn.benchmark = before
