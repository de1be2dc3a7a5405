"""Architecture, registry, model cards and safe checkpoint loading."""

import os
import shutil

import numpy as np
import pytest
import torch

import mne_mousesleep as mms
from mne_mousesleep.models.grieger2021 import _ThreeConvPool

EXPECTED_KEYS = (
    {
        f"feature_extractor.{ii}.{p}"
        for ii in (0, 4, 8, 12)
        for p in (
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "num_batches_tracked",
        )
    }
    | {
        f"{m}.{p}"
        for m in ("feature_extractor.2", "feature_extractor.6", "feature_extractor.10")
        for p in ("weight", "bias")
    }
    | {"classifier.1.weight", "classifier.1.bias"}
)


@pytest.mark.parametrize(
    "n_channels, n_classes, n_params",
    [(1, 5, 266_631), (1, 3, 265_861), (4, 3, 268_939)],
)
def test_three_conv_pool_shapes_and_parameters(n_channels, n_classes, n_params):
    net = _ThreeConvPool(n_channels, n_classes).eval()
    assert sum(p.numel() for p in net.parameters()) == n_params
    assert set(net.state_dict()) == EXPECTED_KEYS
    x = torch.randn(6, n_channels, 1920)
    with torch.no_grad():
        features = net.feature_extractor(x)
        out = net(x)
    assert features.shape == (6, 384)  # one 128-vector per 10-s epoch
    assert out.shape == (6, n_classes)
    np.testing.assert_allclose(out.exp().sum(-1).numpy(), 1, rtol=1e-5)


def test_registry_and_cards():
    names = mms.list_models()
    assert names[0] == "grieger2021-5stage"
    assert set(names) == {
        "grieger2021-5stage",
        "grieger2021-5stage-balanced",
        "grieger2021-3stage",
        "grieger2021-3stage-balanced",
        "grieger2021-3stage-eeg3-emg",
    }
    card = mms.get_model_card("grieger2021-5stage")
    assert card.classes == ("Wake", "REM", "NREM", "pre-REM", "artifact")
    assert (card.sfreq, card.epoch_length, card.n_context) == (64.0, 10.0, 1)
    assert card.input_unit == "mV"
    assert card.license == "Apache-2.0"
    assert "10.1038/s41598-021-91286-0" in card.citation
    assert card.metrics["test mean F1"] == 0.779
    assert "95208c327b06284658afe17bb3f4e95778f3f943/results/exp005e" in card.source
    multi = mms.get_model_card("grieger2021-3stage-eeg3-emg")
    assert multi.default_ch_names == ("EEG_FR", "EEG_PR", "EEG_PL", "EMG")
    assert multi.classes == ("Wake", "REM", "NREM")
    text = str(card)
    assert "Wake, REM, NREM, pre-REM, artifact" in text and "Apache-2.0" in text
    assert repr(card) == "<ModelCard | grieger2021-5stage, 5 classes, 1 channel, 64 Hz>"
    assert card.to_dict()["classes"][3] == "pre-REM"
    with pytest.raises(ValueError, match="model must be one of"):
        mms.get_model_card("grieger2022")


@pytest.mark.parametrize("name", mms.list_models())
def test_load_published_models(online, name):
    model = mms.load_model(name)
    card = mms.get_model_card(name)
    assert model.card is card
    assert repr(model) == f"<MouseSleepModel | {name}, {card.n_classes} classes, 64 Hz>"
    assert model._network.feature_extractor[0].num_features == card.n_channels
    assert not model._network.training


def test_load_model_bad_input(tmp_path):
    with pytest.raises(TypeError, match="model must be"):
        mms.load_model(3)
    with pytest.raises(ValueError, match="no such file"):
        mms.load_model(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a compatible checkpoint: not a read"):
        mms.load_model(junk)
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"a": torch.zeros(1)}}, other)
    with pytest.raises(ValueError, match="not a compatible checkpoint.*3conv_pool"):
        mms.load_model(other)
    four = tmp_path / "four.pth"
    torch.save(_ThreeConvPool(1, 4).state_dict(), four)
    with pytest.raises(ValueError, match="4 output classes"):
        mms.load_model(four)


