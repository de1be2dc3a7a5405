"""A dead or disconnected electrode costs its own stretch, never the good part.

An electrode that comes off leaves the amplifier's floor (0.3-1 µV of noise)
or a flat line. Those stretches are unscored with their reason wherever they
are and however long; the unit check and the gain step look only at the
scorable part; the rest scores as the clean recording does.
"""

import mne
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.scoring.check import DEAD, FLAT

SFREQ = 500.0
DURATION = 1200.0
LEVELS = (0.0, 0.01e-6, 0.3e-6, 1e-6)  # V: zeros, far below, amplifier floor
PUBLISHED = dict(adapt=None, emg=None, smooth=None, precision="float32")


def _calls(proba):
    values = proba.to_numpy()
    calls = np.array(proba.columns)[np.nan_to_num(values, nan=-1).argmax(axis=1)]
    return np.where(np.isnan(values).any(axis=1), "?", calls)


def _kill(raw, start, stop, level, seed=0):  # to ``stop`` s
    """Return a copy of ``raw`` with its EEG at ``level`` (V) from ``start`` s."""
    dead = raw.copy().load_data()
    ch = dead.ch_names.index("EEG_PR")
    i0, i1 = int(start * dead.info["sfreq"]), int(stop * dead.info["sfreq"])
    noise = np.random.default_rng(seed).standard_normal(i1 - i0)
    dead._data[ch, i0:i1] = level * noise
    return dead


def _reasons(proba):
    return dict(proba.attrs["quality"]["unscored_epochs"])


@pytest.fixture(scope="module")
def recording(mirror):
    raw = simulate_recording(DURATION, SFREQ, seed=21)
    with pytest.MonkeyPatch.context() as mp, mne.utils.use_log_level("error"):
        mp.setenv("MNE_MOUSESLEEP_MIRROR", mirror[0])
        proba = mms.predict_proba(raw)
    return raw, proba


@pytest.mark.parametrize(
    "container", ["RawArray", pytest.param("EDF", marks=pytest.mark.slow)]
)
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8])
def test_dead_tail_sweep(online, recording, tmp_path, fraction, level, container):
    """The last 20-80 % dead: the good part scores as the clean recording."""
    raw, clean = recording
    onset = DURATION * (1 - fraction)
    dead = _kill(raw, onset, DURATION, level)
    if container == "EDF":
        fname = tmp_path / "dead.edf"
        mne.export.export_raw(fname, dead, verbose="error")
        dead = mne.io.read_raw_edf(fname, verbose="error")
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(dead)  # not refused as a unit error
    quality = proba.attrs["quality"]
    assert quality["likely_unit_error"] is None
    calls, truth = _calls(proba), _calls(clean)
    good = (proba.index + 20 <= onset - 1) & (truth != "?")  # window + edge
    assert (calls[good] != "?").all()  # the good part is not lost
    assert np.mean(calls[good] == truth[good]) >= 0.99
    # The gain step looked at the good part only.
    gain, clean_gain = proba.attrs["adapt"]["gain"], clean.attrs["adapt"]["gain"]
    assert gain["parietal EEG"] == pytest.approx(clean_gain["parietal EEG"], rel=0.05)
    # Every epoch whose window lies in the dead part is unscored, with why.
    inside = proba.index - 10 >= onset + 1
    assert (calls[inside] == "?").all()
    reasons = _reasons(proba)
    expected = DEAD if level >= 0.3e-6 and container == "RawArray" else (DEAD, FLAT)
    for t in proba.index[inside]:
        assert any(r in reasons[t] for r in np.atleast_1d(expected)), reasons[t]
    # Said in the record's seconds, and why the trust verdict is what it is.
    assert sum(quality["bad_seconds"].values()) >= 0.95 * fraction * DURATION


