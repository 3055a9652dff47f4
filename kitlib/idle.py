"""What a halting core costs in reaction, measured by the guest's own clock
(lesson 05).

The lateness app (``app=lateness``, stage idle) has a thread on every core
sleep to random deadlines and time, with the TSC, how late it runs again
(lateness = the TSC when the thread runs again - its deadline), so the
host's sampling does not blur it; the guest prints one line of percentiles.

``compare_lateness`` boots one VM per setup, in turn, and puts the host's
CPU beside each result, since the point is the trade: microseconds of
reaction against a host core.  :class:`Latency` and
:class:`LatencyComparison` serve lesson 06's reaction times too (poll.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from . import protocol
from .build import Image
from .results import Experiment
from .session import Session
from .table import Tabular, json_safe

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["Latency", "LatencyComparison", "compare_lateness", "LATENESS", "PERCENTILES"]

PERCENTILES = ("p50", "p90", "p99", "max")
_SHADES = ("#9ecae1", "#4292c6", "#08519c", "#08306b")     # light to dark: the tail darkens

# The setups the lesson compares.  Labels name the idea; values are command lines.
LATENESS = {"spin": "idle=spin tick=none", "hlt, tickless": "idle=hlt tick=none",
            "hlt, 100 Hz tick": "idle=hlt tick=100"}


@dataclass(frozen=True)
class Latency:
    """One setup's percentiles, in microseconds (NaN: no sample), and its host CPU."""

    label: str
    n: int                          # wake-ups measured (prodcons: messages the consumer saw)
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    sent: int | None = None         # prodcons: messages sent; n < sent means some were missed
    host_pct: float = math.nan      # QEMU, % of one host core, while the guest measured
    quiet_pct: float = math.nan     # prodcons: QEMU, % of one host core, before the traffic
    after_pct: float = math.nan     # prodcons: the same once the traffic has stopped (if measured)
    line: str = field(default="", repr=False)

    @classmethod
    def parse(cls, label: str, line: str, **extra: object) -> "Latency":
        """Read a guest line such as ``lateness: n=900 min=1 p50=12 p90=30 p99=80 max=95 ns``."""
        p = protocol.percentiles(line)
        us = [getattr(p, f"{k}_ns") / 1000.0 for k in PERCENTILES]
        return cls(label, p.n, *us, sent=p.sent, line=line.strip(), **extra)

    @property
    def missed(self) -> int:
        """prodcons: messages the consumer never saw (overwritten before it looked)."""
        return (self.sent - self.n) if self.sent is not None else 0


def _r(x: float) -> float:
    return x if math.isnan(x) else round(x, 1)


@dataclass(frozen=True)
class LatencyComparison(Tabular):
    """Several setups' Latency, and for prodcons the host-CPU timeline."""

    title: str
    results: tuple[Latency, ...]
    experiment: Experiment | None = field(default=None, repr=False)

    columns = {"setup": "setup", "n": "wake-ups", "sent": "messages sent", "seen": "seen",
               "p50_us": "p50, µs", "p90_us": "p90, µs", "p99_us": "p99, µs", "max_us": "max, µs",
               "quiet_host_pct": "QEMU while quiet, %", "host_pct": "QEMU while measuring, %",
               "after_host_pct": "QEMU after the traffic, %"}

    def __getitem__(self, label: str) -> Latency:
        for r in self.results:
            if r.label == label:
                return r
        raise KeyError(f"no setup {label!r} (setups: {', '.join(r.label for r in self.results)})")

    def table(self) -> list[dict[str, object]]:
        rows = []
        for r in self.results:
            row: dict[str, object] = {"setup": r.label}
            if r.sent is not None:
                row.update(sent=r.sent, seen=r.n)
            else:
                row["n"] = r.n
            row.update({f"{k}_us": _r(getattr(r, f"{k}_us")) for k in PERCENTILES})
            if not math.isnan(r.quiet_pct):
                row["quiet_host_pct"] = _r(r.quiet_pct)
            row["host_pct"] = _r(r.host_pct)
            if not math.isnan(r.after_pct):
                row["after_host_pct"] = _r(r.after_pct)
            rows.append(row)
        return rows

    def figure(self) -> "go.Figure":
        """Percentiles per setup, on a log axis (they span microseconds to
        milliseconds), each setup labelled with what it cost the host."""
        import plotly.graph_objects as go

        x = [f"{r.label}<br>QEMU {r.host_pct:.1f} %" if not math.isnan(r.host_pct) else r.label
             for r in self.results]
        fig = go.Figure()
        for k, colour in zip(PERCENTILES, _SHADES):
            fig.add_bar(name=k, uid=f"latency-{k}", x=x, marker_color=colour,
                        y=[getattr(r, f"{k}_us") for r in self.results])
        fig.update_layout(title=self.title, barmode="group", height=380, template="plotly_white",
                          yaxis=dict(type="log", title="microseconds (log)"),
                          legend=dict(orientation="h", y=-0.2), margin=dict(l=60, r=20, t=50, b=40))
        return fig

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"title": self.title,
                                  "results": [{k: v for k, v in asdict(r).items() if k != "line"}
                                              for r in self.results]}
        if self.experiment is not None:
            out["timeline"] = self.experiment.to_dict()
        return json_safe(out)


def compare_lateness(image: Image, setups: Mapping[str, str] = LATENESS, *, cpus: int = 2,
                     sleeps: int = 300, progress: bool = True) -> LatencyComparison:
    """Timer-wake lateness for each setup (a command line): one VM each, ``sleeps``
    random sleeps (0.2 to 3 ms) on every core, and QEMU's host CPU meanwhile."""
    title = f"timer-wake lateness, {cpus} vCPUs"
    results = []
    with Session(title, cpus, progress=progress) as s:
        for label, append in setups.items():
            s.say(f"{label}: {sleeps} sleeps on each of {cpus} cores ({append})")
            vm = s.boot(image, append=f"app=lateness sleeps={sleeps} {append}")
            s.phase(label, vm)
            line = vm.expect(protocol.LATENESS_LINE, timeout=60 + sleeps * 0.05, exact=False)
            s.stop(vm)
            results.append(Latency.parse(label, line, host_pct=s.host_pct(label)))
    return LatencyComparison(title, tuple(results))
