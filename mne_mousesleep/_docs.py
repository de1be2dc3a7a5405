"""Shared parameter documentation (a docdict, as in MNE)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from mne.utils.docs import docdict as _mne_docdict

docdict = {
    "verbose": _mne_docdict["verbose"].strip(),
    "picks_score": """picks : str | list of str | list of int | None
    Channel(s) given to the network, in the network's input order: one parietal
    EEG channel for the single-channel models, or as many channels as the
    model card lists. Channel names, indices or a channel type are accepted.
    ``None`` picks a parietal EEG by name when exactly one channel matches
    (names such as ``EEG_P``, ``EEG_PR``, ``P`` or ``parietal``), or, for
    multi-channel models, the channels named in the model card.""",
    "model": """model : str | path-like | MouseSleepModel | None
    The scoring network: a registry name (see
    :func:`mne_mousesleep.list_models`), the path of a local checkpoint
    (no download), or a :class:`~mne_mousesleep.MouseSleepModel`. ``None`` uses
    ``"grieger2021-5stage"``. Registry weights are downloaded once with pooch
    and verified by sha256.""",
    "picks_live": """picks : str | list of str | None
    The EEG channel(s) the model needs, by name, picked as by
    :func:`~mne_mousesleep.predict_proba` (None: the one parietal EEG, or
    the channels named in the model card).""",
    "emg_live": """emg : str | None
    The EMG channel of the EMG rules, ``"auto"`` (the one channel of type
    ``emg`` or named EMG, if any) or None (no EMG step).""",
    "device": """device : str
    Where the network runs: ``"auto"`` (default) picks a CUDA GPU, then
    Apple's MPS, then the CPU; or ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``. A :class:`ValueError` if this machine has no such device. On
    the CPU the fast path runs (the convolutions once over the recording);
    on a GPU each 30-s window is classified there, with the same
    probabilities within float32 rounding.""",
    "precision_score": """precision : "auto" | "float32" | "bfloat16"
    The arithmetic of the network. ``"auto"`` (default) is bfloat16 for the
    CPU fast path on processors that compute it natively (AVX-512 BF16 or
    AMX; about twice as fast there), float32 elsewhere. In bfloat16 the
    probabilities differ from float32 by at most 0.021 (measured on the
    simulated labs and the MiSleep example), and every epoch whose two most
    probable classes are within 0.05 is computed again in float32, so the
    network's calls are those of float32; the count is in the result's
    network record. ``"float32"`` is the published arithmetic (and that of
    :meth:`ScoringOptions.published`).""",
    "batch_size": """batch_size : int
    Number of epochs per chunk of computation (default 32); lower it to save
    memory.""",
    "emg": """emg : str | None
    The EMG channel, for the physiology of muscle tone. Default ``"auto"``:
    the one channel of type ``emg`` or with "EMG" in its name (logged; none
    or several: no EMG step, said in the trust notes). ``None`` turns it off
    (the published EEG-only method). Per epoch the log EMG power over
    30–100 Hz (:func:`emg_power`) is judged without labels: only if a
    two-component Gaussian mixture beats one component (BIC) with separated
    components (Ashman's D >= 2) is the EMG informative; awake-level tone is
    then the upper component and more than 3 robust standard deviations
    above the recording's own NREM EMG level (the median over the epochs the
    network calls NREM). Epochs called REM, pre-REM or
    NREM on awake-level EMG are moved to Wake (their probability is added to
    Wake), each rule argued in :data:`mne_mousesleep.scoring.emg.RULES`. The fit and
    the epochs changed per stage are in ``proba.attrs["emg_atonia"]``.""",
    "adapt": """adapt : "gain" | None
    ``"gain"`` (default): before the network, bring each channel's EEG scale
    to the one the network was trained on, estimated without labels from the
    amplitude expected for each epoch's spectral shape (so a recording that
    is mostly Wake or mostly NREM is not pushed toward the training mix; see
    :mod:`mne_mousesleep.scoring.gain`). The gain is logged and stored in
    ``proba.attrs["adapt"]``. ``None``: the input scale as recorded (the
    published method).""",
    "smooth": """smooth : "hsmm" | "hmm" | pandas.DataFrame | dict | None
    ``"hsmm"`` (default): a hidden semi-Markov model over the per-epoch
    probabilities with the architecture prior of five labs' expert scorings
    (:func:`~mne_mousesleep.architecture_prior`, MSSV, CC0): REM bouts last
    at most 304 s, REM is entered only after an NREM run of 28 s (or
    through pre-REM), never from Wake, and a recording does not start in
    REM; without an informative EMG, a REM candidate longer than 304 s or
    with less than 40 %% NREM in the 2 min before is refused first
    (``proba.attrs["hmm"]["rem_refused"]``). Forward-backward over its
    sub-states gives the smoothed hypnodensity, Viterbi the stages. A dict
    is one lab's architecture prior (``architecture_prior("lab_3")``); one
    derived from longer epochs than the model's, or lacking a stage of the
    model, is refused. ``"hmm"``: the earlier hidden Markov model with the
    mouse transition prior (:func:`~mne_mousesleep.mouse_transition_prior`;
    Wake -> REM has probability 1e-6; geometric bouts). A DataFrame is a
    lab's own transition matrix for it (rows from, columns to, stage names),
    such as the probabilities of :func:`transition_matrix` of its expert
    scorings; stages it lacks keep the
    prior's rows. ``None``: no smoothing (the published method).""",
    "check_units": """check_units : bool
    If True (default), refuse with a :class:`ValueError` naming the likely
    unit and the fix an amplitude off by orders of magnitude (a robust
    standard deviation 300 times that of mouse EEG in volts or more, such as
    microvolts or millivolts stored as volts, or 300 times less), judged on
    the live part of the recording only; and leave unscored, as a ``"dead or
    disconnected electrode"``, the stretches of 3 s or more below the
    amplifier's floor (an EEG: 1.2 µV per second after the low-pass; an
    EMG, judged on its own broadband signal since atonia is microvolts:
    0.5 µV per second). If False, score anyway; the likely unit error stays
    in the quality record, and only EEG stretches 20 times quieter than the
    recording's typical second count as dead.""",
    "reject_by_annotation": """reject_by_annotation : bool
    If True (default), as in MNE, epochs whose 30-s window touches a ``BAD_*``
    annotation of the Raw (for all channels or a picked one) are left
    unscored, with the annotation as the reason. The stage label of artifact
    epochs in a scoring, ``"BAD_artifact"``, is not such a mark and is never
    rejected. If False, ``BAD_*`` annotations are ignored.""",
    "merge_bouts": """merge_bouts : bool
    If True, consecutive epochs of the same stage are merged into one
    annotation per bout. Default False: one annotation per 10-s epoch.""",
    "options": """options : ScoringOptions | None
    All the options of the scoring in one object (see
    :class:`~mne_mousesleep.ScoringOptions`); the keyword arguments above
    that are given explicitly override its fields. None: the keyword
    arguments (and the defaults) alone.""",
    "ref_grieger2021": (
        ".. [1] Grieger N, Schwabedal JTC, Wendel S, Ritze Y, Bialonski S (2021).\n"
        "       Automated scoring of pre-REM sleep in mice with deep learning.\n"
        "       Scientific Reports 11, 12245. doi:10.1038/s41598-021-91286-0"
    ),
    "edges": """Epochs are consecutive 10-s segments from the first sample of the Raw.
Epoch ``k`` is classified from the 30-s window made of epochs ``k - 1``, ``k``
and ``k + 1``, so the first and the last epoch have no score (probabilities
NaN, stage ``"unscored"``, annotation ``"Sleep stage ?"``); a trailing partial
epoch (less than 10 s) is not scored and does not shift the others.""",
}


def fill_doc(func):
    """Fill a function's docstring with entries of :data:`docdict`.

    Parameters
    ----------
    func : callable
        The function whose ``__doc__`` contains ``%(key)s`` placeholders.

    Returns
    -------
    func : callable
        The same function.
    """
    doc = func.__doc__
    if doc:
        lines = doc.splitlines()
        indent = min(
            (len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()), default=0
        )
        filled = {
            key: value.replace("\n", "\n" + " " * indent)
            for key, value in docdict.items()
        }
        func.__doc__ = doc % filled
    return func