@pytest.mark.parametrize("where", ["start", "middle"])
def test_dead_stretch_anywhere(online, recording, where):
    raw, clean = recording
    start, stop = (0.0, 700.0) if where == "start" else (400.0, 405.0)
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(_kill(raw, start, stop, 0.5e-6))
    calls, truth = _calls(proba), _calls(clean)
    reasons = _reasons(proba)
    touched = (proba.index + 20 > start) & (proba.index - 10 < stop)
    assert all(DEAD in reasons.get(t, "") for t in proba.index[touched])
    far = (proba.index + 20 <= start - 1) | (proba.index - 10 >= stop + 1)
    far &= truth != "?"
    assert (calls[far] != "?").all()
    assert np.mean(calls[far] == truth[far]) >= 0.99


def test_whole_recording_dead_is_refused_saying_where(online, recording):
    raw, _ = recording
    dead = _kill(raw, 0.0, DURATION, 1e-6)
    with pytest.raises(ValueError, match=r"dead channel EEG_PR \(at the amplifier's "):
        mms.predict_proba(dead)
    with pytest.raises(ValueError, match=r"from 0 s to 1200 s of 1200 s"):
        mms.predict_proba(dead)
    # check_units=False keeps only the relative test (a recording that is
    # all alike is scored: the user vouches for its units).
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(dead, check_units=False)
    quality = proba.attrs["quality"]
    assert DEAD not in str(quality["unscored_reasons"])
    assert any("far from the training data" in w for w in quality["warnings"])


def test_relative_test_without_the_floor(online, recording):
    """check_units=False: a stretch 20 times quieter than the rest is still dead."""
    raw, _ = recording
    quiet = raw.copy().load_data()
    quiet._data *= 1e-3  # the user vouches for these units
    quiet = _kill(quiet, 600.0, DURATION, 1e-9)  # a thousandth of 1 µV
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(quiet, check_units=False, **PUBLISHED)
    reasons = _reasons(proba)
    inside = proba.index[proba.index - 10 >= 601.0]
    assert all(DEAD in reasons[t] or FLAT in reasons[t] for t in inside)
    assert not any(t in reasons for t in proba.index[1 : (600 - 21) // 10])


@pytest.fixture(scope="module")
def short(shared_dir):
    raw = simulate_recording(600.0, 256.0, seed=3)
    model = mms.load_model(
        shared_dir / "weights" / "grieger2021_exp005e_model_3conv_pool-best.pth"
    )
    with mne.utils.use_log_level("error"):
        proba = mms.predict_proba(raw, model=model, **PUBLISHED)
    return raw, proba, model


@settings(max_examples=20, deadline=None)
@given(
    start=st.floats(0, 600),
    length=st.floats(5, 600),
    level=st.sampled_from(LEVELS),
)
def test_dead_stretch_of_any_length(short, start, length, level):
    """Fuzzed: dead or flat stretches of every length and place (>= 5 s).

    The published path scores each epoch from its own window, so every
    epoch whose window is clear of the stretch (by the 1-s blocks of the
    test and the filter's reach) has exactly its clean probabilities, and
    every epoch whose window lies in the stretch is unscored with a reason.
    """
    raw, clean, model = short
    stop = min(start + length, 600.0)
    if stop - start < 5:
        start = stop - 5
    dead = _kill(raw, start, stop, level)
    with mne.utils.use_log_level("error"):
        try:
            proba = mms.predict_proba(dead, model=model, **PUBLISHED)
        except ValueError as err:  # only when nothing is left to score
            assert "Nothing to score" in str(err) or "dead or disconnected" in str(err)
            assert stop - start > 600 - 2 * 30 - 4, (start, stop)
            return
    reasons = _reasons(proba)
    onsets = proba.index.to_numpy()
    window_start, window_stop = onsets - 10, onsets + 20
    clear = (window_stop <= start - 2) | (window_start >= stop + 2)
    clear &= clean.notna().all(axis=1).to_numpy()
    np.testing.assert_allclose(
        proba[clear].to_numpy(), clean[clear].to_numpy(), atol=1e-5
    )
    inside = (window_start >= start + 1) & (window_stop <= stop - 1)
    inside |= (onsets >= start + 1) & (onsets + 10 <= stop - 1)  # the epoch itself
    for t in onsets[inside]:
        assert DEAD in reasons[t] or FLAT in reasons[t], (t, reasons.get(t))
