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

from .._stages import CONFIRMED, CORRECTED, SCORER, _zt_hours
from ..viz import _LEVELS, STAGE_COLORS
from ._session import KEYS

#: What each key does, as the keymap dialog shows it.
KEYMAP = (
    ("w n p r a  (or 1-5)", "label the epoch (or the selection) and go on"),
    ("space", "confirm the stage as reviewed and go on"),
    ("left / right", "one epoch back / on"),
    ("shift + left / right", "select a range (one key labels it)"),
    ("page up / page down", "one screen back / on"),
    ("tab / shift + tab", "next / previous epoch of the review queue"),
    ("[ / ]", "fewer / more neighbouring epochs (0-4)"),
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
    """

    def __init__(self, raw, session, eeg, emg=None, lights_on=None, n_neighbours=1):
        super().__init__()
        self.raw, self.session = raw, session
        self.channels = [eeg] + ([emg] if emg else [])
        self.n_neighbours = int(np.clip(n_neighbours, 0, 4))
        self.current, self.anchor = 0, None
        self.n_epochs = len(session.stages)
        self.hours = session.onsets / 3600.0
        name = raw.filenames[0] if raw.filenames and raw.filenames[0] else None
        self.setWindowTitle(f"Review: {name or 'a recording in memory'}")
        self.resize(1200, 760)
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        # Light, as MNE's browser and the package's figures.
        self.overview = pg.GraphicsLayoutWidget()
        self.overview.setMaximumHeight(230)
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
            unit = "µV"
            plot.setLabel("left", channel, units=None)
            plot.getAxis("left").setLabel(f"{channel} ({unit})")
            plot.showGrid(x=False, y=True, alpha=0.2)
            if row:
                plot.setXLink(self._plots[0])
            curve = plot.plot(pen=pg.mkPen("#1d3557", width=1))
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self._traces.append(curve)
            self._plots.append(plot)
        self._plots[-1].setLabel("bottom", "time from the first sample (s)")
        for plot in self._plots:
            _style(plot)
        # One band per shown epoch and plot, and one text per epoch, made once
        # and moved (making and removing items at every key is slower).
        self._bands, self._texts = [], []
        for _ in range(2 * 4 + 1):
            bands = []
            for plot in self._plots:
                band = pg.LinearRegionItem(movable=False, pen=pg.mkPen("#888888"))
                band.setZValue(-10)
                plot.addItem(band)
                bands.append(band)
            self._bands.append(bands)
            text = pg.TextItem(color="k")
            self._plots[0].addItem(text)
            self._texts.append(text)
        self._block = None

    def _read(self, k0, k1):
        """Return the traces (µV) of epochs ``k0`` to ``k1``, from a cached block.

        The recording is read in blocks of :data:`BLOCK_EPOCHS` epochs around
        the current one, so that moving reads nothing most of the time.
        """
        length, sfreq = self.session.epoch_length, self.raw.info["sfreq"]
        block = self._block
        if block is None or k0 < block[0] or k1 > block[1]:
            b0 = max(k0 - BLOCK_EPOCHS // 2, 0)
            b1 = min(max(k1, b0 + BLOCK_EPOCHS), self.n_epochs)
            start = int(round(b0 * length * sfreq))
            stop = min(int(round(b1 * length * sfreq)), self.raw.n_times)
            data = self.raw.get_data(picks=self.channels, start=start, stop=stop)
            block = self._block = (b0, b1, start, data * 1e6)
        b0, _, start, data = block
        i0 = int(round(k0 * length * sfreq)) - start
        i1 = min(int(round(k1 * length * sfreq)) - start, data.shape[1])
        return (start + np.arange(i0, i1)) / sfreq, data[:, i0:i1]

    def _show_detail(self):
        length = self.session.epoch_length
        k0 = max(self.current - self.n_neighbours, 0)
        k1 = min(self.current + self.n_neighbours + 1, self.n_epochs)
        times, data = self._read(k0, k1)
        for curve, y in zip(self._traces, data):
            curve.setData(times, y)
        selected = self._selection()
        proba = self.session.result.proba
        classes = self.session.result.classes
        top = float(np.nanmax(data[0])) if data.size else 0.0
        for slot, k in enumerate(range(k0, k1)):
            stage = self.session.stages[k]
            alpha = 90 if k in selected else 40
            brush = pg.mkBrush(_color(stage, alpha))
            for band in self._bands[slot]:
                band.setRegion((k * length, (k + 1) * length))
                band.setBrush(brush)
                band.setVisible(True)
            text = self._texts[slot]
            text.setText(self._epoch_text(k, proba, classes))
            text.setPos(k * length + 0.08 * length, top)
            text.setVisible(True)
        for slot in range(k1 - k0, len(self._texts)):
            self._texts[slot].setVisible(False)
            for band in self._bands[slot]:
                band.setVisible(False)
        for plot in self._plots:
            plot.setXRange(k0 * length, k1 * length, padding=0)

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
        elif text == "?":
            self.show_keymap()
        elif text == "t" and not ctrl:
            self.teach()
        else:
            super().keyPressEvent(event)

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
        """Return the reviewed stages (a stage sequence, as :func:`to_stages`)."""
        from ..hypnogram import to_stages

        table = self.session.to_frame().set_index("onset")
        series = table["stage"].copy()
        series.attrs = dict(self.session.result.to_frame().attrs)
        return to_stages(series)

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
