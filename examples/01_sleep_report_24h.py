"""
.. _ex-sleep-report:

A 24-h sleep report
===================

Score a simulated 24-h recording (lights on at 07:00) and report its sleep
architecture: stage percentages in the light and dark phases, the hourly time
course, the transition matrix between Wake, NREM, pre-REM and REM, and the
hypnodensity.

The recording comes from :func:`mne_mousesleep.datasets.simulate_recording`,
a test bed with known stages (shaped noise, not physiology); replace it with
your own ``mne.io.read_raw_edf(...)``.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

# %%
import mne_mousesleep
from mne_mousesleep.datasets import simulate_recording

raw = simulate_recording(
    24 * 3600.0, 128.0, start="2024-01-01 07:00", lights_on="07:00", seed=42
)
print(raw)

# %%
# Score every 10-s epoch. The probabilities (one row per epoch) are the
# hypnodensity; the annotations go back into the Raw. The defaults find and
# use the EMG channel (REM needs muscle atonia), bring the EEG to the network's
# scale and smooth the epochs with sleep's own order of stages (see
# :doc:`/cross_lab`); the trust verdict says what the network got wrong before
# those steps.
proba = mne_mousesleep.predict_proba(raw, picks="EEG_PR", verbose="error")
stages = mne_mousesleep.to_stages(proba)
trust = proba.attrs["trust"]
print(trust["verdict"], trust["reasons"], trust["notes"], sep="\n")

# %%
# Stage statistics per phase: time and percentage of each stage, bouts,
# latencies, and how REM is entered (through pre-REM or directly from NREM).
phases = mne_mousesleep.phase_statistics(stages, lights_on="07:00")
columns = ["Wake %", "NREM %", "pre-REM %", "REM %", "REM bouts", "REM mean bout s"]
print(phases[columns].round(1))
print(phases[["REM entries via pre-REM %", "P(pre-REM -> REM)"]].round(2))

# %%
# The simulation knows the true stages (its annotations): the same report on
# them shows what the scoring got right. The published EEG-only method
# (``adapt=None, emg=None, smooth=None``) takes the simulator's theta-rich
# active wake for REM, hence about three times too much REM, above all in the
# dark phase; the EMG rules move those epochs back to Wake.
truth = mne_mousesleep.phase_statistics(raw.annotations, lights_on="07:00")
print(truth[columns].round(1))
published = mne_mousesleep.predict_proba(
    raw, picks="EEG_PR", adapt=None, emg=None, smooth=None, verbose="error"
)
print(
    mne_mousesleep.phase_statistics(
        mne_mousesleep.to_stages(published), lights_on="07:00"
    )[columns].round(1)
)

# %%
# The hourly time course (ZT0 = lights on); the dark phase is shaded.
hourly = mne_mousesleep.hourly_statistics(stages, lights_on="07:00")
fig = mne_mousesleep.plot_hourly(hourly)

# %%
# The transition matrix between consecutive epochs (as in Fig. 5 of Grieger
# et al. 2021); transitions into or out of artifact epochs are left out.
counts, probs = mne_mousesleep.transition_matrix(stages)
print(counts)
fig = mne_mousesleep.plot_transition_matrix(probs)

# %%
# The hypnogram with the hypnodensity below, for the first 3 hours.
first_hours = proba.iloc[: 3 * 360]
first_hours.attrs = proba.attrs
fig = mne_mousesleep.plot_hypnogram(first_hours)

# %%
# The same scoring as a YASA hypnogram (pre-REM folded into NREM) for YASA's
# own statistics and plots.
hyp = mne_mousesleep.to_hypnogram(proba)
print(hyp)
