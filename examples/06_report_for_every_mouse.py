"""
.. _ex-report-every-mouse:

A report for every mouse
========================

After scoring, look before reading tables: the hypnogram of the day, whether
the scorer was confident, whether the stages look like mouse sleep (EEG
spectra and EMG per stage), how light and dark phases differ, and then how
mice and groups compare. :func:`~mne_mousesleep.report` makes an
:class:`mne.Report` of one recording, :func:`~mne_mousesleep.study_report`
one of a whole study, rebuilt from the batch's outputs on disk. Each is one
self-contained HTML file that opens in any browser, offline, and can be
archived with the data.

The top of a 24-h report and of a study report of four mice, as a browser
shows them (screenshots at 1200 px):

.. image:: /_static/report_recording.png
   :width: 49%
   :alt: The report of a 24-h recording: summary, hypnogram, hourly course

.. image:: /_static/report_study.png
   :width: 49%
   :alt: The report of a study: recordings, hypnograms on a ZT axis, stages by phase
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
# One recording
# -------------
# A simulated mouse: 6 h of parietal EEG and EMG at 256 Hz from 07:00, lights
# on at 07:00, so the recording covers the first half of the light phase.
import tempfile
from pathlib import Path

import mne_mousesleep
from mne_mousesleep.datasets import simulate_recording

folder = Path(tempfile.mkdtemp())
raw = simulate_recording(6 * 3600.0, 256.0, seed=7)
proba = mne_mousesleep.predict_proba(raw, picks="EEG_PR", verbose="error")
report = mne_mousesleep.report(raw, proba, lights_on="07:00", title="M07 day 1")
report.save(folder / "M07_report.html", open_browser=False)

# %%
# The report holds, in order: the recording and its scoring (model, settings,
# input quality, trust verdict), the hypnogram with the hypnodensity and the
# hourly stage course in ZT, the stage statistics by phase and the transition
# matrix, the EEG power spectra per stage with the delta and theta power, the
# EMG power per stage, and the least confident bouts with their raw EEG and
# EMG. Its first figure is the hypnogram of
# :func:`~mne_mousesleep.plot_hypnogram` (in the report, on a ZT axis with the
# dark phase shaded):
fig = mne_mousesleep.plot_hypnogram(proba)

# %%
# A study
# -------
# Three mice of two genotypes, scored as a batch. With ``report=True`` (or
# ``mne-mousesleep score study/ --report --lights-on 07:00 --groups
# genotypes.csv``) every recording gets ``<name>_report.html`` and the study
# ``study_report.html``: one row per recording with links to their reports,
# all hypnograms on a common ZT axis, each mouse's stages by phase, and with a
# group table, the group means ± SEM with an exploratory test per metric.
study = folder / "study"
study.mkdir()
for seed, mouse in enumerate(("M01", "M02", "M03")):
    simulate_recording(2 * 3600.0, 256.0, seed=seed).save(
        study / f"{mouse}_day1_raw.fif", verbose="error"
    )
(study / "genotypes.csv").write_text("mouse,genotype\nM01,WT\nM02,KO\nM03,KO\n")
summary = mne_mousesleep.score_files(
    study,
    folder / "scores",
    report=True,
    lights_on="07:00",
    groups=study / "genotypes.csv",
    verbose="error",
)
print(summary[["file", "status", "trust"]])
print(sorted(p.name for p in (folder / "scores").glob("*.html")))

# %%
# The study report rebuilds from the outputs on disk (the probabilities and
# stages in ``<name>_proba.csv``, the settings and verdict in the sidecar),
# without scoring again: for another grouping, or after adding recordings.
again = mne_mousesleep.study_report(
    folder / "scores", groups=study / "genotypes.csv", lights_on="07:00"
)
again.save(folder / "scores" / "study_report_again.html", open_browser=False)

# %%
# To look at a bout the report lists in MNE's browser, with the scores as
# annotations::
#
#     raw.set_annotations(raw.annotations + mne_mousesleep.to_annotations(proba))
#     raw.plot(start=onset - 10, duration=duration + 20)
