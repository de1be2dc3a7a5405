"""The scorers of the related papers: Akada (EEG + EMG), ResNet, multi-exit."""

import numpy as np
import pytest
import torch
from conftest import SHORT_TRAINING
from torch.nn import functional as F

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.models._architectures import ARCHITECTURES
from mne_mousesleep.models._multiexit import normalised_entropy
from mne_mousesleep.scoring.preprocessing import _lowpass_resample

PICKS = ["EEG_PR", "EMG"]
NEW = ["akada-rule", "akada-stacking", "akada-multimodal", "resnet", "multiexit"]
TINY = dict(SHORT_TRAINING, picks=PICKS)  # a few training steps
MICE = ["A", "B", "C", "D"]
SPLIT = {"train": ["A", "B"], "validation": ["C"], "test": ["D"]}


def n_classes_of(arch):
    return 3 if arch.startswith("akada") else 5


@pytest.fixture(scope="module")
def mice_raws():
    """Four simulated mice of 10 min with parietal EEG and EMG."""
    return [simulate_recording(600.0, 128.0, seed=10 + m) for m in range(4)]


@pytest.fixture(scope="module")
def windows():
    """Windows and 5-class labels from one simulated recording (64 Hz, mV)."""
    raw = simulate_recording(1200.0, 128.0, seed=3)
    data = _lowpass_resample(raw.get_data(PICKS) * 1e3, 128.0, 64.0)
    stages = mms.to_stages(raw.annotations).to_numpy()
    classes = ["Wake", "REM", "NREM", "pre-REM", "artifact"]
    k = np.arange(1, len(stages) - 1)
    x = np.stack([data[:, (i - 1) * 640 : (i + 2) * 640] for i in k]).astype("f4")
    return torch.from_numpy(x), np.array([classes.index(s) for s in stages[k]])


@pytest.mark.parametrize(
    "arch, n_params",
    [
        ("akada-rule", 22_440),
        ("akada-stacking", 22_571),
        ("akada-multimodal", 23_019),
        ("resnet", 137_481),
        ("multiexit", 57_923),
    ],
)
def test_shapes_and_parameters(arch, n_params):
    """Output shapes and the parameter counts given in the documentation."""
    n_classes = n_classes_of(arch)
    net = ARCHITECTURES[arch](2, n_classes)
    if arch == "resnet":  # the count its docstring gives
        assert f"{n_params:,}" in type(net).__doc__
    # 5 classes for all but Akada (3): the count for 2 channels.
    assert sum(p.numel() for p in net.parameters()) == n_params
    x = torch.randn(5, 2, 1920)
    for mode in (net.train, net.eval):
        mode()
        with torch.no_grad():
            out = net(x)
        assert out.shape == (5, n_classes)
        np.testing.assert_allclose(out.exp().sum(1).numpy(), 1, rtol=1e-5)
    if arch != "multiexit":  # feature maps: one average per 10-s epoch
        return
    with torch.no_grad():
        exits = net.forward_exits(x)
    assert [e.shape for e in exits] == [(5, n_classes)] * 3


@pytest.mark.parametrize("arch", NEW)
def test_few_training_steps_lower_the_loss(arch, windows):
    x, y = windows
    n_classes = n_classes_of(arch)
    if n_classes == 3:  # Wake, REM, NREM; pre-REM as NREM, artifact dropped
        keep = y < 4
        x, y = x[keep], np.where(y[keep] == 3, 2, y[keep])
    y = torch.from_numpy(y)
    torch.manual_seed(0)
    net = ARCHITECTURES[arch](2, n_classes, dropout=0.0)
    loss_of = getattr(net, "training_loss", None) or (
        lambda a, b: F.nll_loss(net(a), b)
    )
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sub = torch.randperm(len(y))[:64]
    losses = []
    for _ in range(20):
        net.train()
        opt.zero_grad()
        loss = loss_of(x[sub], y[sub])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])


