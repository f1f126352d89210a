"""Building blocks of the dashboard page: styles, HTML tables and messages, the trend chart.

Every text is escaped here, so callers pass plain (translated) text. Cells that carry a
figure get a `data-figure` key, which the browser tests read to compare with the package.
"""

from __future__ import annotations

import html
import io

import pandas as pd
from babel.numbers import get_group_symbol

from ..amounts import NUMBER_LOCALES
from ..dashboard_data import RUN_ACTIONS
from ..i18n import _, current_language
from .formatting import action_label

CSS = """
<style>
.wb-dashboard { max-width: 1180px; font-size: 14px; }
.wb-dashboard h1 { font-size: 24px; margin: 4px 0 2px 0; }
.wb-dashboard h2 { font-size: 18px; margin: 18px 0 6px 0; border-bottom: 1px solid #ccc; }
.wb-caption { color: #555; margin: 2px 0 6px 0; }
.wb-table { border-collapse: collapse; margin: 4px 0; }
.wb-table th, .wb-table td { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; }
.wb-table th { text-align: left; background: #f3f3f3; }
.wb-table td.wb-number { text-align: right; font-variant-numeric: tabular-nums; }
.wb-table tr.wb-total td { font-weight: bold; border-top: 2px solid #999; }
.wb-notice { padding: 6px 10px; margin: 6px 0; border-radius: 3px; }
.wb-notice-done { background: #e6f4ea; border: 1px solid #8bc79b; }
.wb-notice-refused { background: #fdecea; border: 1px solid #e09a94; }
.wb-notice-failed, .wb-notice-mismatch { background: #fff4e5; border: 1px solid #e5b56e; }
</style>
"""


def format_count(count: int, lang: str | None = None) -> str:
    """Return a count with the Swiss thousands separator of the language: `12'345`."""
    group = get_group_symbol(NUMBER_LOCALES.get(lang or current_language(), "de_CH"))
    return f"{int(count):,}".replace(",", group)


def trend_png(trend: pd.DataFrame) -> bytes:
    """Draw `dashboard_data.monthly_trend` (subscriptions per action, stacked) as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    figure = Figure(figsize=(9, 3), dpi=100)
    axes = figure.add_subplot()
    months = list(trend["month"])
    bottom = [0] * len(months)
    for action in RUN_ACTIONS:
        counts = [int(value) for value in trend[f"{action}_groups"]]
        axes.bar(months, counts, bottom=bottom, width=0.6, label=action_label(action))
        bottom = [low + count for low, count in zip(bottom, counts)]

    # Room for at least six months, so that a single month does not fill the whole width.
    axes.set_xlim(-0.5, max(len(months), 6) - 0.5)
    axes.set_ylabel(_("Subscriptions"))
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def cell_text(value: object) -> str:
    # Missing values of a DataFrame (None, NaN) show as an empty cell.
    return "" if value is None or value != value else str(value)


def document_text(document_no: str, line_no: str) -> str:
    return f"{document_no}/{line_no}" if line_no else document_no


def section(title: str) -> str:
    return f"<h2>{html.escape(title)}</h2>"


def paragraph(text: str) -> str:
    return f"<p class='wb-caption'>{html.escape(text)}</p>"


def notice(text: str, kind: str) -> str:
    return f"<div class='wb-notice wb-notice-{kind}' data-notice='{kind}'>{html.escape(text)}</div>"


def table(headers: list[str], rows: list[list[tuple[str, str | None]]], *, key: str,
           align: str = "", total_last: bool = False) -> str:
    """Return an HTML table of escaped text; a cell is (text, figure key or None).

    A figure key becomes the cell's `data-figure` attribute, which the tests read. `align`
    has one letter per column: `l` for text, `r` for figures. Columns without a letter are
    `l` for the first one and `r` for the others.
    """
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    body = []
    for index, row in enumerate(rows):
        cells = []
        for column, (text, figure) in enumerate(row):
            if column < len(align):
                side = align[column]
            else:
                side = "l" if column == 0 else "r"
            css = " class='wb-number'" if side == "r" else ""
            data = f" data-figure='{html.escape(figure)}'" if figure else ""
            cells.append(f"<td{css}{data}>{html.escape(str(text))}</td>")
        row_class = " class='wb-total'" if total_last and index == len(rows) - 1 else ""
        body.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    return (f"<table class='wb-table' data-table='{key}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
