"""Sleep reports: one per recording, one per study."""

import re

import mne
import numpy as np
import pandas as pd
import pytest
from conftest import write_study

import mne_mousesleep as mms
from mne_mousesleep.cli import main
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.report._figures import _spectrum_figure
from mne_mousesleep.report._html import _number
from mne_mousesleep.report._recording import _spectra


@pytest.fixture
def scored(online):
    # Two hours from 07:00 with lights on at 08:00: one dark, one light hour.
    raw = simulate_recording(2 * 3600.0, 128.0, seed=4)
    proba = mms.predict_proba(raw, picks="EEG_PR", verbose="error")
    return raw, proba


def test_report_of_a_recording(scored, tmp_path):
    raw, proba = scored
    before = raw.get_data(stop=1000).copy()
    rep = mms.report(raw, proba, lights_on="08:00", n_review=3)
    fname = tmp_path / "M1_report.html"
    rep.save(fname, open_browser=False, verbose="error")
    text = fname.read_text()
    np.testing.assert_array_equal(raw.get_data(stop=1000), before)  # not mutated
    for title in (
        "Recording and scoring",
        "Hypnogram and hypnodensity",
        "Hourly stage course",
        "Stage statistics",
        "Transition matrix",
        "EEG power spectrum per stage",
        "Delta and theta power per stage",
        "EMG power per stage",
        "Least confident bouts",
    ):
        assert title in text, title
    # Figures: hypnogram, hourly, transitions, spectra, EMG, 3 snippets.
    assert len(re.findall(r'<img class="figure-img', text)) == 8
    assert proba.attrs["trust"]["verdict"] in text
    assert "raw.plot(start=" in text
    # The statistics are phase_statistics' numbers.
    stats = mms.phase_statistics(mms.proba_to_stages(proba), lights_on="08:00")
    for phase in ("light", "dark"):
        value = _number(stats.loc[phase, "NREM min"])
        assert f"<td>{value}</td>" in text, (phase, value)
    # Works offline: no script or style sheet from the network.
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', text)
    assert len(text) < 5e6  # about 1.3 MB for 2 h (1 MB of it mne.Report's own)


def test_spectra_look_like_mouse_sleep(scored):
    """NREM has the most delta; REM the highest theta/delta ratio."""
    raw, proba = scored
    stages = mms.proba_to_stages(proba)
    psd, freqs = _spectra(raw, stages, "EEG_PR")
    assert psd.shape == (len(stages), len(freqs))
    assert freqs[0] >= 0.5 and freqs[-1] <= 30
    _, bands = _spectrum_figure(psd, freqs, stages.to_numpy(object), "EEG_PR")
    assert (
        bands.loc["NREM", "delta power µV²"] > 2 * bands.loc["Wake", "delta power µV²"]
    )
    assert bands["theta/delta"].idxmax() == "REM"
    # Absolute power: a 10-Hz sine of 50 µV amplitude has 1250 µV² of power.
    import mne

    t = np.arange(int(60 * 128)) / 128
    sine = mne.io.RawArray(
        50e-6 * np.sin(2 * np.pi * 10 * t)[None],
        mne.create_info(["EEG_PR"], 128.0, "eeg"),
    )
    sine_psd, sine_freqs = _spectra(sine, mms.to_stages(["NREM"] * 6), "EEG_PR")
    df = sine_freqs[1] - sine_freqs[0]
    np.testing.assert_allclose(sine_psd.sum(axis=1) * df * 1e12, 1250, rtol=0.02)


