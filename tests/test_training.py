"""Training and fine-tuning (the recipe of Grieger et al. 2021)."""

import re

import mne
import numpy as np
import pytest
import torch
from conftest import SHORT_TRAINING

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.models.grieger2021 import _EightConvTwoFC
from mne_mousesleep.training import PAPER_AUGMENTATION, learning_rate, train
from mne_mousesleep.training._augment import _augmented_windows
from mne_mousesleep.training._data import _Geometry

FAST = dict(SHORT_TRAINING, n_classes=3, picks=["EEG_PR", "EMG"])


@pytest.fixture(scope="module")
def mice():
    """Eight simulated mice of 30 min, each with its own gain, noise and tilt."""
    return [
        simulate_recording(1800.0, 128.0, seed=100 + m, variability=0.2)
        for m in range(8)
    ]


MOUSE_IDS = [f"M{m}" for m in range(8)]


@pytest.mark.parametrize(
    "n_channels, n_classes, n_params", [(1, 5, 1_193_671), (1, 3, 1_193_509)]
)
def test_eight_conv_two_fc(n_channels, n_classes, n_params):
    net = _EightConvTwoFC(n_channels, n_classes).eval()
    assert sum(p.numel() for p in net.parameters()) == n_params
    convs = [m for m in net.feature_extractor if isinstance(m, torch.nn.Conv1d)]
    assert [c.stride[0] for c in convs] == [1, 2] * 4
    assert all(c.out_channels == 96 and c.kernel_size == (5,) for c in convs)
    with torch.no_grad():
        assert net.feature_extractor(torch.randn(2, n_channels, 1920)).shape == (
            2,
            10848,
        )
        out = net(torch.randn(2, n_channels, 1920))
    np.testing.assert_allclose(out.exp().sum(-1).numpy(), 1, rtol=1e-5)


def test_learning_rate_schedule():
    peak = 256e-6
    assert learning_rate(0, peak=peak) == pytest.approx(256e-7)
    assert learning_rate(6, peak=peak) == pytest.approx(256e-7 + (peak - 256e-7) / 2)
    assert learning_rate(12, peak=peak) == pytest.approx(peak)
    assert learning_rate(22, peak=peak) == pytest.approx(peak * np.exp(-0.6))


#: The windows of the published cards: 640 samples per 10-s epoch, ±1 epoch.
GEOMETRY = _Geometry.of(mms.get_model_card("grieger2021-5stage"))


def _one(x, epoch, aug, rng, **kwargs):
    windows = _augmented_windows([x], [epoch], aug, rng, "cpu", GEOMETRY, **kwargs)
    return windows[0].numpy()


def test_augmentation():
    x = np.arange(2 * 6400, dtype=np.float32).reshape(2, 6400)
    rng = np.random.default_rng(0)
    none = dict.fromkeys(PAPER_AUGMENTATION, 0.0)
    plain = _one(x, 3, none, rng)
    np.testing.assert_array_equal(plain, x[:, 1280:3200])
    flipped = _one(x, 3, {**none, "sign_flip": 1.0}, rng)
    np.testing.assert_array_equal(flipped, -x[:, 1280:3200])
    scaled = _one(x, 3, {**none, "amplitude": 0.5}, rng)
    ratio = scaled[:, 1:] / x[:, 1281:3200]
    assert ratio.min() == pytest.approx(ratio.max())
    assert 0.5 <= ratio.min() <= 1.5
    shifted = _one(x, 3, {**none, "shift": 0.06}, rng)
    offset = shifted[0, 0] - x[0, 1280]
    assert abs(offset) <= np.floor(1920 * 0.06) and offset == int(offset)
    np.testing.assert_array_equal(np.diff(shifted[0]), 1)  # a shift, no warp
    warped = _one(x, 3, {**none, "warp": 0.05}, rng)
    slope = np.diff(warped[0]).mean()
    assert 0.94 < slope < 1.06 and warped.shape == (2, 1920)
    # At the start of the recording, missing neighbours are zeros.
    edge = _one(x, 1, {**none, "shift": 0.06, "warp": 0.05}, rng)
    assert edge.shape == (2, 1920)
    # A gain per channel multiplies the window.
    gained = _one(x, 3, none, rng, gains=np.array([[2.0, 0.5]]))
    np.testing.assert_allclose(gained, x[:, 1280:3200] * [[2.0], [0.5]])