@pytest.mark.slow
@pytest.mark.parametrize("arch", NEW)
def test_train_save_load_score(arch, mice_raws, tmp_path):
    """Train through the pipeline, save, load, score through score()."""
    model = mms.train(
        mice_raws,
        architecture=arch,
        n_classes=n_classes_of(arch),
        mice=MICE,
        split=SPLIT,
        name=f"tiny-{arch}",
        **TINY,
    )
    assert model.card.architecture == arch
    assert model.card.citation and "test kappa" in model.card.metrics
    if arch.startswith("akada"):
        stages = set(model.history["stage"])
        assert stages >= {
            "EMG sub-network (Wake vs sleep)",
            "EEG sub-network (REM vs NREM)",
        }
    fname = tmp_path / "model.pt"
    model.save(fname)
    loaded = mms.load_model(fname)
    assert loaded.card.architecture == arch
    assert loaded.n_parameters == model.n_parameters
    raw = mice_raws[3]
    a = mms.predict_proba(raw, PICKS, model=model)
    b = mms.predict_proba(raw, PICKS, model=fname)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert list(a.columns) == list(model.classes)
    annot = mms.score(raw, PICKS, model=loaded)
    assert len(annot) == len(a)
    assert set(annot.description) <= set(mms.ANNOTATION_DESCRIPTIONS.values())


