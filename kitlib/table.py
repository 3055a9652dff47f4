"""One renderer for every result: a title, columns and rows of plain numbers,
shown as text on a terminal, as HTML in a notebook, and as JSON in a file.

A result class says what its table is (``columns`` and ``table()``) and gets
``__str__`` and ``_repr_html_`` from :class:`Tabular`; the numbers in the
rows are the same ones ``to_dict()`` writes, so what a student reads, what a
test checks and what a benchmark saves cannot disagree.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

__all__ = ["Tabular", "render_text", "render_html", "json_safe", "fmt"]

Row = Mapping[str, object]


def fmt(v: object) -> str:
    """A cell as text: unknown (NaN, None) as '-', large numbers with separators."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if abs(v) >= 1e4:
            return f"{v:,.0f}"
        if v != 0 and abs(v) < 0.1:
            return f"{v:.3f}"
        return f"{v:,.1f}" if abs(v) < 100 or v != round(v) else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _keys(columns: Mapping[str, str] | None, rows: Sequence[Row]) -> list[str]:
    if columns:
        return [k for k in columns if any(k in r for r in rows)] or list(columns)
    return list(dict.fromkeys(k for r in rows for k in r))


def render_text(title: str, rows: Sequence[Row], columns: Mapping[str, str] | None = None,
                notes: Sequence[str] = ()) -> str:
    """An aligned plain-text table; ``columns`` maps a row key to its heading."""
    keys = _keys(columns, rows)
    heads = [(columns or {}).get(k, k) for k in keys]
    cells = [[fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(heads)]
    # the first column and columns of text to the left, numbers to the right
    left = [i == 0 or any(isinstance(r.get(k), str) for r in rows) for i, k in enumerate(keys)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if left[i] else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    out = [title] if title else []
    out += [line(heads), line(["-" * w for w in widths]), *(line(c) for c in cells)]
    return "\n".join([*out, *notes])


def render_html(title: str, rows: Sequence[Row], columns: Mapping[str, str] | None = None,
                notes: Sequence[str] = ()) -> str:
    """The same table as HTML, for a notebook."""
    keys = _keys(columns, rows)
    head = "".join(f"<th>{html.escape((columns or {}).get(k, k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(r.get(k)))}</td>" for k in keys) + "</tr>"
                   for r in rows)
    caption = f"<h4>{html.escape(title)}</h4>" if title else ""
    after = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    return f"{caption}<table><tr>{head}</tr>{body}</table>{after}"


def json_safe(x: object) -> object:
    """``x`` with NaN (unknown) as None and tuples as lists, so it is valid JSON."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, Mapping):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


class Tabular:
    """A result that is shown as a table: define ``title``, ``columns`` and
    ``table()`` (a row a dict); ``notes()`` adds lines under it."""

    # no default title here: a dataclass result would take it for its field's default
    title: str
    columns: Mapping[str, str] = {}

    def table(self) -> list[dict[str, object]]:
        raise NotImplementedError

    def notes(self) -> list[str]:
        return []

    def __str__(self) -> str:
        return render_text(getattr(self, "title", ""), self.table(), self.columns, self.notes())

    def _repr_html_(self) -> str:
        return render_html(getattr(self, "title", ""), self.table(), self.columns, self.notes())
