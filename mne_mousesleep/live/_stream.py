"""Lab Streaming Layer: score a stream live, replay a file as one (MNE-LSL)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import collections
import csv
import os
import queue
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from mne.utils import logger

from .._docs import fill_doc
from .._stages import REM, UNSCORED
from ._scorer import OnlineScorer
from ._steps import _Debounce

#: Seconds without a sample after which the stream is taken as lost and
#: connected again (the epochs of the missing time are unscored).
RECONNECT_AFTER = 10.0
#: Seconds without a sample after which a replayed file has ended.
END_AFTER = 2.0
#: Seconds a new marker outlet waits for its first consumer before scoring.
MARKERS_WAIT = 5.0
#: Seconds a stream is looked for on the network (this machine's, with
#: the tests' configuration).
RESOLVE_TIMEOUT = 10.0
#: Seconds a replay's player waits for the scorer to listen before it streams.
LISTEN_WAIT = 30.0


def _lsl():
    """Import MNE-LSL, or say how to install it."""
    try:
        import mne_lsl.lsl
        import mne_lsl.stream
    except ImportError:
        raise ImportError(
            "Live scoring from an LSL stream needs MNE-LSL: pip install "
            "'mne-mousesleep[live]'."
        ) from None
    return mne_lsl


class _StreamNotFound(ValueError):
    """No LSL stream of that name: the user's error, naming the streams seen."""

    def __init__(self, name, timeout, several=False):
        streams = sorted(
            {
                f"{info.name} ({info.stype or 'no type'}, {info.n_channels} "
                f"channels, {info.sfreq:g} Hz)"
                for info in _lsl().lsl.resolve_streams(timeout=min(timeout, 2.0))
            }
        )
        head = (
            f"Several LSL streams are named {name!r}: give each source its own name. "
            if several
            else f"No LSL stream named {name!r} was found within {timeout:g} s. "
        )
        super().__init__(
            head
            + (
                f"Streams seen: {'; '.join(streams)}."
                if streams
                else "No stream at all was seen: is the acquisition running, and "
                "does LSL reach it (LSLAPICFG)?"
            )
        )


class _Queued:
    """A connected :class:`mne_lsl.stream.StreamLSL` whose chunks are queued.

    Every chunk the stream's acquisition thread pulls is copied into a queue
    (its callback), so none is missed between two reads. Connects again
    after ``reconnect_after`` s without a sample (default ``RECONNECT_AFTER``,
    10 s).
    """

    def __init__(
        self,
        name,
        timeout=RESOLVE_TIMEOUT,
        reconnect_after=RECONNECT_AFTER,
        on_listen=None,
    ):
        self.name, self.timeout = name, timeout
        self.reconnect_after = reconnect_after
        self.chunks = queue.Queue()
        self.stream = None
        self.connect()
        if on_listen is not None:  # the chunks are queued from now on
            on_listen()
        self.first_info = self.stream.info  # what the scorer was set up with

    def connect(self):
        mne_lsl = _lsl()
        stream = mne_lsl.stream.StreamLSL(bufsize=10.0, name=self.name)
        try:
            stream.connect(
                acquisition_delay=0.005, processing_flags="all", timeout=self.timeout
            )
        except RuntimeError as err:
            text = str(err)
            if "uniquely identify" not in text:
                raise
            several = " 0 were found" not in text
            raise _StreamNotFound(self.name, self.timeout, several) from None

        def enqueue(data, timestamps, info):
            self.chunks.put((data.T.copy(), timestamps.copy()))
            return data, timestamps

        stream.add_callback(enqueue)
        self.stream = stream
        self.last = time.monotonic()

    @property
    def info(self):
        return self.stream.info

    def get(self, wait=0.5):
        """Return the next chunk ``(data, timestamps)``, or None after ``wait`` s."""
        try:
            chunk = self.chunks.get(timeout=wait)
        except queue.Empty:
            return None
        self.last = time.monotonic()
        return chunk

    def stale(self):
        return time.monotonic() - self.last > self.reconnect_after

    def reconnect(self):
        """Disconnect and look for the stream again (raises if not found)."""
        self.close()
        self.connect()

    def close(self):
        if self.stream is not None:
            try:
                self.stream.disconnect()
            except Exception:  # noqa: BLE001 (a stream gone already)
                pass
            self.stream = None


