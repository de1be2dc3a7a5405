"""The list of a study's recordings to review (qtpy), imported with a window."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from qtpy import QtCore, QtGui, QtWidgets

from ._session import _reviewed_counts

#: Columns of the list.
COLUMNS = ("recording", "trust", "why", "reviewed epochs", "corrected")
_VERDICT_COLORS = {"unreliable": "#f8d7da", "review": "#fff3cd", "ok": "#d1e7dd"}


class StudyWindow(QtWidgets.QMainWindow):
    """A study's recordings, the least trustworthy first; Enter opens one.

    Parameters
    ----------
    rows : list of dict
        One per recording, in the order shown: ``name``, ``verdict`` (or
        None: not scored), ``reasons`` (list of str) and ``reviewed`` (the
        path of its ``<name>_reviewed.csv``, which need not exist) and
        ``sidecar`` (its ``<name>_scoring.json``, against which the review
        is checked; optional). A review that cannot be used shows "refused"
        and why.
    open_recording : callable
        ``open_recording(row)`` opens the recording's review window and
        returns it (not blocking).
    """

    def __init__(self, rows, open_recording):
        super().__init__()
        self.rows, self.open_recording = list(rows), open_recording
        self.windows = {}  # row index -> its review window, while open
        self.setWindowTitle(f"Review a study: {len(self.rows)} recordings")
        self.resize(900, 420)
        self.table = QtWidgets.QTableWidget(len(self.rows), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.cellActivated.connect(lambda row, _: self.open(row))
        self.table.cellDoubleClicked.connect(lambda row, _: self.open(row))
        self.setCentralWidget(self.table)
        self.statusBar().showMessage(
            "Enter or a double click opens a recording; the least trustworthy "
            "are first."
        )
        self.refresh()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeToContents)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.Stretch)
        if self.rows:
            self.table.selectRow(0)

    def refresh(self):
        """Show each recording's verdict and how much of it was reviewed."""
        for ii, row in enumerate(self.rows):
            counts = _reviewed_counts(row.get("reviewed"), row.get("sidecar"))
            verdict = row.get("verdict") or "not scored"
            reasons = list(row.get("reasons") or [])
            if isinstance(counts, str):  # a broken or foreign review: said first
                reasons.insert(0, f"review refused: {counts}")
                reviewed, corrected = "refused", "-"
            else:
                reviewed = "-" if counts is None else f"{counts[0]}/{counts[1]}"
                corrected = "-" if counts is None else str(counts[2])
            cells = (row["name"], verdict, "; ".join(reasons), reviewed, corrected)
            for jj, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(text)  # the whole reason, where the cell clips it
                if jj == 1 and verdict in _VERDICT_COLORS:
                    item.setBackground(QtGui.QColor(_VERDICT_COLORS[verdict]))
                if jj >= 3:
                    item.setTextAlignment(QtCore.Qt.AlignCenter)
                self.table.setItem(ii, jj, item)

    def _closed(self, index):
        window = self.windows.pop(index, None)
        if window is not None:  # freed now, on this thread, not by the GC
            window.deleteLater()
        self.refresh()

    def open(self, index):
        """Open the review window of recording ``index`` (a row of the list).

        Parameters
        ----------
        index : int
            The row.

        Returns
        -------
        window : window | None
            Its review window (the one already open, if any), or None when it
            could not be opened (the status bar says why).
        """
        window = self.windows.get(index)
        if window is not None:  # open already
            window.raise_()
            window.activateWindow()
            return window
        row = self.rows[index]
        self.statusBar().showMessage(f"Opening {row['name']}...")
        QtWidgets.QApplication.processEvents()
        try:
            window = self.open_recording(row)
        except Exception as err:  # shown, never a dead list
            self.statusBar().showMessage(f"Could not open {row['name']}: {err}")
            return None
        self.windows[index] = window
        window.closed.connect(lambda: self._closed(index))
        self.statusBar().showMessage(f"Reviewing {row['name']}")
        return window
