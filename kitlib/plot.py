"""The live plot: host CPU per vCPU thread and in total, the time each vCPU
thread was runnable, and the guest's own view (time halted per CPU), on one
time axis.

In JupyterLab the plot is a plotly FigureWidget that the sampler thread
updates while a cell runs (an asyncio task would stall while the cell blocks).
Headless runs (nbval, ``kit demo``) have no front end to draw a widget, so
nothing live is shown there; in every case :meth:`LivePlot.figure` gives a
static figure with the same traces.  A plot shown by :meth:`display_live`
ends as that static figure (:meth:`finish`): the widget's output is replaced
by it, or, headless, it is displayed once when the run ends, with an image
beside plotly's JSON (static.py), so a saved notebook shows it.

A vCPU thread's run time is what the host gave it; its runnable time
(running or waiting for a host core, from schedstat) is what it asked for.
A spinning vCPU asks for a whole core however busy the host is, so both are
drawn: on a busy host the first falls below 100 % while the second stays.

Drawing costs CPU on the same host as the VM being measured, in Python and in
the browser, so the live widget is cheap to update: the layout is built once,
a redraw sends only the traces' numbers (at most a few times a second), and
the phase bands move only every few seconds.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Iterable

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .calibrate import BUSY_CEILING
from .hostcpu import Sample
from .notebook import live_frontend

# One colour per vCPU, the same in both panels.
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_PHASE_FILL = ("rgba(31,119,180,0.07)", "rgba(255,127,14,0.08)")
_REDRAW_S = 0.5           # traces: at most 2 redraws a second
_BANDS_S = 3.0            # phase bands: every 3 s, or when a phase starts
_RUNNABLE_EACH = 4        # up to this many vCPUs, a runnable line each; above, one mean line
_RUNNABLE_MEAN = 7        # samples a runnable point is the mean of: schedstat's run delay is
                          # added when the thread is next scheduled, so one sample reads lumpy
# Phase labels sit in rows at the top of the host panel, above every line:
_LABEL_ROWS = 3           # at most this many rows; a label that fits in none is shortened
_LABEL_ROW = 0.075        # a row's height, fraction of the host panel
_CHAR_PX = 6.6            # mean width of a character of the labels' font, pixels
_PLOT_PX = 700            # the plot area's width the labels are laid out for, pixels


class LivePlot:
    """Collects samples and draws them; subscribe it to a Sampler."""

    def __init__(self, title: str, cpus: int = 1, *, floor: float | None = None,
                 ceiling: float | None = None, guest: str = "halted", live: bool | None = None,
                 main: bool = False) -> None:
        """``guest`` picks the lower panel: "halted" (time halted per CPU) or
        the name of a counter in the guest's stats block, drawn as events per
        second per CPU (e.g. "lock_acquires").  ``main`` adds QEMU's main
        thread to the upper panel: under TCG it runs the devices' host side,
        the user-mode network among them."""
        self.title = title
        self.cpus = cpus
        self.guest = guest
        self.main = main
        self.floor = floor
        self.ceiling = ceiling
        self._lock = threading.Lock()
        self._t: list[float] = []
        self._series: dict[str, list[float]] = {key: [] for key in self._keys()}
        self._phases: list[tuple[str, float, float]] = []   # label, first t, last t
        self._layout = self._empty()                        # built once: make_subplots is slow
        self._widget = None
        self._handle = None             # the display of the widget shown by display_live()
        self._final = False             # headless: display the figure once when the run ends
        self._drawn_at = self._bands_at = 0.0
        self._bands_drawn = 0
        if live if live is not None else live_frontend():
            self._widget = go.FigureWidget(self._layout)

    @property
    def live(self) -> bool:
        """Whether a widget is drawn as samples arrive."""
        return self._widget is not None

    @property
    def _runnable_each(self) -> bool:
        return self.cpus <= _RUNNABLE_EACH

    def _keys(self) -> list[str]:
        """The series in trace order: per CPU host, runnable and guest, then
        (many CPUs) one runnable line for all, the main thread and the total."""
        each = self._runnable_each
        keys = [k for n in range(self.cpus)
                for k in (f"vcpu{n}", *((f"runnable{n}",) if each else ()), f"guest{n}")]
        return keys + ([] if each else ["runnable"]) + (["main"] if self.main else []) + ["total"]

    def _guest_value(self, sample: Sample, cpu: int) -> float:
        if self.guest == "halted":
            return 100.0 * sample.halted.get(cpu, math.nan)
        return sample.rates.get(self.guest, {}).get(cpu, math.nan)

    # -- feeding -------------------------------------------------------

    def __call__(self, sample: Sample) -> None:
        """Take one sample (called from the sampler thread)."""
        with self._lock:
            if self._phases and self._phases[-1][0] != sample.phase:
                self._gap((self._phases[-1][2] + sample.t) / 2)
            self._t.append(sample.t)
            for n in range(self.cpus):
                self._series[f"vcpu{n}"].append(sample.vcpu.get(n, math.nan))
                self._series[f"guest{n}"].append(self._guest_value(sample, n))
                if self._runnable_each:
                    self._series[f"runnable{n}"].append(sample.wanted.get(n, math.nan))
            if not self._runnable_each:
                wanted = [sample.wanted.get(n, math.nan) for n in range(self.cpus)]
                known = [w for w in wanted if not math.isnan(w)]
                self._series["runnable"].append(sum(known) / len(known) if known else math.nan)
            self._series["total"].append(sample.total)
            if self.main:
                self._series["main"].append(sample.main)
            if self._phases and self._phases[-1][0] == sample.phase:
                label, first, _ = self._phases[-1]
                self._phases[-1] = (label, first, sample.t)
            else:
                self._phases.append((sample.phase, sample.t, sample.t))
        if self._widget is not None and time.monotonic() - self._drawn_at >= _REDRAW_S:
            self._redraw()

    def _gap(self, t: float) -> None:
        """A point with no values, so no line joins one VM's samples to the next's."""
        self._t.append(t)
        for series in self._series.values():
            series.append(math.nan)

    def extend(self, samples: Iterable[Sample]) -> None:
        for s in samples:
            self(s)

    # -- drawing -------------------------------------------------------

    def display_live(self) -> None:
        """Show the widget now, so that it draws as samples arrive; headless
        (no front end), show the figure once when the run ends (:meth:`finish`)."""
        if self._widget is not None:
            from IPython.display import display

            self._handle = display(self._widget, display_id=True)
        else:
            self._final = True

    def _ipython_display_(self) -> None:
        """The widget; headless, the figure so far, or, before any sample
        (a panel shown before its first boot), the figure when the run ends."""
        from IPython.display import display

        if self._widget is not None:
            display(self._widget)
        elif not self._t:
            self._final = True
        else:
            display(self.figure())

    def figure(self) -> go.Figure:
        """A static figure of everything collected so far."""
        fig = go.Figure(copy.deepcopy(self._layout))
        t, series, phases = self._snapshot()
        for trace, key in zip(fig.data, self._keys()):
            trace.x, trace.y = t, series[key]
        labels, rows = _labels(phases, t)
        fig.update_layout(shapes=list(fig.layout.shapes) + _bands(phases),
                          annotations=list(fig.layout.annotations) + labels)
        fig.update_yaxes(range=_host_range(_host_values(series), rows), row=1, col=1)
        return fig

    def finish(self, final: bool = True) -> None:
        """Draw the last samples on the live widget; with ``final``, a plot
        shown by :meth:`display_live` ends as its static figure: in place of
        the widget, or, headless, displayed now (once)."""
        if self._widget is not None:
            self._redraw(bands=True)
            if final and self._handle is not None:
                from .static import bundle

                data, metadata = bundle(self.figure())
                self._handle.update(data, metadata=metadata, raw=True)
                self._handle = None
        elif final and self._final:
            self._final = False
            from .static import display_figure

            display_figure(self.figure())

    def _snapshot(self) -> tuple[np.ndarray, dict[str, np.ndarray], list[tuple[str, float, float]]]:
        with self._lock:
            # numpy arrays travel to the widget as binary buffers, where NaN
            # (no value) is fine; in a list it would make the message invalid JSON
            series = {k: np.array(v, dtype=float) for k, v in self._series.items()}
            for key in series:
                if key.startswith("runnable"):
                    series[key] = _smooth(series[key], _RUNNABLE_MEAN)
            return np.array(self._t, dtype=float), series, list(self._phases)

    def _redraw(self, bands: bool = False) -> None:
        now = time.monotonic()
        self._drawn_at = now
        t, series, phases = self._snapshot()
        bands = bands or len(phases) != self._bands_drawn or now - self._bands_at >= _BANDS_S
        with self._widget.batch_update():
            for trace, key in zip(self._widget.data, self._keys()):
                trace.x, trace.y = t, series[key]
            if bands:
                labels, rows = _labels(phases, t)
                self._widget.layout.shapes = list(self._layout.layout.shapes) + _bands(phases)
                self._widget.layout.annotations = list(self._layout.layout.annotations) + labels
                self._widget.layout.yaxis.range = _host_range(_host_values(series), rows)
        if bands:
            self._bands_drawn, self._bands_at = len(phases), now

    def _empty(self) -> go.Figure:
        """The figure with its traces empty: panels, colours, calibration lines."""
        fig = make_subplots(
            rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.62, 0.38],
            subplot_titles=("host: CPU of the QEMU process, % of one host core "
                            "(dotted: runnable, smoothed)",
                            "guest: time halted (%)" if self.guest == "halted"
                            else f"guest: {self.guest.replace('_', ' ')} a second"),
        )
        each = self._runnable_each
        for n in range(self.cpus):
            colour = _PALETTE[n % len(_PALETTE)]
            fig.add_scatter(x=[], y=[], name=f"vCPU {n} thread", uid=f"host-vcpu{n}",
                            line=dict(color=colour), legendgroup=f"cpu{n}", row=1, col=1)
            if each:
                fig.add_scatter(x=[], y=[], name=f"vCPU {n} runnable", uid=f"host-runnable{n}",
                                line=dict(color=colour, dash="dot", width=1.5), opacity=0.8,
                                legendgroup=f"cpu{n}", row=1, col=1)
            fig.add_scatter(x=[], y=[], name=f"CPU {n} {'halted' if self.guest == 'halted' else self.guest}",
                            uid=f"guest-{self.guest}{n}",
                            line=dict(color=colour, dash="dot"), legendgroup=f"cpu{n}", row=2, col=1)
        if not each:
            fig.add_scatter(x=[], y=[], name="vCPU threads runnable (mean)", uid="host-runnable",
                            line=dict(color="#555", dash="dot", width=1.5), row=1, col=1)
        if self.main:
            fig.add_scatter(x=[], y=[], name="QEMU main thread", uid="host-main",
                            line=dict(color="#bcbd22", width=1.5), row=1, col=1)
        fig.add_scatter(x=[], y=[], name="QEMU total", uid="host-total",
                        line=dict(color="#444", width=1), row=1, col=1)
        for level, text in ((self.floor, floor_text(self.floor)), (self.ceiling, ceiling_text(self.ceiling))):
            if level is not None:
                fig.add_hline(y=level, line=dict(color="#888", dash="dash", width=1), row=1, col=1)
                # right-aligned just above its line, below the phase labels' rows
                fig.add_annotation(x=1, xref="x domain", xanchor="right", y=level, yref="y",
                                   yanchor="bottom", text=text, showarrow=False,
                                   font=dict(size=10, color="#666"), bgcolor="rgba(255,255,255,0.75)",
                                   row=1, col=1)
        fig.update_yaxes(range=_host_range([], 0), row=1, col=1)
        if self.guest == "halted":
            fig.update_yaxes(range=[-5, 105], row=2, col=1)
        fig.update_xaxes(title_text="seconds", row=2, col=1)
        fig.update_layout(title=self.title, height=520, margin=dict(l=60, r=20, t=70, b=50),
                          legend=dict(orientation="h", y=-0.15), template="plotly_white")
        return fig


def floor_text(floor: float | None) -> str:
    """What the floor line means, with its value."""
    return "" if floor is None else f"floor: a halted VM (cli; hlt), {floor:.2f} %"


def ceiling_text(ceiling: float | None) -> str:
    """What the ceiling line means, with its value: what one vCPU got when
    spinning alone, less than a whole core when the host was busy."""
    if ceiling is None:
        return ""
    busy = " (host busy)" if ceiling < BUSY_CEILING else ""
    return f"ceiling: what one vCPU got when spinning alone, {ceiling:.0f} %{busy}"


def _smooth(y: np.ndarray, n: int) -> np.ndarray:
    """The mean of up to ``n`` samples centred on each, within each run of
    known values (NaN, a gap between VMs, ends a run)."""
    out = np.full_like(y, np.nan)
    known = ~np.isnan(y)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], known.astype(np.int8), [0]))))
    for start, end in zip(edges[::2], edges[1::2]):
        run = y[start:end]
        sums = np.concatenate(([0.0], np.cumsum(run)))
        i = np.arange(len(run))
        lo, hi = np.maximum(i - n // 2, 0), np.minimum(i + n // 2 + 1, len(run))
        out[start:end] = (sums[hi] - sums[lo]) / (hi - lo)
    return out


def _host_values(series: dict[str, np.ndarray]) -> list[float]:
    """The host panel's values that set its scale: the total's highest, and
    the runnable time's up to a little over 100 % (a late sample can read more)."""
    runnable = [np.minimum(v, 115.0) for k, v in series.items() if k.startswith("runnable")]
    known = [v[~np.isnan(v)] for v in (series["total"], *runnable)]
    return [float(v.max()) for v in known if v.size]


