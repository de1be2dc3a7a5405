"""Bad input: partial data scored, the rest unscored with a reason, units."""

import json
from datetime import datetime, timezone

import mne
import numpy as np
import pytest

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.scoring.check import EXTREME, FLAT, NO_CONTEXT, NONFINITE
from mne_mousesleep.scoring.quality import describe_quality

SFREQ = 256.0

#: The published method: the quality checks are tested on it alone.
PUBLISHED = dict(adapt=None, emg=None, smooth=None, precision="float32")


@pytest.fixture
def clean(online):
    """A simulated 30-min recording and its probabilities."""
    raw = simulate_recording(1800.0, SFREQ, seed=0)
    return raw, mms.predict_proba(raw, picks="EEG_PR", **PUBLISHED)


def _unscored(proba):
    return list(np.flatnonzero(proba.isna().any(axis=1).to_numpy()))


def _assert_rest_as_clean(proba, reference):
    both = ~(proba.isna().any(axis=1) | reference.isna().any(axis=1)).to_numpy()
    np.testing.assert_allclose(
        proba.to_numpy()[both], reference.to_numpy()[both], rtol=0, atol=1e-6
    )


def _damage(raw, kind, start=603.0, stop=607.0):
    raw = raw.copy().load_data()
    ch = raw.ch_names.index("EEG_PR")
    i0, i1 = int(start * SFREQ), int(stop * SFREQ)
    data = raw._data  # the copy's own array
    if kind == "nan":
        data[ch, i0:i1] = np.nan
    elif kind == "inf":
        data[ch, i0 + 5] = -np.inf
    elif kind == "huge":
        data[ch, i0 + 5] = 1e200
    elif kind == "flat":
        data[ch, i0:i1] = data[ch, i0]
    elif kind == "clipped":
        data[ch, i0:i1] = np.clip(data[ch, i0:i1], -2e-5, 2e-5)
        data[ch, i0:i1] = 2e-5  # at the rail
    return raw


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("nan", NONFINITE),
        ("inf", NONFINITE),
        ("huge", EXTREME),
        ("flat", FLAT),
        ("clipped", FLAT),
    ],
)
def test_bad_stretch_leaves_touched_epochs_unscored(clean, kind, reason):
    """Only the epochs whose 30-s window touches the stretch lose their score."""
    raw, reference = clean
    damaged = _damage(raw, kind)
    proba = mms.predict_proba(damaged, picks="EEG_PR", **PUBLISHED)
    last = len(reference) - 1
    # 603-607 s lies in epoch 60: the windows of epochs 59, 60 and 61.
    assert _unscored(proba) == [0, 59, 60, 61, last]
    _assert_rest_as_clean(proba, reference)
    quality = proba.attrs["quality"]
    assert quality["unscored_reasons"] == {
        NO_CONTEXT: 2,
        f"{reason} (EEG_PR)": 3,
    }
    assert quality["n_unscored"] == 5 and quality["n_epochs"] == len(reference)
    epochs = dict((onset, why) for onset, why in quality["unscored_epochs"])
    assert epochs[600.0] == f"{reason} (EEG_PR)" and epochs[0.0] == NO_CONTEXT
    (segment,) = quality["bad_segments"]
    assert segment["reason"] == reason and segment["channel"] == "EEG_PR"
    assert 603.0 <= segment["onset"] < 607.0
    assert segment["onset"] + segment["duration"] <= 607.0 + 1 / SFREQ
    # The annotations say unscored there; nothing else changes.
    annot = mms.to_annotations(proba)
    assert annot.description[60] == "Sleep stage ?"
    assert reason in describe_quality(quality)
    json.dumps(quality)  # the record is JSON-ready (sidecar)


def test_stretch_near_epoch_edge_reaches_next_window(clean):
    """The filter's reach (a fraction of a second) counts as touching."""
    raw, reference = clean
    proba = mms.predict_proba(
        _damage(raw, "nan", 603.0, 609.9), picks="EEG_PR", **PUBLISHED
    )
    assert _unscored(proba) == [0, 59, 60, 61, 62, len(reference) - 1]
    _assert_rest_as_clean(proba, reference)


