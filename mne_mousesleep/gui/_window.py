"""The review window (qtpy + pyqtgraph), imported only when a window is asked for."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import atexit
import datetime
import threading
import weakref

import numpy as np
import pyqtgraph as pg
from qtpy import QtCore, QtGui, QtWidgets

from .._stages import CONFIRMED, CORRECTED, SCORER, UNSCORED, _zt_hours
from ..viz import _LEVELS, STAGE_COLORS
from ._session import KEYS


def _guard_infinite_lines():
    """Give pyqtgraph's lines an empty extent once their view is gone.

    :class:`pyqtgraph.InfiniteLine` (the cursors, the EMG threshold, the
    edges of a region) reads its view's size in ``boundingRect``; when Qt
    asks a line whose view was already collected (a window being torn down
    while events are processed), pyqtgraph raises inside Qt's virtual call and
    the process dies with a segmentation fault. Seen in the test suite, once
    in a while, after a window closed.
    """
    compute = pg.InfiniteLine._computeBoundingRect
    if getattr(compute, "_guarded", False):
        return

    def guarded(self):
        try:
            return compute(self)
        except AttributeError:  # no view (None) any more, even mid-call
            if self.getViewBox() is not None:
                raise
            return QtCore.QRectF()

    guarded._guarded = True
    pg.InfiniteLine._computeBoundingRect = guarded


_guard_infinite_lines()

#: What each key does, as the keymap dialog shows it.
KEYMAP = (
    ("w n p r a  (or 1-5)", "label the epoch (or the selection) and go on"),
    ("space", "confirm the stage as reviewed and go on"),
    ("left / right", "one epoch back / on"),
    ("shift + left / right", "select a range (one key labels it)"),
    ("page up / page down", "one screen back / on"),
    ("tab / shift + tab", "next / previous epoch of the review queue"),
    ("[ / ]", "fewer / more neighbouring epochs (0-4): time zoom"),
    ("+ / -", "larger / smaller traces (the wheel on a trace: that channel)"),
    ("f", "display filter on / off (EEG 0.5-30 Hz, EMG 10 Hz high-pass)"),
    ("ctrl + z / ctrl + shift + z", "undo / redo (no limit)"),
    ("ctrl + s", "save the reviewed scoring"),
    ("ctrl + shift + s", "export to a scoring format"),
    ("t", "teach the scorer from the review (fine-tune, in the background)"),
    ("?", "this keymap"),
)
#: Columns of the overview's colour strip of stages, at most.
STRIP_COLUMNS = 4096
#: Epochs of the recording read at once for the traces.
BLOCK_EPOCHS = 60
#: Milliseconds between autosaves of the recovery file.
AUTOSAVE_MS = 2000
#: Epochs on each side of the current one in the power strip.
CONTEXT_EPOCHS = 15
#: Pass bands (Hz) of the display filter, by channel kind.
FILTER_BANDS = {"eeg": (0.5, 30.0), "emg": (10.0, None)}
#: EEG bands (Hz) of the power strip.
POWER_BANDS = {"δ": (0.5, 4.0), "θ": (6.0, 10.0)}
#: Highest frequency (Hz) of the spectrogram.
SPECTROGRAM_FMAX = 30.0
#: Stage names in the probability lines, as their keys.
_SHORT = {stage: key.upper() for key, stage in KEYS.items() if key.isalpha()}
_PROVENANCE_WORDS = {
    SCORER: "scorer",
    CONFIRMED: "confirmed",
    CORRECTED: "corrected",
}


def _style(plot):
    """Black axes and labels on the white background, no SI prefixes."""
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen("k"))
        axis.setTextPen(pg.mkPen("k"))
        axis.enableAutoSIPrefix(False)


def _color(stage, alpha=255):
    color = QtGui.QColor(STAGE_COLORS.get(stage, "#ffffff"))
    color.setAlpha(alpha)
    return color


#: The windows still open, closed before the interpreter exits (Qt objects
#: destroyed after the application crash the process at exit).
_OPEN = weakref.WeakSet()


@atexit.register
def _close_all():
    for window in list(_OPEN):
        window.session.dirty = False  # the recovery file keeps the changes
        window.close()
    app = QtWidgets.QApplication.instance()
    if app is not None:
        app.processEvents()


class ReviewWindow(QtWidgets.QMainWindow):
    """A window to review and correct the stages of one recording.

    Its ``closed`` signal is emitted when it closes (the study list then
    shows the new counts).

    Parameters
    ----------
    raw : instance of Raw
        The recording (read epoch by epoch; never modified).
    session : ReviewSession
        The stages, their provenance and history.
    eeg : str
        The EEG channel shown.
    emg : str | None
        The EMG channel shown (None: EEG only).
    lights_on : str | None
        ``"HH:MM"``: dark phases are shaded in the overview.
    n_neighbours : int
        Epochs shown on each side of the current one (0-4).
    display_filter : bool
        Whether the traces start filtered (:data:`FILTER_BANDS`; key ``f``).
    scalings : dict | None
        Half the height of each channel's trace (µV), by channel name;
        missing channels get 1.1 times the 99.5th percentile of their
        absolute value on the first screen.
    """

    closed = QtCore.Signal()

    def __init__(self, raw, session, eeg, emg=None, lights_on=None, n_neighbours=1,
                 display_filter=False, scalings=None):  # fmt: skip
        super().__init__()
        self.raw, self.session = raw, session
        self.channels = [eeg] + ([emg] if emg else [])
        self.n_neighbours = int(np.clip(n_neighbours, 0, 4))
        self.display_filter = bool(display_filter)
        self.scalings = dict(scalings or {})
        self._applied = {}  # the half-heights the traces were last given
        self.current, self.anchor = 0, None
        self.n_epochs = len(session.stages)
        self.hours = session.onsets / 3600.0
        name = raw.filenames[0] if raw.filenames and raw.filenames[0] else None
        self.setWindowTitle(f"Review: {name or 'a recording in memory'}")
        self.resize(1200, 920)
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        # Light, as MNE's browser and the package's figures.
        self.overview = pg.GraphicsLayoutWidget()
        self.overview.setMaximumHeight(250)
        self.detail = pg.GraphicsLayoutWidget()
        for widget in (self.overview, self.detail):
            widget.setBackground("w")
        layout.addWidget(self.overview)
        layout.addWidget(self.detail, stretch=1)
        self.setCentralWidget(central)
        self.status = QtWidgets.QLabel()
        self.statusBar().addWidget(self.status, 1)
        self.note = ""  # the last message (saved, exported, recovered...)
        self._build_overview(lights_on)
        self._build_detail()
        for widget in (central, self.overview, self.detail):
            widget.setFocusPolicy(QtCore.Qt.NoFocus)
        self.setFocusPolicy(QtCore.Qt.StrongFocus)
        toolbar = self.addToolBar("Review")
        toolbar.addAction("Save (ctrl+s)", self.save)
        toolbar.addAction("Teach the scorer (t)", self.teach)
        self._filter_action = toolbar.addAction("Filter (f)", self.toggle_filter)
        self._filter_action.setCheckable(True)
        self._filter_action.setChecked(self.display_filter)
        toolbar.addAction("Keys (?)", self.show_keymap)
        self._progress = QtWidgets.QProgressBar()
        self._progress.setRange(0, 0)  # busy: fine-tuning reports no steps
        self._progress.setMaximumWidth(160)
        self._progress.setVisible(False)
        self.statusBar().addPermanentWidget(self._progress)
        self._teaching, self.taught = None, None
        self.ask_keep = self._ask_keep
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.session.autosave)
        self._timer.start(AUTOSAVE_MS)
        self.ask_on_close = self._ask_on_close
        _OPEN.add(self)
        self.go_to(0)
        if session.messages:
            self._say(session.messages[-1])

    # --- the overview ---------------------------------------------------------------

    def _build_overview(self, lights_on):
        hyp = self.overview.addPlot(row=0, col=0)
        hyp.setLabel("left", "stage")
        hyp.hideAxis("bottom")  # the confidence's below says the hours
        levels = sorted(_LEVELS.items(), key=lambda kv: kv[1])
        hyp.getAxis("left").setTicks([[(v, s) for s, v in levels]])
        hyp.setYRange(-1.0, 4.5, padding=0)
        hyp.setMouseEnabled(y=False)
        self._hyp_curve = pg.PlotDataItem(stepMode="right", pen=pg.mkPen("k", width=1))
        self._hyp_curve.setDownsampling(auto=True, method="peak")
        self._hyp_curve.setClipToView(True)
        hyp.addItem(self._hyp_curve)
        # The stages as a strip of colours under the curve (one image: fast
        # for a week of epochs), and the corrected epochs as rings.
        self._strip = pg.ImageItem(axisOrder="row-major")
        hyp.addItem(self._strip)
        self._dots = pg.ScatterPlotItem(
            size=6, pen=pg.mkPen("#d00000"), brush=pg.mkBrush(None), symbol="o"
        )
        hyp.addItem(self._dots)
        conf = self.overview.addPlot(row=1, col=0)
        conf.setLabel("left", "confidence")
        conf.setLabel("bottom", "time from the first sample (h)")
        conf.setYRange(0, 1.05, padding=0)
        conf.getAxis("left").setTicks([[(0, "0"), (0.5, "0.5"), (1, "1")]])
        conf.setMouseEnabled(y=False)
        conf.setXLink(hyp)
        proba = np.asarray(self.session.result.proba)
        top = np.full(len(proba), np.nan)
        scored = ~np.isnan(proba).any(axis=1)
        top[scored] = proba[scored].max(axis=1)
        conf.plot(self.hours, top, pen=pg.mkPen("#555555"), connect="finite")
        queue = self.session.queue
        marks = pg.ScatterPlotItem(
            x=self.hours[queue],
            y=np.full(len(queue), 0.06),
            symbol="t1",
            size=6,
            brush=pg.mkBrush("#7b2cbf"),
            pen=None,
        )
        conf.addItem(marks)
        # What the steps changed, and the unscored stretches (a strip).
        emg_changed, hmm_changed = self.session.emg_changed, self.session.hmm_changed
        for epochs, y, symbol, colour in (
            (emg_changed, 0.22, "d", "#8d5524"),
            (hmm_changed, 0.38, "s", "#1d3557"),
        ):
            conf.addItem(
                pg.ScatterPlotItem(
                    x=self.hours[epochs], y=np.full(len(epochs), y), symbol=symbol,
                    size=6, brush=pg.mkBrush(colour), pen=None,
                )
            )  # fmt: skip
        conf.setTitle(
            '<span style="color:#7b2cbf">&#9650; review queue</span>&nbsp;&nbsp; '
            '<span style="color:#8d5524">&#9670; EMG step: to Wake</span>&nbsp;&nbsp; '
            '<span style="color:#1d3557">&#9632; changed by the HMM</span>&nbsp;&nbsp; '
            '<span style="color:#000000">&#9644; unscored (above the stages)</span>',
            size="8pt",
        )
        self._unscored = pg.ImageItem(axisOrder="row-major")
        hyp.addItem(self._unscored)
        self._cursor = [pg.InfiniteLine(pen=pg.mkPen("#d00000", width=2)) for _ in "ab"]
        hyp.addItem(self._cursor[0])
        conf.addItem(self._cursor[1])
        if lights_on is not None and self.session.result.meas_date is not None:
            self._shade_dark(hyp, conf, lights_on)
        for plot in (hyp, conf):
            plot.scene().sigMouseClicked.connect(self._clicked)
        self._hyp_plot, self._conf_plot = hyp, conf
        for plot in (hyp, conf):
            _style(plot)
        self._refresh_overview()

    def _shade_dark(self, hyp, conf, lights_on):
        result = self.session.result
        start = result.meas_date + datetime.timedelta(seconds=result.first_time)
        zt = (_zt_hours(start, lights_on) + self.session.onsets / 3600) % 24
        dark = zt >= 12
        edges = np.flatnonzero(np.diff(np.r_[0, dark.astype(int), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            x0 = self.hours[a]
            x1 = self.hours[b - 1] + self.session.epoch_length / 3600
            for plot in (hyp, conf):
                region = pg.LinearRegionItem(
                    (x0, x1), movable=False, brush=pg.mkBrush(0, 0, 0, 28), pen=None
                )
                region.setZValue(-10)
                plot.addItem(region)

    def _refresh_overview(self):
        stages, n = self.session.stages, self.n_epochs
        level = np.full(n, np.nan)
        # At most STRIP_COLUMNS columns (Qt fails to draw far wider images):
        # a week of epochs shows one epoch of every 15 in the strip.
        columns = np.linspace(0, n - 1, min(n, STRIP_COLUMNS)).round().astype(int)
        rgba = np.zeros((1, len(columns), 4), np.ubyte)
        for stage in STAGE_COLORS:
            mask = stages == stage
            level[mask] = _LEVELS.get(stage, np.nan)
            rgba[0, mask[columns]] = _color(stage).getRgb()
        end = self.hours[-1] + self.session.epoch_length / 3600
        self._hyp_curve.setData(
            np.r_[self.hours, end], np.r_[level, level[-1]], connect="finite"
        )
        self._strip.setImage(rgba, autoLevels=False)
        self._strip.setRect(
            QtCore.QRectF(self.hours[0], -0.95, end - self.hours[0], 0.4)
        )
        # Unscored epochs as black above the stages' strip (a column is
        # black when any of its epochs is unscored: short gaps stay visible).
        unscored = stages == UNSCORED
        bins = np.searchsorted(columns, np.flatnonzero(unscored), side="right") - 1
        gaps = np.zeros((1, len(columns), 4), np.ubyte)
        gaps[0, np.unique(np.clip(bins, 0, len(columns) - 1))] = (0, 0, 0, 255)
        if not unscored.any():
            gaps[:] = 0
        self._unscored.setImage(gaps, autoLevels=False)
        self._unscored.setRect(
            QtCore.QRectF(self.hours[0], -0.5, end - self.hours[0], 0.15)
        )
        corrected = np.flatnonzero(self.session.provenance == CORRECTED)
        self._dots.setData(
            x=self.hours[corrected] + self.session.epoch_length / 7200,
            y=level[corrected],
        )

    def _clicked(self, event):
        plot = self._hyp_plot
        pos = event.scenePos()
        for p in (self._hyp_plot, self._conf_plot):
            if p.sceneBoundingRect().contains(pos):
                plot = p
        x = plot.vb.mapSceneToView(pos).x()
        self.go_to(int(np.clip(x * 3600 // self.session.epoch_length, 0, None)))

    # --- the detail -----------------------------------------------------------------

    def _build_detail(self):
        self._traces, self._plots = [], []
        for row, channel in enumerate(self.channels):
            plot = self.detail.addPlot(row=row, col=0)
            _style(plot)
            plot.getAxis("left").setLabel(f"{channel} (µV)")
            plot.showGrid(x=False, y=True, alpha=0.2)
            plot.setMouseEnabled(x=False, y=True)  # the wheel scales the channel
            plot.enableAutoRange(y=False)
            plot.hideAxis("bottom")  # the spectrogram's below says the time
            if row:
                plot.setXLink(self._plots[0])
            curve = plot.plot(pen=pg.mkPen("#1d3557", width=1))
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self._traces.append(curve)
            self._plots.append(plot)
        # The EEG's spectrogram under the traces, on the same time axis.
        spec = self.detail.addPlot(row=len(self.channels), col=0)
        _style(spec)
        spec.getAxis("left").setLabel("EEG (Hz)")
        spec.setXLink(self._plots[0])
        spec.setYRange(0, SPECTROGRAM_FMAX, padding=0)
        spec.setMouseEnabled(x=False, y=False)
        self._spectrogram = pg.ImageItem(axisOrder="row-major")
        self._spectrogram.setColorMap(pg.colormap.get("viridis"))
        spec.addItem(self._spectrogram)
        self._plots.append(spec)
        self._plots[-1].setLabel("bottom", "time from the first sample (s)")
        # The power of each epoch around the current one: EEG bands and EMG.
        power = self.detail.addPlot(row=len(self.channels) + 1, col=0)
        _style(power)
        power.getAxis("left").setLabel("power (dB re. median)")
        power.setLabel("bottom", "the epochs around: time from the first sample (s)")
        power.setMouseEnabled(x=False, y=False)
        self._power = {}
        colours = {"δ": "#264653", "θ": "#2a9d8f", "EMG": "#d00000"}
        names = list(POWER_BANDS) + (["EMG"] if len(self.channels) > 1 else [])
        keys = []  # the legend as the plot's title: it hides no curve
        has_threshold = self.session.result.emg.get("threshold") is not None
        for name in names:
            label = (
                f"EEG {name} {POWER_BANDS[name][0]:g}-{POWER_BANDS[name][1]:g} Hz"
                if name in POWER_BANDS
                else "EMG (the EMG step's band"
                + ("; dashed: its threshold)" if has_threshold else ")")
            )
            keys.append(f'<span style="color:{colours[name]}">&#9632; {label}</span>')
            self._power[name] = power.plot(
                stepMode="right", pen=pg.mkPen(colours[name], width=2)
            )
        power.setTitle("&nbsp;&nbsp;&nbsp;".join(keys), size="9pt", color="k")
        self._emg_line = pg.InfiniteLine(
            angle=0, pen=pg.mkPen("#d00000", style=QtCore.Qt.DashLine)
        )
        self._emg_line.setVisible(False)
        power.addItem(self._emg_line)
        self._shown = pg.LinearRegionItem(
            movable=False, brush=pg.mkBrush(0, 0, 0, 25), pen=pg.mkPen(None)
        )
        self._shown.setZValue(-10)
        power.addItem(self._shown)
        self._power_plot = power
        layout = self.detail.ci.layout
        for row in range(len(self.channels)):
            layout.setRowStretchFactor(row, 3)
        layout.setRowStretchFactor(len(self.channels), 2)
        layout.setRowStretchFactor(len(self.channels) + 1, 2)
        # One band per shown epoch and plot, and one text per epoch, made once
        # and moved (making and removing items at every key is slower).
        self._bands, self._texts = [], []
        for _ in range(2 * 4 + 1):
            bands = []
            for plot in self._plots:
                band = pg.LinearRegionItem(movable=False, pen=pg.mkPen("#888888"))
                band.setZValue(-10)
                if plot is spec:  # boundaries only: the image is the content
                    band.setZValue(10)
                plot.addItem(band)
                bands.append(band)
            self._bands.append(bands)
            text = pg.TextItem(color="k")
            self._plots[0].addItem(text)
            self._texts.append(text)
        self._block = self._spectrogram_of = None

    def _read(self, k0, k1):
        """Return the shown signals of epochs ``k0`` to ``k1`` from a cached block.

        The recording is read in blocks of :data:`BLOCK_EPOCHS` epochs around
        the current one, so that moving reads nothing most of the time. Each
        block holds the traces (µV, less their median; filtered when the
        display filter is on), the EEG's spectrogram and the power of each
        of its epochs (EEG bands and EMG, unfiltered).

        Returns
        -------
        times : array, shape (n_times,)
            Seconds from the first sample.
        data : array, shape (n_channels, n_times)
            The traces (µV).
        block : dict
            The whole block (``b0``, ``b1``: its epochs; ``power``: name ->
            array of shape (b1 - b0,) in dB re. the block's median; ``emg_db``:
            the EMG step's threshold on that scale or None; ``spectrogram``:
            its image, times and frequencies).
        """
        length, sfreq = self.session.epoch_length, self.raw.info["sfreq"]
        block = self._block
        # The block must hold the shown epochs and the power strip's context.
        need0 = max(min(k0, self.current - CONTEXT_EPOCHS), 0)
        need1 = min(max(k1, self.current + CONTEXT_EPOCHS + 1), self.n_epochs)
        if (
            block is None
            or need0 < block["b0"]
            or need1 > block["b1"]
            or block["filtered"] != self.display_filter
        ):
            block = self._block = self._read_block(k0, k1)
        start, data = block["start"], block["data"]
        i0 = int(round(k0 * length * sfreq)) - start
        i1 = min(int(round(k1 * length * sfreq)) - start, data.shape[1])
        return (start + np.arange(i0, i1)) / sfreq, data[:, i0:i1], block

    def _read_block(self, k0, k1):
        from mne.filter import filter_data
        from scipy.signal import spectrogram

        from ..scoring._spectra import _welch_epochs
        from ..scoring.emg import _epochs_log_power

        length, sfreq = self.session.epoch_length, self.raw.info["sfreq"]
        b0 = max(min(k0, self.current - CONTEXT_EPOCHS) - BLOCK_EPOCHS // 2, 0)
        b1 = min(
            max(k1, self.current + CONTEXT_EPOCHS + 1) + BLOCK_EPOCHS // 2,
            self.n_epochs,
        )
        start = int(round(b0 * length * sfreq))
        stop = min(int(round(b1 * length * sfreq)), self.raw.n_times)
        volts = self.raw.get_data(picks=self.channels, start=start, stop=stop)
        volts = np.nan_to_num(volts)
        n_epoch = int(round(length * sfreq))
        n_full = volts.shape[1] // n_epoch
        epochs = volts[:, : n_full * n_epoch].reshape(len(self.channels), n_full, -1)
        power = {}
        n_fft = min(n_epoch, int(2 * sfreq))
        freqs = np.arange(n_fft // 2 + 1) * (sfreq / n_fft)
        if n_full:
            psd = _welch_epochs(
                epochs[0], sfreq, n_fft, window="hamming", overlap=0, detrend=True,
                bins=np.flatnonzero(freqs <= SPECTROGRAM_FMAX),
            )  # fmt: skip
            for name, (lo, hi) in POWER_BANDS.items():
                band = (freqs >= lo) & (freqs <= hi)
                power[name] = np.log10(psd[:, band[: psd.shape[1]]].mean(axis=1))
            if len(self.channels) > 1:
                power["EMG"] = _epochs_log_power(epochs[1], sfreq)
        for name, values in power.items():  # a last partial epoch: no power
            power[name] = np.r_[values, np.full(b1 - b0 - len(values), np.nan)]
        threshold = self.session.result.emg.get("threshold")
        emg_db = None
        for name, values in power.items():
            finite = values[np.isfinite(values)]
            reference = np.median(finite) if finite.size else np.nan
            with np.errstate(invalid="ignore"):  # -inf - -inf: a flat channel
                power[name] = 10 * (values - reference)
            if name == "EMG" and threshold is not None and np.isfinite(reference):
                emg_db = 10 * (float(threshold) - reference)
        nperseg = min(int(2 * sfreq), volts.shape[1])
        f, t, sxx = spectrogram(volts[0], sfreq, nperseg=nperseg, noverlap=nperseg // 2)
        keep = f <= SPECTROGRAM_FMAX
        image = np.log10(sxx[keep] + np.finfo(float).tiny)
        traces = volts
        if self.display_filter:
            traces = np.stack(
                [
                    filter_data(y, sfreq, *self._band(ch), verbose="error", copy=True)
                    for ch, y in zip(self.channels, volts)
                ]
            )
        traces = (traces - np.median(traces, axis=1, keepdims=True)) * 1e6
        return dict(
            b0=b0, b1=b1, start=start, data=traces,
            filtered=self.display_filter, power=power, emg_db=emg_db,
            spectrogram=(image, (start / sfreq) + t, f[keep]),
        )  # fmt: skip

    def _band(self, channel):
        """Return the display filter's band (Hz) of ``channel``, below Nyquist."""
        kind = (
            "emg" if len(self.channels) > 1 and channel == self.channels[1] else "eeg"
        )
        lo, hi = FILTER_BANDS[kind]
        nyquist = self.raw.info["sfreq"] / 2
        return lo, (hi if hi is not None and hi < 0.9 * nyquist else None)

    def _show_detail(self):
        length = self.session.epoch_length
        k0 = max(self.current - self.n_neighbours, 0)
        k1 = min(self.current + self.n_neighbours + 1, self.n_epochs)
        times, data, block = self._read(k0, k1)
        for curve, y in zip(self._traces, data):
            curve.setData(times, y)
        for plot, channel, y in zip(self._plots, self.channels, data):
            if channel not in self.scalings:  # the first screen, bursts included
                top = np.percentile(np.abs(y), 99.5) if y.size else 0.0
                self.scalings[channel] = float(1.1 * top) or 100.0
            if self._applied.get(channel) != self.scalings[channel]:
                half = self._applied[channel] = self.scalings[channel]
                plot.setYRange(-half, half, padding=0)
        self._show_spectrogram(block, k0, k1)
        self._show_power(block)
        selected = self._selection()
        proba = self.session.result.proba
        classes = self.session.result.classes
        top = self.scalings[self.channels[0]]
        for slot, k in enumerate(range(k0, k1)):
            stage = self.session.stages[k]
            alpha = 90 if k in selected else 40
            brush = pg.mkBrush(_color(stage, alpha))
            for plot, band in zip(self._plots, self._bands[slot]):
                band.setRegion((k * length, (k + 1) * length))
                band.setBrush(
                    brush if plot is not self._plots[-1] else pg.mkBrush(None)
                )
                band.setVisible(True)
            text = self._texts[slot]
            text.setText(self._epoch_text(k, proba, classes))
            text.setPos(k * length + 0.08 * length, top)
            text.setVisible(True)
        for slot in range(k1 - k0, len(self._texts)):
            self._texts[slot].setVisible(False)
            for band in self._bands[slot]:
                band.setVisible(False)
        self._plots[0].setXRange(k0 * length, k1 * length, padding=0)  # x-linked

    def _show_spectrogram(self, block, k0, k1):
        if self._spectrogram_of is block:  # the image of this block is shown
            return
        self._spectrogram_of = block
        image, times, freqs = block["spectrogram"]
        if not image.size:
            self._spectrogram.clear()
            return
        step_t = times[1] - times[0] if len(times) > 1 else 1.0
        step_f = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
        self._spectrogram.setImage(
            image, levels=np.percentile(image, [5, 99.5]), autoLevels=False
        )
        self._spectrogram.setRect(
            QtCore.QRectF(
                times[0] - step_t / 2, freqs[0], step_t * len(times),
                step_f * len(freqs),
            )
        )  # fmt: skip

    def _show_power(self, block):
        length = self.session.epoch_length
        c0 = max(self.current - CONTEXT_EPOCHS, block["b0"])
        c1 = min(self.current + CONTEXT_EPOCHS + 1, block["b1"])
        edges = np.arange(c0, c1 + 1) * length
        shown = []
        for name, curve in self._power.items():
            values = block["power"].get(name)
            if values is None or c1 <= c0:
                curve.setData([], [])
                continue
            y = values[c0 - block["b0"] : c1 - block["b0"]]
            y = np.where(np.isfinite(y), y, np.nan)
            curve.setData(edges, np.r_[y, y[-1:]], connect="finite")
            shown.append(y)
        if block["emg_db"] is not None and "EMG" in self._power:
            self._emg_line.setValue(block["emg_db"])
            self._emg_line.setVisible(True)
            shown.append([block["emg_db"]])  # the threshold stays in view
        k0 = max(self.current - self.n_neighbours, 0)
        k1 = min(self.current + self.n_neighbours + 1, self.n_epochs)
        self._shown.setRegion((k0 * length, k1 * length))
        self._power_plot.setXRange(c0 * length, max(c1, c0 + 1) * length, padding=0)
        values = np.concatenate([np.ravel(v) for v in shown]) if shown else []
        values = values[np.isfinite(values)] if len(values) else values
        if len(values):
            low, high = float(values.min()), float(values.max())
            self._power_plot.setYRange(min(low, -1.0), max(high, 1.0), padding=0.08)

    def _epoch_text(self, k, proba, classes):
        stage = self.session.stages[k]
        words = _PROVENANCE_WORDS[self.session.provenance[k]]
        if np.isnan(proba[k]).any():
            return f"{stage} ({words})"
        shares = " ".join(
            f"{_SHORT.get(c, c)} {p:.2f}"
            for c, p in zip(classes, proba[k])
            if p >= 0.01
        )
        return f"{stage} ({words})\n{shares}"

    # --- moving and labelling --------------------------------------------------------

    def go_to(self, epoch, extend=False):
        """Show ``epoch`` (clipped to the recording); ``extend`` the selection."""
        epoch = int(np.clip(epoch, 0, self.n_epochs - 1))
        if extend:
            self.anchor = self.current if self.anchor is None else self.anchor
        else:
            self.anchor = None
        self.current = epoch
        for line in self._cursor:
            line.setValue(self.hours[epoch] + self.session.epoch_length / 7200)
        self._show_detail()
        self._show_status()

    def _selection(self):
        if self.anchor is None:
            return [self.current]
        a, b = sorted((self.anchor, self.current))
        return list(range(a, b + 1))

    def _show_status(self):
        s, k = self.session, self.current
        onset = s.onsets[k]
        hh, rem = divmod(int(onset), 3600)
        clock = f"{hh:02d}:{rem // 60:02d}:{rem % 60:02d}"
        selected = self._selection()
        reason = s.queue_reasons().get(k)
        parts = [
            f"epoch {k + 1}/{self.n_epochs} at {clock}",
            f"{s.stages[k]} (scorer: {s.scorer[k]}, "
            f"{_PROVENANCE_WORDS[s.provenance[k]]})",
            f"queue: {s.n_reviewed}/{len(s.queue)} reviewed",
        ]
        if len(selected) > 1:
            parts.insert(1, f"{len(selected)} epochs selected")
        if reason:
            parts.append(f"in the queue: {reason}")
        if s.read_only:
            parts.append("read-only")
        elif s.dirty:
            parts.append("unsaved changes")
        if self.note:
            parts.append(self.note)
        self.status.setText("  ·  ".join(parts))

    def _say(self, message):
        """Show ``message`` in the status bar until the next change."""
        self.note = message
        self._show_status()

    def keyPressEvent(self, event):  # noqa: D102 (Qt's)
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & QtCore.Qt.ControlModifier)
        shift = bool(mods & QtCore.Qt.ShiftModifier)
        text = event.text().lower()
        screen = 2 * self.n_neighbours + 1
        if ctrl and key == QtCore.Qt.Key_Z:
            epochs = self.session.redo() if shift else self.session.undo()
            self._after_change(epochs[0] if len(epochs) else self.current)
        elif ctrl and key == QtCore.Qt.Key_Y:
            epochs = self.session.redo()
            self._after_change(epochs[0] if len(epochs) else self.current)
        elif ctrl and key == QtCore.Qt.Key_S:
            self.export() if shift else self.save()
        elif text in KEYS and not ctrl:
            self.session.label(self._selection(), KEYS[text])
            self._after_change(max(self._selection()) + 1)
        elif key == QtCore.Qt.Key_Space:
            self.session.confirm(self._selection())
            self._after_change(max(self._selection()) + 1)
        elif key in (QtCore.Qt.Key_Right, QtCore.Qt.Key_Left):
            step = 1 if key == QtCore.Qt.Key_Right else -1
            self.go_to(self.current + step, extend=shift)
        elif key in (QtCore.Qt.Key_PageDown, QtCore.Qt.Key_PageUp):
            step = screen if key == QtCore.Qt.Key_PageDown else -screen
            self.go_to(self.current + step)
        elif key in (QtCore.Qt.Key_Tab, QtCore.Qt.Key_Backtab):
            step = -1 if (key == QtCore.Qt.Key_Backtab or shift) else 1
            target = self.session.next_in_queue(self.current, step)
            if target is not None:
                self.go_to(target)
        elif text in ("[", "]"):
            self.n_neighbours = int(
                np.clip(self.n_neighbours + (text == "]") * 2 - 1, 0, 4)
            )
            self.go_to(self.current)
        elif text in ("+", "=", "-"):
            factor = 1 / 1.5 if text in ("+", "=") else 1.5
            self.scale_traces(factor)
        elif text == "f" and not ctrl:
            self.toggle_filter()
        elif text == "?":
            self.show_keymap()
        elif text == "t" and not ctrl:
            self.teach()
        else:
            super().keyPressEvent(event)

    def scale_traces(self, factor):
        """Multiply the height each trace spans (µV) by ``factor`` (keys ``-``/``+``).

        Parameters
        ----------
        factor : float
            Above 1 the traces look smaller (more µV on the screen).
        """
        for plot, channel in zip(self._plots, self.channels):
            low, high = plot.viewRange()[1]
            half = 0.5 * (high - low) * factor
            self.scalings[channel] = half
        self._show_detail()

    def toggle_filter(self):
        """Switch the display filter on or off (key ``f``).

        The traces are filtered for the eye only (EEG 0.5-30 Hz, EMG above
        10 Hz, :func:`mne.filter.filter_data`); the spectrogram, the power
        strip, the scores and the recording are not.
        """
        self.display_filter = not self.display_filter
        self._filter_action.setChecked(self.display_filter)
        self._show_detail()
        self._say("display filter " + ("on" if self.display_filter else "off"))

    def focusNextPrevChild(self, next):  # noqa: D102, N802 (tab is ours)
        return False

    def _after_change(self, epoch):
        self.note = ""
        self._refresh_overview()
        self.go_to(epoch)

    # --- teaching the scorer ------------------------------------------------------

    @property
    def teaching(self):
        """Whether a fine-tuning runs in the background (bool)."""
        return self._teaching is not None

    def teach(self):
        """Fine-tune the scorer on the review, in the background (key ``t``).

        Runs :func:`~mne_mousesleep.fine_tune` on this recording's expert
        epochs in a thread, with a busy bar; when it ends, says what it
        changed and asks whether to keep the new scorer: if so, the epochs
        the expert did not label get its stages (one step of the history)
        and the model is kept as :attr:`taught` (``taught.save(...)``).
        """
        from ..models._registry import MODELS

        name = self.session.result.model
        if self.teaching:
            return self._say("the scorer is being taught already")
        if name not in MODELS:
            return self._say(
                f"teaching needs a registry model, this scoring is of {name!r}: "
                "use mne_mousesleep.fine_tune(..., model=...) in Python"
            )
        table = self.session.to_frame()
        out = {}

        def run():  # the fine-tuning and its rescoring, off the window's thread
            from ..hypnogram import to_stages
            from ..training import fine_tune

            try:
                out["result"] = result = fine_tune(
                    [self.raw], [table], model=name, picks=self.channels[0],
                    verbose="error",
                )  # fmt: skip
                if not result.kept_start:
                    stages = to_stages(result.proba[0]).to_numpy()
                    out["stages"] = np.asarray(stages, dtype=object)
            except Exception as err:  # shown in the window, never lost
                out["error"] = err

        # torch imports its compiler on the first optimizer: done here, on
        # the window's thread (that import in the worker thread hung while
        # the Qt loop ran).
        import torch._dynamo  # noqa: F401

        thread = threading.Thread(target=run, daemon=True)
        self._teaching = (thread, out)
        self._progress.setVisible(True)
        self._say("teaching the scorer from the review...")
        thread.start()
        self._poll = QtCore.QTimer(self)
        self._poll.timeout.connect(self._check_teaching)
        self._poll.start(200)
        return None

    def _check_teaching(self):
        thread, out = self._teaching
        if thread.is_alive():
            return
        self._poll.stop()
        self._teaching = None
        self._progress.setVisible(False)
        if "error" in out:
            return self._say(f"teaching failed: {out['error']}")
        result = out["result"]
        if result.kept_start:
            return self._say(
                f"teaching kept the scorer: held-out mean F1 {result.f1_start:.3f}, "
                f"at best {result.f1_tuned:.3f} after fine-tuning"
            )
        if not self.ask_keep(result):
            return self._say("the taught scorer was discarded")
        n = self.session.adopt(out["stages"][: self.n_epochs])
        self.taught = result.model
        self._after_change(self.current)
        self._say(
            f"kept the taught scorer: {n} epochs of the scorer changed (ctrl+z undoes)"
        )
        return None

    def _ask_keep(self, result):
        answer = QtWidgets.QMessageBox.question(
            self,
            "Keep the taught scorer?",
            f"Held-out mean F1 {result.f1_start:.3f} -> {result.f1_tuned:.3f} "
            f"({result.n_train} expert epochs trained on). {result.n_changed[0]} "
            "calls of the epochs you did not review change. Keep it?",
        )
        return answer == QtWidgets.QMessageBox.Yes

    # --- dialogs and files ------------------------------------------------------

    def show_keymap(self, show=True):
        """Show (and return) the keymap dialog."""
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Keys")
        rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in KEYMAP)
        box.setText(f"<table cellspacing=6>{rows}</table>")
        if show:
            box.exec()
        return box

    def save(self):
        """Save the reviewed scoring (ctrl+s); the status bar says where."""
        if self.session.path is None or self.session.read_only:
            why = "read-only window" if self.session.read_only else "no output file"
            self._say(f"nothing saved: {why}")
            return None
        path = self.session.save()
        self._say(f"saved {path.name}")
        return path

    def export(self, fname=None, fmt=None):
        """Export the reviewed stages with :func:`~mne_mousesleep.write_scoring`."""
        from ..io import write_scoring

        if fname is None:
            fname, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export the scoring")
            if not fname:
                return None
        stages = self.reviewed_stages()
        write_scoring(stages, fname, format=fmt, overwrite=True)
        self._say(f"exported {fname}")
        return fname

    def reviewed_stages(self):
        """Return the reviewed stages (a stage sequence, as :func:`to_stages`).

        Returns
        -------
        stages : pandas.Series
            Indexed by onset (s); ``attrs["provenance"]`` holds each epoch's
            provenance (written as a column by the CSV/TSV table format).
        """
        from ..hypnogram import to_stages

        table = self.session.to_frame().set_index("onset")
        series = table["stage"].copy()
        series.attrs = dict(self.session.result.to_frame().attrs)
        stages = to_stages(series)
        # Who gave each stage: the package's CSV/TSV tables write it.
        stages.attrs["provenance"] = list(self.session.provenance)
        return stages

    def _ask_on_close(self):
        box = QtWidgets.QMessageBox.question(
            self,
            "Unsaved changes",
            "Save the reviewed scoring before closing?",
            QtWidgets.QMessageBox.Save
            | QtWidgets.QMessageBox.Discard
            | QtWidgets.QMessageBox.Cancel,
        )
        return {
            QtWidgets.QMessageBox.Save: "save",
            QtWidgets.QMessageBox.Discard: "discard",
        }.get(box, "cancel")

    def closeEvent(self, event):  # noqa: D102, N802 (Qt's)
        if self.session.dirty and not self.session.read_only:
            answer = self.ask_on_close()
            if answer == "cancel":
                event.ignore()
                return
            if answer == "save" and self.session.path is not None:
                self.session.save()
        self._timer.stop()
        self.session.close()
        event.accept()
        self.closed.emit()
