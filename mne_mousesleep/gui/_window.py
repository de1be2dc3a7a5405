"""The review window (qtpy + pyqtgraph), imported only when a window is asked for."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import datetime

import numpy as np
import pyqtgraph as pg
from qtpy import QtCore, QtGui, QtWidgets

from .._stages import _zt_hours
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
    ("?", "this keymap"),
)
#: Milliseconds between autosaves of the recovery file.
AUTOSAVE_MS = 2000
#: Stage names in the probability lines, as their keys.
_SHORT = {stage: key.upper() for key, stage in KEYS.items() if key.isalpha()}
_PROVENANCE_WORDS = {
    "scorer": "scorer",
    "expert-confirmed": "confirmed",
    "expert-corrected": "corrected",
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
        self.setWindowTitle(f"Review: {raw.filenames[0] if raw.filenames else ''}")
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
        self._build_overview(lights_on)
        self._build_detail()
        for widget in (central, self.overview, self.detail):
            widget.setFocusPolicy(QtCore.Qt.NoFocus)
        self.setFocusPolicy(QtCore.Qt.StrongFocus)
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.session.autosave)
        self._timer.start(AUTOSAVE_MS)
        self.ask_on_close = self._ask_on_close
        self.go_to(0)
        for message in session.messages:
            self.statusBar().showMessage(message, 10000)

    # --- the overview ---------------------------------------------------------------

    def _build_overview(self, lights_on):
        hyp = self.overview.addPlot(row=0, col=0)
        hyp.setLabel("left", "stage")
        levels = sorted(_LEVELS.items(), key=lambda kv: kv[1])
        hyp.getAxis("left").setTicks([[(v, s) for s, v in levels]])
        hyp.setYRange(-0.5, 4.5, padding=0)
        hyp.setMouseEnabled(y=False)
        self._hyp_curve = pg.PlotDataItem(stepMode="right", pen=pg.mkPen("k", width=1))
        hyp.addItem(self._hyp_curve)
        self._dots = pg.ScatterPlotItem(size=4, pen=None)
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
            y=np.full(len(queue), 1.02),
            symbol="t",
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
        stages = self.session.stages
        level = np.array([_LEVELS.get(s, np.nan) for s in stages], dtype=float)
        x = np.r_[self.hours, self.hours[-1] + self.session.epoch_length / 3600]
        self._hyp_curve.setData(x, np.r_[level, level[-1]], connect="finite")
        changed = self.session.provenance == "expert-corrected"
        brushes = [pg.mkBrush(_color(s)) for s in stages]
        self._dots.setData(
            x=self.hours + self.session.epoch_length / 7200,
            y=np.where(np.isnan(level), -0.3, level),
            brush=brushes,
            symbol=["s" if c else "o" for c in changed],
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
            self._traces.append(curve)
            self._plots.append(plot)
        self._plots[-1].setLabel("bottom", "time from the first sample (s)")
        for plot in self._plots:
            _style(plot)
        self._decor = []

    def _show_detail(self):
        length = self.session.epoch_length
        k0 = max(self.current - self.n_neighbours, 0)
        k1 = min(self.current + self.n_neighbours + 1, self.n_epochs)
        sfreq = self.raw.info["sfreq"]
        start, stop = int(round(k0 * length * sfreq)), int(round(k1 * length * sfreq))
        stop = min(stop, self.raw.n_times)
        data = self.raw.get_data(picks=self.channels, start=start, stop=stop) * 1e6
        times = np.arange(start, stop) / sfreq
        for curve, y in zip(self._traces, data):
            curve.setData(times, y)
        for plot, item in self._decor:
            plot.removeItem(item)
        self._decor = []
        selected = self._selection()
        proba = self.session.result.proba
        classes = self.session.result.classes
        for k in range(k0, k1):
            stage = self.session.stages[k]
            alpha = 90 if k in selected else 40
            for ii, plot in enumerate(self._plots):
                band = pg.LinearRegionItem(
                    (k * length, (k + 1) * length),
                    movable=False,
                    brush=pg.mkBrush(_color(stage, alpha)),
                    pen=pg.mkPen("#888888"),
                )
                band.setZValue(-10)
                plot.addItem(band)
                self._decor.append((plot, band))
                if ii == 0:
                    text = pg.TextItem(self._epoch_text(k, proba, classes), color="k")
                    text.setPos(k * length + 0.02 * length, float(np.nanmax(data[0])))
                    plot.addItem(text)
                    self._decor.append((plot, text))
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
        self.status.setText("  ·  ".join(parts))

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
        else:
            super().keyPressEvent(event)

    def focusNextPrevChild(self, next):  # noqa: D102, N802 (tab is ours)
        return False

    def _after_change(self, epoch):
        self._refresh_overview()
        self.go_to(epoch)

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
            self.statusBar().showMessage(
                "Nothing saved: "
                + ("read-only window" if self.session.read_only else "no output file"),
                8000,
            )
            return None
        path = self.session.save()
        self.statusBar().showMessage(f"Saved {path}", 8000)
        self._show_status()
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
        self.statusBar().showMessage(f"Exported {fname}", 8000)
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