def test_stretches_across_chunks_and_long_recordings(online):
    """A flat stretch that crosses a chunk edge (10 min) is found whole."""
    raw = simulate_recording(1800.0, 128.0, seed=3)
    raw.load_data()
    ch = raw.ch_names.index("EEG_PR")
    i0, i1 = int(599.4 * 128), int(600.5 * 128)  # 1.1 s across 600 s
    raw._data[ch, i0:i1] = 0.0
    proba = mms.predict_proba(raw, picks="EEG_PR", **PUBLISHED)
    (segment,) = proba.attrs["quality"]["bad_segments"]
    assert segment["reason"] == FLAT
    assert segment["onset"] == pytest.approx(599.4, abs=0.02)
    assert segment["duration"] == pytest.approx(1.1, abs=0.02)
    assert [k for k in _unscored(proba) if 0 < k < len(proba) - 1] == [
        58,
        59,
        60,
        61,
    ]


@pytest.mark.parametrize("meas_date", [None, datetime(2024, 3, 1, tzinfo=timezone.utc)])
@pytest.mark.parametrize("first_samp", [0, 10000])
def test_bad_annotations_respected(clean, meas_date, first_samp):
    """BAD_* annotations (MNE's convention) leave their epochs unscored."""
    raw, reference = clean
    data = raw.get_data()
    moved = mne.io.RawArray(data, raw.info.copy(), first_samp=first_samp)
    moved.set_meas_date(meas_date)
    orig = None if meas_date is None else meas_date
    offset = moved.first_time if meas_date is not None else 0.0
    moved.set_annotations(
        mne.Annotations(
            [603.0 + offset, 1000.0 + offset, 1200.0 + offset],
            [4.0, 5.0, 10.0],
            ["BAD_cable", "note", "BAD_other_channel"],
            orig_time=orig,
            ch_names=[[], [], ["EMG"]],
        )
    )
    proba = mms.predict_proba(moved, picks="EEG_PR", **PUBLISHED)
    # The note and the annotation of another channel change nothing.
    assert _unscored(proba) == [0, 59, 60, 61, len(reference) - 1]
    assert proba.attrs["quality"]["unscored_reasons"]["BAD_cable annotation"] == 3
    _assert_rest_as_clean(proba, reference)
    ignored = mms.predict_proba(
        moved, picks="EEG_PR", **PUBLISHED, reject_by_annotation=False
    )
    assert _unscored(ignored) == [0, len(reference) - 1]
    _assert_rest_as_clean(ignored, reference)


def test_stage_annotations_are_not_bad_data(clean):
    """An expert's artifact label (BAD_artifact) is a stage, not bad data."""
    raw, reference = clean
    scored = raw.copy()
    scored.set_annotations(mms.score(raw, picks="EEG_PR", **PUBLISHED))
    proba = mms.predict_proba(scored, picks="EEG_PR", **PUBLISHED)
    assert _unscored(proba) == [0, len(reference) - 1]


def test_nothing_scorable_is_refused_with_reason(clean):
    raw, _ = clean
    flat = raw.copy().load_data()
    flat._data[flat.ch_names.index("EEG_PR")] = 1e-5
    with pytest.raises(ValueError, match=r"flat channel EEG_PR \(constant from 0 s"):
        mms.predict_proba(flat, picks="EEG_PR", **PUBLISHED)
    holes = raw.copy().load_data()
    holes._data[holes.ch_names.index("EEG_PR"), ::512] = np.nan  # every 2 s
    level = mne.utils.logger.level
    with pytest.raises(ValueError, match="Nothing to score.*NaN or infinite"):
        mms.score(holes, picks="EEG_PR", **PUBLISHED)
    assert mne.utils.logger.level == level  # MNE's global log level untouched


