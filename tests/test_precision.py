"""Scoring in bfloat16: the fast path's arithmetic, the close calls, the option."""

import numpy as np
import pytest
import torch

import mne_mousesleep as mms
from mne_mousesleep import _device
from mne_mousesleep.models.grieger2021 import _ThreeConvPool
from mne_mousesleep.models.grieger2021._fast import BF16_TILE, FastThreeConv
from mne_mousesleep.scoring import ScoringOptions, _per_window_proba, _window_proba
from mne_mousesleep.scoring import network as network_step

#: The largest probability difference of bfloat16 from float32 allowed here
#: (measured at most 0.021 on the simulated labs, benchmarks/bench_scoring.py;
#: 0.001 on this recording).
BF16_ATOL = 0.025


def _random_net(seed):
    torch.manual_seed(seed)
    net = _ThreeConvPool(1, 5)
    with torch.no_grad():
        for bn in net.modules():
            if isinstance(bn, torch.nn.BatchNorm1d):
                bn.running_mean.uniform_(-0.2, 0.2)
                bn.running_var.uniform_(0.5, 2.0)
    return net.eval()


def test_bf16_features_close_to_float32():
    """The bfloat16 Winograd path computes the network's features (rel. 1 %)."""
    net = _random_net(4)
    x = torch.randn(1, 9 * 640, generator=torch.manual_seed(5))
    with torch.inference_mode():
        fast = FastThreeConv(net, precision="bfloat16")
        assert fast.m == BF16_TILE and fast.conv2.u.dtype == torch.bfloat16
        features = fast.window_features(x, 640, 4, n_threads=2)
        windows = x.unfold(1, 3 * 640, 640).transpose(0, 1)
        expected = net.feature_extractor(windows)
    assert features.dtype == torch.float32 and features.shape == expected.shape
    scale = expected.abs().max()
    err = ((features - expected).abs().max() / scale).item()
    assert 1e-5 < err < 1e-2  # bfloat16 rounding: not float32, not far from it


def test_bf16_tiles_and_precision_are_checked():
    net = _random_net(0)
    with pytest.raises(ValueError, match="tiles of 4, not 10"):
        FastThreeConv(net, 10, precision="bfloat16")
    with pytest.raises(ValueError, match="Unknown precision"):
        FastThreeConv(net, precision="float16")
    with pytest.raises(ValueError, match="precision must be one of"):
        ScoringOptions(precision="float16")


def test_auto_precision_follows_the_cpu(monkeypatch):
    cpu = torch.device("cpu")
    for native in (True, False):
        monkeypatch.setattr(_device, "_native_bf16_cpu", lambda n=native: n)
        expected = "bfloat16" if native else "float32"
        assert _device._scoring_precision("auto", cpu, True) == expected
        # Other networks (per window) stay float32 unless asked.
        assert _device._scoring_precision("auto", cpu, False) == "float32"
        assert _device._scoring_precision("float32", cpu, True) == "float32"
        assert _device._scoring_precision("bfloat16", cpu, False) == "bfloat16"
    assert ScoringOptions.published().precision == "float32"
    assert ScoringOptions().precision == "auto"


def test_bf16_scoring_of_the_example(misleep_raw, reference):
    """bfloat16 against the published outputs: close, and the same calls."""
    proba = mms.predict_proba(
        misleep_raw,
        picks="EEG_P",
        options=ScoringOptions.published(precision="bfloat16"),
    )
    assert proba.attrs["network"]["precision"] == "bfloat16"
    assert proba.attrs["network"]["rechecked"] >= 0
    expected = reference["exp005e"]
    got = proba.to_numpy()[1:-1]
    assert np.abs(got - expected).max() < BF16_ATOL
    assert not np.array_equal(got, expected)  # it is not the float32 path
    np.testing.assert_array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    # The typed result keeps the record through JSON.
    result = mms.ScoringResult.from_frame(proba)
    assert mms.ScoringResult.from_json(result.to_json()).network == {
        "precision": "bfloat16",
        "rechecked": proba.attrs["network"]["rechecked"],
    }
    published = mms.predict_proba(misleep_raw, options=ScoringOptions.published())
    assert published.attrs["network"] == {"precision": "float32"}


def test_close_calls_are_computed_in_float32(misleep_raw, monkeypatch):
    """Every close call is computed again, from its window, in float32."""
    model = mms.load_model()
    data = mms.preprocess(misleep_raw, picks="EEG_P")
    fp32 = _per_window_proba(model, data, 16)
    bf16 = _window_proba(model, data, 16, precision="bfloat16")
    assert 0 < np.nanmax(np.abs(bf16 - fp32)) < BF16_ATOL
    # With a margin above 1 every scored epoch is a close call.
    monkeypatch.setattr(network_step, "RECHECK_MARGIN", 1.5)
    n = network_step._recheck(model, data, bf16, 16)
    assert n == 58
    np.testing.assert_array_equal(bf16, fp32)
    # The default margin: only epochs whose two best classes are close.
    monkeypatch.undo()
    again = _window_proba(model, data, 16, precision="bfloat16")
    close = network_step._close_calls(again)
    top2 = np.sort(again[close], axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0] < network_step.RECHECK_MARGIN).all()
    n = network_step._recheck(model, data, again, 16)
    assert n == len(close)
    np.testing.assert_array_equal(again[close], fp32[close])


def test_cli_precision():
    from mne_mousesleep.cli import _parser as make_parser
    from mne_mousesleep.cli._commands import _options

    parser = make_parser()
    args = parser.parse_args(["score", "x.edf", "--precision", "float32"])
    assert _options(args).precision == "float32"
    args = parser.parse_args(["score", "x.edf", "--published"])
    assert _options(args).precision == "float32"
    args = parser.parse_args(
        ["score", "x.edf", "--published", "--precision", "bfloat16"]
    )
    assert _options(args).precision == "bfloat16"
    assert _options(parser.parse_args(["score", "x.edf"])).precision == "auto"