def _host_range(values: Iterable[float], rows: int) -> list[float]:
    """The host panel's y range: every value below the ``rows`` rows of phase labels."""
    bottom = -3.0
    top = max([100.0, *(v for v in values if not math.isnan(v))]) * 1.08
    free = 1.0 - rows * _LABEL_ROW - (0.01 if rows else 0.0)    # the panel's share under the labels
    return [bottom, bottom + (top - bottom) / free]


def _bands(phases: list[tuple[str, float, float]]) -> list[dict]:
    """A shaded band a phase, across both panels."""
    return [dict(type="rect", xref=xref, yref=f"{yref} domain", x0=first, x1=last, y0=0, y1=1,
                 fillcolor=_PHASE_FILL[i % 2], line_width=0, layer="below")
            for i, (_, first, last) in enumerate(phases) for xref, yref in (("x", "y"), ("x2", "y2"))]


def _labels(phases: list[tuple[str, float, float]], t: np.ndarray) -> tuple[list[dict], int]:
    """Each phase's label at the left of its band, in rows at the top of the
    host panel: a label goes in the first row where it overlaps no other, and
    one that fits in no row is shortened to its band (the whole label shows
    on hover).  Returns the labels and how many rows they take."""
    known = t[~np.isnan(t)] if len(t) else t
    if not phases or not len(known):
        return [], 0
    per_px = max(float(known.max() - known.min()), 1e-6) / _PLOT_PX    # seconds a pixel
    ends: list[float] = []          # where each row's last label ends, seconds
    out = []
    for label, first, last in phases:
        width = (len(label) * _CHAR_PX + 6) * per_px
        row = next((r for r, end in enumerate(ends) if first >= end), None)
        text = label
        if row is None and len(ends) < _LABEL_ROWS:
            row = len(ends)
            ends.append(first)
        elif row is None:           # every row taken here: shorten it to its band, in the freest row
            row = min(range(len(ends)), key=ends.__getitem__)
            room = int(max(last - first, per_px) / per_px / _CHAR_PX)
            text = label if len(label) <= room else label[:max(room - 1, 2)] + "…"
            width = (len(text) * _CHAR_PX + 6) * per_px
        ends[row] = max(ends[row], first) + width
        out.append(dict(x=first, xref="x", y=1 - row * _LABEL_ROW, yref="y domain", text=text,
                        hovertext=label, showarrow=False, xanchor="left", yanchor="top",
                        font=dict(size=11, color="#555")))
    return out, len(ends)
