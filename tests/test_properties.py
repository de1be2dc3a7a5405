"""Property test: any small Raw either scores with reasons or fails clearly.

Random rates, lengths, channels, NaN/Inf/flat/huge/dead stretches of any
length (up to the whole recording), annotations,
units and picks go through :func:`mne_mousesleep.predict_proba`. Every
outcome must be a ``TypeError``/``ValueError`` naming the problem, or a
scoring in which every unscored epoch has a recorded reason (and no scored
epoch has one), whose probabilities sum to 1, and which left the Raw as it
was. ``HYPOTHESIS_PROFILE=long`` runs thousands of examples
(``MNE_MOUSESLEEP_PROPERTY_EXAMPLES`` of them, default 3000).
"""

import os
from datetime import datetime, timezone

import mne
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mne_mousesleep as mms

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("MNE_MOUSESLEEP_PROPERTY_EXAMPLES", 3000)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

NAMES = ("EEG_PR", "EMG", "EEG_FR", "EEG_PL")
KINDS = ("nan", "inf", "-inf", "flat", "huge", "zero", "spike", "dead", "quiet")

stretch = st.tuples(
    st.sampled_from(KINDS),
    st.floats(0, 1),  # start, as a fraction of the recording
    st.floats(0, 1),  # length, as a fraction (up to all of it)
    st.integers(0, 3),  # channel
)
annotation = st.tuples(
    st.sampled_from(["BAD_cable", "BAD_ACQ_SKIP", "note", "BAD_artifact", "bad x"]),
    st.floats(-10, 400),
    st.floats(0, 200),
)
recording = st.fixed_dictionaries(
    dict(
        sfreq=st.sampled_from([50.0, 64.0, 100.0, 128.0, 200.5, 256.0, 305.0, 1000.0]),
        duration=st.sampled_from([5.0, 29.0, 30.0, 31.5, 45.0, 60.0, 125.0, 300.0]),
        n_channels=st.integers(1, 4),
        scale=st.sampled_from([1e-4, 1e-4, 1e-4, 3e-3, 0.1, 100.0, 1e-9]),
        stretches=st.lists(stretch, max_size=3),
        annotations=st.lists(annotation, max_size=3),
        picks=st.sampled_from(
            [None, "EEG_PR", 0, 1, 7, -1, ["EEG_PR", "EMG"], "eeg", "EEG_X"]
        ),
        first_samp=st.sampled_from([0, 10000]),
        meas_date=st.sampled_from([None, datetime(2024, 1, 1, tzinfo=timezone.utc)]),
        bads=st.booleans(),
        check_units=st.booleans(),
        reject=st.booleans(),
        seed=st.integers(0, 2**16),
    )
)


def _make(spec):
    rng = np.random.default_rng(spec["seed"])
    sfreq, n_ch = spec["sfreq"], spec["n_channels"]
    n = int(spec["duration"] * sfreq)
    data = spec["scale"] * rng.standard_normal((n_ch, n))
    for kind, start, length, ch in spec["stretches"]:
        ch %= n_ch
        i0 = int(start * n)
        i1 = min(n, i0 + max(1, int(length * n)))
        if kind == "nan":
            data[ch, i0:i1] = np.nan
        elif kind in ("inf", "-inf"):
            data[ch, i0:i1] = float(kind)
        elif kind == "flat":
            data[ch, i0:i1] = data[ch, i0 - 1] if i0 else 0.0
        elif kind == "huge":
            data[ch, i0:i1] = 1e200
        elif kind == "zero":
            data[ch, i0:i1] = 0.0
        elif kind == "spike" and i0 < n:
            data[ch, i0] = 1e30
        elif kind == "dead":  # an electrode off: the amplifier's floor
            data[ch, i0:i1] = 0.5e-6 * rng.standard_normal(i1 - i0)
        elif kind == "quiet":  # a thousand times below the rest
            data[ch, i0:i1] *= 1e-3
    info = mne.create_info(list(NAMES[:n_ch]), sfreq, "eeg")
    raw = mne.io.RawArray(data, info, first_samp=spec["first_samp"], verbose=False)
    raw.set_meas_date(spec["meas_date"])
    if spec["annotations"]:
        offset = raw.first_time if spec["meas_date"] is not None else 0.0
        raw.set_annotations(
            mne.Annotations(
                [a[1] + offset for a in spec["annotations"]],
                [a[2] for a in spec["annotations"]],
                [a[0] for a in spec["annotations"]],
                orig_time=spec["meas_date"],
            ),
            verbose="error",  # annotations beyond the data are cut, silently
        )
    if spec["bads"]:
        raw.info["bads"] = [NAMES[0]]
    return raw


@pytest.fixture(scope="module")
def model(shared_dir):
    """The published 5-stage network from its local file (no download)."""
    return mms.load_model(
        shared_dir / "weights" / "grieger2021_exp005e_model_3conv_pool-best.pth"
    )


@pytest.fixture(scope="module")
def outcomes():
    """Counts of both outcomes; the random inputs must reach each of them."""
    counts = {"scored": 0, "refused": 0}
    yield counts
    print(f"\nproperty test outcomes: {counts}")
    out = os.environ.get("MNE_MOUSESLEEP_PROPERTY_COUNTS")
    if out:  # for the notes of long runs
        with open(out, "a") as fid:
            fid.write(f"{counts}\n")
    assert counts["scored"] > 0 and counts["refused"] > 0, counts


@given(spec=recording)
def test_every_outcome_is_explained(model, outcomes, spec):
    raw = _make(spec)
    before = raw.get_data()
    annotations = raw.annotations.copy()
    with mne.utils.use_log_level("error"):
        try:
            proba = mms.predict_proba(
                raw,
                spec["picks"],
                model=model,
                check_units=spec["check_units"],
                reject_by_annotation=spec["reject"],
                verbose="error",
            )
        except (TypeError, ValueError) as err:
            message = str(err)
            assert len(message) > 30, message
            assert "Traceback" not in message
            outcomes["refused"] += 1
            proba = None
    np.testing.assert_array_equal(raw.get_data(), before)  # never mutated
    assert raw.annotations == annotations
    if proba is None:
        return
    outcomes["scored"] += 1
    quality = proba.attrs["quality"]
    unscored = proba.isna().any(axis=1).to_numpy()
    # A row is either fully scored or fully NaN.
    assert (proba.isna().all(axis=1).to_numpy() == unscored).all()
    reasons = dict((onset, why) for onset, why in quality["unscored_epochs"])
    assert sorted(reasons) == list(proba.index[unscored])
    assert all(reasons.values())
    assert quality["n_unscored"] == unscored.sum() < len(proba)
    np.testing.assert_allclose(proba[~unscored].sum(axis=1), 1.0, atol=1e-4)
    assert np.isfinite(proba[~unscored].to_numpy()).all()
    annot = mms.to_annotations(proba)
    assert (np.array(annot.description) == "Sleep stage ?").sum() == unscored.sum()
