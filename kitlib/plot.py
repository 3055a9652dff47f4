"""The live plot: host CPU per vCPU thread and in total, and the guest's own
view (time halted per CPU), on one time axis.

In JupyterLab the plot is a plotly FigureWidget that the sampler thread
updates while a cell runs (an asyncio task would stall while the cell blocks).
Headless runs (nbval, ``kit demo``) have no front end to draw a widget, so
nothing live is shown there; in every case :meth:`LivePlot.figure` gives a
static figure with the same traces, which a saved notebook keeps.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .hostcpu import Sample

# One colour per vCPU, the same in both panels.
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_PHASE_FILL = ("rgba(31,119,180,0.07)", "rgba(255,127,14,0.08)")
_MIN_REDRAW_S = 0.2


def live_frontend() -> bool:
    """True when a notebook front end will draw widgets for this kernel.

    JupyterLab's server sets JPY_SESSION_NAME in its kernels' environment;
    nbval and nbclient do not.  KITLIB_HEADLESS=1 forces headless.
    """
    if os.environ.get("KITLIB_HEADLESS", "") not in ("", "0"):
        return False
    if "JPY_SESSION_NAME" not in os.environ:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LivePlot:
    """Collects samples and draws them; subscribe it to a Sampler."""

    def __init__(self, title: str, cpus: int = 1, *, floor: float | None = None,
                 ceiling: float | None = None, live: bool | None = None) -> None:
        self.title = title
        self.cpus = cpus
        self.floor = floor
        self.ceiling = ceiling
        self._lock = threading.Lock()
        self._t: list[float] = []
        self._vcpu: dict[int, list[float]] = {n: [] for n in range(cpus)}
        self._total: list[float] = []
        self._halted: dict[int, list[float]] = {n: [] for n in range(cpus)}
        self._phases: list[tuple[str, float, float]] = []   # label, first t, last t
        self._widget = None
        self._drawn_at = 0.0
        if live if live is not None else live_frontend():
            self._widget = go.FigureWidget(self._build())

    @property
    def live(self) -> bool:
        """Whether a widget is drawn as samples arrive."""
        return self._widget is not None

    # -- feeding -------------------------------------------------------

    def __call__(self, sample: Sample) -> None:
        """Take one sample (called from the sampler thread)."""
        with self._lock:
            self._t.append(sample.t)
            for n in range(self.cpus):
                self._vcpu[n].append(sample.vcpu.get(n, math.nan))
                self._halted[n].append(100.0 * sample.halted.get(n, math.nan))
            self._total.append(sample.total)
            if self._phases and self._phases[-1][0] == sample.phase:
                label, first, _ = self._phases[-1]
                self._phases[-1] = (label, first, sample.t)
            else:
                self._phases.append((sample.phase, sample.t, sample.t))
        if self._widget is not None and time.monotonic() - self._drawn_at >= _MIN_REDRAW_S:
            self._redraw()

    def extend(self, samples: Iterable[Sample]) -> None:
        for s in samples:
            self(s)

    # -- drawing -------------------------------------------------------

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._widget if self._widget is not None else self.figure())

    def figure(self) -> go.Figure:
        """A static figure of everything collected so far."""
        return self._build()

    def finish(self) -> None:
        """Draw the last samples on the live widget."""
        if self._widget is not None:
            self._redraw()

    def _redraw(self) -> None:
        self._drawn_at = time.monotonic()
        fresh = self._build()
        with self._widget.batch_update():
            for old, new in zip(self._widget.data, fresh.data):
                old.x, old.y = new.x, new.y
            self._widget.layout.shapes = fresh.layout.shapes
            self._widget.layout.annotations = fresh.layout.annotations

    def _build(self) -> go.Figure:
        with self._lock:
            t = list(self._t)
            vcpu = {n: list(v) for n, v in self._vcpu.items()}
            halted = {n: list(v) for n, v in self._halted.items()}
            total = list(self._total)
            phases = list(self._phases)
        fig = make_subplots(
            rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.62, 0.38],
            subplot_titles=("host: CPU of the QEMU process (% of one host core)",
                            "guest: time halted (%)"),
        )
        for n in range(self.cpus):
            colour = _PALETTE[n % len(_PALETTE)]
            fig.add_scatter(x=t, y=vcpu[n], name=f"vCPU {n} thread", uid=f"host-vcpu{n}",
                            line=dict(color=colour), legendgroup=f"cpu{n}", row=1, col=1)
            fig.add_scatter(x=t, y=halted[n], name=f"CPU {n} halted", uid=f"guest-halted{n}",
                            line=dict(color=colour, dash="dot"), legendgroup=f"cpu{n}", row=2, col=1)
        fig.add_scatter(x=t, y=total, name="QEMU total", uid="host-total",
                        line=dict(color="#444", width=1), row=1, col=1)
        for i, (label, first, last) in enumerate(phases):
            fig.add_vrect(x0=first, x1=last, fillcolor=_PHASE_FILL[i % 2], line_width=0,
                          annotation_text=label, annotation_position="top left", row="all", col=1)
        for level, name in ((self.floor, "floor"), (self.ceiling, "ceiling")):
            if level is not None:
                fig.add_hline(y=level, line=dict(color="#888", dash="dash", width=1),
                              annotation_text=f"calibrated {name}", annotation_position="bottom right",
                              row=1, col=1)
        top = max([100.0, *(v for v in total if not math.isnan(v))])
        fig.update_yaxes(range=[-3, top * 1.08], row=1, col=1)
        fig.update_yaxes(range=[-5, 105], row=2, col=1)
        fig.update_xaxes(title_text="seconds", row=2, col=1)
        fig.update_layout(title=self.title, height=520, margin=dict(l=60, r=20, t=70, b=50),
                          legend=dict(orientation="h", y=-0.15), template="plotly_white")
        return fig