class _Outputs:
    """The decisions of a live run: printed, pushed as LSL markers, appended to a file.

    The file (CSV) is opened in append mode and flushed to disk after each
    epoch: a killed run loses at most the epoch being decided, and a run
    started again appends to it (its header is checked, and written once).
    """

    def __init__(self, classes, out=None, markers=None, echo=print):
        self.columns = [
            "session",
            "epoch",
            "onset_s",
            "timestamp",
            "stage",
            "network_stage",
            *(f"p_{c}" for c in classes),
            "reason",
            "latency_s",
            "compute_ms",
            "delay_epochs",
            "gain",
            "emg_high",
            "trust",
            "errors",
        ]
        self.classes, self.echo = list(classes), echo
        self.session = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.file = self.writer = self.outlet = None
        if out is not None:
            out = Path(out)
            if out.exists() and out.stat().st_size:
                with open(out, newline="") as fid:
                    header = next(csv.reader(fid), [])
                if header != self.columns:
                    raise ValueError(
                        f"{out} exists with other columns ({', '.join(header[:8])}"
                        "...): it is not a live scoring of this model; give another "
                        "--out."
                    )
                fresh = False
            else:
                fresh = True
            self.file = open(out, "a", newline="")  # noqa: SIM115 (kept open)
            self.writer = csv.writer(self.file)
            if fresh:
                self.writer.writerow(self.columns)
                self._flush()
        if markers is not None:
            lsl = _lsl().lsl
            sinfo = lsl.StreamInfo(
                markers, "Markers", 1, 0.0, "string", f"mne-mousesleep-{markers}"
            )
            self.outlet = lsl.StreamOutlet(sinfo)
            # A stimulator (or LabRecorder) connects now: the first epochs'
            # markers would be lost to it otherwise. The stream's chunks wait
            # in the queue meanwhile.
            if self.outlet.wait_for_consumers(MARKERS_WAIT):
                logger.info(f"Live: marker outlet {markers!r}: a consumer connected")
            else:
                logger.warning(
                    f"Live: no consumer of the marker outlet {markers!r} after "
                    f"{MARKERS_WAIT:g} s; its markers go out from now on"
                )

    def _flush(self):
        self.file.flush()
        os.fsync(self.file.fileno())

    def __call__(self, d):
        p = " ".join(f"{c} {d.proba[c]:.2f}" for c in self.classes) if d.proba else ""
        self.echo(
            f"{d.epoch:6d} {d.onset:9.0f} s  {d.stage:<9} "
            + (p or f"({d.reason})")
            + (f"  latency {d.latency:.2f} s" if np.isfinite(d.latency) else "")
        )
        if self.outlet is not None:
            self.outlet.push_sample([d.stage])
        if self.writer is not None:
            self.writer.writerow(
                [
                    self.session,
                    d.epoch,
                    f"{d.onset:g}",
                    f"{d.timestamp:.6f}",
                    d.stage,
                    d.network_stage,
                    *(f"{d.proba[c]:.6f}" if d.proba else "" for c in self.classes),
                    d.reason or "",
                    f"{d.latency:.4f}",
                    f"{1e3 * d.compute:.2f}",
                    d.delay_epochs,
                    "" if d.gain is None else f"{d.gain:.4g}",
                    "" if d.emg_high is None else int(d.emg_high),
                    d.trust,
                    d.n_errors,
                ]
            )
            self._flush()

    def close(self):
        if self.file is not None:
            self.file.close()
        if self.outlet is not None:
            self.outlet = None