@pytest.mark.parametrize(
    "factor, unit, fix", [(1e6, "microvolts", "1e-6"), (1e3, "millivolts", "1e-3")]
)
def test_unit_errors_refused_unless_asked(clean, factor, unit, fix):
    """Amplitudes off by orders of magnitude name the likely unit and the fix."""
    raw, _ = clean
    wrong = raw.copy().load_data()
    wrong._data *= factor  # e.g. microvolts stored as volts
    with pytest.raises(ValueError, match=f"look like {unit} stored as volts.*{fix}"):
        mms.predict_proba(wrong, picks="EEG_PR", **PUBLISHED)
    with pytest.warns(RuntimeWarning, match=unit):
        proba = mms.predict_proba(wrong, picks="EEG_PR", **PUBLISHED, check_units=False)
    assert unit in proba.attrs["quality"]["likely_unit_error"]
    assert proba.attrs["quality"]["amplitude_mv"]["EEG_PR"] > 10


def test_record_survives_silenced_logging(clean):
    """verbose="error" hides messages, never the record."""
    raw, _ = clean
    weak = raw.copy().load_data()
    weak._data *= 0.05
    proba = mms.predict_proba(weak, picks="EEG_PR", **PUBLISHED, verbose="error")
    quality = proba.attrs["quality"]
    assert any("far from the training data" in w for w in quality["warnings"])
    assert quality["amplitude_mv"]["EEG_PR"] < 0.01


def test_picks_errors_and_bad_channels(clean):
    raw, _ = clean
    with pytest.raises(ValueError, match="picks=5 does not match"):
        mms.predict_proba(raw, picks=5)
    with pytest.raises(ValueError, match=r"picks=\[-9\] does not match"):
        mms.predict_proba(raw, picks=[-9])
    marked = raw.copy()
    marked.info["bads"] = ["EEG_PR"]
    with pytest.warns(RuntimeWarning, match="marked bad"):
        proba = mms.predict_proba(marked, picks="EEG_PR", **PUBLISHED)
    assert (
        "channel EEG_PR is marked bad in info['bads'] but was picked"
        in (proba.attrs["quality"]["warnings"])
    )


def test_caller_raw_not_modified(clean):
    raw, _ = clean
    damaged = _damage(raw, "nan")
    before = damaged.get_data()
    annotations = damaged.annotations.copy()
    mms.predict_proba(damaged, picks="EEG_PR", **PUBLISHED)
    np.testing.assert_array_equal(damaged.get_data(), before)  # NaN kept
    assert damaged.annotations == annotations


def test_training_skips_bad_epochs(online):
    """train() does not learn from epochs whose window touches bad data."""
    from mne_mousesleep.models import get_model_card
    from mne_mousesleep.training._data import _load

    raw = simulate_recording(600.0, 128.0, seed=1)
    raw.load_data()
    raw._data[raw.ch_names.index("EEG_PR"), int(303 * 128) : int(305 * 128)] = np.nan
    card = get_model_card("grieger2021-5stage")
    (rec,) = _load([raw], "EEG_PR", None, card.classes, None, card)
    assert (rec.labels[29:32] == -1).all()
    assert (rec.labels[[28, 32]] >= 0).all()
    assert np.isfinite(rec.x).all()


def test_progress_for_long_recordings(online, capsys):
    """An hour or more: progress bars while reading and while classifying."""
    raw = simulate_recording(3600.0, 128.0, seed=2)
    mms.predict_proba(raw, picks="EEG_PR", **PUBLISHED, verbose="info")
    err = capsys.readouterr().err
    assert "Reading and filtering" in err and "Classifying epochs" in err
    short = simulate_recording(600.0, 128.0, seed=2)
    mms.predict_proba(short, picks="EEG_PR", **PUBLISHED, verbose="info")
    assert "Classifying epochs" not in capsys.readouterr().err


def test_amplitude_ratio_recorded(clean):
    raw, proba = clean
    quality = proba.attrs["quality"]
    ratio = quality["amplitude_ratio"]["EEG_PR"]
    assert ratio == pytest.approx(quality["amplitude_mv"]["EEG_PR"] / 0.1)
    assert quality["sfreq"] == SFREQ and quality["model_sfreq"] == 64.0