def test_augmentation_batch_matches_numpy_interp():
    """A batch from several sources: each window as np.interp warps it."""
    rng = np.random.default_rng(3)
    sources = [rng.standard_normal((2, 640 * n)).astype(np.float32) for n in (5, 8)]
    epochs = np.array([1, 2, 3, 6, 1, 3])
    which = [0, 0, 0, 1, 1, 1]
    gains = rng.uniform(0.5, 2, size=(6, 2))
    draws = np.random.default_rng(7)
    out = _augmented_windows(
        [sources[w] for w in which],
        epochs,
        PAPER_AUGMENTATION,
        draws,
        "cpu",
        GEOMETRY,
        gains,
    ).numpy()
    # The same draws, window by window, with numpy.
    draws = np.random.default_rng(7)
    u = draws.uniform(-1, 1, size=(6, 4))
    sign = np.where(draws.random(6) < 0.5, -1.0, 1.0)
    for ii, (w, k) in enumerate(zip(which, epochs)):
        length = int(np.floor(1920 * (1 + 0.05 * u[ii, 2])))
        start = k * 640 + 320 + int(np.floor(1920 * 0.06 * u[ii, 3])) - length // 2
        padded = np.pad(sources[w], ((0, 0), (3000, 3000)))
        seg = padded[:, start + 3000 : start + 3000 + length]
        t_old, t_new = np.linspace(0, 1, length), np.linspace(0, 1, 1920)
        ref = np.stack([np.interp(t_new, t_old, ch) for ch in seg])
        ref *= (1 + 0.5 * u[ii, 0]) * sign[ii] * gains[ii][:, None]
        np.testing.assert_allclose(out[ii], ref, rtol=1e-5, atol=1e-5)
    assert out.dtype == np.float32 and out.shape == (6, 2, 1920)


@pytest.mark.slow
def test_train_three_classes_by_mouse(mice, tmp_path):
    """3conv_pool from scratch, split by mouse: test mean F1 >= 0.90."""
    split = {"train": MOUSE_IDS[:6], "validation": ["M6"], "test": ["M7"]}
    model = train(
        mice,
        mice=MOUSE_IDS,
        split=split,
        **{**FAST, "max_epochs": 5, "windows_per_epoch": 384},  # fmt: skip
    )
    card = model.card
    assert card.metrics["test mean F1"] >= 0.90
    assert card.classes == ("Wake", "REM", "NREM")
    assert card.details["split"] == {
        "train": MOUSE_IDS[:6],
        "validation": ["M6"],
        "test": ["M7"],
    }
    assert card.details["seed"] == 0 and card.details["package_version"]
    assert "6 mice" in card.training
    assert list(model.history["epoch"]) == [1, 2, 3, 4, 5]
    # Trained on this machine's device (the CPU here), time per epoch noted.
    assert card.details["device"] == str(mms._device._resolve_device("auto"))
    assert card.details["seconds_per_training_epoch"] > 0
    assert (model.history["seconds"] > 0).all()
    assert next(model._network.parameters()).device.type == "cpu"
    # Scores through score(), saves, and loads to the same predictions.
    proba = mms.predict_proba(mice[7], picks=["EEG_PR", "EMG"], model=model)
    ev = mms.evaluate(mice[7].annotations, proba, n_stages=3)
    assert ev.mean_f1 >= 0.90
    fname = tmp_path / "my_model.pt"
    model.save(fname)
    with pytest.raises(FileExistsError):
        model.save(fname)
    loaded = mms.load_model(fname)
    assert loaded.card.metrics == card.metrics
    assert loaded.card.details["split"] == card.details["split"]
    again = mms.predict_proba(mice[7], picks=["EEG_PR", "EMG"], model=str(fname))
    np.testing.assert_array_equal(again.to_numpy(), proba.to_numpy())


