"""Simulated mouse recordings with known stages: a test bed, not physiology."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np
import pandas as pd
from mne import create_info
from mne.io import RawArray
from mne.utils import _validate_type
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, sosfiltfilt

from .._architecture import architecture_prior
from .._stages import _make_stages, _time_base, _zt_hours
from ..hypnogram import ARTIFACT, NREM, PRE_REM, REM, STAGES, WAKE, to_annotations

_ORDER = (WAKE, NREM, PRE_REM, REM, ARTIFACT)
#: The class of Wake with activity that ``label_active_wake`` annotates.
ACTIVE_WAKE = "active Wake"

# Per-epoch (10 s) transition probabilities, rows "from", columns "to", in the
# order Wake, NREM, pre-REM, REM, artifact. Mean bout lengths (epochs) are
# 1 / (1 - stay): light phase Wake ~1.5 min, NREM ~3 min, pre-REM ~20 s,
# REM ~1.5 min; in the dark phase Wake bouts are much longer. REM is entered
# mostly through pre-REM, sometimes directly from NREM.
_LIGHT = np.array(
    [
        [0.890, 0.104, 0.000, 0.000, 0.006],
        [0.030, 0.946, 0.022, 0.002, 0.000],
        [0.040, 0.140, 0.500, 0.320, 0.000],
        [0.100, 0.010, 0.000, 0.890, 0.000],
        [0.500, 0.000, 0.000, 0.000, 0.500],
    ]
)
_DARK = np.array(
    [
        [0.975, 0.020, 0.000, 0.000, 0.005],
        [0.050, 0.935, 0.013, 0.002, 0.000],
        [0.050, 0.150, 0.500, 0.300, 0.000],
        [0.120, 0.010, 0.000, 0.870, 0.000],
        [0.500, 0.000, 0.000, 0.000, 0.500],
    ]
)


def simulate_hypnogram(
    duration=24 * 3600.0,
    *,
    epoch_length=10.0,
    start_zt=0.0,
    lab=None,
    seed=None,
):
    """Simulate a 5-stage mouse hypnogram, as real mice sleep or as a test bed.

    With ``lab``, a semi-Markov sequence of bouts drawn from the expert
    scorings of five labs (:func:`~mne_mousesleep.architecture_prior`): each
    bout's duration from its stage's histogram of the lab (a bin, then a
    4-s multiple in it), the next stage from the lab's bout transitions; REM
    is entered only after NREM (the last 20 s of the NREM bout before it
    are pre-REM, a stage the experts of these labs do not score), so the
    truth has real architecture (REM bouts of at most 304 s, entered from
    NREM). Without ``lab``, a Markov chain over epochs (Wake, NREM, pre-REM,
    REM, artifact) whose transition probabilities differ between the light
    phase (ZT0–ZT12, mostly sleep) and the dark phase (mostly long Wake
    bouts); REM is entered mostly through pre-REM (NREM → pre-REM → REM). The
    chain is given per 10-s epoch; at other epoch lengths each stage is kept
    with probability ``p ** (L / 10)``, so that bouts last as many seconds.
    It is a test bed, not physiology.

    Parameters
    ----------
    duration : float
        Length in seconds.
    epoch_length : float
        Epoch length in seconds.
    start_zt : float
        Zeitgeber time (hours after lights on) of the first epoch (the
        chain's light and dark phases; the labs' bouts are pooled over both).
    lab : str | None
        ``"pooled"`` or ``"lab_1"`` to ``"lab_5"``: draw the bouts from
        that lab's expert scorings. None: the Markov chain.
    seed : None | int | instance of numpy.random.Generator
        Random seed.

    Returns
    -------
    stages : pandas.Series
        Categorical stages (:data:`mne_mousesleep.STAGES`), indexed by onset in
        seconds.

    Raises
    ------
    ValueError
        If ``lab`` is not one of the table's.

    References
    ----------
    Rose et al. (2025). Sleep Advances. doi:10.1093/sleepadvances/zpaf025
    """
    rng = np.random.default_rng(seed)
    n_epochs = int(duration // epoch_length)
    if lab is not None:
        return _as_stages(_lab_codes(n_epochs, epoch_length, lab, rng), epoch_length)
    zt = (start_zt + np.arange(n_epochs) * epoch_length / 3600) % 24
    light = zt < 12
    cum = {
        True: np.cumsum(_per_epoch(_LIGHT, epoch_length), axis=1),
        False: np.cumsum(_per_epoch(_DARK, epoch_length), axis=1),
    }
    state = 1 if light[0] else 0
    codes = np.empty(n_epochs, int)
    draws = rng.random(n_epochs)
    for ii in range(n_epochs):
        codes[ii] = state
        state = min(int(np.searchsorted(cum[bool(light[ii])][state], draws[ii])), 4)
    return _as_stages(codes, epoch_length)


def _as_stages(codes, epoch_length):
    """Return the stage series of codes (indices of ``_ORDER``)."""
    values = np.asarray(_ORDER, dtype=object)[np.asarray(codes, int)]
    index = pd.Index(np.arange(len(values)) * float(epoch_length), name="onset")
    stages = pd.Series(
        pd.Categorical(values, categories=STAGES), index=index, name="stage"
    )
    stages.attrs = dict(epoch_length=float(epoch_length))
    return stages


#: The end of an NREM bout before REM that the simulator labels pre-REM (s).
PRE_REM_S = 20.0


def _lab_codes(n_epochs, epoch_length, lab, rng):
    """Draw ``n_epochs`` of stage codes bout by bout from a lab's prior."""
    prior = architecture_prior(lab)
    edges = np.r_[prior["bout_edges_s"], 2 * prior["bout_edges_s"][-1]]
    stages = [s for s in (WAKE, NREM, REM, ARTIFACT)]
    exits = {a: np.array([prior["exits"][a][b] for b in stages], float) for a in stages}
    for a in stages:  # REM only out of NREM (its run-up), never out of Wake
        if a != NREM:
            exits[a][stages.index(REM)] = 0.0
        exits[a] /= exits[a].sum()
    codes = np.empty(0, int)
    n_before = max(1, int(round(PRE_REM_S / epoch_length)))
    stage = NREM if rng.random() < 0.5 else WAKE
    seconds = 0.0
    while len(codes) < n_epochs:
        counts = np.asarray(prior["bouts"][stage], float)
        k = rng.choice(len(counts), p=counts / counts.sum())
        lo, hi = edges[k], edges[k + 1]
        if stage == REM:  # none longer than the experts scored
            hi = min(hi, prior["longest_bout_s"][REM] + 4.0)
        duration = 4.0 * rng.integers(int(lo // 4), max(int(lo // 4) + 1, int(hi // 4)))
        following = stages[rng.choice(len(stages), p=exits[stage])]
        if stage == NREM and following == REM:  # REM's run-up, then pre-REM
            least = prior["rem"]["nrem_bout_before_quantiles_s"]["5"] + PRE_REM_S
            duration = max(duration, least)
        seconds += duration
        n = int(round(seconds / epoch_length)) - len(codes)
        if n < 1:  # shorter than an epoch here: the stage does not show
            continue
        bout = np.full(n, _ORDER.index(stage))
        if stage == NREM and following == REM and len(bout) > n_before:
            bout[-n_before:] = _ORDER.index(PRE_REM)
        codes = np.r_[codes, bout]
        stage = following
    return codes[:n_epochs]


def _per_epoch(matrix, epoch_length):
    """Return the 10-s transition matrix for epochs of ``epoch_length`` seconds.

    Each stage is kept with probability ``p ** (epoch_length / 10)`` (bouts
    last as many seconds at any epoch length) and left to the same stages in
    the same proportions.
    """
    if epoch_length == 10.0:
        return matrix
    stay = np.diag(matrix) ** (epoch_length / 10.0)
    leave = matrix * (1 - np.eye(len(matrix)))
    leave *= ((1 - stay) / leave.sum(axis=1))[:, None]
    return leave + np.diag(stay)


def _band_noise(rng, n, sfreq, low, high, order=2):
    sos = butter(order, [low, high], btype="bandpass", fs=sfreq, output="sos")
    x = sosfiltfilt(sos, rng.standard_normal(n))
    return x / x.std()


def _pink_noise(rng, n, sfreq, exponent):
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    spectrum *= np.maximum(freqs, 0.5) ** (-exponent / 2)
    x = np.fft.irfft(spectrum, n)
    return x / x.std()


def simulate_recording(
    duration=3600.0,
    sfreq=256.0,
    *,
    stages=None,
    ch_names=("EEG_PR", "EMG"),
    start="2024-01-01 07:00:00",
    lights_on="07:00",
    gain=1.0,
    noise=1.0,
    tilt=0.0,
    sign=1,
    variability=0.0,
    active_theta=40.0,
    epoch_length=10.0,
    label_active_wake=False,
    lab=None,
    seed=None,
):
    """Simulate a mouse EEG/EMG recording with ground-truth stage annotations.

    Stage signatures (amplitudes in µV before ``gain``): NREM has
    high-amplitude delta (0.5–4 Hz); pre-REM has spindle-like 10–15 Hz bursts
    with emerging theta and fading delta; REM has regular theta (6–9 Hz) and
    the lowest EMG; Wake has low-amplitude mixed and fast (15–40 Hz) activity,
    theta and high EMG during activity (40 % of Wake epochs). Artifact epochs
    carry movement transients or electrode pops of about 1–2 mV. Stage changes
    are blended over 1 s.

    This is a test bed for the software, **not physiology**: the signals are
    shaped noise with plausible spectra, not a model of the mouse brain.

    Parameters
    ----------
    duration : float
        Length in seconds.
    sfreq : float
        Sampling rate in Hz (at least 128).
    stages : pandas.Series | None
        The hypnogram to render, as from :func:`simulate_hypnogram`, in
        epochs of its ``attrs["epoch_length"]``; ``None`` simulates one of
        ``epoch_length`` from ``seed``, starting at the ZT of ``start`` (with
        ``lab``, as that lab's experts scored their mice).
    ch_names : sequence of str
        Channel names. Names containing ``EMG`` are EMG channels; names with
        ``F`` after ``EEG_`` are frontal (more delta, less theta); others are
        parietal EEG (left and right share most sources).
    start : str | datetime.datetime
        Clock time of the first sample (UTC), the ``meas_date``.
    lights_on : str
        Clock time of lights on (ZT0), ``"HH:MM"``.
    gain : float
        Amplitude factor of the EEG (a lab's amplifier or electrodes).
    noise : float
        Factor on the broadband background noise.
    tilt : float
        Change of the 1/f exponent of the background (positive: steeper).
    sign : 1 | -1
        Electrode polarity of the EEG.
    variability : float
        Spread of per-mouse random draws around ``gain``, ``noise`` and
        ``tilt`` (log-normal with this standard deviation for the factors,
        normal for the tilt); 0 disables them.
    active_theta : float
        Theta amplitude (µV, before ``gain``) of active Wake (REM has 70).
        Raise it to make active Wake look like REM to an EEG-only scorer.
    epoch_length : float
        Epoch length (s) of the hypnogram simulated when ``stages`` is None
        (the true stages are annotated in epochs of it).
    label_active_wake : bool
        Annotate the Wake epochs with activity (theta-rich EEG, high EMG; 40 %
        of Wake epochs) as a state of their own, ``"Sleep stage active
        Wake"`` (a lab's own class of role wake: read them with
        ``to_stages(raw.annotations, roles={"active Wake": "wake"})``).
    lab : str | None
        Without ``stages``: draw the hypnogram's bouts from a lab's expert
        scorings (``"pooled"``, ``"lab_1"`` to ``"lab_5"``; see
        :func:`simulate_hypnogram`). None: the light/dark Markov chain.
    seed : None | int
        Random seed; the same seed gives the same recording.

    Returns
    -------
    raw : instance of RawArray
        The recording in volts, ``round(n_epochs * epoch_length * sfreq)``
        samples at any rate: ``duration`` is cut to whole epochs. One
        annotation per epoch gives the true stage (``"Sleep stage W"``, ...,
        ``"BAD_artifact"``); ``raw.info["description"]`` states the simulation
        parameters and the cut.

    Raises
    ------
    ValueError
        If ``sfreq`` is below 128 Hz or ``duration`` is shorter than one epoch.
    """
    _validate_type(sfreq, "numeric", "sfreq")
    if sfreq < 128:
        raise ValueError(f"sfreq must be at least 128 Hz, got {sfreq}.")
    rng = np.random.default_rng(seed)
    if stages is None:
        stages = simulate_hypnogram(
            duration,
            epoch_length=epoch_length,
            start_zt=_zt_hours(start, lights_on),
            lab=lab,
            seed=rng,
        )
    epoch_length = _time_base(stages).epoch_length
    n_epochs = min(len(stages), int(duration // epoch_length))
    if n_epochs < 1:
        raise ValueError(f"duration must be at least one epoch, got {duration} s.")
    if variability:
        gain = gain * np.exp(variability * rng.standard_normal())
        noise = noise * np.exp(variability * rng.standard_normal())
        tilt = tilt + variability * rng.standard_normal()
    grid = _Grid(np.asarray(stages.iloc[:n_epochs], dtype=object), sfreq, epoch_length)
    amps = _amplitudes(grid, rng, active_theta)
    sources = _sources(grid, rng, amps)
    data = [
        _channel(name, grid, rng, amps, sources, gain, noise, tilt, sign)
        for name in ch_names
    ]
    info = create_info(
        list(ch_names),
        sfreq,
        ["emg" if "EMG" in c.upper() else "eeg" for c in ch_names],
    )
    info["description"] = (
        f"mne-mousesleep simulation (test bed, not physiology): seed={seed}, "
        f"gain={gain:.3g}, noise={noise:.3g}, tilt={tilt:.3g}, sign={sign}, "
        f"{n_epochs} whole epochs of {epoch_length:g} s"
        + (
            f" (duration={duration:g} s cut to them)"
            if n_epochs * epoch_length < duration
            else ""
        )
    )
    raw = RawArray(np.array(data) * 1e-6, info, verbose=False)
    start = pd.Timestamp(start)
    start = start.tz_localize("UTC") if start.tz is None else start.tz_convert("UTC")
    raw.set_meas_date(start.to_pydatetime())
    truth = stages.iloc[:n_epochs].copy()
    attrs = {**stages.attrs, "meas_date": raw.info["meas_date"], "first_time": 0.0}
    if label_active_wake:  # activity as a state of its own
        attrs["roles"] = {**attrs.get("roles", {}), ACTIVE_WAKE: "wake"}
        values = np.where(amps["active"], ACTIVE_WAKE, truth.to_numpy(object))
        truth = _make_stages(values, truth.index, attrs)
    truth.attrs = attrs
    raw.set_annotations(to_annotations(truth))
    return raw


class _Grid:
    """The epochs of a simulation: their stages and their samples."""

    def __init__(self, labels, sfreq, epoch_length):
        self.labels, self.sfreq, self.epoch_length = labels, sfreq, epoch_length
        # First sample of each epoch (and the end): at a rate that is not a
        # whole number of samples per epoch, epochs differ by one sample.
        self.starts = np.round(np.arange(len(labels) + 1) * epoch_length * sfreq)
        self.starts = self.starts.astype(np.int64)
        self.n = int(self.starts[-1])

    def repeat(self, values):
        """Epoch values to samples."""
        return np.repeat(np.asarray(values), np.diff(self.starts))

    def per_sample(self, values):
        """Epoch values to samples, blended over 1 s."""
        x = self.repeat(np.asarray(values, float))
        return uniform_filter1d(x, int(self.sfreq))

    def amp(self, table):
        """Return the amplitude of each stage in ``table``, per sample."""
        return self.per_sample([table[s] for s in self.labels])


def _amplitudes(grid, rng, active_theta):
    """Per-sample amplitudes (µV) of each source, and theta-rich active Wake."""
    labels = grid.labels
    active = (labels == WAKE) & (rng.random(len(labels)) < 0.4)  # activity
    is_art = labels == ARTIFACT
    theta = {WAKE: 12, NREM: 10, PRE_REM: 35, REM: 70, ARTIFACT: 30}
    emg = {WAKE: 100, NREM: 35, PRE_REM: 25, REM: 12, ARTIFACT: 200}
    return dict(
        active=active,
        is_art=is_art,
        delta=grid.amp({WAKE: 10, NREM: 120, PRE_REM: 60, REM: 15, ARTIFACT: 10}),
        theta=grid.per_sample(
            np.where(active, active_theta, [theta[s] for s in labels])
        ),
        emg=grid.per_sample(np.where(active | is_art, 200, [emg[s] for s in labels])),
        fast=grid.amp({WAKE: 25, NREM: 5, PRE_REM: 5, REM: 10, ARTIFACT: 25}),
    )


def _sources(grid, rng, amps):
    """Return the sources the EEG channels share: bands, spindles, transients."""
    n, sfreq = grid.n, grid.sfreq
    return dict(
        fast=_band_noise(rng, n, sfreq, 15.0, min(40.0, 0.45 * sfreq)) * amps["fast"],
        delta=_band_noise(rng, n, sfreq, 0.5, 4.0) * amps["delta"],
        theta=_band_noise(rng, n, sfreq, 6.0, 9.0, order=3) * amps["theta"],
        spindles=_spindles(grid, rng),
        transients=_transients(grid, rng, amps["is_art"]),
    )


def _spindles(grid, rng):
    """Spindle-like 10-15 Hz bursts: many in pre-REM, a few in NREM."""
    labels, sfreq, n = grid.labels, grid.sfreq, grid.n
    spindles = np.zeros(n)
    t_sp = np.arange(int(1.5 * sfreq)) / sfreq
    for ep in np.flatnonzero((labels == PRE_REM) | (labels == NREM)):
        n_sp = rng.poisson(2.5 if labels[ep] == PRE_REM else 0.3)
        for onset in rng.uniform(0, grid.epoch_length - 1.5, n_sp):
            i0 = grid.starts[ep] + int(onset * sfreq)
            env = np.exp(-0.5 * ((t_sp - 0.75) / 0.3) ** 2)
            freq = rng.uniform(10.0, 15.0)
            burst = 150 * env * np.sin(2 * np.pi * freq * t_sp + rng.uniform(0, 6.3))
            spindles[i0 : i0 + len(burst)] += burst[: n - i0]
    return spindles


def _transients(grid, rng, is_art):
    """Electrode pops and movements of about 1-2 mV in artifact epochs."""
    sfreq = grid.sfreq
    transients = np.zeros(grid.n)
    for ep in np.flatnonzero(is_art):
        i0 = grid.starts[ep] + int(rng.uniform(0, grid.epoch_length - 3) * sfreq)
        t_tr = np.arange(int(3 * sfreq)) / sfreq
        if rng.random() < 0.5:  # electrode pop: step with exponential decay
            shape = 1500 * np.exp(-t_tr / 0.4) * rng.choice([-1, 1])
        else:  # movement: a large slow deflection
            shape = (
                1000
                * np.sin(np.pi * t_tr / 3)
                * _band_noise(rng, len(t_tr), sfreq, 0.5, 3.0)
            )
        transients[i0 : i0 + len(shape)] += shape
    return transients


def _channel(name, grid, rng, amps, sources, gain, noise, tilt, sign):
    """One channel (µV): EMG, or frontal or parietal EEG from the sources."""
    n, sfreq, upper = grid.n, grid.sfreq, name.upper()
    if "EMG" in upper:
        high = min(100.0, 0.45 * sfreq)
        emg = _band_noise(rng, n, sfreq, 10.0, high) * amps["emg"]
        return emg + 0.3 * sources["transients"] * grid.repeat(amps["is_art"])
    frontal = upper.replace("EEG", "").strip("_- ").startswith("F")
    w_delta, w_theta = (1.3, 0.5) if frontal else (1.0, 1.0)
    background = 30 * noise * _pink_noise(rng, n, sfreq, 1.0 + tilt)
    eeg = (
        w_delta * sources["delta"]
        + w_theta * sources["theta"]
        + sources["fast"]
        + sources["spindles"]
        + 0.3 * (amps["delta"] + 40) * _band_noise(rng, n, sfreq, 0.5, 20.0)
        + background
    )
    return sign * gain * eeg + sources["transients"]