@pytest.mark.slow
def test_akada_integrations(mice_raws):
    rule = mms.train(
        mice_raws, architecture="akada-rule", n_classes=3, mice=MICE, split=SPLIT,
        **TINY,
    )  # fmt: skip
    net = rule._network
    x = torch.randn(4, 2, 1920)
    with torch.no_grad():
        eeg, emg = net.eeg(x).exp(), net.emg(x).exp()
        expected = torch.stack(
            [emg[:, 0], emg[:, 1] * eeg[:, 0], emg[:, 1] * eeg[:, 1]], 1
        )
        np.testing.assert_allclose(net(x).exp().numpy(), expected.numpy(), rtol=1e-5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    # Stacking on the rule's sub-networks: only the stacker is trained.
    stack = mms.train(
        mice_raws, architecture="akada-stacking", init=rule, n_classes=3,
        mice=MICE, split=SPLIT, **TINY,
    )  # fmt: skip
    assert set(stack.history["stage"]) == {"stacking"}
    assert "fine-tuned from" in stack.card.training
    state = stack._network.state_dict()
    for key, value in before.items():  # sub-networks, BN statistics included
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    assert any(k.startswith("stacker.") for k in state)
    # Multimodal: fine-tuned end to end, the sub-networks' features change.
    multi = mms.train(
        mice_raws, architecture="akada-multimodal", init=rule, n_classes=3,
        mice=MICE, split=SPLIT, **TINY,
    )  # fmt: skip
    state = multi._network.state_dict()
    changed = [
        k
        for k in before
        if ".feature_extractor." in k and not torch.equal(state[k], before[k])
    ]
    assert any(k.startswith("eeg.") for k in changed)
    assert any(k.startswith("emg.") for k in changed)
    # The rule itself was not modified by either.
    for key, value in before.items():
        torch.testing.assert_close(net.state_dict()[key], value, rtol=0, atol=0)


def test_akada_errors(mice_raws):
    with pytest.raises(ValueError, match="score 3 classes"):
        mms.train(mice_raws, architecture="akada-rule", n_classes=5, mice=MICE,
                  split=SPLIT, **TINY)  # fmt: skip
    with pytest.raises(ValueError, match="EMG channel last"):
        mms.train(mice_raws, architecture="akada-rule", n_classes=3, mice=MICE,
                  split=SPLIT, **{**TINY, "picks": "EEG_PR"})  # fmt: skip
    with pytest.raises(ValueError, match="freeze_features"):
        mms.train(mice_raws, architecture="akada-rule", n_classes=3, mice=MICE,
                  split=SPLIT, freeze_features=True, **TINY)  # fmt: skip
    resnet = mms.train(mice_raws, architecture="resnet", n_classes=3, mice=MICE,
                       split=SPLIT, **TINY)  # fmt: skip
    with pytest.raises(ValueError, match="both are Akada integrations"):
        mms.train(mice_raws, architecture="akada-stacking", init=resnet,
                  n_classes=3, mice=MICE, split=SPLIT, **TINY)  # fmt: skip
    with pytest.raises(ValueError, match="Invalid value for the 'architecture'"):
        mms.train(mice_raws, architecture="slumber", n_classes=3, mice=MICE,
                  split=SPLIT, **TINY)  # fmt: skip


def test_multiexit_adaptive_inference(windows):
    x, _ = windows
    torch.manual_seed(1)
    net = ARCHITECTURES["multiexit"](2, 5).eval()
    with torch.no_grad():
        # Untrained exits are all near-uniform; sharper first two exits give
        # entropies that differ between windows.
        for head in net.classifier[:2]:
            head[3].weight.mul_(300)
        exits = net.forward_exits(x)
        h = [normalised_entropy(e) for e in exits]
        assert all(((v >= 0) & (v <= 1 + 1e-6)).all() for v in h)
        net.exit_threshold.fill_(0.0)  # never early: the whole network
        np.testing.assert_allclose(net(x).numpy(), exits[2].numpy(), atol=1e-5)
        assert (net.last_exits == 2).all()
        net.exit_threshold.fill_(1.0)  # all leave at the first exit
        np.testing.assert_allclose(net(x).numpy(), exits[0].numpy(), atol=1e-5)
        assert (net.last_exits == 0).all()
        # In between: each window leaves at its first confident exit; take a
        # threshold where some windows leave at each of the three exits.
        h0, h1 = h[0].numpy(), h[1].numpy()

        def expected_exits(thr):
            return np.where(h0 < thr, 0, np.where(h1 < thr, 1, 2))

        thr = next(
            t for t in np.sort(np.r_[h0, h1]) if len(np.unique(expected_exits(t))) == 3
        )
        net.exit_threshold.fill_(float(thr))
        out, where = net(x).numpy(), net.last_exits.numpy()
    np.testing.assert_array_equal(where, expected_exits(thr))
    for ii in range(3):
        np.testing.assert_allclose(
            out[where == ii], exits[ii].numpy()[where == ii], atol=1e-5
        )
    # Joint training: the mean of the three exits' losses.
    y = torch.zeros(len(x), dtype=torch.long)
    with torch.no_grad():  # in evaluation mode: no dropout, deterministic
        loss = net.training_loss(x, y)
        mean = sum(F.nll_loss(e, y) for e in net.forward_exits(x)) / 3
    torch.testing.assert_close(loss, mean)


@pytest.mark.slow
def test_multiexit_threshold_in_model(mice_raws, tmp_path):
    model = mms.train(
        mice_raws, architecture="multiexit", n_classes=5, mice=MICE, split=SPLIT,
        **TINY,
    )  # fmt: skip
    assert model.exit_threshold == 0.0
    raw = mice_raws[0]
    full = mms.predict_proba(raw, PICKS, model=model)
    assert full.attrs["exit_fractions"] == [0.0, 0.0, 1.0]
    model.exit_threshold = 1.0
    early = mms.predict_proba(raw, PICKS, model=model)
    assert early.attrs["exit_fractions"][0] > 0.99
    assert not np.allclose(early.iloc[1:-1], full.iloc[1:-1])
    model.exit_threshold = 0.4
    model.save(tmp_path / "m.pt")
    assert mms.load_model(tmp_path / "m.pt").exit_threshold == pytest.approx(0.4)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        model.exit_threshold = 1.5
    other = mms.train(
        mice_raws, architecture="resnet", n_classes=5, mice=MICE, split=SPLIT, **TINY
    )
    assert other.exit_threshold is None
    with pytest.raises(ValueError, match="multi-exit networks"):
        other.exit_threshold = 0.2


@pytest.mark.slow
def test_cross_validate(mice_raws):
    raws = mice_raws + [simulate_recording(600.0, 128.0, seed=20)]
    mice = MICE + ["E"]
    results, models = mms.cross_validate(
        raws, n_folds=3, n_classes=3, mice=mice, architecture="resnet",
        **{k: v for k, v in TINY.items() if k != "picks"}, picks=PICKS,
    )  # fmt: skip
    folds = results.loc[[1, 2, 3]]
    assert list(results.index) == [1, 2, 3, "mean", "std"]
    test_mice = [set(s.split(", ")) for s in folds["test mice"]]
    assert set().union(*test_mice) == set(mice)  # every mouse tested once
    assert sum(len(s) for s in test_mice) == len(mice)
    for tested, val in zip(test_mice, folds["validation mice"]):
        assert not tested & set(val.split(", "))
    for model, (_, row) in zip(models, folds.iterrows()):
        assert model.card.metrics["test mean F1"] == row["mean F1"]
        assert set(model.card.details["split"]["test"]) == set(
            row["test mice"].split(", ")
        )
    np.testing.assert_allclose(
        results.loc["mean", "kappa"], folds["kappa"].astype(float).mean()
    )
    with pytest.raises(ValueError, match="n_folds"):
        mms.cross_validate(raws, n_folds=4, mice=mice, **TINY)
    with pytest.raises(TypeError, match="split"):
        mms.cross_validate(raws, n_folds=3, mice=mice, split=SPLIT, **TINY)


def test_published_four_channel_model(online):
    """The registry's EEG x3 + EMG model on a recording with those channels."""
    channels = ("EEG_FR", "EEG_PR", "EEG_PL", "EMG")
    raw = simulate_recording(1800.0, 256.0, ch_names=channels, seed=5)
    proba = mms.predict_proba(raw, model="grieger2021-3stage-eeg3-emg")
    assert proba.attrs["ch_names"] == list(channels)
    assert list(proba.columns) == ["Wake", "REM", "NREM"]
    result = mms.evaluate(mms.to_stages(raw.annotations), proba, n_stages=3)
    assert result.n_epochs > 150


def test_cli_knows_every_architecture():
    from mne_mousesleep.cli import _ARCHITECTURES

    assert _ARCHITECTURES == tuple(ARCHITECTURES)


@pytest.mark.slow
def test_cross_validate_failed_fold_and_dask(mice_raws, monkeypatch, dask_cluster):
    """A fold's failure keeps the others; folds on a Dask cluster alike."""
    from mne_mousesleep.training import _cross_validate as training

    raws = mice_raws + [simulate_recording(600.0, 128.0, seed=20)]
    mice = MICE + ["E"]
    settings = dict(n_folds=3, n_classes=3, mice=mice, architecture="3conv_pool")
    settings.update({k: v for k, v in TINY.items() if k != "picks"}, picks=PICKS)
    serial, _ = mms.cross_validate(raws, **settings)
    real = training._train

    def flaky(data, settings):
        if settings.name.endswith("fold2"):
            raise RuntimeError("out of memory")
        return real(data, settings)

    monkeypatch.setattr(training, "_train", flaky)
    results, models = mms.cross_validate(raws, **settings)
    assert models[1] is None and models[0] is not None and models[2] is not None
    assert results.loc[2, "error"] == "RuntimeError: out of memory"
    assert np.isnan(results.loc[2, "mean F1"])
    assert results.loc[1, "mean F1"] == serial.loc[1, "mean F1"]
    np.testing.assert_allclose(
        results.loc["mean", "mean F1"], serial.loc[[1, 3], "mean F1"].mean()
    )
    monkeypatch.setattr(training, "_train", real)
    _, client = dask_cluster  # worker processes: a torch random state each
    on_dask, dask_models = mms.cross_validate(raws, client=client, **settings)
    assert list(on_dask["error"]) == [""] * 5
    # Seeded folds give on the cluster what they give here.
    np.testing.assert_allclose(
        on_dask.loc[[1, 2, 3], "mean F1"].astype(float),
        serial.loc[[1, 2, 3], "mean F1"].astype(float),
    )
    assert all(m is not None for m in dask_models)