@fill_doc
def run_live(
    stream,
    *,
    model=None,
    picks=None,
    emg="auto",
    out=None,
    markers=None,
    duration=None,
    n_samples=None,
    speed=1.0,
    echo=print,
    on_epoch=None,
    timeout=RESOLVE_TIMEOUT,
    reconnect_after=RECONNECT_AFTER,
    align=None,
    on_listen=None,
    **kwargs,
):
    """Score an LSL stream live; return the decisions.

    Parameters
    ----------
    stream : str
        The name of the LSL stream.
    %(model)s
    %(picks_live)s
    %(emg_live)s
    out : path-like | None
        A CSV file each decision is appended to, flushed per epoch.
    markers : str | None
        The name of an LSL marker outlet (type ``Markers``, one string
        channel) the stage of each decision is pushed to. Scoring starts
        when a consumer has connected to it, or after ``MARKERS_WAIT`` (5) s
        (the stream's samples are kept meanwhile).
    duration : float | None
        Stop after this many seconds (None: until interrupted, or
        ``n_samples``).
    n_samples : int | None
        Stop after this many samples (a replayed file's), or when no sample
        came for ``END_AFTER`` (2) s after some did (the player stopped, its
        last chunks lost), deciding the last epochs
        (:meth:`~mne_mousesleep.OnlineScorer.flush`).
    speed : float
        For a replay faster than real time: the stream's time runs ``speed``
        times faster than the recording's (its declared rate is ``speed``
        times the recording's); timestamps are mapped back.
    echo : callable | None
        Called with one line per epoch (None: silent).
    on_epoch : callable | None
        Called with each :class:`~mne_mousesleep.Decision` too.
    timeout : float
        Seconds to look for the stream.
    reconnect_after : float
        Seconds without a sample after which the stream is looked for again
        (and again after as long, until it is back); the epochs of the
        missing time are unscored.
    align : callable | None
        For a replayed file: given the first chunk ``(n_channels, n)``,
        returns the number of its first sample in the file (the samples
        streamed before the inlet connected are then decided as missing,
        so that the epochs are the file's).
    on_listen : callable | None
        Called without arguments once the stream's chunks are queued (a
        replay starts its player then, so that no sample is lost).
    **kwargs
        Passed to :class:`~mne_mousesleep.OnlineScorer`.

    Returns
    -------
    decisions : list of mne_mousesleep.Decision
        The decisions, in order.
    """
    source = _Queued(stream, timeout, reconnect_after, on_listen)
    info = source.info
    if speed != 1.0:
        info = _slowed(info, speed)
    decisions = []

    def keep(d):
        decisions.append(d)
        outputs(d)
        if on_epoch is not None:
            on_epoch(d)

    clock = source_clock = _lsl().lsl.local_clock
    t0 = None
    if speed != 1.0:

        def clock():
            return t0 + (source_clock() - t0) * speed

    scorer = OnlineScorer(model, info, picks, emg, on_epoch=keep, clock=clock, **kwargs)
    outputs = _Outputs(
        scorer.card.classes,
        out,
        markers,
        echo if echo is not None else (lambda s: None),
    )
    started = time.monotonic()
    received = 0
    try:
        while True:
            if duration is not None and time.monotonic() - started > duration:
                break
            if n_samples is not None and received >= n_samples:
                scorer.flush()
                break
            chunk = source.get()
            if chunk is None:
                idle = time.monotonic() - source.last
                if n_samples is not None and received and idle > END_AFTER:
                    logger.info(f"Live: the stream ended ({received} samples)")
                    if received < n_samples:  # its last chunks never came
                        reason = "not received (the stream ended before it)"
                        scorer._missing(n_samples - received, reason, [])
                    scorer.flush()
                    break
                if source.stale():
                    _reconnect(source, scorer)
                continue
            data, ts = chunk
            if t0 is None:
                t0 = ts[0]
                if align is not None:  # the samples streamed before we joined
                    n = align(data)
                    received += n
                    if n:
                        scorer._missing(
                            n,
                            "not received (streamed before the scorer joined)",
                            [],
                            ts[0] - (n + 1) / info["sfreq"],
                        )
            if speed != 1.0:
                ts = t0 + (ts - t0) * speed
            received += len(ts)
            scorer.push(data, ts)
    finally:
        source.close()
        outputs.close()
    return decisions


def _reconnect(source, scorer):
    """Look for a lost stream again; log and count what fails, never raise."""
    logger.warning(
        f"Live: no sample for {source.reconnect_after:g} s; connecting again"
    )
    try:
        source.reconnect()
    except Exception as err:  # noqa: BLE001 (the loop goes on)
        scorer._error(f"could not connect to the stream again: {err}")
        source.last = time.monotonic()
        return
    first, now = source.first_info, source.info
    if now["sfreq"] != first["sfreq"] or now.ch_names != first.ch_names:
        scorer._error(
            f"the stream came back with other channels or rate "
            f"({now['sfreq']:g} Hz, {now.ch_names}): its chunks are "
            "taken as missing"
        )


