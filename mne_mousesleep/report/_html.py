"""HTML helpers of the reports: tables and figures as mne.Report items."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import html

import pandas as pd

# Legends right of the axes, in every figure of the reports.
_LEGEND = dict(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _table(df, float_format="{:.1f}", raw_html=(), index=True):
    """Return a DataFrame as a compact HTML table (mne.Report's classes).

    Cells are escaped except in the columns of ``raw_html`` (links made
    here); a wide table scrolls sideways instead of overflowing the page.
    """
    out = df.copy()
    numeric = []
    for position, col in enumerate(out.columns):
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: _number(v, float_format))
        elif col not in raw_html:
            out[col] = out[col].map(lambda v: html.escape(str(v)))
        if pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(
            df[col]
        ):
            numeric.append(position + 1 + bool(index))  # nth-child counts from 1
    out.index = [html.escape(str(i)) for i in out.index]
    out.columns = [html.escape(str(c)) for c in out.columns]
    _table.count = getattr(_table, "count", 0) + 1
    name = f"mms-table-{_table.count}"
    table = out.to_html(
        classes=f"table table-sm table-striped {name}",
        border=0,
        escape=False,
        index=index,
    )
    # Numbers right-aligned under their (right-aligned) headers.
    style = "".join(
        f".{name} td:nth-child({k}), .{name} th:nth-child({k}) {{text-align: right}}"
        for k in numeric
    )
    return f'<style>{style}</style><div style="overflow-x: auto">{table}</div>'


def _number(value, float_format="{:.1f}"):
    """Format a table cell: counts without decimals, empty for NaN."""
    if pd.isna(value):
        return ""
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    return float_format.format(value)


def _add_figure(rep, fig, title, section, caption=None):
    """Add a figure to a report as PNG, and close it."""
    import matplotlib.pyplot as plt

    rep.add_figure(
        fig, title=title, section=section, caption=caption, image_format="png"
    )
    plt.close(fig)


def _dl(items):
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in items
    )
    return f'<table class="table table-sm">{rows}</table>'
