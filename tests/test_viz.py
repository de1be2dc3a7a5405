"""Figures render and hold what they should."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import mne_mousesleep as mms  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_plots_on_simulated_day():
    stages = mms.datasets.simulate_hypnogram(24 * 3600.0, seed=5)
    stages.attrs["meas_date"] = mms.datasets._simulate.pd.Timestamp(
        "2024-01-01 07:00", tz="UTC"
    )
    fig = mms.plot_hypnogram(stages)
    assert len(fig.axes) == 1
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "Wake", "REM", "pre-REM", "NREM", "artifact"
    ]  # fmt: skip
    _, probs = mms.transition_matrix(stages)
    fig = mms.plot_transition_matrix(probs)
    assert len(fig.axes[0].texts) == 16
    hourly = mms.hourly_statistics(stages, lights_on="07:00")
    fig = mms.plot_hourly(hourly)
    assert len(fig.axes[0].patches) >= 24 * 4
    ev = mms.evaluate(stages, mms.smooth_min_bout(stages, 30.0))
    for normalize in ("recall", "precision", None):
        fig = mms.plot_confusion_matrix(ev, normalize=normalize)
        assert len(fig.axes[0].texts) == 25
    with pytest.raises(ValueError, match="normalize"):
        mms.plot_confusion_matrix(ev, normalize="f1")
    with pytest.raises(TypeError, match="probs must be a DataFrame"):
        mms.plot_transition_matrix(probs.to_numpy())


def test_plot_into_given_axes(misleep_raw):
    proba = mms.predict_proba(misleep_raw, picks="EEG_P")
    fig, axes = plt.subplots(2, 1)
    assert mms.plot_hypnogram(proba, axes=axes) is fig
    with pytest.raises(ValueError, match="axes must hold 2 axes"):
        mms.plot_hypnogram(proba, axes=axes[:1])