def _slowed(info, speed):
    """Return the info of a stream replayed ``speed`` times faster, at its own rate."""
    import mne

    return mne.create_info(
        info.ch_names, info["sfreq"] / speed, info.get_channel_types()
    )


@fill_doc
def replay(
    fname,
    *,
    speed=20.0,
    model=None,
    picks=None,
    emg="auto",
    out=None,
    markers=None,
    echo=print,
    **kwargs,
):
    """Stream a recording with :class:`mne_lsl.player.PlayerLSL` and score it live.

    Parameters
    ----------
    fname : path-like | instance of Raw
        The recording.
    speed : float
        How many times faster than real time it is streamed.
    %(model)s
    %(picks_live)s
    %(emg_live)s
    out : path-like | None
        As for :func:`~mne_mousesleep.live.run_live`.
    markers : str | None
        As for :func:`~mne_mousesleep.live.run_live`.
    echo : callable | None
        As for :func:`~mne_mousesleep.live.run_live`.
    **kwargs
        Passed to :class:`~mne_mousesleep.OnlineScorer`.

    Returns
    -------
    decisions : list of mne_mousesleep.Decision
        The live decisions, in order.
    summary : dict
        Agreement with the offline scoring of the same recording, the
        decision latency, the unscored epochs per reason (``"unscored"``:
        the gain step's warm-up, the first epochs without a full window,
        samples not received) and the REM-onset detection per REM bout of
        the offline scoring (sensitivity, precision, delay, false REM
        triggers per hour). The player starts streaming once the scorer
        listens, so no epoch of the file is lost to the connection.
    """
    import mne

    from ..io import read_recording
    from ..scoring import predict_proba

    _lsl()  # MNE-LSL is there, or say how to install it
    raw = fname if isinstance(fname, mne.io.BaseRaw) else read_recording(fname)[0]
    raw = raw.copy().load_data()
    name = f"mne-mousesleep-replay-{uuid.uuid4().hex[:8]}"
    fast = mne.io.RawArray(
        raw.get_data(),
        mne.create_info(
            raw.ch_names, raw.info["sfreq"] * speed, raw.get_channel_types()
        ),
        verbose=False,
    )
    chunk = max(1, round(raw.info["sfreq"] * speed / 50))  # 50 chunks/s
    while chunk > 1 and raw.n_times % chunk == 0:  # no empty last chunk (a warning)
        chunk += 1
    listening = threading.Event()
    player = _listened_player(
        fast, listening, chunk_size=chunk, n_repeat=1, name=name, source_id=name
    )
    player.start()
    streamed = fast.get_data()  # as the player sends it (float64)
    try:
        decisions = run_live(
            name,
            align=lambda chunk: _position(streamed, chunk),
            on_listen=listening.set,
            model=model,
            picks=picks,
            emg=emg,
            out=out,
            markers=markers,
            n_samples=len(raw.times),
            duration=raw.times[-1] / speed + 30.0,
            speed=speed,
            echo=echo,
            **kwargs,
        )
    finally:
        if player.running:
            player.stop()
    steps = {k: kwargs[k] for k in ("adapt", "smooth") if k in kwargs}
    offline = predict_proba(raw, picks, model=model, emg=emg, verbose="error", **steps)
    summary = _summary(decisions, offline, speed, kwargs.get("debounce", 1))
    return decisions, summary


def _listened_player(fname, listening, **kwargs):
    """Return a :class:`mne_lsl.player.PlayerLSL` of ``fname`` that waits to stream."""

    class ListenedPlayer(_lsl().player.PlayerLSL):
        """A player that sends its first chunk once ``listening`` is set.

        The outlet exists from :meth:`start` (so that the scorer finds the
        stream), but the file is streamed from its first sample only when
        the scorer's inlet queues the chunks, or after ``LISTEN_WAIT`` s.
        """

        def __init__(self, fname, listening, **kwargs):
            super().__init__(fname, **kwargs)
            self._listening, self._heard = listening, False

        def _stream(self):
            if not self._heard:
                self._heard = True
                self._listening.wait(LISTEN_WAIT)
                self._target_timestamp = _lsl().lsl.local_clock()
            super()._stream()

    return ListenedPlayer(fname, listening, **kwargs)