class _Payload:
    """Unpickling this would create a file: weights_only must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_checkpoint_with_code_is_rejected(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    state = _ThreeConvPool(1, 3).state_dict()
    torch.save({"state_dict": state, "payload": _Payload(str(marker))}, evil)
    with pytest.raises(ValueError, match="refused because loading them can run code"):
        mms.load_model(evil)
    assert not marker.exists()
    try:
        mms.load_model(evil)
    except ValueError as err:  # torch's hint to disable the safety is not passed on
        assert "weights_only=False" not in str(err)


def _saved(tmp_path, name, change):
    """A valid mne-mousesleep/1 file of a 5-class model, changed by ``change``."""
    from mne_mousesleep.models._card import ModelCard
    from mne_mousesleep.models._loader import _FORMAT

    card = ModelCard(
        name="lab",
        classes=("Wake", "REM", "NREM", "pre-REM", "artifact"),
        channels=("parietal EEG",),
    ).to_dict()
    saved = dict(
        format=_FORMAT,
        architecture="3conv_pool",
        n_channels=1,
        n_classes=5,
        state_dict=_ThreeConvPool(1, 5).state_dict(),
        card=card,
    )
    change(saved)
    path = tmp_path / f"{name}.pt"
    torch.save(saved, path)
    return path


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda c: c.pop("card"), "missing card"),
        (lambda c: c.update(state_dict={"x": torch.zeros(2)}), "do not fit"),
        (
            lambda c: c["card"].update(colour="blue"),
            r"unknown model card field.*colour",
        ),
        (
            lambda c: c["card"].update(classes=[f"c{i}" for i in range(7)]),
            "7 classes for a 5-class head",
        ),
        (lambda c: c["card"].update(sfreq=-64.0), "sfreq must be a positive"),
        (lambda c: c.update(architecture="transformer"), "unknown architecture"),
        (lambda c: c.update(format="mne-mousesleep/9"), "unknown format"),
    ],
)
def test_malformed_checkpoints_say_why(tmp_path, change, reason):
    good = mms.load_model(_saved(tmp_path, "good", lambda c: None))
    assert good.card.n_classes == 5
    path = _saved(tmp_path, "bad", change)
    with pytest.raises(ValueError, match=f"not a compatible checkpoint: .*{reason}"):
        mms.load_model(path)


def test_empty_checkpoint(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="compatible checkpoint: the file is empty"):
        mms.load_model(empty)


def test_local_checkpoint_skips_network(shared_dir, tmp_path, monkeypatch, misleep_raw):
    """A local path loads without any download; published copies keep their card."""
    monkeypatch.setenv("MNE_MOUSESLEEP_MIRROR", "http://127.0.0.1:9")  # closed port
    src = shared_dir / "weights" / "grieger2021_exp005f_model_3conv_pool-best.pth"
    local = tmp_path / "my_copy.pth"
    shutil.copyfile(src, local)
    model = mms.load_model(local)
    assert model.name == "grieger2021-3stage"
    assert model.card.source == str(local)
    # Re-saved weights are a different file: generic card, same predictions.
    resaved = tmp_path / "resaved.pth"
    torch.save({"state_dict": model._network.state_dict()}, resaved)
    other = mms.load_model(resaved)
    assert other.name == "resaved.pth"
    assert other.classes == ("Wake", "REM", "NREM")
    # (The re-saved file has no gain model: compared on the published path.)
    a = mms.predict_proba(misleep_raw, model=model, adapt=None, smooth=None)
    b = mms.predict_proba(misleep_raw, model=str(resaved), adapt=None, smooth=None)
    assert b.attrs["adapt"] == dict(applied=False, reason="adapt=None")
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert b.attrs["model"] == "resaved.pth"
