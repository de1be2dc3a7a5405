"""
.. _ex-score-a-study:

Scoring a whole study
=====================

A sleep study is a folder of recordings: many mice, days each. This tutorial
scores a folder in one call (or one command), looks at the per-recording
outputs and the study summary, shows that a second run skips what is done,
and runs the same batch on a Dask cluster. The command-line equivalents are
given along the way.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
# A study folder
# --------------
# Four simulated mice (1 h each, parietal EEG and EMG at 256 Hz, saved as EDF
# in one folder per light phase), the real MiSleep recording, and a file that
# is not a recording at all, as happens in real archives.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mne

import mne_mousesleep
from mne_mousesleep.datasets import simulate_recording

study = Path(tempfile.mkdtemp()) / "study"
for mouse in range(4):
    folder = study / ("light" if mouse < 2 else "dark")
    folder.mkdir(parents=True, exist_ok=True)
    raw = simulate_recording(3600.0, 256.0, seed=mouse)
    mne.export.export_raw(folder / f"M{mouse + 1:02d}.edf", raw, verbose="error")
real = mne_mousesleep.datasets.fetch_misleep_example()
real.save(study / "misleep_raw.fif", verbose="error")
(study / "dark" / "M99.edf").write_text("a truncated transfer")
print(sorted(str(p.relative_to(study)) for p in study.rglob("*.*")))

# %%
# Score the folder
# ----------------
# :func:`~mne_mousesleep.score_files` finds every recording in the folder and
# its sub-folders and scores each with the parietal EEG channel it finds by
# name. From a terminal the same is::
#
#     mne-mousesleep score study/ --out-dir scores/
#
# Outputs go next to each recording, or into ``out_dir`` (mirroring the
# sub-folders). A recording that cannot be scored is reported and the others
# go on; the command's exit status is the number of failures. Recordings are
# scored by one worker process per 2 CPU cores (``n_jobs``, ``--jobs``): one
# recording already keeps 2 cores busy.
out_dir = study.parent / "scores"
summary = mne_mousesleep.score_files(study, out_dir, formats=("csv", "fif"))
summary[["file", "status", "hours", "epochs", "Wake %", "NREM %", "REM %"]]

# %%
# The failure says what went wrong:
print(summary.loc[summary["status"] == "failed", ["file", "error"]].to_string())

# %%
# What each recording gets
# ------------------------
# The annotations (CSV and FIF, both read by :func:`mne.read_annotations`), a
# stage table and a JSON sidecar recording the model, the channels, the
# settings and a fingerprint of the input.
print(sorted(p.name for p in (out_dir / "light").iterdir() if p.name[0] != "."))
print((out_dir / "light" / "M01_stages.tsv").read_text())

# %%
# Attach the scores to the recording for any further MNE or YASA analysis:
raw = mne.io.read_raw_edf(study / "light" / "M01.edf", verbose="error")
annot = mne.read_annotations(out_dir / "light" / "M01_scoring.csv")
raw.set_annotations(annot)
print(raw.annotations[:3])

# %%
# The study at a glance: the share of each stage per recording.
scored = summary[summary["status"] == "scored"].copy()
scored.index = [Path(f).stem for f in scored["file"]]
stages = ["Wake %", "NREM %", "pre-REM %", "REM %", "artifact %"]
ax = scored[stages].plot.barh(stacked=True, figsize=(7, 3))
ax.set(xlabel="Scored time (%)", ylabel="")
ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
plt.tight_layout()

# %%
# Resuming, and hand corrections kept
# ------------------------------------
# Outputs are written to a temporary name and moved into place when complete;
# the JSON sidecar records the sha256 of each. A second run skips every
# recording whose outputs are as written and whose input and settings have not
# changed, so an interrupted batch picks up where it stopped.
again = mne_mousesleep.score_files(study, out_dir, formats=("csv", "fif"))
again["status"].value_counts()

# %%
# No existing output is ever replaced without ``overwrite=True``
# (``--overwrite``). Say an expert corrects the first scored epoch of M01 by
# hand; a later run, even with another model, keeps the file and says so:
csv = out_dir / "light" / "M01_scoring.csv"
lines = csv.read_text().splitlines()
lines[2] = lines[2].rsplit(",", 1)[0] + ",Sleep stage R"
csv.write_text("\n".join(lines) + "\n")
later = mne_mousesleep.score_files(
    study, out_dir, formats=("csv", "fif"), model="grieger2021-3stage"
)
later["file"] = [Path(f).name for f in later["file"]]
print(later[["file", "status", "note"]].to_string(index=False))

# %%
# BIDS datasets
# -------------
# Given the root of a BIDS dataset (a folder with
# ``dataset_description.json``), the recordings are found and read with
# `MNE-BIDS <https://mne.tools/mne-bids>`__ (``pip install
# mne-mousesleep[bids]``), and each also gets a BIDS-style ``events.tsv``
# (``onset``, ``duration``, ``trial_type``) under
# ``<root>/derivatives/mne-mousesleep/``, leaving the dataset itself as it was::
#
#     mne-mousesleep score /data/bids_root
#
# Beyond one machine: Dask
# ------------------------
# With ``pip install mne-mousesleep[dask]``, the same batch runs on a Dask
# cluster: pass a :class:`distributed.Client` (or, on the command line, the
# scheduler address with ``--scheduler tcp://host:8786``). The workers need
# mne-mousesleep and must see the recordings and the output folder::
#
#     from distributed import Client
#
#     if __name__ == "__main__":
#         client = Client("tcp://scheduler:8786")  # or Client(LocalCluster())
#         summary = mne_mousesleep.score_files("study/", "scores/", client=client)
#
# (The test suite runs this on a ``LocalCluster`` of two worker processes.)

# %%
# Speed and memory
# ----------------
# Recordings are read chunk by chunk (only the picked channel), so memory
# stays flat with ``preload=False`` whatever the length: on a 2-core laptop
# CPU a 24-h, 1-kHz, 4-channel EDF scores with a peak of well under 1 GB, and
# a week-long recording scores too (``benchmarks/bench_memory.py``). The
# network convolves the recording once instead of each 30-s window three
# times (``benchmarks/bench_scoring.py``).
