"""The fast whole-recording evaluation of 3conv_pool, against its definition."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from mne_mousesleep.models.grieger2021 import _fast, _ThreeConvPool
from mne_mousesleep.models.grieger2021._fast import FastThreeConv, winograd_matrices


@pytest.mark.parametrize("m, r", [(2, 3), (8, 5), (8, 3), (10, 5), (10, 3), (14, 3)])
def test_winograd_matrices_compute_the_correlation(m, r):
    """A_T ((G g) * (B_T d)) is the correlation of a tile with a filter."""
    a_t, g_mat, b_t = winograd_matrices(m, r)
    n = m + r - 1
    assert a_t.shape == (m, n) and g_mat.shape == (n, r) and b_t.shape == (n, n)
    rng = np.random.default_rng(m * r)
    for _ in range(5):
        d, g = rng.standard_normal(n), rng.standard_normal(r)
        expected = np.correlate(d, g, mode="valid")
        np.testing.assert_allclose(a_t @ ((g_mat @ g) * (b_t @ d)), expected, atol=1e-9)


def test_winograd_matrices_too_large():
    with pytest.raises(ValueError, match="interpolation points"):
        winograd_matrices(20, 5)


def _random_net(n_channels, seed):
    """A 3conv_pool with random weights and batch-normalisation statistics."""
    torch.manual_seed(seed)
    net = _ThreeConvPool(n_channels, 5)
    with torch.no_grad():
        for bn in net.feature_extractor[::4]:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.mark.parametrize("n_channels", [1, 2])
@pytest.mark.parametrize(
    "m, chunk_epochs, n_threads, part_epochs",
    [(10, 4, 2, 256), (10, 1, 3, 256), (8, 3, 1, 256), (16, 2, 2, 256), (10, 2, 2, 3)],
)
def test_window_features_equal_per_window(
    n_channels, m, chunk_epochs, n_threads, part_epochs, monkeypatch
):
    """Every window's pooled features, whatever the tiles, chunks and threads.

    The recording ends are zeros in the whole-recording pass and the window
    edges are swapped in, so every window matches the network run on it alone.
    With ``part_epochs`` 3, the threads share 4 parts of 2 and 3 epochs.
    """
    monkeypatch.setattr(_fast, "PART_EPOCHS", part_epochs)
    net = _random_net(n_channels, seed=n_channels)
    n_epochs, n_samples = 11, 640
    x = torch.randn(n_channels, n_epochs * n_samples, generator=torch.manual_seed(3))
    n_intra, n_blas = torch.get_num_threads(), _blas_threads()
    with torch.inference_mode():
        fast = FastThreeConv(net, m).window_features(
            x, n_samples, chunk_epochs, n_threads
        )
        windows = x.unfold(1, 3 * n_samples, n_samples).transpose(0, 1)
        expected = net.feature_extractor(windows)
    # The settings are restored.
    assert torch.get_num_threads() == n_intra and _blas_threads() == n_blas
    assert fast.shape == expected.shape == (n_epochs - 2, 3 * 128)
    # float32 rounding of the transforms grows with the tile (m = 10 is used).
    scale, atol = expected.abs().max(), 2e-5 if m <= 10 else 2e-4
    torch.testing.assert_close(fast / scale, expected / scale, rtol=0, atol=atol)


@pytest.mark.parametrize(
    "epoch_samples, n_context, precision",
    [(256, 3, "float32"), (160, 6, "float32"), (512, 1, "float32"),
     (256, 3, "bfloat16"), (320, 2, "bfloat16")],
)  # fmt: skip
def test_any_epoch_and_context(epoch_samples, n_context, precision):
    """4-s, 2.5-s and 8-s epochs at 64 Hz with their contexts: the network's
    windows, on the whole-recording path (CPU tiles) and the device path."""
    from mne_mousesleep.models.grieger2021 import recording_log_proba
    from mne_mousesleep.models.grieger2021._fast import direct_window_features
    from mne_mousesleep.models.grieger2021._network import _tile

    torch.manual_seed(4)
    net = _ThreeConvPool(1, 5, epoch_samples=epoch_samples, n_epochs=2 * n_context + 1)
    with torch.no_grad():
        for bn in net.feature_extractor[::4]:
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
    net.eval()
    n_epochs, window = 20, (2 * n_context + 1) * epoch_samples
    x = torch.randn(1, n_epochs * epoch_samples, generator=torch.manual_seed(5)) / 10
    with torch.inference_mode():
        fast = recording_log_proba(
            net, x, epoch_samples=epoch_samples, n_context=n_context,
            precision=precision,
        )  # fmt: skip
        direct = net.classifier(
            direct_window_features(net, x, epoch_samples, n_context=n_context)
        )
        expected = net(x.unfold(1, window, epoch_samples).transpose(0, 1))
    assert fast.shape == expected.shape == (n_epochs - 2 * n_context, 5)
    atol = 1e-6 if precision == "float32" else 1e-4
    torch.testing.assert_close(fast.exp(), expected.exp(), rtol=0, atol=atol)
    torch.testing.assert_close(direct.exp(), expected.exp(), rtol=0, atol=1e-6)
    assert epoch_samples % _tile(epoch_samples, precision) == 0


def test_tiles_must_fit_the_epochs():
    net = _random_net(1, seed=0)
    with pytest.raises(ValueError, match="Tiles of 12"):
        FastThreeConv(net, 12).window_features(torch.zeros(1, 640 * 4))


def test_fast_evaluator_rebuilt_when_weights_change():
    """Kept on the network while its weights stay; rebuilt after any change."""
    from mne_mousesleep.models.grieger2021 import _fast_evaluator, recording_log_proba

    net = _random_net(1, seed=9)
    x = torch.randn(1, 5 * 640, generator=torch.manual_seed(10))
    with torch.inference_mode():
        before = recording_log_proba(net, x)
    fast = _fast_evaluator(net)
    assert _fast_evaluator(net) is fast
    with torch.no_grad():
        net.feature_extractor[6].weight.mul_(1.5)  # in place, as an optimiser
    with torch.inference_mode():
        after = recording_log_proba(net, x)
        expected = net(x.unfold(1, 1920, 640).transpose(0, 1))
    assert _fast_evaluator(net) is not fast
    assert not torch.allclose(before, after, atol=1e-3)
    torch.testing.assert_close(after, expected, rtol=0, atol=1e-4)
    fast = _fast_evaluator(net)
    net.train()
    net(torch.randn(2, 1, 1920))  # updates the running statistics
    net.eval()
    assert _fast_evaluator(net) is not fast


def test_fast_evaluator_of_inference_tensors():
    """A network made under inference mode (no version counters) still scores."""
    from mne_mousesleep.models.grieger2021 import _fast_evaluator, recording_log_proba

    with torch.inference_mode():
        net = _random_net(1, seed=11)
        x = torch.randn(1, 5 * 640, generator=torch.manual_seed(12))
        before = recording_log_proba(net, x)
        assert _fast_evaluator(net) is not _fast_evaluator(net)
        net.feature_extractor[6].weight.mul_(1.5)  # no version counter to see it
        after = recording_log_proba(net, x)
        expected = net(x.unfold(1, 1920, 640).transpose(0, 1))
    assert not torch.allclose(before, after, atol=1e-3)
    torch.testing.assert_close(after, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("chunk_epochs", [1, 3, 256])
def test_direct_path_equals_per_window(chunk_epochs):
    """The GPU path (plain convolutions, any device) computes the network."""
    from mne_mousesleep.models.grieger2021._fast import direct_window_features

    net = _random_net(1, seed=5)
    x = torch.randn(1, 11 * 640, generator=torch.manual_seed(6))
    with torch.inference_mode():
        direct = direct_window_features(net, x, 640, chunk_epochs)
        windows = x.unfold(1, 3 * 640, 640).transpose(0, 1)
        expected = net.feature_extractor(windows)
    assert direct.shape == expected.shape == (9, 3 * 128)
    scale = expected.abs().max()
    torch.testing.assert_close(direct / scale, expected / scale, rtol=0, atol=2e-5)


def test_device_path_of_a_model(online, misleep_raw):
    """A model's whole-recording path on a device gives the CPU path's numbers."""
    import mne_mousesleep as mms
    from mne_mousesleep.scoring import _window_proba

    model = mms.load_model("grieger2021-3stage")
    data = mms.preprocess(misleep_raw, picks="EEG_P")
    cpu = _window_proba(model, data, 32)
    device = _window_proba(model, data, 32, device=torch.device("cpu"))
    np.testing.assert_allclose(device, cpu, rtol=0, atol=1e-5)
    bf16 = _window_proba(model, data, 32, precision="bfloat16", device="cpu")
    scored = ~np.isnan(cpu[:, 0])
    assert 0 < np.abs(bf16 - cpu)[scored].max() < 0.05  # autocast: bfloat16
    assert (bf16[scored].argmax(1) == cpu[scored].argmax(1)).mean() >= 0.95