def test_report_errors(scored):
    raw, proba = scored
    no_date = raw.copy().set_meas_date(None)
    with pytest.raises(ValueError, match="lights_on needs the recording's clock"):
        mms.report(no_date, proba, lights_on="07:00")
    with pytest.raises(ValueError, match="is not a channel"):
        mms.report(raw, proba, picks="EEG_X")
    short = raw.copy().crop(0, 1800)
    with pytest.raises(ValueError, match="after the recording"):
        mms.report(short, proba)
    # The probabilities of another, shorter recording; or of another day.
    with pytest.raises(ValueError, match="before the end of the recording"):
        mms.report(raw, proba.iloc[: len(proba) // 2])
    other = proba.copy()
    other.attrs["meas_date"] = pd.Timestamp("2020-01-01", tz="UTC").to_pydatetime()
    with pytest.raises(ValueError, match="started at 2020-01-01"):
        mms.report(raw, other)
    for clock in ("25:00", "7:60", "noon"):
        with pytest.raises(ValueError, match="lights_on must be a clock time"):
            mms.report(raw, proba, lights_on=clock)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    names = [f"M{m}_day1" for m in (1, 2, 3)]  # an hour each
    write_study(folder, 3, duration=3600.0, seed=10, names=names)
    groups = folder / "groups.csv"
    groups.write_text("mouse,genotype\nM1,WT\nM2,KO\nM3,KO\n")
    return folder, groups


@pytest.mark.slow
def test_study_report(study, monkeypatch, online):
    folder, groups = study
    out = folder / "out"
    summary = mms.score_files(
        folder, out, report=True, lights_on="06:30", groups=groups, n_jobs=1
    )
    assert list(summary["status"]) == ["scored"] * 3
    for mouse in ("M1", "M2", "M3"):
        assert (out / f"{mouse}_day1_report.html").is_file()
        table = pd.read_csv(out / f"{mouse}_day1_proba.csv", index_col="onset")
        assert {"Wake", "NREM", "REM", "stage"} <= set(table.columns)
    text = (out / "study_report.html").read_text()
    # One row per recording, linked to its report; the links resolve.
    links = re.findall(r'<a href="([^"]+_report\.html)">', text)
    assert sorted(set(links)) == [f"{m}_day1_report.html" for m in ("M1", "M2", "M3")]
    assert all((out / link).is_file() for link in links)
    for title in ("3 recordings", "Hypnograms", "Stages by phase", "mean ± SEM"):
        assert title in text
    assert "not corrected" in text and "Welch t" not in text  # WT has one mouse
    # The group means are the means of the per-recording numbers.
    stats = {
        m: mms.sleep_statistics(
            pd.read_csv(out / f"{m}_day1_proba.csv")["stage"].tolist()
        )
        for m in ("M1", "M2", "M3")
    }
    ko = np.mean([stats[m]["REM %"] for m in ("M2", "M3")])
    rep = mms.study_report(out, groups=groups, lights_on="06:30")
    table = rep._content  # the report rebuilds from disk, without scoring
    assert len(table) >= 5
    from mne_mousesleep.report import _recording

    monkeypatch.setattr(_recording, "_score", lambda *a, **k: pytest.fail("re-scored"))
    again = mms.study_report(out, groups=groups, lights_on="06:30")
    html = "".join(item.html for item in again._content)
    assert f"{ko:.3g}" in html
    # A recording's report from the batch's outputs too (other lights_on).
    raw = mne.io.read_raw_fif(folder / "M2_day1_raw.fif", verbose="error")
    table = pd.read_csv(out / "M2_day1_proba.csv", index_col="onset")
    rebuilt = mms.report(raw, out / "M2_day1_proba.csv", lights_on="06:00")
    text = "".join(item.html for item in rebuilt._content)
    assert "Least confident bouts" in text and "grieger2021-5stage" in text
    from mne_mousesleep.report._recording import _read_result

    result = _read_result(out / "M2_day1_proba.csv")
    assert list(result.stages().astype(str)) == list(table["stage"])
    assert result.meas_date == raw.info["meas_date"]
    # The sidecar's result is the scoring exactly (the table is rounded).
    np.testing.assert_allclose(
        result.to_frame().to_numpy(), table.drop(columns="stage"), atol=5e-7
    )


def test_study_report_groups(study, tmp_path, online):
    folder, _ = study
    out = folder / "out"
    if not (out / "M1_day1_proba.csv").is_file():
        mms.score_files(folder, out, report=True, n_jobs=1)
    groups = tmp_path / "participants.tsv"
    groups.write_text("participant_id\ttreatment\nsub-M1\tA\nsub-M2\tA\nsub-M3\tB\n")
    with pytest.raises(ValueError, match="needs a column among"):
        mms.study_report(out, groups=pd.DataFrame({"x": ["M1"], "g": ["A"]}))
    groups2 = pd.DataFrame({"mouse": ["M1", "M2"], "g": ["A", "B"]})
    with pytest.raises(ValueError, match=r"No group for \['M3'\]"):
        mms.study_report(out, groups=groups2)
    four = pd.DataFrame({"mouse": ["M1", "M2", "M3"], "g": ["A", "B", "B"]})
    rep = mms.study_report(out, groups=four)
    assert "too few" in "".join(item.html for item in rep._content)
    rep = mms.study_report(out, groups=groups)  # BIDS participants.tsv
    assert "treatment" in "".join(item.html for item in rep._content)
    with pytest.raises(FileNotFoundError, match="No \\*_scoring.json"):
        mms.study_report(tmp_path)


@pytest.mark.slow
def test_cli_report(study, tmp_path, capsys, online):
    folder, groups = study
    out = tmp_path / "cli"
    args = ["score", str(folder), "--out-dir", str(out), "--report"]
    assert main(args + ["--lights-on", "07:00", "--groups", str(groups)]) == 0
    assert (out / "study_report.html").is_file()
    assert len(list(out.glob("*_day1_report.html"))) == 3
    fif = next(folder.glob("*.fif"))
    assert main(["score", str(fif), "--out", str(tmp_path / "x.csv"), "--report"]) == 2
    assert "--report writes a report per recording" in capsys.readouterr().err


def test_report_with_spindles(scored):
    raw, proba = scored
    rep = mms.report(raw, proba, n_review=1, spindles=True)
    html = "".join(item.html for item in rep._content)
    assert "Spindles in NREM" in html
    found = mms.detect_spindles(raw, proba, picks="EEG_PR", verbose="error")
    n = 0 if found is None else len(found.summary())
    stages = mms.proba_to_stages(proba)
    hours = (stages == "NREM").sum() * 10 / 3600
    assert f"<td>{_number(n / hours)}</td>" in html


def test_group_statistics_by_hand():
    from mne_mousesleep.report._study import _group_statistics

    table = pd.DataFrame(
        {
            "recording": ["a", "b", "c", "d"],
            "mouse": ["M1", "M2", "M3", "M4"],
            "REM % total": [5.0, 7.0, 9.0, 13.0],
            "pre-REM % total": [1.0, 1.0, 1.0, 1.0],
        }
    )
    stats, groups = _group_statistics(
        table, {"M1": "WT", "M2": "WT", "M3": "KO", "M4": "KO"}, "mouse"
    )
    row = stats.loc["REM % total"]
    assert (row["WT mean"], row["KO mean"]) == (6.0, 11.0)
    assert row["WT SEM"] == pytest.approx(np.std([5, 7], ddof=1) / np.sqrt(2))
    from scipy.stats import ttest_ind

    p = ttest_ind([9.0, 13.0], [5.0, 7.0], equal_var=False).pvalue
    assert (row["test"], row["p (uncorrected)"]) == ("Welch t", pytest.approx(p))
    assert stats.loc["pre-REM % total", "test"] == "no spread"
    assert list(groups) == ["WT", "WT", "KO", "KO"]


def test_names_in_any_script_are_drawn():
    """Japanese mouse names: drawn with an installed CJK font, not as boxes."""
    import warnings

    import matplotlib.pyplot as plt

    from mne_mousesleep.report._figures import CJK_FONTS, _any_script, _font_families

    @_any_script
    def labelled():
        fig, ax = plt.subplots()
        ax.set_yticks([0], ["マウス1 野生型"])
        return fig

    fig = labelled()
    cjk = [f for f in _font_families() if f in CJK_FONTS]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    missing = [w for w in caught if "Glyph" in str(w.message)]
    # With a CJK font installed (as on Windows, macOS and most desktops) it is
    # used; without one, the figure falls back to the default font only.
    assert bool(missing) == (not cjk), (cjk, [str(w.message) for w in missing])


def test_report_reads_as_words_and_aligned(online):
    """No Python dicts, no empty headings, numbers right-aligned, ZT ticks."""
    raw = simulate_recording(600.0, 256.0, seed=2)  # 10 min
    rep = mms.report(raw, lights_on="07:00")
    html = "".join(item.html for item in rep._content)
    assert "{'" not in html and "epochs changed:" not in html
    assert "Reasons for the verdict" not in html  # verdict ok: no reasons
    assert "mne-mousesleep simulation" in html  # its description: the source
    # The network's arithmetic, as the result records it.
    from mne_mousesleep._device import _native_bf16_cpu

    if _native_bf16_cpu():
        assert re.search(
            r"bfloat16(, its \d+ close calls? computed again| \(no close call)", html
        )
    else:
        assert "float32 (as published)" in html
    bare = mne.io.RawArray(raw.get_data(), mne.create_info(raw.ch_names, 256.0, "eeg"))
    bare.set_meas_date(raw.info["meas_date"])
    html = "".join(item.html for item in mms.report(bare, picks="EEG_PR")._content)
    assert "not from a file (an object in memory)" in html
    assert re.search(r"\.mms-table-\d+ td:nth-child\(2\)[^}]*text-align: right", html)
    mat = mms.datasets.fetch_misleep_example()
    html = "".join(item.html for item in mms.report(mat)._content)
    assert "MiSleep MATLAB file misleep_10min_example.mat" in html


def test_zt_ticks_follow_the_length():
    import matplotlib.pyplot as plt

    from mne_mousesleep.report._figures import _zt_axis

    fig, ax = plt.subplots()
    _zt_axis(ax, 0.0, 10 / 60)  # 10 min
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["0:00", "0:05", "0:10"]
    _zt_axis(ax, 23.0, 24.0)  # a day from ZT 23
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:3] == ["0", "2", "4"] and len(labels) == 12
    plt.close(fig)


def test_study_hypnograms_on_their_own_hours():
    import matplotlib.pyplot as plt

    from mne_mousesleep.report._figures import _stacked_hypnograms

    stages = mms.to_stages(["W", "NREM", "R"] * 480)  # 4 h
    stages.attrs["meas_date"] = pd.Timestamp("2024-01-01 09:00", tz="UTC")
    rec = dict(stages=stages, mouse="M1", session="")
    fig = _stacked_hypnograms([rec], "07:00")
    lo, hi = fig.axes[0].get_xlim()
    assert lo == pytest.approx(2.0) and hi == pytest.approx(6.0)  # not 0-25 h
    plt.close(fig)


def test_one_recording_with_report_writes_no_study_report(tmp_path, online):
    write_study(tmp_path, 1, duration=600.0, seed=5)
    mms.score_files(tmp_path, tmp_path / "out", report=True, n_jobs=1, verbose="error")
    assert (tmp_path / "out" / "M0_report.html").is_file()
    assert not (tmp_path / "out" / "study_report.html").exists()