@pytest.mark.slow
def test_deterministic_and_interruptible(mice, monkeypatch):
    kwargs = dict(FAST, mice=MOUSE_IDS[:4])
    a = train(mice[:4], seed=3, **kwargs)
    b = train(mice[:4], seed=3, **kwargs)
    for (name, pa), pb in zip(
        a._network.state_dict().items(), b._network.state_dict().values()
    ):
        assert torch.equal(pa, pb), name
    # The default split by animal never shares a mouse.
    split = a.card.details["split"]
    assert sum(len(v) for v in split.values()) == 4
    assert len(set(sum(split.values(), []))) == 4
    # Ctrl-C in the second training epoch keeps the first one's model.
    from mne_mousesleep.training import _fit as training

    calls = {"n": 0}
    real = training._scores

    def interrupt(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(training, "_scores", interrupt)
    kwargs["max_epochs"] = 3
    model = train(mice[:4], seed=3, **kwargs)
    assert len(model.history) == 1
    assert model.card.details["best_training_epoch"] == 1


@pytest.mark.slow
def test_fine_tune_published_model(online, mice):
    base = mms.load_model("grieger2021-3stage")
    tuned = train(
        mice[:4],
        mice=MOUSE_IDS[:4],
        init="grieger2021-3stage",
        freeze_features=True,
        n_classes=3,
        picks="EEG_PR",
        lr=1e-4,
        max_epochs=1,
        min_epochs=1,
        windows_per_epoch=64,
        batch_size=32,
        verbose="error",
    )
    assert tuned.card.training.startswith("fine-tuned from grieger2021-3stage")
    before, after = base._network.state_dict(), tuned._network.state_dict()
    for name in before:
        if name.startswith("feature_extractor"):
            assert torch.equal(before[name], after[name]), name
    # One training epoch ran; its classifier is kept only if it beat the
    # starting weights on the validation mouse (else the start is kept).
    assert len(tuned.history) == 1 and np.isfinite(tuned.history["loss"]).all()
    changed = not torch.equal(
        before["classifier.1.weight"], after["classifier.1.weight"]
    )
    assert changed == (tuned.card.details["best_training_epoch"] == 1)
    with pytest.raises(ValueError, match="init has classes"):
        train(mice[:4], init="grieger2021-3stage", n_classes=5, picks="EEG_PR")
    with pytest.raises(ValueError, match="init takes 1 channel"):
        train(mice[:4], init="grieger2021-3stage", n_classes=3, picks=["EEG_PR", "EMG"])


def test_training_input_errors(mice):
    with pytest.raises(ValueError, match="at least 3 mice"):
        train(mice[:2], **FAST)
    with pytest.raises(ValueError, match="in both 'train' and 'validation'"):
        train(
            mice[:4],
            mice=MOUSE_IDS[:4],
            split={"train": ["M0", "M1"], "validation": ["M1"]},
            **FAST,
        )
    with pytest.raises(ValueError, match="mice must name the mouse"):
        train(mice[:4], mice=["M0"], **FAST)
    unscored = mice[0].copy().set_annotations(None)
    with pytest.raises(ValueError, match="no stage annotations"):
        train([unscored] * 3, **FAST)
    with pytest.raises(ValueError, match="architecture"):
        train(mice[:4], architecture="deepsleepnet", **FAST)
    # Labels that are all one class train nothing: said before any training.
    awake = []
    for raw in mice[:4]:
        raw = raw.copy()
        annot = raw.annotations
        raw.set_annotations(
            mne.Annotations(
                annot.onset, annot.duration, ["Sleep stage W"] * len(annot),
                orig_time=annot.orig_time,
            )
        )  # fmt: skip
        awake.append(raw)
    with pytest.raises(ValueError, match=r"one class only \(Wake"):
        train(awake, **FAST)


@pytest.mark.slow
def test_train_cli(mice, tmp_path, capsys):
    from mne_mousesleep.cli import main

    folder = tmp_path / "scored"
    folder.mkdir()
    for m, raw in enumerate(mice[:4]):
        raw.save(folder / f"M{m}_day1_raw.fif", verbose=False)
    out = tmp_path / "lab_model.pt"
    args = [
        "train", str(folder), "--out", str(out), "--picks", "EEG_PR,EMG",
        "--classes", "3", "--epochs", "1", "--windows-per-epoch", "32",
        "--verbose", "error",
    ]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert re.search(r"Model +: lab_model", printed)
    model = mms.load_model(out)
    assert model.card.channels == ("EEG_PR", "EMG")
    assert sorted(sum(model.card.details["split"].values(), [])) == [
        "M0",
        "M1",
        "M2",
        "M3",
    ]
    assert main(args) == 1  # no overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "empty_dir_missing"), "--out", "x.pt"]) != 0
    capsys.readouterr()
    # Two mice: the split is given on the command line.
    two = tmp_path / "two"
    two.mkdir()
    for m in (0, 1):
        (folder / f"M{m}_day1_raw.fif").rename(two / f"M{m}_day1_raw.fif")
    args[1] = str(two)
    assert main(args + ["--overwrite"]) == 1
    assert "at least 3 mice" in capsys.readouterr().err
    precision = ["--precision", "float32"]  # the default is auto
    assert main(args + ["--overwrite", "--validation", "M1", *precision]) == 0
    card = mms.load_model(out).card
    assert card.details["split"] == {"train": ["M0"], "validation": ["M1"], "test": []}
    assert card.details["precision"] == "float32"
    assert main(args + ["--overwrite", "--validation", "M9"]) == 2
    assert "not among the mice" in capsys.readouterr().err


@pytest.mark.slow
def test_training_precision(mice):
    from mne_mousesleep._device import _native_bf16_cpu, _resolve_precision

    cpu = torch.device("cpu")
    assert _resolve_precision("float32", cpu) is None
    expected = torch.bfloat16 if _native_bf16_cpu() else None
    assert _resolve_precision("auto", cpu) == expected
    with pytest.raises(ValueError, match="precision must be one of"):
        train(mice, precision="half")
    with pytest.raises(ValueError, match="'float16' is for CUDA GPUs"):
        train(mice, precision="float16", device="cpu")
    split = {"train": MOUSE_IDS[:6], "validation": ["M6"], "test": ["M7"]}
    kwargs = dict(FAST, mice=MOUSE_IDS, split=split, max_epochs=2)
    kwargs["windows_per_epoch"] = 128
    plain = train(mice, **kwargs, precision="float32")
    bf16 = train(mice, **kwargs, precision="bfloat16")
    default = train(mice, **kwargs)  # "auto"
    assert default.card.details["precision"] == (
        "bfloat16" if _native_bf16_cpu() else "float32"
    )
    assert plain.card.details["precision"] == "float32"
    assert bf16.card.details["precision"] == "bfloat16"
    # The weights stay float32 and differ only by the arithmetic of training.
    w = next(bf16._network.parameters())
    assert w.dtype == torch.float32
    assert not torch.equal(w, next(plain._network.parameters()))


def test_rate_version_read_in_chunks(tmp_path):
    """The low-rate version, read in chunks from a file, equals Raw.resample."""
    from mne_mousesleep.training._data import _read_at_rate

    raw = simulate_recording(1800.0, 512.0, seed=5)
    fname = tmp_path / "mouse_raw.fif"
    raw.save(fname)
    on_disk = mne.io.read_raw_fif(fname, preload=False, verbose="error")
    idx = [raw.ch_names.index("EEG_PR"), raw.ch_names.index("EMG")]
    data, sfreq = _read_at_rate(on_disk, idx, 128.0, chunk_duration=120.0)
    assert sfreq == 128.0
    whole = mne.io.read_raw_fif(fname, preload=True, verbose="error").pick(idx)
    whole.resample(128.0, method="polyphase", verbose="error")
    np.testing.assert_allclose(data, whole.get_data(), rtol=0, atol=1e-15)
    assert not on_disk.preload


@pytest.mark.slow
def test_gain_and_fast_validation_path(mice):
    """Gains scale windows, not copies; the fast validation path agrees."""
    from mne_mousesleep.models.grieger2021 import _ThreeConvPool
    from mne_mousesleep.training._augment import _plain_windows
    from mne_mousesleep.training._data import _index, _load_for_training
    from mne_mousesleep.training._fit import _predict

    recs = _load_for_training(mice[:2], ["EEG_PR", "EMG"], 3, None, None)
    scaled = [r.scaled([2.0, 0.5]) for r in recs]
    assert scaled[0].x is recs[0].x  # shared, not copied
    idx = _index(scaled)
    np.testing.assert_allclose(
        _plain_windows(scaled, idx[:5]),
        _plain_windows(recs, idx[:5]) * np.array([2.0, 0.5])[:, None],
    )
    model = train(mice[:4], mice=MOUSE_IDS[:4], **{**FAST, "windows_per_epoch": 256})
    net = model._network.eval()
    assert type(net) is _ThreeConvPool
    fast = _predict(net, scaled, idx)
    with torch.inference_mode():
        windows = torch.from_numpy(_plain_windows(scaled, idx))
        slow = net(windows).argmax(1).numpy()
    assert len(np.unique(slow)) > 1  # the check can fail
    assert np.mean(fast == slow) > 0.999
    # Other networks (and devices) take the per-window path, in batches.
    wrapped = torch.nn.Sequential(net)
    np.testing.assert_array_equal(_predict(wrapped, scaled, idx, batch=100), slow)


# torch.compile imports parts of torch that warn about their own deprecations.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.*")
def test_training_compiled(mice, monkeypatch):
    """compile=True trains through torch.compile; a failure says what to do."""
    split = {"train": MOUSE_IDS[:2], "validation": ["M2"], "test": []}
    kwargs = dict(FAST, mice=MOUSE_IDS[:3], split=split, precision="float32")
    kwargs["dropout"] = 0.0
    calls = []
    real = torch.compile

    def counting(*args, **kw):
        calls.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(torch, "compile", counting)
    compiled = train(mice[:3], compile=True, **kwargs)
    assert calls and compiled.card.details["compiled"] is True
    eager = train(mice[:3], **kwargs)
    assert eager.card.details["compiled"] is False
    # The same training up to the rounding of the compiled kernels (without
    # dropout: compiled dropout draws its own masks).
    # Adam's steps (2e-3 each) are the same but for a few sign-sensitive ones.
    for name, a in compiled._network.state_dict().items():
        diff = np.abs(a.numpy() - eager._network.state_dict()[name].numpy())
        assert np.mean(diff > 1e-5) < 0.01 and diff.max() < 2e-3, name

    def broken(net, **kw):
        def fail(x):
            raise OSError("no C++ compiler found")

        return fail

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(RuntimeError, match="compile=True: torch.compile failed.*C"):
        train(mice[:3], compile=True, **kwargs)