def _position(data, chunk):
    """Return the sample of ``data`` ``(n_channels, n_times)`` where ``chunk`` starts.

    Compared exactly (the player streams float64); 0 if not found.
    """
    chunk = np.asarray(chunk, data.dtype)
    m = min(chunk.shape[1], 16)
    candidates = np.flatnonzero(data[0] == chunk[0, 0])
    for k in candidates:
        if k + m <= data.shape[1] and np.array_equal(data[:, k : k + m], chunk[:, :m]):
            return int(k)
    logger.warning("Live replay: the first chunk was not found in the file")
    return 0


def _stages_of(decisions, n):
    out = np.full(n, UNSCORED, dtype=object)
    for d in decisions:
        if d.epoch < n:
            out[d.epoch] = d.stage
    return out


def _summary(decisions, offline, speed=1.0, debounce=1):
    """Agreement, latency and REM-onset detection of live decisions against offline."""
    from ..hypnogram import proba_to_stages

    reference = np.asarray(proba_to_stages(offline), dtype=object)
    n = len(reference)
    live = _stages_of(decisions, n)
    both = (reference != UNSCORED) & (live != UNSCORED)
    latency = np.array([d.latency for d in decisions if d.scored and not d.at_end])
    compute = np.array([d.compute for d in decisions])
    epoch_length = offline.attrs["epoch_length"]
    out = dict(
        n_epochs=len(decisions),
        n_scored=int(sum(d.scored for d in decisions)),
        agreement=float((reference[both] == live[both]).mean()) if both.any() else None,
        latency_median_s=float(np.median(latency)) if len(latency) else None,
        latency_p95_s=float(np.percentile(latency, 95)) if len(latency) else None,
        compute_median_ms=float(1e3 * np.median(compute)) if len(compute) else None,
        speed=speed,
        delay_epochs=decisions[0].delay_epochs if decisions else None,
        unscored=dict(collections.Counter(d.reason for d in decisions if not d.scored)),
    )
    delay = decisions[0].delay_epochs if decisions else 0
    out.update(_rem_onsets(reference, live, epoch_length, debounce, delay_epochs=delay))
    return out


def _triggers(stages, stage, debounce=1):
    """Return the epochs where ``stage`` is announced (as ``on_stage_change``)."""
    announce = _Debounce(debounce)
    return [
        k for k, value in enumerate(stages) if announce(value)[0] and value == stage
    ]


def _rem_onsets(reference, live, epoch_length, debounce=1, min_bout=1, delay_epochs=0):
    """REM-onset detection of live stages against reference stages, per REM bout.

    A live REM trigger is the first of ``debounce`` consecutive REM decisions
    after another stage (what ``on_stage_change`` reports). A reference REM
    bout (``min_bout`` or more consecutive REM epochs) is detected when a
    trigger falls within it; the delay is from the bout's onset to the end of
    the trigger's epoch (plus ``delay_epochs`` epochs of a model that looks
    ahead; the decision's own latency comes on top). Precision is the share
    of triggers within a reference REM bout; false triggers are those outside
    one, per hour of recording.

    Returns a dict: ``rem_bouts``, ``rem_sensitivity``, ``rem_precision``,
    ``rem_delay_median_s``, ``false_rem_per_hour``, ``n_triggers``.
    """
    reference = np.asarray(reference, dtype=object)
    live = np.asarray(live, dtype=object)
    n = len(reference)
    bouts, k = [], 0
    while k < n:
        if reference[k] == REM:
            j = k
            while j < n and reference[j] == REM:
                j += 1
            if j - k >= min_bout:
                bouts.append((k, j))
            k = j
        else:
            k += 1
    triggers = _triggers(live, REM, debounce)
    in_bout = {}
    for t in triggers:
        for b in bouts:
            if b[0] <= t < b[1]:
                in_bout.setdefault(b, t)
    hits = [t for t in triggers if any(b[0] <= t < b[1] for b in bouts)]
    delays = [(t - b[0] + 1 + delay_epochs) * epoch_length for b, t in in_bout.items()]
    hours = n * epoch_length / 3600
    return dict(
        rem_bouts=len(bouts),
        rem_sensitivity=len(in_bout) / len(bouts) if bouts else None,
        rem_precision=len(hits) / len(triggers) if triggers else None,
        rem_delay_median_s=float(np.median(delays)) if delays else None,
        false_rem_per_hour=(len(triggers) - len(hits)) / hours if hours else None,
        n_triggers=len(triggers),
    )
